// Vitest global setup: make sure the real system parts the tests drive
// (OpenSSH server, Caddy, swaks, shellcheck) are installed. The script is a
// no-op when everything is present.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export default function setup(): void {
  const script = fileURLToPath(new URL("../../scripts/system-deps.sh", import.meta.url));
  execFileSync("bash", [script], { stdio: "inherit" });
}
