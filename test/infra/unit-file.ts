// Reads a systemd unit file into section -> key -> values (in order), the way
// systemd sees it: comments and blank lines dropped, repeated keys kept.
import { readFileSync } from "node:fs";

export type UnitFile = Map<string, Map<string, string[]>>;

export function parseUnitFile(path: string): UnitFile {
  const unit: UnitFile = new Map();
  let section: Map<string, string[]> | undefined;
  for (const raw of readFileSync(path, "utf8").split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = new Map();
      unit.set(header[1]!, section);
      continue;
    }
    const eq = line.indexOf("=");
    if (!section || eq < 0) throw new Error(`${path}: cannot parse line "${line}"`);
    const key = line.slice(0, eq).trim();
    const values = section.get(key) ?? [];
    values.push(line.slice(eq + 1).trim());
    section.set(key, values);
  }
  return unit;
}

/** All values of a key in a section ([] when absent). */
export function values(unit: UnitFile, section: string, key: string): string[] {
  return unit.get(section)?.get(key) ?? [];
}

/** The single value of a key; throws when absent or repeated. */
export function value(unit: UnitFile, section: string, key: string): string {
  const all = values(unit, section, key);
  if (all.length !== 1) throw new Error(`[${section}] ${key}: expected one value, found ${all.length}`);
  return all[0]!;
}
