/**
 * A kubeconfig `proxy-url: socks5://...` under Bun. Bun's fetch proxies only
 * over http(s) (it rejects socks5 with UnsupportedProxyProtocol) and ignores
 * client-node's SocksProxyAgent (the request silently goes direct). So this
 * listens on a random loopback port as an HTTP CONNECT proxy that accepts
 * exactly one destination, the API server, and opens each tunnel through the
 * SOCKS proxy with client-node's own SocksProxyAgent (socks5h, credentials
 * and DNS handling as client-node would). TLS stays end to end: fetch speaks
 * TLS to the API server inside the tunnel. Loaded only for a socks proxy-url.
 */
import { createServer, type AddressInfo, type Socket } from "node:net";
import { SocksProxyAgent } from "socks-proxy-agent";

const MAX_HEADER_BYTES = 8 * 1024;

/** Resolves with the bridge's `http://127.0.0.1:PORT` URL. `destination` is `host:port` (IPv6 without brackets). */
export async function startSocksBridge(proxyUrl: string, destination: string): Promise<string> {
  const agent = new SocksProxyAgent(proxyUrl);
  const server = createServer((client) => {
    client.on("error", () => client.destroy());
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) {
        if (head.length > MAX_HEADER_BYTES) refuse(client, 431);
        return;
      }
      client.off("data", onData);
      client.pause();
      const requestLine = head.subarray(0, head.indexOf("\r\n")).toString("latin1");
      const m = /^CONNECT (\S+) HTTP\/1\.[01]$/.exec(requestLine);
      const target = m?.[1]?.replace(/^\[(.*)\](:\d+)$/, "$1$2");
      if (!m) return refuse(client, 405);
      if (target !== destination) return refuse(client, 403);
      const sep = target.lastIndexOf(":");
      tunnel(agent, client, target.slice(0, sep), Number(target.slice(sep + 1)), head.subarray(end + 4));
    };
    client.on("data", onData);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  server.unref(); // never what keeps the process alive
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function tunnel(agent: SocksProxyAgent, client: Socket, host: string, port: number, rest: Buffer) {
  // agent-base's connect() wants the request only to destroy it on a timeout.
  const req = { destroy: () => client.destroy() } as never;
  agent.connect(req, { host, port, secureEndpoint: false } as never).then(
    (upstream) => {
      const up = upstream as Socket;
      up.on("error", () => client.destroy());
      client.on("close", () => up.destroy());
      up.on("close", () => client.destroy());
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (rest.length) up.write(rest);
      up.pipe(client);
      client.pipe(up);
      client.resume();
    },
    () => refuse(client, 502),
  );
}

function refuse(client: Socket, status: number) {
  client.end(`HTTP/1.1 ${status} ${status === 403 ? "Forbidden" : "Bad Gateway"}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
}
