// Packs the workspace packages with `npm pack` (what `npm publish` would upload)
// and serves the @tunmail scope from a local registry, so `npm install tunmail`
// resolves its @tunmail/* dependencies exactly as it would from the public
// registry before they are published. Everything else still comes from the
// configured registry.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = fileURLToPath(new URL("../..", import.meta.url));

export interface Packed {
  name: string;
  version: string;
  /** Absolute path of the .tgz. */
  file: string;
  manifest: Record<string, unknown>;
}

/** Packs the named workspaces (folders) into `dest`. */
export function packWorkspaces(folders: string[], dest: string): Packed[] {
  const args = ["pack", "--json", "--pack-destination", dest, ...folders.flatMap((f) => ["--workspace", f])];
  const out = execFileSync("npm", args, { cwd: REPO, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const entries = JSON.parse(out) as { name: string; version: string; filename: string }[];
  return entries.map((e, i) => ({
    name: e.name,
    version: e.version,
    file: join(dest, e.filename),
    manifest: JSON.parse(readFileSync(join(REPO, folders[i]!, "package.json"), "utf8")) as Record<
      string,
      unknown
    >,
  }));
}

export interface ScopeRegistry {
  /** e.g. http://127.0.0.1:41234/ */
  url: string;
  /** Packument and tarball requests served so far, by path. */
  requests: string[];
  close(): Promise<void>;
}

/** A minimal npm registry for one scope: packuments and tarballs of the given packs. */
export async function serveScope(packs: Packed[]): Promise<ScopeRegistry> {
  const requests: string[] = [];
  let base = "";
  const tarballs = new Map<string, Packed>();
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(req.url ?? "/");
    requests.push(path);
    const tar = tarballs.get(path);
    if (tar) {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      res.end(readFileSync(tar.file));
      return;
    }
    const pack = packs.find((p) => path === `/${p.name}`);
    if (!pack) {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: "not found" }));
      return;
    }
    const bytes = readFileSync(pack.file);
    const tarPath = `/${pack.name}/-/${pack.name.split("/").pop()}-${pack.version}.tgz`;
    tarballs.set(tarPath, pack);
    const version = {
      ...pack.manifest,
      _id: `${pack.name}@${pack.version}`,
      dist: {
        tarball: base + tarPath.slice(1),
        shasum: createHash("sha1").update(bytes).digest("hex"),
        integrity: "sha512-" + createHash("sha512").update(bytes).digest("base64"),
      },
    };
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        name: pack.name,
        "dist-tags": { latest: pack.version },
        versions: { [pack.version]: version },
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return {
    url: base,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
