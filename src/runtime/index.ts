/**
 * The one place that knows which runtime we are on (hono's adapter idea).
 * Everything else in `src/` is web-standard `fetch` handlers and node: modules.
 * - listen: Bun serves with Elysia's own `listen`, Deno with
 *   `Deno.serve(app.fetch)` (Elysia's `listen` throws on Deno, SPEC 7).
 * - YAML: Bun's native parser (0.5 ms for the example Tenant, against 8 ms
 *   to load and run js-yaml cold: most of `render`'s start-up), js-yaml on Deno.
 */
import type { Elysia } from "elysia";

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

/** Every document of a YAML (or JSON) stream, as plain values. Throws on a syntax error. */
export async function parseYamlDocuments(text: string): Promise<unknown[]> {
  return (await adapter()).parseYamlDocuments(text);
}
