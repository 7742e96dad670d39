/**
 * The one place that knows which runtime we are on (hono's adapter idea).
 * Everything else in `src/` is web-standard `fetch` handlers and node: modules.
 * Bun serves with Elysia's own `listen`, Deno with `Deno.serve(app.fetch)`
 * (Elysia's `listen` throws on Deno, SPEC 7). YAML is deliberately not here:
 * Bun's native parser accepted documents js-yaml refused, so both runtimes
 * use one parser (config/manifest.ts).
 */
import { createServer, type Server } from "node:net";
import type { Elysia } from "elysia";
import { InputError } from "../errors.ts";

export interface Listener {
  /** The port bound (the one asked for, or the kernel's choice for port 0). */
  port: number;
  stop(): Promise<void>;
}

export interface Address {
  hostname: string;
  port: number;
}

/** `HOST:PORT`, `[v6]:PORT` or `:PORT` (all interfaces). */
export function parseAddress(text: string): Address {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new Error(`invalid address "${text}" (want HOST:PORT)`);
  return { hostname: m[1] ?? (m[2] || "0.0.0.0"), port };
}

const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
const adapter = () => (isDeno ? import("./deno.ts") : import("./bun.ts"));

// deno-lint-ignore no-explicit-any
export async function listen(app: Elysia<any, any, any, any, any, any, any>, address: Address): Promise<Listener> {
  return (await adapter()).listen(app, address);
}

/**
 * Start-up check that every listen address can be bound, before the sidecar
 * spends up to 10 s on its first read of the cluster: a port that is taken
 * is reported at once, naming the flag, instead of after the wait. All
 * sockets stay open until all are checked, so two flags naming one port are
 * caught too; then they are closed and the real servers bind.
 */
export async function checkBindable(addresses: ReadonlyArray<{ flag: string; value: string }>): Promise<void> {
  const held: Server[] = [];
  try {
    for (const { flag, value } of addresses) {
      const { hostname, port } = parseAddress(value);
      const server = createServer();
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen({ host: hostname, port, exclusive: true }, () => resolve());
      }).catch((err: NodeJS.ErrnoException) => {
        throw new InputError(`${flag} ${value}`, "", reasonOf(err));
      });
      held.push(server);
    }
  } finally {
    await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
  }
}

function reasonOf(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case "EADDRINUSE":
      return "address already in use (another process, or another of the three address flags, holds this port)";
    case "EACCES":
      return "permission denied (ports below 1024 need privileges)";
    case "EADDRNOTAVAIL":
      return "address not available on this host";
    default:
      return `cannot listen: ${err.code ?? err.message}`;
  }
}
