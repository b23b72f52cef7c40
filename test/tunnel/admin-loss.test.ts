// Caddy's admin API lost while a tunnel runs (the SSH link stays up): said
// once, re-checked at every route check, and said once more when it answers
// again. The test moves Caddy's admin listener to another port and back
// (Caddy applies a changed `admin.listen` at once; the routes stay).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpGet } from "../helpers/caddy.js";
import { freePort } from "../helpers/sshd.js";
import { runTun, startHarness, waitUntil, type Harness } from "./harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

/** Tells the admin API at `from` to listen at `to` instead. */
async function moveAdmin(from: string, to: string): Promise<void> {
  const port = Number(from.split(":")[1]);
  const body = JSON.stringify(to);
  await new Promise<void>((resolve, reject) => {
    import("node:http").then(({ request }) => {
      const req = request(
        {
          host: "127.0.0.1",
          port,
          path: "/config/admin/listen",
          method: "PATCH",
          headers: { host: from, "content-type": "application/json", "content-length": body.length },
        },
        (res) => {
          res.resume();
          res.on("end", () =>
            res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`)),
          );
        },
      );
      req.on("error", reject);
      req.end(body);
    }, reject);
  });
  await waitUntil(`Caddy's admin API at ${to}`, () =>
    httpGet(Number(to.split(":")[1]), "/config/", { host: to }).then(
      (r) => r.status === 200,
      () => false,
    ),
  );
}

const count = (text: string, needle: string): number => text.split(needle).length - 1;

describe("Caddy's admin API lost while running", () => {
  it("is reported once, re-checked, and its return is reported once", async () => {
    const tun = runTun(["up", "adminloss", String(h.app.port)], h.env());
    const elsewhere = `127.0.0.1:${await freePort()}`;
    try {
      await tun.waitFor(/streaming mail for @adminloss\.tun\.test/);
      await moveAdmin(h.caddy.admin, elsewhere);
      await tun.waitFor(/cannot reach Caddy's admin API .*; re-checking every 300 ms$/m);
      await moveAdmin(elsewhere, h.caddy.admin);
      await tun.waitFor(/Caddy's admin API on the VM answers again/);
      const err = tun.stderr();
      expect(count(err, "cannot reach Caddy's admin API")).toBe(1);
      expect(count(err, "answers again")).toBe(1);
      expect(
        err
          .split("\n")
          .filter((l) => l.includes("admin API"))
          .every((l) => !l.includes("\r")),
      ).toBe(true);
      expect(tun.child.exitCode).toBeNull();
      tun.child.kill("SIGINT");
      expect((await tun.exited).code).toBe(130);
      expect(await h.caddy.routeIds()).toEqual([]);
    } finally {
      await tun.stop();
    }
  });
});
