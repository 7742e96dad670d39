/**
 * test/scenarios/webhook-buckets.ts against the in-repo fake API server, plus
 * the rows only a fake can stage: the Kubernetes API answering 500/503 or
 * being down while the webhook is called (SPEC 6: 502 with the reason).
 */
import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { fakeBackend } from "./support/backend.ts";
import type { SidecarProcess } from "./support/sidecar.ts";
import { startWorld, type World } from "./fake-minio/world.ts";
import { hook, startupReconcileDone, webhookScenarios } from "./scenarios/webhook-buckets.ts";

// Real processes and servers: more than bun test's default 5 s per test (bunfig's timeout key is not applied by Bun 1.4.5).
setDefaultTimeout(30_000);

webhookScenarios(fakeBackend);

describe("webhook when the Kubernetes API fails", () => {
  let w: World;
  let sc: SidecarProcess;
  beforeAll(async () => {
    w = await startWorld();
    sc = await w.sidecar();
    await startupReconcileDone(sc);
  });
  afterAll(() => w.close());

  test("Kubernetes API answers 500: 502 with the reason; the next request works", async () => {
    w.api.failNext(1, 500, { match: (r) => r.resource === "services" });
    const r = await hook(sc, "?bucket=api-fails");
    expect(r.status).toBe(502);
    expect(r.body).toContain("Kubernetes API");
    expect(r.body).toContain("500");
    expect(await w.service("api-fails")).toBeUndefined();
    expect((await hook(sc, "?bucket=api-fails")).status).toBe(200);
    expect(await w.service("api-fails")).toBeDefined();
  });

  test("Kubernetes API refuses a delete with 503: 502, the Service stays", async () => {
    expect((await hook(sc, "?bucket=api-fails-delete")).status).toBe(200);
    w.api.failNext(1, 503, { match: (r) => r.resource === "services" && r.verb === "delete" });
    const r = await hook(sc, "?bucket=api-fails-delete&delete=true");
    expect(r.status).toBe(502);
    expect(r.body).toContain("503");
    expect(await w.service("api-fails-delete")).toBeDefined();
  });

  test("Kubernetes API server down: 502 with the reason; the sidecar keeps serving and recovers", async () => {
    await w.api.stop();
    try {
      const r = await hook(sc, "?bucket=api-down");
      expect(r.status).toBe(502);
      expect(r.body).toContain("Kubernetes API");
      expect(r.body).toMatch(/ECONNREFUSED|Unable to connect|connect/i);
      expect((await hook(sc, "?bucket=api-down&delete=true")).status).toBe(502);
      expect((await sc.probe("/healthz")).status).toBe(200);
      expect((await sc.probe("/ready")).status).toBe(200);
      expect((await hook(sc, "?bucket=Not.Valid")).status).toBe(400); // decided without the API
    } finally {
      await w.api.start();
    }
    expect((await hook(sc, "?bucket=api-down")).status).toBe(200);
    expect(await w.service("api-down")).toBeDefined();
    expect(sc.proc.exitCode).toBeNull();
  });
});
