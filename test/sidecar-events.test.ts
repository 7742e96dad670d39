/**
 * The sidecar's Events (SPEC 4), from the real process against the fake API
 * server: keeping the last good file, a missing or forbidden Secret, and the
 * recovery are Events regarding the Tenant; repeats of one problem are one
 * Event with a growing series; no secret value in any of them; without the
 * permission, one warning and nothing else changes.
 */
import { afterEach, expect, test } from "bun:test";
import { NS, PASSWORD } from "./support/objects.ts";
import { eventually } from "./support/sidecar.ts";
import { shippedRoleRules, SIDECAR_USER } from "./support/backend.ts";
import { cleanup, configEnv, EXAMPLE_PASSWORD, EXPECTED_BASE, expectedFile, fileIs, finish, pw, SECRET, SECRET_V2, setSecret, setup, statusWhen } from "./support/sidecar-cluster.ts";

afterEach(cleanup);

type Ev = { type?: string; reason?: string; note?: string; action?: string; reportingController?: string; regarding?: { kind?: string; name?: string; uid?: string }; series?: { count?: number } };

test("invalid Secret: one Warning ConfigInvalid regarding the Tenant, repeats counted; fixed: a Normal ConfigApplied; no secret value", async () => {
  const e = await setup({ env: { POD_NAME: "myminio-pool-0-0" } });
  await fileIs(e, EXPECTED_BASE);
  const events = () => e.api.list("events.events.k8s.io", { namespace: NS }) as Ev[];
  const tenantUid = e.api.get(`tenants/${NS}/myminio`)!.metadata!.uid;
  setSecret(e, 'export MINIO_ROOT_USER="minio"\nexport MINIO_BROWSER="on"');
  await statusWhen(e, (s) => s.configValid === false);
  const warning = (await eventually(() => events().find((x) => x.reason === "ConfigInvalid"), 10_000, "ConfigInvalid Event"))!;
  expect(warning).toMatchObject({ type: "Warning", action: "Apply", reportingController: "minio-operator-sidecar", regarding: { kind: "Tenant", name: "myminio", uid: tenantUid } });
  expect(warning.note).toContain(`Secret ${NS}/${SECRET}`);
  expect(warning.note).toContain("missing root credentials");
  // The same problem again (another invalid edit): counted, but refreshed at most every 30 minutes
  // (issue 21), so nothing is written now; the count goes out with the exit's flush (below).
  const writes = () => e.api.requests.filter((r) => r.resource === "events" && r.method !== "GET").length;
  const before = writes();
  setSecret(e, 'export MINIO_ROOT_USER="minio"\nexport MINIO_BROWSER="off"');
  const rv = e.api.get(`secrets/${NS}/${SECRET}`)!.metadata!.resourceVersion;
  await statusWhen(e, (s) => Number((s.watches.find((w) => w.kind === "Secret") as { resourceVersion?: string } | undefined)?.resourceVersion) >= Number(rv));
  await Bun.sleep(1_000);
  expect(writes()).toBe(before);
  expect(events().filter((x) => x.reason === "ConfigInvalid")).toHaveLength(1);
  setSecret(e, configEnv(pw("fixed")));
  await fileIs(e, expectedFile(pw("fixed")));
  const applied = (await eventually(() => events().find((x) => x.reason === "ConfigApplied"), 10_000, "ConfigApplied Event"))!;
  expect(applied.type).toBe("Normal");
  const all = JSON.stringify(events());
  expect(all).not.toContain(PASSWORD);
  expect(all).not.toContain(EXAMPLE_PASSWORD);
  await finish(e);
  // SIGTERM flushed the pending repeat: one Event, its series counting both edits.
  const invalid = events().filter((x) => x.reason === "ConfigInvalid");
  expect(invalid).toHaveLength(1);
  expect(invalid[0]!.series?.count).toBe(2);
});

test("Tenant switched to a Secret the Role does not name: SecretForbidden; to one that does not exist: SecretNotFound", async () => {
  const e = await setup({ secretNames: [SECRET, "absent"] });
  await fileIs(e, EXPECTED_BASE);
  const events = () => e.api.list("events.events.k8s.io", { namespace: NS }) as Ev[];
  e.api.patch(`tenants/${NS}/myminio`, { spec: { configuration: { name: SECRET_V2 } } });
  const forbidden = (await eventually(() => events().find((x) => x.reason === "SecretForbidden"), 15_000, "SecretForbidden Event"))!;
  expect(forbidden.note).toContain(`Secret ${NS}/${SECRET_V2}`);
  e.api.patch(`tenants/${NS}/myminio`, { spec: { configuration: { name: "absent" } } });
  const missing = (await eventually(() => events().find((x) => x.reason === "SecretNotFound"), 15_000, "SecretNotFound Event"))!;
  expect(missing.note).toContain(`Secret ${NS}/absent: not found`);
  e.sc.proc.kill("SIGKILL"); // finish() would flag the expected 403s
});

test("without the events permission: one warning, no Event, everything else as usual", async () => {
  const e = await setup();
  // An older Role, before events were added to deploy/rbac.yaml.
  e.api.setToken(e.cluster.token, { user: SIDECAR_USER, rules: shippedRoleRules(NS).filter((r) => !r.apiGroups.includes("events.k8s.io")) });
  await fileIs(e, EXPECTED_BASE);
  setSecret(e, 'export MINIO_ROOT_USER="minio"\n');
  await statusWhen(e, (s) => s.configValid === false);
  await e.sc.waitForLog((l) => String(l.msg).startsWith("cannot record Kubernetes Events (forbidden"));
  setSecret(e, 'export MINIO_ROOT_USER="x"\n');
  setSecret(e, configEnv(pw("ok")));
  await fileIs(e, expectedFile(pw("ok")));
  expect(e.sc.logs.filter((l) => String(l.msg).startsWith("cannot record Kubernetes Events"))).toHaveLength(1);
  expect(e.api.list("events.events.k8s.io", { namespace: NS })).toEqual([]);
  e.sc.proc.kill("SIGKILL"); // finish() would flag the expected 403 on events
});
