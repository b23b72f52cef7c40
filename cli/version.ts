// This CLI's version (`tun --version`, and what `tun doctor` compares with the
// VM sink's). Read here rather than by yargs, whose lookup starts from the bin
// stub and finds nothing once installed.
import { packageVersion } from "../protocol/package-version.js";

let cached: string | null = null;

export function cliVersion(): string {
  return (cached ??= packageVersion(import.meta.url, "tunmail"));
}
