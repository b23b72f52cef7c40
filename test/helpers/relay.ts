// A TCP relay between a client and a server (the tunnel client and sshd, a
// SinkClient and the sink) that a test can break: `stall()` stops forwarding
// without closing anything (a vanished network: no FIN, no RST), `closeAll()`
// resets every connection (a dropped link), `refuse()` also turns new
// connections away until `resume()` (a server that is down).
import { connect, createServer, type AddressInfo, type Socket } from "node:net";

export interface TestRelay {
  port: number;
  /** Connections accepted so far. */
  connections(): number;
  /** Stop forwarding on every connection, and hold new ones, until resume(). */
  stall(): void;
  /** Drop every connection, and accept-then-drop new ones (counted by refused()), until resume(). */
  refuse(): void;
  /** Connections turned away while refusing. */
  refused(): number;
  /** New connections pass again; connections stalled so far are dropped (their peers gave up on them). */
  resume(): void;
  /** Destroy every current connection (both sides). */
  closeAll(): void;
  stop(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket | null;
}

export async function startRelay(targetPort: number, targetHost = "127.0.0.1"): Promise<TestRelay> {
  const pairs = new Set<Pair>();
  let stalled = false;
  let refusing = false;
  let accepted = 0;
  let refused = 0;

  const destroy = (p: Pair): void => {
    p.client.destroy();
    p.upstream?.destroy();
    pairs.delete(p);
  };

  const server = createServer((client) => {
    if (refusing) {
      refused++;
      client.on("error", () => undefined);
      client.destroy();
      return;
    }
    accepted++;
    const pair: Pair = { client, upstream: null };
    pairs.add(pair);
    // While stalled the client's FIN or RST does not get through either: the
    // server keeps a connection whose client is gone (a laptop closed mid-session).
    const clientGone = (): void => (stalled ? void client.destroy() : destroy(pair));
    client.on("error", clientGone);
    client.on("close", clientGone);
    // While stalled, a new connection is accepted but never reaches sshd.
    if (stalled) return;
    const upstream = connect(targetPort, targetHost);
    pair.upstream = upstream;
    upstream.on("error", () => destroy(pair));
    upstream.on("close", () => destroy(pair));
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));

  return {
    port: (server.address() as AddressInfo).port,
    connections: () => accepted,
    stall: () => {
      stalled = true;
      for (const p of pairs) {
        p.client.unpipe();
        p.upstream?.unpipe();
        // Paused sockets read nothing more: bytes in flight stay in the kernel, nothing is answered.
        p.client.pause();
        p.upstream?.pause();
      }
    },
    refuse: () => {
      refusing = true;
      for (const p of [...pairs]) destroy(p);
    },
    refused: () => refused,
    resume: () => {
      stalled = false;
      refusing = false;
      for (const p of [...pairs]) destroy(p);
    },
    closeAll: () => {
      for (const p of [...pairs]) destroy(p);
    },
    stop: async () => {
      for (const p of [...pairs]) destroy(p);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
