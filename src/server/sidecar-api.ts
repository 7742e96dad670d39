/**
 * Sidecar API (SPEC 6): which inputs the config file on disk was rendered
 * from (the Tenant's and the Secret's uid and resourceVersion) and when it
 * was last written, so that an operator can tell whether a pod runs the
 * configuration it expects.
 *
 * It used to publish the sha256 of the file and compare a guessed hash on
 * POST. This port is reachable from the whole pod network, and the file holds
 * the root password next to values anyone can derive from the Tenant: that
 * hash confirmed the demo's password offline within five guesses. Nothing
 * computed from the file or a Secret value is served any more. `POST
 * /sidecar/v1/config?c=...` (the upstream sidecar's handler is a stub that
 * only logs; no operator calls it) answers 200 with the same identifiers and
 * compares nothing.
 */
import { Elysia } from "elysia";
import type { ConfigInputs } from "../loops/config-loop.ts";
import { guard } from "./guard.ts";

export interface ConfigIdentity {
  inputs: ConfigInputs | null;
  lastWriteTime: string | null;
}

export function sidecarApiApp(current: () => ConfigIdentity) {
  return new Elysia({ name: "sidecar-api" })
    .use(guard)
    .get("/sidecar/v1/config", () => current())
    .post("/sidecar/v1/config", () => current());
}
