// How sizes, times and addresses read in the UI.
import type { Address } from "./types.js";

const KIB = 1024;
const MIB = 1024 * KIB;

export function formatSize(bytes: number): string {
  if (bytes < KIB) return `${bytes} B`;
  if (bytes < MIB) return `${(bytes / KIB).toFixed(bytes < 10 * KIB ? 1 : 0)} KB`;
  return `${(bytes / MIB).toFixed(1)} MB`;
}

/** Time of day for today's mail, else the date: a list column stays narrow. */
export function formatListTime(iso: string, now = new Date()): string {
  const d = new Date(iso);
  if (d.toDateString() === now.toDateString()) return d.toLocaleTimeString([], { hour12: false });
  return d.toLocaleDateString([], { year: "numeric", month: "short", day: "numeric" });
}

export function formatFullTime(iso: string | null): string {
  return iso ? new Date(iso).toLocaleString([], { hour12: false }) : "—";
}

export function formatAddress(a: Address | null): string {
  if (!a) return "";
  return a.name ? `${a.name} <${a.address}>` : a.address;
}

export function formatAddresses(list: Address[]): string {
  return list.map(formatAddress).join(", ");
}

/** The short form for the list: names where given, else addresses. */
export function shortAddresses(list: Address[]): string {
  return list.map((a) => a.name || a.address).join(", ");
}
