/**
 * Forward proxies on loopback for kubeconfig `proxy-url` tests: an HTTP
 * CONNECT proxy and a SOCKS5 proxy (no auth, CONNECT only). Each records the
 * destinations it tunnelled to, so a test can tell a proxied request from one
 * that silently went direct.
 */
import http from "node:http";
import https from "node:https";
import net, { type AddressInfo, type Socket } from "node:net";

export interface TestProxy {
  url: string;
  /** `host:port` of every tunnel opened. */
  tunnels: string[];
  close(): Promise<void>;
}

function pipeTogether(a: Socket, b: Socket) {
  a.on("error", () => b.destroy());
  b.on("error", () => a.destroy());
  a.on("close", () => b.destroy());
  b.on("close", () => a.destroy());
  a.pipe(b);
  b.pipe(a);
}

function closer(server: net.Server, sockets: Set<Socket>) {
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  return () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
}

/** `tls`: the proxy itself is reached over TLS (a `proxy-url: https://...`), with this certificate. */
export async function startConnectProxy(o: { tls?: { key: string; cert: string } } = {}): Promise<TestProxy> {
  const tunnels: string[] = [];
  const sockets = new Set<Socket>();
  const refuse = (_req: http.IncomingMessage, res: http.ServerResponse) => res.writeHead(405).end();
  const server = o.tls ? https.createServer(o.tls, refuse) : http.createServer(refuse);
  server.on("connect", (req: http.IncomingMessage, client: Socket, head: Buffer) => {
    const target = req.url ?? "";
    tunnels.push(target);
    const sep = target.lastIndexOf(":");
    const upstream = net.connect(Number(target.slice(sep + 1)), target.slice(0, sep).replace(/^\[|\]$/g, ""), () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length) upstream.write(head);
      pipeTogether(client, upstream);
    });
    upstream.on("error", () => client.destroy());
    sockets.add(upstream);
  });
  // A TLS server's "connection" is the raw socket; "secureConnection" would miss the ones that fail the handshake.
  const close = closer(server, sockets);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `${o.tls ? "https" : "http"}://127.0.0.1:${(server.address() as AddressInfo).port}`, tunnels, close };
}

export async function startSocks5Proxy(): Promise<TestProxy> {
  const tunnels: string[] = [];
  const sockets = new Set<Socket>();
  const server = net.createServer((client) => {
    client.on("error", () => client.destroy());
    client.once("data", (greeting: Buffer) => {
      if (greeting[0] !== 5) return client.destroy();
      client.write(Buffer.from([5, 0])); // no authentication
      client.once("data", (req: Buffer) => {
        let host: string;
        let off: number;
        if (req[3] === 1) [host, off] = [[...req.subarray(4, 8)].join("."), 8];
        else if (req[3] === 3) [host, off] = [req.subarray(5, 5 + req[4]!).toString(), 5 + req[4]!];
        else return client.destroy();
        const port = req.readUInt16BE(off);
        tunnels.push(`${host}:${port}`);
        const upstream = net.connect(port, host, () => {
          client.write(Buffer.from([5, 0, 0, 1, 0, 0, 0, 0, 0, 0]));
          pipeTogether(client, upstream);
        });
        upstream.on("error", () => client.destroy());
        sockets.add(upstream);
      });
    });
  });
  const close = closer(server, sockets);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `socks5://127.0.0.1:${(server.address() as AddressInfo).port}`, tunnels, close };
}
