// Whether the CLI and the VM sink speak the same protocol.
/** Same major and minor: the wire protocol and API are the same (patch releases fix bugs only). */
export function compatibleVersions(a: string, b: string): boolean {
  const mm = (v: string) => v.split(".").slice(0, 2).join(".");
  return mm(a) === mm(b);
}
