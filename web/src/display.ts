// How sizes, times, addresses and the mail's own one-line fields read in the UI.
import { printable } from "../../protocol/printable.js";
import type { Address } from "./types.js";

/**
 * A one-line field the sender wrote (subject, name, address, HELO, AUTH user), as the UI shows
 * it: control and bidi characters as visible escapes, the rule the CLI follows (protocol/printable.ts).
 * A right-to-left override would otherwise make "Invoice \u202efdp.exe" read "Invoice exe.pdf".
 * Bodies keep theirs: the HTML and Text tabs show the mail as its recipient sees it.
 */
export const shown = printable;

const KIB = 1024;
const MIB = 1024 * KIB;

export function formatSize(bytes: number): string {
  if (bytes < KIB) return `${bytes} B`;
  if (bytes < MIB) return `${(bytes / KIB).toFixed(bytes < 10 * KIB ? 1 : 0)} KB`;
  return `${(bytes / MIB).toFixed(1)} MB`;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const pad2 = (n: number): string => String(n).padStart(2, "0");

/**
 * Time of day for today's mail, else the date: a list column stays narrow.
 * Formatted by hand, not with Intl: a page's first Intl.DateTimeFormat loads
 * the locale's data, about 30 ms of a cold page load (bench/ui-load.mjs), and
 * toLocaleTimeString with options builds a new one on every row.
 */
export function formatListTime(iso: string, now = new Date()): string {
  const d = new Date(iso);
  if (d.toDateString() === now.toDateString()) {
    return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  }
  return `${MONTHS[d.getMonth()]} ${d.getDate()}, ${d.getFullYear()}`;
}

/** The open message's dates, in the reader's locale (one message: the formatter's cost does not add up). */
export function formatFullTime(iso: string | null): string {
  return iso ? new Date(iso).toLocaleString([], { hour12: false }) : "—";
}

export function formatAddress(a: Address | null): string {
  if (!a) return "";
  return shown(a.name ? `${a.name} <${a.address}>` : a.address);
}

export function formatAddresses(list: Address[]): string {
  return list.map(formatAddress).join(", ");
}

/** The short form for the list: names where given, else addresses. */
export function shortAddresses(list: Address[]): string {
  return list.map((a) => shown(a.name || a.address)).join(", ");
}
