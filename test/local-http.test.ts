/**
 * The runtime adapter's LocalHttp (what the sidecar talks to MinIO with),
 * against real servers on loopback: plain and TLS with a certificate for
 * other names, servers that accept and never answer (before the TLS
 * handshake, after it, mid-body), oversized bodies, redirects, keep-alive.
 * Runs under whichever runtime runs the tests (Bun's fetch under Bun).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import http from "node:http";
import https from "node:https";
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from "node:net";
import { localHttp, type LocalHttp } from "../src/runtime/index.ts";
import { loadTlsFixtures } from "./fake-apiserver/tls.ts";

const SNI = "minio.ns.svc.cluster.local";
type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

const routes: Record<string, Handler> = {
  "/ok": (_q, s) => s.end("hello"),
  // As MinIO answers its health endpoint: Content-Length always set (0). Bun's
  // fetch reuses a connection after a HEAD only when the answer carries one.
  "/live": (_q, s) => s.writeHead(200, { "content-length": 0 }).end(),
  "/redirect": (_q, s) => s.writeHead(302, { location: "/ok" }).end(),
  "/big-length": (_q, s) => s.writeHead(200, { "content-length": 2048 }).end("x".repeat(2048)),
  "/big-chunked": (_q, s) => {
    s.writeHead(200);
    for (let i = 0; i < 8; i++) s.write("y".repeat(256));
    s.end();
  },
  "/exact": (_q, s) => s.end("z".repeat(1024)),
  "/stall-body": (_q, s) => {
    s.writeHead(200, { "content-length": 100 });
    s.write("partial"); // and never the rest
  },
  "/never": () => {}, // headers never sent
};
const handler: Handler = (q, s) => (routes[new URL(q.url!, "http://x").pathname] ?? ((_, r) => r.writeHead(404).end()))(q, s);

let plain: http.Server;
let secure: https.Server;
let silent: TcpServer;
const sockets = new Set<Socket>();
const snis: (string | false | null | undefined)[] = [];
let secureConnections = 0;
let h: LocalHttp;
const listening = (s: http.Server | TcpServer) => new Promise<number>((r) => s.listen(0, "127.0.0.1", () => r((s.address() as AddressInfo).port)));
const ports = { plain: 0, secure: 0, silent: 0 };

beforeAll(async () => {
  const tls = loadTlsFixtures();
  plain = http.createServer(handler);
  secure = https.createServer({ key: tls.keyPem, cert: tls.certPem }, handler);
  secure.on("secureConnection", (s) => {
    secureConnections++;
    snis.push(s.servername);
  });
  silent = createTcpServer((s) => void sockets.add(s)); // accepts, reads, says nothing (no TLS handshake either)
  for (const s of [plain, secure]) s.on("connection", (c) => sockets.add(c));
  ports.plain = await listening(plain);
  ports.secure = await listening(secure);
  ports.silent = await listening(silent);
  h = localHttp(SNI);
});
afterAll(() => {
  h.close();
  for (const s of sockets) s.destroy();
  for (const s of [plain, secure, silent]) s.close();
});

const url = (kind: keyof typeof ports, path: string) => new URL(`${kind === "plain" ? "http" : "https"}://127.0.0.1:${ports[kind]}${path}`);
const timed = async <T>(p: Promise<T>) => {
  const t0 = performance.now();
  const settled = await p.then((v) => ({ ok: true as const, v }), (e: Error) => ({ ok: false as const, e }));
  return { ...settled, ms: performance.now() - t0 };
};

describe.each(["plain", "secure"] as const)("%s", (kind) => {
  test("an answer comes back whole, status and body", async () => {
    expect(await h.request(url(kind, "/ok"), { timeoutMs: 2_000, maxBody: 1024 })).toEqual({ status: 200, body: "hello" });
  });

  test("a redirect is an answer, not followed", async () => {
    expect((await h.request(url(kind, "/redirect"), { timeoutMs: 2_000, maxBody: 1024 })).status).toBe(302);
  });

  test("a body over the limit is an error, with or without Content-Length; one at the limit is not", async () => {
    for (const path of ["/big-length", "/big-chunked"]) {
      const r = await timed(h.request(url(kind, path), { timeoutMs: 2_000, maxBody: 1024 }));
      expect(r.ok ? "answered" : `${r.e.name}: ${r.e.message}`).toBe("BodyTooLargeError: answer larger than 1024 bytes");
    }
    expect((await h.request(url(kind, "/exact"), { timeoutMs: 2_000, maxBody: 1024 })).body.length).toBe(1024);
  });

  test("headers never sent: abandoned at the deadline, naming it", async () => {
    const r = await timed(h.request(url(kind, "/never"), { timeoutMs: 300, maxBody: 1024 }));
    expect(r.ok ? "answered" : r.e.message).toBe("no answer within 300 ms");
    expect(r.ms).toBeGreaterThanOrEqual(280);
    expect(r.ms).toBeLessThan(1_000);
  });

  test("a body that stops half-way: abandoned at the same deadline", async () => {
    const r = await timed(h.request(url(kind, "/stall-body"), { timeoutMs: 300, maxBody: 1024 }));
    expect(r.ok ? "answered" : r.e.message).toBe("no answer within 300 ms");
    expect(r.ms).toBeLessThan(1_000);
  });

  test("a server that is gone: refused, with the code", async () => {
    const gone = http.createServer();
    const port = await listening(gone);
    await new Promise((r) => gone.close(r));
    const r = await timed(h.request(new URL(`${kind === "plain" ? "http" : "https"}://127.0.0.1:${port}/`), { timeoutMs: 2_000, maxBody: 1024 }));
    expect(r.ok ? "answered" : `${(r.e as NodeJS.ErrnoException).code} ${r.e.message}`).toContain("ECONNREFUSED");
  });
});

test("TLS: a connection accepted and never answered (no handshake) is abandoned at the deadline", async () => {
  const r = await timed(h.request(url("silent", "/"), { method: "HEAD", timeoutMs: 300, maxBody: 1024 }));
  expect(r.ok ? "answered" : r.e.message).toBe("no answer within 300 ms");
  expect(r.ms).toBeLessThan(1_000);
});

test("TLS: the certificate is not verified, SNI is the given name, and connections are reused", async () => {
  const before = secureConnections;
  for (let i = 0; i < 10; i++) expect((await h.request(url("secure", "/live"), { method: "HEAD", timeoutMs: 2_000, maxBody: 1024 })).status).toBe(200);
  expect(secureConnections - before).toBeLessThanOrEqual(1);
  expect(snis.at(-1)).toBe(SNI);
});
