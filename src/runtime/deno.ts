/** Deno: `Deno.serve` with the app's web-standard fetch handler; js-yaml. */
import type { Elysia } from "elysia";
import { loadAll } from "js-yaml";
import type { Address, Listener } from "./index.ts";

interface DenoServer {
  addr: { port: number };
  shutdown(): Promise<void>;
}
declare const Deno: {
  serve(options: { hostname: string; port: number; onListen?: () => void }, handler: (req: Request) => Response | Promise<Response>): DenoServer;
};

// deno-lint-ignore no-explicit-any
export function listen(app: Elysia<any, any, any, any, any, any, any>, address: Address): Listener {
  const server = Deno.serve({ hostname: address.hostname, port: address.port, onListen: () => {} }, (req) => app.fetch(req));
  return { port: server.addr.port, stop: () => server.shutdown() };
}

export function parseYamlDocuments(text: string): unknown[] {
  return loadAll(text);
}
