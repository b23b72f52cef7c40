// How far delivery has got, kept per tunnel (or sink scope) and target URL in
// the user's state directory, so a restart neither redelivers what the app
// acknowledged nor skips what arrived while tun was not running. One small
// JSON file per pair, replaced atomically (write + rename).
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

interface PositionFile {
  scope: string;
  url: string;
  /** The newest message whose delivery has ended (delivered, stopped, rejected or given up). */
  lastId: string;
  updatedAt: string;
}

/** $XDG_STATE_HOME/tun, else ~/.local/state/tun (XDG Base Directory spec). */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_STATE_HOME || join(env.HOME || homedir(), ".local", "state");
  return join(base, "tun");
}

export class DeliveryPosition {
  readonly path: string;

  constructor(
    private readonly scope: string,
    private readonly url: string,
    dir: string = stateDir(),
  ) {
    const name = createHash("sha256").update(`${scope}\n${url}`).digest("hex").slice(0, 32);
    this.path = join(dir, "deliver", `${name}.json`);
  }

  /** The saved position, or null when there is none (or the file is unreadable: start fresh). */
  load(): string | null {
    try {
      const file = JSON.parse(readFileSync(this.path, "utf8")) as Partial<PositionFile>;
      return file.scope === this.scope && file.url === this.url && typeof file.lastId === "string"
        ? file.lastId
        : null;
    } catch {
      return null;
    }
  }

  save(lastId: string): void {
    const file: PositionFile = {
      scope: this.scope,
      url: this.url,
      lastId,
      updatedAt: new Date().toISOString(),
    };
    mkdirSync(join(this.path, ".."), { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(file) + "\n", { mode: 0o600 });
    renameSync(tmp, this.path);
  }
}
