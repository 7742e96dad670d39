/** Deno: `Deno.serve` with the app's web-standard fetch handler; node:net and node:http(s) for the rest. */
import { createServer } from "node:net";
import type { Elysia } from "elysia";
import type { Address, HeldPort, Listener, LocalHttp } from "./index.ts";

interface DenoServer {
  addr: { port: number; hostname: string };
  shutdown(): Promise<void>;
}
declare const Deno: {
  serve(options: { hostname: string; port: number; onListen?: () => void }, handler: (req: Request) => Response | Promise<Response>): DenoServer;
};

// deno-lint-ignore no-explicit-any
export function listen(app: Elysia<any, any, any, any, any, any, any>, address: Address): Listener {
  const server = Deno.serve({ hostname: address.hostname, port: address.port, onListen: () => {} }, (req) => app.fetch(req));
  return { port: server.addr.port, hostname: server.addr.hostname, stop: () => server.shutdown() };
}

export function holdPort(hostname: string, port: number): Promise<HeldPort> {
  const server = createServer();
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: hostname, port, exclusive: true }, () => resolve({ close: () => new Promise((r) => server.close(() => r())) }));
  });
}

/** Deno's fetch verifies every certificate (only a process-wide flag turns that off): node:https instead. */
export async function localHttp(serverName: string): Promise<LocalHttp> {
  return (await import("./node-local-http.ts")).nodeLocalHttp(serverName);
}
