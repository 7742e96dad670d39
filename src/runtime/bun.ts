/** Bun: Elysia's own listen (Bun.serve underneath), Bun.listen, Bun's fetch. */
import type { Elysia } from "elysia";
import { BodyTooLargeError, noAnswerWithin, type Address, type HeldPort, type Listener, type LocalHttp, type LocalRequest } from "./index.ts";

// deno-lint-ignore no-explicit-any
export function listen(app: Elysia<any, any, any, any, any, any, any>, address: Address): Listener {
  // Elysia defaults to reusePort (a second process on the same port would
  // silently share its traffic; we want EADDRINUSE) and to Bun's development
  // mode unless NODE_ENV=production (error pages with stack traces).
  app.listen({ hostname: address.hostname, port: address.port, reusePort: false, development: false });
  const server = app.server;
  if (!server) throw new Error(`cannot listen on ${address.hostname}:${address.port}`);
  return {
    port: server.port ?? address.port,
    hostname: server.hostname ?? address.hostname,
    stop: async () => {
      await app.stop(true); // close keep-alive connections too, so shutdown is quick
    },
  };
}

/** Throws with `code` EADDRINUSE, EACCES, EADDRNOTAVAIL like node:net. */
export async function holdPort(hostname: string, port: number): Promise<HeldPort> {
  const socket = Bun.listen({ hostname, port, exclusive: true, socket: { data() {} } });
  return { close: async () => socket.stop(true) };
}

/**
 * Bun's fetch, which pools keep-alive connections per host and TLS settings
 * by itself; `tls.serverName` sets SNI. Redirects are not followed (node:http
 * never did) and bodies are not decompressed behind our byte limit's back.
 */
export function localHttp(serverName: string): LocalHttp {
  return {
    async request(url: URL, r: LocalRequest) {
      const signal = AbortSignal.timeout(r.timeoutMs);
      try {
        const res = await fetch(url, {
          method: r.method ?? "GET",
          headers: r.headers,
          signal,
          redirect: "manual",
          decompress: false,
          ...(url.protocol === "https:" ? { tls: r.verify ? { rejectUnauthorized: true, ...(r.verify.ca ? { ca: r.verify.ca } : {}) } : { rejectUnauthorized: false, serverName } } : {}),
        });
        return { status: res.status, body: await readLimited(res, r.maxBody) };
      } catch (err) {
        if (signal.aborted) throw noAnswerWithin(r.timeoutMs);
        throw err;
      }
    },
    close() {},
  };
}

async function readLimited(res: Response, maxBody: number): Promise<string> {
  if (!res.body) return "";
  if (Number(res.headers.get("content-length") ?? 0) > maxBody) {
    await res.body.cancel();
    throw new BodyTooLargeError(maxBody);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    size += r.value.length;
    if (size > maxBody) {
      await reader.cancel(); // drops the connection rather than reading on
      throw new BodyTooLargeError(maxBody);
    }
    chunks.push(r.value);
  }
  return Buffer.concat(chunks).toString("utf8");
}
