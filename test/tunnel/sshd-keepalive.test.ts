// The VM's sshd keepalive, measured: with the ClientAlive* lines of
// infra/sshd-tun.conf, a real sshd drops a client whose network stalled (a
// relay that stops forwarding: no FIN, no RST) within the time docs/tunnel.md
// states. The tunnel client's own keepalive is off, so only sshd can notice.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import ssh2 from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { probePort } from "../../cli/tunnel/janitor.js";
import { waitUntil } from "../helpers/poll.js";
import { startRelay, type TestRelay } from "../helpers/relay.js";
import { startSshd, type TestSshd } from "../helpers/sshd.js";

const REPO = join(import.meta.dirname, "..", "..");
const CONF = readFileSync(join(REPO, "infra/sshd-tun.conf"), "utf8");
const DOC = readFileSync(join(REPO, "docs/tunnel.md"), "utf8");
const setting = (name: string): number => Number(new RegExp(`^${name}\\s+(\\d+)`, "m").exec(CONF)?.[1]);
const INTERVAL_S = setting("ClientAliveInterval");
const COUNT_MAX = setting("ClientAliveCountMax");
/** The drop time docs/tunnel.md promises ("drops a vanished client within N s"). */
const DOCUMENTED_S = Number(/drops a vanished client\s+within (\d+) s/.exec(DOC)?.[1]);

let sshd: TestSshd;
let relay: TestRelay;
beforeAll(async () => {
  sshd = await startSshd({
    extraConfig: [`ClientAliveInterval ${INTERVAL_S}`, `ClientAliveCountMax ${COUNT_MAX}`],
  });
  relay = await startRelay(sshd.port);
});
afterAll(async () => {
  await relay?.stop();
  await sshd?.stop();
});

function connectClient(through: TestRelay): Promise<InstanceType<typeof ssh2.Client>> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    client.once("ready", () => resolve(client));
    client.once("error", reject);
    client.connect({
      host: "127.0.0.1",
      port: through.port,
      username: sshd.user,
      privateKey: readFileSync(sshd.clientKey.privatePath),
      keepaliveInterval: 0,
    });
  });
}

const portAccepts = async (port: number): Promise<boolean> => (await probePort(port)) === "live";

describe("sshd keepalive on the VM", () => {
  it("has the documented settings", () => {
    expect(INTERVAL_S).toBeGreaterThan(0);
    expect(COUNT_MAX).toBeGreaterThan(0);
    expect(DOCUMENTED_S).toBeGreaterThan(0);
  });

  it("drops a client whose network stalled, and frees its forward port, within the documented time", async () => {
    const client = await connectClient(relay);
    client.on("error", () => undefined);
    const port = await new Promise<number>((resolve, reject) =>
      client.forwardIn("127.0.0.1", 0, (err, p) => (err ? reject(err) : resolve(p))),
    );
    expect(await portAccepts(port)).toBe(true);
    const logBefore = sshd.log().length;
    relay.stall();
    const stalledAt = Date.now();
    // Watch sshd's log, not the port: connecting to the port is traffic sshd forwards, which is another case.
    await waitUntil(
      "sshd to drop the stalled client",
      () => /Timeout, client not responding/.test(sshd.log().slice(logBefore)),
      (DOCUMENTED_S + 10) * 1000,
    );
    const droppedS = (Date.now() - stalledAt) / 1000;
    console.log(`sshd dropped the stalled client after ${droppedS.toFixed(1)} s`);
    expect(await portAccepts(port)).toBe(false);
    expect(droppedS).toBeLessThanOrEqual(DOCUMENTED_S);
    client.end();
  }, 120_000);

  it("does not drop it while its forward port is connected to every second (why names are freed by heartbeat)", async () => {
    const busyRelay = await startRelay(sshd.port);
    const client = await connectClient(busyRelay);
    client.on("error", () => undefined);
    const port = await new Promise<number>((resolve, reject) =>
      client.forwardIn("127.0.0.1", 0, (err, p) => (err ? reject(err) : resolve(p))),
    );
    const logBefore = sshd.log().length;
    busyRelay.stall();
    const stalledAt = Date.now();
    const observeS = DOCUMENTED_S + 15;
    // One connection a second, as a busy public URL would cause, for well past the documented drop time.
    const accepted = await waitUntil(
      `${observeS} s of connections`,
      async () => {
        await portAccepts(port);
        await new Promise((r) => setTimeout(r, 1_000));
        return Date.now() - stalledAt > observeS * 1000 ? "done" : null;
      },
      (observeS + 10) * 1000,
    );
    expect(accepted).toBe("done");
    expect(sshd.log().slice(logBefore)).not.toMatch(/Timeout, client not responding/);
    expect(await portAccepts(port)).toBe(true);
    client.end();
    await busyRelay.stop();
  }, 120_000);
});
