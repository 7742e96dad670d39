/**
 * The sidecar as a real child process against an API server (https, CA in
 * the kubeconfig, the sidecar's ServiceAccount bound to the Role of
 * deploy/rbac.yaml): it writes the config file, follows every Tenant and
 * Secret change, keeps the last good file on invalid input and reports it on
 * /status and /metrics, and never exits (SPEC 4, 5).
 *
 * One copy of each scenario, run by test/sidecar-watch.test.ts against the
 * in-repo fake and by test/kube/sidecar-watch.kube.ts against a real
 * kube-apiserver. Writes to the Tenant and Secret are the test's own (another
 * actor, like kubectl) and are not in `api.requests`, which holds only the
 * sidecar's requests.
 */
import { expect, test } from "bun:test";
import { stat } from "node:fs/promises";
import type { ApiServer } from "../support/backend.ts";
import { NS, secret } from "../support/objects.ts";
import { eventually } from "../support/sidecar.ts";
import {
  EXAMPLE_PASSWORD,
  SECRET,
  SECRET_V2,
  EXPECTED_BASE,
  configEnv,
  expectedFile,
  exampleTenant,
  pw,
  fileText,
  status,
  fileIs,
  setSecret,
  statusWhen,
  inputsNow,
  metric,
  finish,
  type Env,
  type SetupOptions,
} from "../support/sidecar-cluster.ts";

/** Registers the tests; `setup` starts the sidecar against the chosen backend (cleanup is the caller's afterEach). */
export function sidecarWatchScenarios(setup: (o?: SetupOptions) => Promise<Env<ApiServer>>) {
  test("start-up: the file is written with exactly the bytes validate/render produce; status, metrics and sidecar API agree", async () => {
    const e = await setup();
    await fileIs(e, EXPECTED_BASE);
    expect((await stat(e.file)).mode & 0o007).toBe(0);
    const inputs = await inputsNow(e);
    const s = await status(e);
    expect(s).toMatchObject({ tenant: "myminio", namespace: NS, secret: SECRET, configValid: true, inputs });
    expect(s.lastError).toBeUndefined();
    expect(s.watches.map((w) => [w.kind, w.name, w.state])).toEqual([
      ["Tenant", "myminio", "watching"],
      ["Secret", SECRET, "watching"],
    ]);
    expect(await metric(e, "minio_sidecar_config_valid")).toBe(1);
    expect(await metric(e, "minio_sidecar_config_writes_total")).toBe(1);
    expect(await (await e.sc.api("/sidecar/v1/config")).json()).toEqual({ inputs, lastWriteTime: s.lastWriteTime });
    expect(JSON.stringify(s)).not.toContain(EXAMPLE_PASSWORD);
    await finish(e);
  });

  test("a Secret update rewrites the file", async () => {
    const e = await setup();
    await fileIs(e, EXPECTED_BASE);
    await setSecret(e, configEnv(pw("rotated")));
    await fileIs(e, expectedFile(pw("rotated")));
    const rotated = await inputsNow(e);
    await statusWhen(e, (s) => s.inputs?.secret.resourceVersion === rotated.secret.resourceVersion);
    expect(await metric(e, "minio_sidecar_config_writes_total")).toBe(2);
    await finish(e);
  });

  test("a Tenant edit rewrites the file (more servers in the pool)", async () => {
    const e = await setup();
    await fileIs(e, EXPECTED_BASE);
    await e.api.patch(`tenants/${NS}/myminio`, [{ op: "replace", path: "/spec/pools/0/servers", value: 8 }], "json");
    await fileIs(e, EXPECTED_BASE.replace("myminio-pool-0-{0...3}", "myminio-pool-0-{0...7}"));
    await finish(e);
  });

  test("credentials removed while running: last good file kept, error on /status and /metrics; fixed: converges", async () => {
    const e = await setup();
    await fileIs(e, EXPECTED_BASE);
    const before = await stat(e.file);
    const errorsBefore = await metric(e, "minio_sidecar_config_errors_total");

    await setSecret(e, 'export MINIO_ROOT_USER="minio"\nexport MINIO_BROWSER="on"');
    const s = await statusWhen(e, (s) => s.configValid === false);
    expect(s.lastError).toContain(`Secret ${NS}/${SECRET}`);
    expect(s.lastError).toContain("missing root credentials");
    expect(await metric(e, "minio_sidecar_config_valid")).toBe(0);
    expect(await metric(e, "minio_sidecar_config_errors_total")).toBeGreaterThan(errorsBefore);
    expect(await metric(e, "minio_sidecar_config_errors_total", 'reason="invalid"')).toBeGreaterThanOrEqual(1);
    await e.sc.waitForLog((l) => l.level === 50 || l.level === "error");
    // The file is the last good one, untouched.
    expect(await fileText(e)).toBe(EXPECTED_BASE);
    const after = await stat(e.file);
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
    expect((await e.sc.probe("/healthz")).status).toBe(200);

    await setSecret(e, configEnv(pw("fixed")));
    await fileIs(e, expectedFile(pw("fixed")));
    const fixed = await statusWhen(e, (s) => s.configValid === true);
    expect(fixed.lastError).toBeUndefined();
    expect(await metric(e, "minio_sidecar_config_valid")).toBe(1);
    await finish(e);
  });

  test("Secret deleted while running: file kept, error naming the Secret; recreated: converges", async () => {
    const e = await setup();
    await fileIs(e, EXPECTED_BASE);
    await e.api.delete(`secrets/${NS}/${SECRET}`);
    const s = await statusWhen(e, (s) => s.configValid === false);
    expect(s.lastError).toBe(`Secret ${NS}/${SECRET}: not found`);
    expect(await metric(e, "minio_sidecar_config_valid")).toBe(0);
    expect(await fileText(e)).toBe(EXPECTED_BASE);

    await e.api.create(secret(configEnv(pw("recreated")), SECRET));
    await fileIs(e, expectedFile(pw("recreated")));
    await statusWhen(e, (s) => s.configValid === true);
    expect(await metric(e, "minio_sidecar_config_valid")).toBe(1);
    await finish(e);
  });

  test("Tenant made invalid and back: file kept with the error naming the field, then valid again", async () => {
    const e = await setup();
    await fileIs(e, EXPECTED_BASE);
    await e.api.patch(`tenants/${NS}/myminio`, [{ op: "replace", path: "/spec/pools/0/volumesPerServer", value: 0 }], "json");
    const s = await statusWhen(e, (s) => s.configValid === false);
    expect(s.lastError).toMatch(new RegExp(`^Tenant ${NS}/myminio: spec\\.pools\\[0\\]\\.volumesPerServer: `));
    expect(await metric(e, "minio_sidecar_config_valid")).toBe(0);
    expect(await fileText(e)).toBe(EXPECTED_BASE);

    await e.api.patch(`tenants/${NS}/myminio`, [{ op: "replace", path: "/spec/pools/0/volumesPerServer", value: 4 }], "json");
    const ok = await statusWhen(e, (s) => s.configValid === true);
    expect(ok.lastError).toBeUndefined();
    expect(await metric(e, "minio_sidecar_config_valid")).toBe(1);
    expect(await fileText(e)).toBe(EXPECTED_BASE);
    // Still following: a later Secret change lands.
    await setSecret(e, configEnv(pw("after-invalid")));
    await fileIs(e, expectedFile(pw("after-invalid")));
    await finish(e);
  });

  test("Tenant spec.configuration.name changed: the sidecar follows the new Secret and ignores the old one", async () => {
    const e = await setup({ secretNames: [SECRET, SECRET_V2] });
    await fileIs(e, EXPECTED_BASE);
    await e.api.create(secret(configEnv(pw("v2")), SECRET_V2));
    await e.api.patch(`tenants/${NS}/myminio`, { spec: { configuration: { name: SECRET_V2 } } });
    await fileIs(e, expectedFile(pw("v2")));
    await statusWhen(e, (s) => s.secret === SECRET_V2);
    // The old Secret's watch is gone; changing it does nothing.
    await eventually(() => e.api.openWatches.every((w) => w.resource !== "secrets" || w.query.fieldSelector === `metadata.name=${SECRET_V2}`));
    await setSecret(e, configEnv(pw("old-secret-edit")));
    await setSecret(e, configEnv(pw("v2-edit")), SECRET_V2);
    await fileIs(e, expectedFile(pw("v2-edit")));
    await Bun.sleep(300);
    expect(await fileText(e)).toBe(expectedFile(pw("v2-edit")));
    await finish(e, { secretNames: [SECRET, SECRET_V2] });
  });

  test("Tenant missing at start: the sidecar serves (healthz 200), reports it, and converges once the Tenant is created", async () => {
    const e = await setup({ tenant: false });
    expect((await e.sc.probe("/healthz")).status).toBe(200);
    const s = await statusWhen(e, (s) => s.lastError);
    expect(s.configValid).toBe(false);
    expect(s.lastError).toBe(`Tenant ${NS}/myminio: not found`);
    expect(await fileText(e)).toBe("");
    await e.api.create(exampleTenant());
    await fileIs(e, EXPECTED_BASE);
    await statusWhen(e, (s) => s.configValid === true);
    await finish(e);
  });

  test("a burst of 50 Secret updates: the file ends with the last one", async () => {
    const e = await setup();
    await fileIs(e, EXPECTED_BASE);
    for (let i = 1; i <= 50; i++) await setSecret(e, configEnv(pw(`burst-${i}`)));
    await fileIs(e, expectedFile(pw("burst-50")));
    // Stays there (no late stale write).
    await Bun.sleep(500);
    expect(await fileText(e)).toBe(expectedFile(pw("burst-50")));
    const writes = await metric(e, "minio_sidecar_config_writes_total");
    expect(writes).toBeGreaterThanOrEqual(2);
    expect(writes).toBeLessThanOrEqual(51);
    expect((await status(e)).configValid).toBe(true);
    await finish(e);
  });

  test("SIGINT stops the sidecar with exit 0 within 2 s too", async () => {
    const e = await setup();
    await fileIs(e, EXPECTED_BASE);
    await finish(e, { signal: "SIGINT" });
  });

  test("API server stopped and restarted, storage kept: the file and health ride out the outage; the watches resume (410 from the fresh watch cache, re-list) and follow changes", async () => {
    const e = await setup();
    await fileIs(e, EXPECTED_BASE);
    await e.cluster.stopApiServer();
    await statusWhen(e, (s) => s.watches.every((w) => w.state !== "watching" && String(w.lastError).includes("ECONNREFUSED")), 10_000);
    // Down: the last good file stays, and an outage is not a wedge (SPEC 5).
    await Bun.sleep(1_500);
    expect((await e.sc.probe("/healthz")).status).toBe(200);
    expect((await status(e)).configValid).toBe(true);
    expect(await fileText(e)).toBe(EXPECTED_BASE);
    await e.cluster.startApiServer();
    await setSecret(e, configEnv(pw("after-restart")));
    await fileIs(e, expectedFile(pw("after-restart")), 20_000);
    await eventually(() => e.api.openWatches.length === 2, 20_000, "both watches re-opened on the new API server");
    // The new server's watch cache starts at a newer revision (its own start-up
    // writes moved it on), so resuming from the old one is a 410 and a re-list.
    expect(e.sc.logs.some((l) => /\b410\b/.test(String(l.msg)))).toBe(true);
    await setSecret(e, configEnv(pw("after-restart-2")));
    await fileIs(e, expectedFile(pw("after-restart-2")));
    await finish(e);
  }, 60_000);
}
