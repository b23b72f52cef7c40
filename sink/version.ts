// The sink package's version, read once (reported in /health and the stream's hello).
import { packageVersion } from "../protocol/package-version.js";

let cached: string | null = null;

export function sinkVersion(): string {
  return (cached ??= packageVersion(import.meta.url, "@tunmail/sink"));
}
