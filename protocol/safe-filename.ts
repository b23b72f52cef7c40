// File names for an attachment outside the mail: what `tun mail save` writes,
// what the sink's download names (Content-Disposition) and what the web UI's
// download link suggests. The name is chosen by whoever sent the mail:
// "../../.bashrc", "invoice\u202egpj.exe" (shown as "invoiceexe.jpg"), "" or a
// name with an ESC in it must not pick the folder, hide a file, disguise its
// type, or reach the terminal when the path is printed. Dependency-free and
// without Buffer: the browser bundle uses it too.

/** Longest name written, in UTF-8 bytes (NAME_MAX on Linux and macOS). */
export const MAX_FILENAME_BYTES = 255;

// Path separators, C0/C1 controls, DEL and the bidi controls.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE_CHARS = /[/\\\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** A single safe path component from `name`, or `fallback` when nothing usable is left. */
export function safeFilename(name: string | null, fallback: string): string {
  const cleaned = (name ?? "")
    .normalize("NFC")
    .replace(UNSAFE_CHARS, "_")
    .trim()
    // no hidden files, no "." or ".."; no trailing dots or spaces, which some systems drop
    .replace(/^[.\s]+/, "")
    .replace(/[.\s]+$/, "");
  return cleaned ? truncate(cleaned) : fallback;
}

const utf8 = new TextEncoder();
const byteLength = (s: string): number => utf8.encode(s).length;

/** Cuts to MAX_FILENAME_BYTES, keeping the extension and whole characters. */
function truncate(name: string): string {
  if (byteLength(name) <= MAX_FILENAME_BYTES) return name;
  const dot = name.lastIndexOf(".");
  const ext = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : "";
  let stem = name.slice(0, name.length - ext.length);
  while (byteLength(stem + ext) > MAX_FILENAME_BYTES) stem = [...stem].slice(0, -1).join("");
  return stem + ext;
}

/** Gives repeated names a " (2)", " (3)" … before the extension, in order. */
export function dedupe(names: string[]): string[] {
  const taken = new Set<string>();
  return names.map((name) => {
    let candidate = name;
    const dot = name.lastIndexOf(".");
    const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ""];
    for (let n = 2; taken.has(candidate); n++) candidate = `${stem} (${n})${ext}`;
    taken.add(candidate);
    return candidate;
  });
}
