/**
 * Sidecar API (SPEC 6): the sha256 of the config file as it is on disk, so
 * that the operator can tell whether a pod runs the configuration it expects.
 */
import { readFile } from "node:fs/promises";
import { Elysia, t } from "elysia";
import { sha256Hex } from "../runtime/index.ts";
import { guard } from "./guard.ts";

export function sidecarApiApp(configFile: string) {
  const currentSha = async () => {
    const content = await readFile(configFile).catch(() => undefined);
    return content ? sha256Hex(content) : null;
  };
  return new Elysia({ name: "sidecar-api" })
    .use(guard)
    // Before the routes: Elysia applies a local hook only to routes registered after it.
    .onError(({ code, set }) => {
      if (code === "VALIDATION") {
        set.status = 400;
        return { error: "query parameter c (sha256 hex) is required" };
      }
    })
    .get("/sidecar/v1/config", async () => ({ sha256: await currentSha() }))
    .post(
      "/sidecar/v1/config",
      async ({ query }) => {
        const sha256 = await currentSha();
        return { match: sha256 !== null && query.c.toLowerCase() === sha256, sha256 };
      },
      { query: t.Object({ c: t.String({ minLength: 1, maxLength: 128 }) }) },
    );
}
