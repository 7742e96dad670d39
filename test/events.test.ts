/**
 * Kubernetes Events regarding the Tenant (SPEC 4): `validate` as a real
 * process, and the recorder the sidecar uses, against the fake API server
 * (events.k8s.io/v1 with kube-apiserver's validation, RBAC enforced, real
 * sockets). One Event per pod and problem, repeats counted in its series, no
 * secret value anywhere, and no Events at all (one warning) without the
 * permission.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { Writable } from "node:stream";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { loadKube } from "../src/kube/client.ts";
import { EventRecorder, tenantRegarding, type Regarding } from "../src/kube/events.ts";
import { startFakeApiServer, type FakeApiServer, type KObject, type Rule } from "./fake-apiserver/index.ts";
import { runCli, type RunResult } from "./support/cli.ts";
import { NS, PASSWORD, pool, secret, tenant } from "./support/objects.ts";
import { eventually } from "./support/sidecar.ts";

const READ: Rule[] = [
  { apiGroups: ["minio.min.io"], resources: ["tenants"], verbs: ["get", "list", "watch"], namespaces: [NS] },
  { apiGroups: [""], resources: ["secrets"], verbs: ["get", "list", "watch"], resourceNames: ["myminio-env-configuration", "no-user", "absent"], namespaces: [NS] },
];
const EVENTS: Rule = { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create", "patch"], namespaces: [NS] };

let api: FakeApiServer;
let dir = "";
const kubeconfigs: Record<string, string> = {};
const runs: RunResult[] = [];

beforeAll(async () => {
  api = await startFakeApiServer({
    tokens: {
      full: { user: "system:serviceaccount:minio-tenant:myminio-sidecar", rules: [...READ, EVENTS] },
      "no-events": { user: "system:serviceaccount:minio-tenant:old-role", rules: READ },
    },
    objects: [
      tenant({ pools: [pool({ name: "pool-0", servers: 2, volumesPerServer: 1 })] }, "bad-pool"),
      tenant({ configuration: { name: "absent" } }, "no-secret"),
      tenant({ configuration: { name: "no-user" } }, "no-user"),
      secret(`MINIO_ROOT_PASSWORD=${PASSWORD}\n`, "no-user"),
      tenant({ configuration: { name: "not-granted" } }, "forbidden-secret"),
      tenant({}, "good"),
      secret(),
    ],
  });
  dir = await mkdtemp(join(tmpdir(), "events-"));
  for (const token of ["full", "no-events"]) {
    kubeconfigs[token] = join(dir, `${token}.kubeconfig`);
    await api.writeKubeconfig(kubeconfigs[token]!, { token, namespace: NS });
  }
});
afterAll(async () => {
  await api?.close();
  await rm(dir, { recursive: true, force: true });
});

const events = () => api.list("events.events.k8s.io", { namespace: NS });
const eventsAbout = (name: string) => events().filter((e) => e.regarding?.name === name);
const uidOf = (name: string) => api.get({ kind: "Tenant", namespace: NS, name })!.metadata.uid as string;

async function validate(name: string, opts: { token?: string; pod?: string } = {}) {
  const r = await runCli(["validate", "--tenant", name, "--namespace", NS, "--kubeconfig", kubeconfigs[opts.token ?? "full"]!, "--config-file", join(dir, "never.env")], {
    env: { POD_NAME: opts.pod ?? `${name}-pool-0-0` },
  });
  runs.push(r);
  return r;
}

describe("validate reports its failure as an Event regarding the Tenant", () => {
  test("an invalid Tenant, three crash-loop restarts: one Warning Event, series.count 3", async () => {
    for (let i = 0; i < 3; i++) {
      const r = await validate("bad-pool");
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`error: Tenant ${NS}/bad-pool: spec.pools[0].volumesPerServer: a pool of 2 servers needs at least 4 volumes in total\n`);
    }
    const evs = eventsAbout("bad-pool");
    expect(evs).toHaveLength(1);
    const e = evs[0]!;
    expect(e).toMatchObject({
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      type: "Warning",
      reason: "ConfigInvalid",
      action: "Validate",
      reportingController: "minio-operator-sidecar",
      reportingInstance: "bad-pool-pool-0-0",
      note: `validate failed: Tenant ${NS}/bad-pool: spec.pools[0].volumesPerServer: a pool of 2 servers needs at least 4 volumes in total`,
    });
    expect(e.regarding).toEqual({ apiVersion: "minio.min.io/v2", kind: "Tenant", namespace: NS, name: "bad-pool", uid: uidOf("bad-pool") });
    expect(e.metadata.namespace).toBe(NS);
    expect(e.series.count).toBe(3);
    expect(Date.parse(e.series.lastObservedTime)).toBeGreaterThan(Date.parse(e.eventTime));
    expect(e.eventTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/); // MicroTime
  });

  test("each pod keeps its own Event (reportingInstance)", async () => {
    expect((await validate("bad-pool", { pod: "bad-pool-pool-0-1" })).code).toBe(1);
    const evs = eventsAbout("bad-pool");
    expect(evs.map((e) => [e.reportingInstance, e.series?.count ?? 1]).sort()).toEqual([
      ["bad-pool-pool-0-0", 3],
      ["bad-pool-pool-0-1", 1],
    ]);
  });

  test("a missing Secret is SecretNotFound; a Secret the Role does not name is SecretForbidden", async () => {
    expect((await validate("no-secret")).code).toBe(1);
    expect(eventsAbout("no-secret").map((e) => [e.reason, e.note])).toEqual([["SecretNotFound", `validate failed: Secret ${NS}/absent: not found`]]);
    expect((await validate("forbidden-secret")).code).toBe(1);
    const [f] = eventsAbout("forbidden-secret");
    expect([f?.reason, f?.type]).toEqual(["SecretForbidden", "Warning"]);
    expect(f?.note).toStartWith(`validate failed: Secret ${NS}/not-granted: forbidden`);
  });

  test("missing credentials: the note names the Secret and field, never a value", async () => {
    const r = await validate("no-user");
    expect(r.code).toBe(1);
    const [e] = eventsAbout("no-user");
    expect(e?.note).toStartWith(`validate failed: Secret ${NS}/no-user: config.env: missing root credentials`);
    expect(JSON.stringify(events())).not.toContain(PASSWORD);
  });

  test("no Event for a Tenant that does not exist (nothing to regard), none on success", async () => {
    const before = events().length;
    expect((await validate("nope")).code).toBe(1);
    expect((await validate("good")).code).toBe(0);
    expect(events().length).toBe(before);
  });

  test("without the events permission: the same exit and stderr line, one warning, no Event", async () => {
    const before = events().length;
    const r = await validate("bad-pool", { token: "no-events", pod: "old-role-pod" });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: Tenant ${NS}/bad-pool: spec.pools[0].volumesPerServer: a pool of 2 servers needs at least 4 volumes in total\n`);
    const warns = r.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l)).filter((l) => l.level === "warn");
    expect(warns.map((w) => w.msg)).toEqual([
      "cannot record Kubernetes Events (forbidden: grant create and patch on events in API group events.k8s.io); continuing without Events",
    ]);
    expect(events().length).toBe(before);
  });

  test("no secret value in any output of these runs", () => {
    expect(runs.length).toBeGreaterThan(5);
    for (const r of runs) expect(r.stdout + r.stderr).not.toContain(PASSWORD);
  });
});

describe("EventRecorder (what the sidecar's loop uses)", () => {
  let lines: Record<string, unknown>[] = [];
  const log = pino(
    { level: "debug" },
    new Writable({
      write(chunk, _enc, cb) {
        for (const l of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(l));
        cb();
      },
    }),
  );
  let regarding: Regarding;
  const recorder = (token = "full", o: { minPatchIntervalMs?: number; maxSeries?: number } = {}) =>
    new EventRecorder({ kube: loadKube(kubeconfigs[token]!), log, reportingInstance: "myminio-pool-0-0", minPatchIntervalMs: o.minPatchIntervalMs ?? 0, maxSeries: o.maxSeries });
  const eventReqs = (from: number) => api.requests.slice(from).filter((r) => r.apiGroup === "events.k8s.io").map((r) => `${r.verb} ${r.status}`);

  beforeEach(() => {
    lines = [];
    const name = `t-${Math.random().toString(36).slice(2, 8)}`;
    const created = api.create(tenant({}, name) as KObject);
    regarding = tenantRegarding(created, NS)!;
  });

  test("repeats of one problem: one Event whose series counts them (create, then patches)", async () => {
    const rec = recorder();
    const from = api.requests.length;
    for (let i = 0; i < 5; i++) {
      rec.report(regarding, "Warning", "ConfigInvalid", `Secret ${NS}/x: config.env: missing root credentials`);
      await rec.flush();
    }
    const evs = eventsAbout(regarding.name);
    expect(evs).toHaveLength(1);
    expect(evs[0]!.series.count).toBe(5);
    expect(eventReqs(from)).toEqual(["create 201", "patch 200", "patch 200", "patch 200", "patch 200"]);
  });

  test("a burst within minPatchIntervalMs becomes few writes with the full count", async () => {
    const rec = recorder("full", { minPatchIntervalMs: 300 });
    const from = api.requests.length;
    for (let i = 0; i < 50; i++) {
      rec.report(regarding, "Warning", "ConfigInvalid", "Tenant x: spec.pools: at least one pool is required");
      await new Promise((r) => setTimeout(r, 10));
    }
    await rec.flush();
    expect(eventsAbout(regarding.name)[0]!.series.count).toBe(50);
    const writes = eventReqs(from);
    expect(writes[0]).toBe("create 201");
    expect(writes.length).toBeLessThanOrEqual(5); // ~500 ms of reports at one PATCH per 300 ms
  });

  test("by default a repeat is refreshed at most every 30 minutes; another problem, the recovery, or a problem back is written at once", async () => {
    const rec = new EventRecorder({ kube: loadKube(kubeconfigs.full!), log, reportingInstance: "myminio-pool-0-0" });
    const from = api.requests.length;
    const a = `Secret ${NS}/x: config.env: missing root credentials`;
    const b = `Tenant ${NS}/x: spec.pools: at least one pool is required`;
    rec.report(regarding, "Warning", "ConfigInvalid", a);
    await eventually(() => eventReqs(from).length === 1, 5_000, "the first Event");
    for (let i = 0; i < 5; i++) rec.report(regarding, "Warning", "ConfigInvalid", a);
    await Bun.sleep(500);
    expect(eventReqs(from)).toEqual(["create 201"]); // counted, not written: the next refresh carries them
    rec.report(regarding, "Warning", "ConfigInvalid", b);
    await eventually(() => eventReqs(from).length === 2, 5_000, "the new problem's Event");
    rec.report(regarding, "Warning", "ConfigInvalid", a);
    await eventually(() => eventReqs(from).length === 3, 5_000, "the first problem back");
    expect(rec.recovered(regarding, "config file written")).toBe(true);
    await eventually(() => eventReqs(from).length === 4, 5_000, "the recovery");
    expect(eventReqs(from)).toEqual(["create 201", "create 201", "patch 200", "create 201"]);
    // The first problem's Event carries every occurrence: 1 + 5 repeats + 1 back.
    const first = eventsAbout(regarding.name).find((e) => (e as { note?: string }).note === a) as { series?: { count?: number } };
    expect(first.series?.count).toBe(7);
  });

  test("different notes are different Events; recovery is one Normal ConfigApplied, only after trouble", async () => {
    const rec = recorder();
    expect(rec.recovered(regarding, "config file written")).toBe(false);
    rec.report(regarding, "Warning", "ConfigInvalid", "Tenant x: spec.pools: at least one pool is required");
    rec.report(regarding, "Warning", "SecretNotFound", "Secret x/y: not found");
    expect(rec.recovered(regarding, "config file written")).toBe(true);
    expect(rec.recovered(regarding, "config file written")).toBe(false);
    await rec.flush();
    expect(eventsAbout(regarding.name).map((e) => [e.type, e.reason, e.series?.count ?? 1]).sort()).toEqual([
      ["Normal", "ConfigApplied", 1],
      ["Warning", "ConfigInvalid", 1],
      ["Warning", "SecretNotFound", 1],
    ]);
  });

  test("past maxSeries the least recently seen problem is forgotten; seen again, its Event's count goes on", async () => {
    const rec = recorder("full", { maxSeries: 2 });
    for (const note of ["a", "b", "a", "c"]) {
      rec.report(regarding, "Warning", "ConfigInvalid", note); // "b" is now the least recently seen
      await rec.flush();
    }
    let from = api.requests.length;
    rec.report(regarding, "Warning", "ConfigInvalid", "a"); // still remembered: a plain PATCH
    await rec.flush();
    expect(eventReqs(from)).toEqual(["patch 200"]);
    from = api.requests.length;
    rec.report(regarding, "Warning", "ConfigInvalid", "b"); // forgotten: found by name, then counted on
    await rec.flush();
    expect(eventReqs(from)).toEqual(["create 409", "patch 200", "patch 200"]);
    const count = (note: string) => eventsAbout(regarding.name).find((e) => e.note === note)?.series?.count ?? 1;
    expect([count("a"), count("b"), count("c")]).toEqual([3, 2, 1]);
  });

  test("an Event deleted (or expired) meanwhile is created again with its count", async () => {
    const rec = recorder();
    rec.report(regarding, "Warning", "ConfigInvalid", "n");
    await rec.flush();
    const [e] = eventsAbout(regarding.name);
    api.delete({ kind: "events.events.k8s.io", namespace: NS, name: e!.metadata.name });
    const from = api.requests.length;
    rec.report(regarding, "Warning", "ConfigInvalid", "n");
    await rec.flush();
    expect(eventReqs(from)).toEqual(["patch 404", "create 201"]);
    expect(eventsAbout(regarding.name).map((x) => x.series?.count)).toEqual([2]);
  });

  test("a transient API failure loses nothing: the next occurrence writes the count", async () => {
    const rec = recorder();
    api.failNext(1, 503, { match: (r) => r.apiGroup === "events.k8s.io" });
    rec.report(regarding, "Warning", "ConfigInvalid", "n");
    await rec.flush();
    expect(eventsAbout(regarding.name)).toHaveLength(0);
    expect(lines.filter((l) => l.level === 40).map((l) => l.msg)).toEqual(["recording Kubernetes Event failed: HTTP 503: the server is currently unable to handle the request (injected fault)"]);
    rec.report(regarding, "Warning", "ConfigInvalid", "n");
    await rec.flush();
    expect(eventsAbout(regarding.name).map((x) => x.series?.count)).toEqual([2]);
  });

  test("forbidden: one warning, then nothing is sent", async () => {
    const rec = recorder("no-events");
    const from = api.requests.length;
    for (let i = 0; i < 5; i++) {
      rec.report(regarding, "Warning", "ConfigInvalid", `problem ${i}`);
      await rec.flush();
    }
    expect(rec.enabled).toBe(false);
    expect(eventReqs(from)).toEqual(["create 403"]);
    expect(lines.filter((l) => l.level === 40)).toHaveLength(1);
  });
});
