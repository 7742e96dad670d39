/** Bun: Elysia's own listen (Bun.serve underneath); Bun's native YAML parser. */
import type { Elysia } from "elysia";
import type { Address, Listener } from "./index.ts";

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
    stop: async () => {
      await app.stop(true); // close keep-alive connections too, so shutdown is quick
    },
  };
}

/** Bun.YAML.parse gives one value for one document and an array for several. */
export function parseYamlDocuments(text: string): unknown[] {
  const value: unknown = Bun.YAML.parse(text);
  return /^\s*---/m.test(text) && Array.isArray(value) ? value : [value];
}
