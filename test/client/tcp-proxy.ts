// A TCP relay in front of the sink's HTTP port, so a test can cut the client's
// connection (a real network drop, as the client sees it) while the sink keeps
// running and accepting mail, then let it back in.
import net from "node:net";

export interface TcpProxy {
  url: string;
  /** Connections refused (accepted and dropped at once) while cut: the client's retries. */
  refused(): number;
  /** Drops every relayed connection; new ones are dropped at once until restore(). */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let isCut = false;
  let refused = 0;
  const server = net.createServer((client) => {
    client.on("error", () => undefined);
    if (isCut) {
      refused++;
      client.destroy();
      return;
    }
    const upstream = net.connect(targetPort, "127.0.0.1");
    for (const sock of [client, upstream]) {
      sockets.add(sock);
      sock.on("close", () => sockets.delete(sock));
      sock.on("error", () => undefined);
    }
    client.pipe(upstream).pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  const dropAll = (): void => sockets.forEach((s) => s.destroy());
  return {
    url: `http://127.0.0.1:${port}`,
    refused: () => refused,
    cut: () => {
      isCut = true;
      dropAll();
    },
    restore: () => {
      isCut = false;
    },
    close: async () => {
      dropAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
