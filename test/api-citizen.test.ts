/**
 * Issue 21: what one sidecar does to the API server, as the server sees it
 * (the fake's request log, over real sockets). One test (or group) per
 * problem of the issue:
 *   1. every request names the product, version, platform and command;
 *   2. a 429/503's Retry-After (header or Status details) is a floor under the next try;
 *   3. backoff as client-go's reflector: 0.8 s doubling to a 30 s step, jittered,
 *      not forgotten after one short stream;
 *   4. WATCH windows (timeoutSeconds) drawn per request from [300, 600);
 *   5. a bucket reconcile round in sync is one LIST and no write; without `list`,
 *      GETs and "degraded", and the refused LIST is not asked again; a 429 stops the round;
 *   6. an unchanged problem re-delivered by re-lists writes no Event; a new state is written at once.
 * The fleet-wide figures are bench/fleet.ts's.
 */
import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { startFakeApiServer, type FakeApiServer, type KObject, type RequestRecord } from "./fake-apiserver/index.ts";
import { loadKube, userAgent } from "../src/kube/client.ts";
import { DEFAULT_WATCH_TIMINGS, ObjectWatch, type WatchTimings } from "../src/kube/object-watch.ts";
import { secretSource, tenantSource } from "../src/kube/sources.ts";
import { API_BACKOFF, Backoff, backoffDelay, longestBackoff } from "../src/retry.ts";
import { RoundThrottled } from "../src/buckets/reconcile.ts";
import { runCli } from "./support/cli.ts";
import { eventually } from "./support/sidecar.ts";
import { cleanup, configEnv, EXPECTED_BASE, fileIs, finish, pw, SECRET, setSecret, setup, statusWhen } from "./support/sidecar-cluster.ts";
import { NS, secret, tenant } from "./support/objects.ts";
import { startWorld, TENANT, type World } from "./fake-minio/world.ts";
import { startInProcess } from "./support/in-process.ts";

setDefaultTimeout(60_000);
const silent = pino({ level: "silent" });
const UA = /^minio-operator-sidecar\/\S+ \(linux\/(amd64|arm64)\) (sidecar|validate)$/;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "api-citizen-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));
afterEach(cleanup);

/** A fake API server with one Tenant and its Secret, and a kubeconfig for it. */
async function cluster(): Promise<{ api: FakeApiServer; kubeconfig: string }> {
  const api = await startFakeApiServer({ objects: [tenant() as KObject, secret() as KObject] });
  const kubeconfig = join(dir, `kc-${api.port}`);
  await api.writeKubeconfig(kubeconfig, { namespace: NS });
  return { api, kubeconfig };
}

const tenantWatch = (kubeconfig: string, timings: Partial<WatchTimings> = {}) =>
  new ObjectWatch(loadKube(kubeconfig, "sidecar"), tenantSource(NS, "myminio"), () => {}, { log: silent, timings });

const gaps = (rs: RequestRecord[]) => rs.slice(1).map((r, i) => r.time - rs[i]!.time);

describe("1. User-Agent", () => {
  test("the sidecar process and validate send minio-operator-sidecar/<version> (<os>/<arch>) <command> on every request", async () => {
    const e = await setup();
    await fileIs(e, EXPECTED_BASE);
    await e.api.waitForRequest((r) => !!r.watch && r.resource === "secrets");
    const fromSidecar = e.api.requests.filter((r) => r.resource);
    expect(fromSidecar.length).toBeGreaterThan(3);
    for (const r of fromSidecar) expect(r.userAgent ?? "(none)").toMatch(UA);
    expect(new Set(fromSidecar.map((r) => r.userAgent!.split(" ").at(-1)))).toEqual(new Set(["sidecar"]));
    await finish(e);

    const { api, kubeconfig } = await cluster();
    try {
      const r = await runCli(["validate", "--tenant", "myminio", "--namespace", NS, "--kubeconfig", kubeconfig, "--config-file", join(dir, "v", "config.env")]);
      expect(r.code).toBe(0);
      const reqs = api.requests.filter((x) => x.resource);
      expect(reqs.length).toBe(2);
      for (const x of reqs) expect(x.userAgent ?? "(none)").toMatch(UA);
      expect(reqs.every((x) => x.userAgent!.endsWith(" validate"))).toBe(true);
    } finally {
      await api.close();
    }
  });

  test("the version comes from the build stamp and the architecture in Go's names", () => {
    expect(userAgent("sidecar")).toMatch(UA);
    expect(userAgent("sidecar")).not.toContain("x64");
  });
});

describe("2. Retry-After", () => {
  test("429 with Retry-After: 3 (header): no retry of the watch's LIST sooner than 3 s", async () => {
    const { api, kubeconfig } = await cluster();
    const w = tenantWatch(kubeconfig);
    try {
      api.failNext(2, 429, { retryAfterSeconds: 3, match: (r) => r.verb === "list" });
      w.start();
      await api.waitForRequest((r) => !!r.watch, { timeoutMs: 20_000 });
      const lists = api.requests.filter((r) => r.verb === "list");
      expect(lists.map((r) => r.status)).toEqual([429, 429, 200]);
      for (const g of gaps(lists)) expect(g).toBeGreaterThanOrEqual(2_950);
    } finally {
      await w.stop();
      await api.close();
    }
  });

  test("503 with only the Status's details.retryAfterSeconds: 3 is honoured too", async () => {
    const { api, kubeconfig } = await cluster();
    const w = tenantWatch(kubeconfig);
    try {
      api.failNext(1, 503, { retryAfterSeconds: 3, retryAfterHeader: false, match: (r) => r.verb === "list" });
      w.start();
      await api.waitForRequest((r) => !!r.watch, { timeoutMs: 20_000 });
      const lists = api.requests.filter((r) => r.verb === "list");
      expect(lists.map((r) => r.status)).toEqual([503, 200]);
      expect(gaps(lists)[0]).toBeGreaterThanOrEqual(2_950);
    } finally {
      await w.stop();
      await api.close();
    }
  });

  test("validate: a 429's Retry-After is waited out inside --retry-for; one past the budget ends the run without trying early", async () => {
    const { api, kubeconfig } = await cluster();
    try {
      api.failNext(1, 429, { retryAfterSeconds: 2 });
      const ok = await runCli(["validate", "--tenant", "myminio", "--namespace", NS, "--kubeconfig", kubeconfig, "--config-file", join(dir, "v2", "config.env")]);
      expect(ok.code).toBe(0);
      const reads = api.requests.filter((r) => r.resource === "tenants");
      expect(reads.map((r) => r.status)).toEqual([429, 200]);
      expect(gaps(reads)[0]).toBeGreaterThanOrEqual(1_950);

      const from = api.requests.length;
      api.failNext(1, 429, { retryAfterSeconds: 30 });
      const t0 = Date.now();
      const out = await runCli(["validate", "--tenant", "myminio", "--namespace", NS, "--kubeconfig", kubeconfig, "--config-file", join(dir, "v3", "config.env"), "--retry-for", "5s"]);
      expect(out.code).toBe(3);
      expect(Date.now() - t0).toBeLessThan(5_000);
      expect(api.requests.slice(from).filter((r) => r.resource === "tenants")).toHaveLength(1);
    } finally {
      await api.close();
    }
  });
});

describe("3. backoff as client-go's reflector", () => {
  test("the watch's policy: 0.8 s first step doubling to a 30 s step, waits in [0.5, 3) steps (never under 0.8 s), reset after 2 quiet minutes", () => {
    expect(DEFAULT_WATCH_TIMINGS.backoff).toEqual(API_BACKOFF);
    expect(API_BACKOFF).toEqual({ baseMs: 800, capMs: 30_000, jitter: [0.5, 3], resetAfterMs: 120_000 });
    // The shortest waits: half a step, never under 0.8 s, so no retry bunches near 0.
    expect([0, 1, 2, 3, 4, 5, 6, 10].map((n) => backoffDelay(n, API_BACKOFF, () => 0))).toEqual([800, 800, 1600, 3200, 6400, 12800, 15000, 15000]);
    // The longest: just under three steps; the step stops at 30 s.
    expect([0, 1, 2, 5, 6, 20].map((n) => Math.round(backoffDelay(n, API_BACKOFF, () => 0.9999)))).toEqual([2400, 4800, 9599, 76794, 89993, 89993]);
    expect(longestBackoff(API_BACKOFF)).toBe(90_000);
  });

  test("failures are forgotten only after 2 minutes without one, not after one success", () => {
    let now = 0;
    const b = new Backoff(API_BACKOFF, () => now);
    for (let i = 0; i < 4; i++) b.next();
    now += 119_000; // a short success, then trouble again within 2 minutes: the fifth step (12.8 s), waits >= 6.4 s
    expect(b.next()).toBeGreaterThanOrEqual(6_400);
    now += 121_000; // 2 quiet minutes: the first step again, waits < 2.4 s
    expect(b.next()).toBeLessThan(2_400);
  });

  test("over real sockets: a watch's retries wait >= 0.8 s; a stream in between does not reset the backoff", async () => {
    const { api, kubeconfig } = await cluster();
    const w = tenantWatch(kubeconfig);
    try {
      api.failNext(3, 503, { match: (r) => r.verb === "list" });
      w.start();
      const firstWatch = await api.waitForRequest((r) => !!r.watch, { timeoutMs: 40_000 });
      const lists = api.requests.filter((r) => r.verb === "list");
      expect(lists.map((r) => r.status)).toEqual([503, 503, 503, 200]);
      for (const g of gaps(lists)) expect(g).toBeGreaterThanOrEqual(790);
      // The stream runs a little, then the next WATCH fails: it waits the fourth step's share
      // (6.4 s step: >= 3.2 s), where a reset after the stream would wait the first (< 2.4 s).
      await Bun.sleep(1_200);
      const from = api.requests.length;
      api.failNext(1, 503, { match: (r) => !!r.watch });
      api.dropWatches();
      await api.waitForRequest((r) => !!r.watch && r.status === 200 && r.time > firstWatch.time, { timeoutMs: 40_000, from });
      const watches = api.requests.slice(from).filter((r) => r.watch);
      expect(watches.map((r) => r.status)).toEqual([503, 200]);
      expect(gaps(watches)[0]).toBeGreaterThanOrEqual(3_190);
    } finally {
      await w.stop();
      await api.close();
    }
  }, 90_000);
});

describe("4. watch windows", () => {
  test("each WATCH asks for its own timeoutSeconds, uniform in [300, 600)", async () => {
    const { api, kubeconfig } = await cluster();
    const kube = loadKube(kubeconfig, "sidecar");
    const watches = Array.from({ length: 12 }, () => [
      new ObjectWatch(kube, tenantSource(NS, "myminio"), () => {}, { log: silent }).start(),
      new ObjectWatch(kube, secretSource(NS, "myminio-env-configuration"), () => {}, { log: silent }).start(),
    ]).flat();
    try {
      await eventually(() => api.requests.filter((r) => r.watch).length >= 24, 20_000, "24 WATCHes");
      // Renewals draw again: end every stream once, so each watcher asks twice.
      api.dropWatches();
      await eventually(() => api.requests.filter((r) => r.watch).length >= 48, 20_000, "48 WATCHes");
      const timeouts = api.requests.filter((r) => r.watch).map((r) => Number(r.query.timeoutSeconds));
      for (const t of timeouts) {
        expect(t).toBeGreaterThanOrEqual(300);
        expect(t).toBeLessThan(600);
      }
      // 48 draws from 300 values: ~44 distinct expected; fewer than 30 would be lock-step.
      expect(new Set(timeouts).size).toBeGreaterThanOrEqual(30);
    } finally {
      await Promise.all(watches.map((w) => w.stop()));
      await api.close();
    }
  });

  test("/healthz's bound follows the longest window (2·streamMs) and the longest backoff wait", async () => {
    const { api, kubeconfig } = await cluster();
    const w = tenantWatch(kubeconfig, { streamMs: 2_000, silenceGraceMs: 500, headerTimeoutMs: 500, wedgeSlackMs: 100 });
    try {
      // A silent stream is abandoned only after its own window (2-3 s) plus grace: until then it is progressing.
      api.failNext(1, "silent", { match: (r) => !!r.watch });
      w.start();
      await api.waitForRequest((r) => !!r.watch);
      const started = Date.now();
      while (Date.now() - started < 3_400) {
        expect(w.progressing).toBe(true);
        await Bun.sleep(200);
      }
      const first = api.requests.find((r) => r.watch)!;
      const window = Number(first.query.timeoutSeconds);
      expect([2, 3]).toContain(window);
      await eventually(() => api.requests.filter((r) => r.watch).length >= 2, 10_000, "the silent stream abandoned");
      const second = api.requests.filter((r) => r.watch)[1]!;
      expect(second.time - first.time).toBeGreaterThanOrEqual(window * 1000 + 500);
    } finally {
      await w.stop();
      await api.close();
    }
  });
});

describe("5. bucket reconcile reads first", () => {
  let w: World | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  async function reconcilerOf(world: World) {
    const kubeconfig = `${world.dir}/kubeconfig-inproc`;
    await world.api.writeKubeconfig(kubeconfig, { token: "sidecar", namespace: NS });
    const sc = await startInProcess(
      { tenant: TENANT, configName: SECRET, namespace: NS, configFile: `${world.dir}/config-inproc.env`, minioUrl: world.minio.url },
      { kube: loadKube(kubeconfig, "sidecar"), log: silent, bucketTimings: { intervalMs: 60 * 60_000, waitMs: 100, retry: { baseMs: 100, capMs: 200 } } },
    );
    await sc.buckets.stop();
    return sc;
  }
  const serviceRequests = (world: World, from: number) => world.api.requests.slice(from).filter((r) => r.resource === "services").map((r) => `${r.verb} ${r.status}`);

  test("shipped Role: a round in sync is one LIST of the namespace's Services and no write", async () => {
    w = await startWorld({ minio: { buckets: ["alpha", "beta", "gamma"] } });
    const sc = await reconcilerOf(w);
    try {
      // The first round (the loop's own at start-up, or this one) creates them.
      expect((await sc.reconciler.run(["alpha", "beta", "gamma"])).failed).toEqual([]);
      for (const b of ["alpha", "beta", "gamma"]) expect(w.service(b)).toBeDefined();
      const from = w.api.requests.length;
      const again = await sc.reconciler.run(["alpha", "beta", "gamma"]);
      expect(again).toMatchObject({ created: [], failed: [], conflicts: [] });
      expect(again.degraded).toBeUndefined();
      expect(serviceRequests(w, from)).toEqual(["list 200"]);
      // The operator's own Services (minio, ...) are in that LIST: a bucket named like one is a conflict without a POST.
      const f2 = w.api.requests.length;
      expect((await sc.reconciler.run(["minio"])).conflicts).toEqual(["minio"]);
      expect(serviceRequests(w, f2)).toEqual(["list 200"]);
      // A Service deleted by hand: only it is created.
      w.api.delete({ kind: "Service", namespace: NS, name: "beta" });
      const f3 = w.api.requests.length;
      expect((await sc.reconciler.run(["alpha", "beta", "gamma"])).created).toEqual(["beta"]);
      expect(serviceRequests(w, f3)).toEqual(["list 200", "create 201"]);
    } finally {
      await sc.stop();
    }
  });

  test("the MinIO Operator's Role (no list): GETs, /status says degraded, and the refused LIST is asked once, not per round", async () => {
    w = await startWorld({ operatorRole: true, minio: { buckets: ["alpha", "beta"] } });
    const sc = await reconcilerOf(w);
    try {
      const first = await sc.reconciler.run(["alpha", "beta"]);
      for (const b of ["alpha", "beta"]) expect(w.service(b)).toBeDefined();
      expect(first.degraded).toContain("no list on services");
      const from = w.api.requests.length;
      const again = await sc.reconciler.run(["alpha", "beta"]);
      expect(again.created).toEqual([]);
      expect(again.degraded).toContain("no list on services");
      expect(serviceRequests(w, from).sort()).toEqual(["get 200", "get 200"]);
      expect(w.api.requests.filter((r) => r.resource === "services" && r.status === 403)).toHaveLength(1);
      // The loop shows it in /status's bucketReconcile.
      expect(await sc.buckets.once()).toBe("success");
      expect(sc.buckets.lastRun?.degraded).toContain("no list on services");
    } finally {
      await sc.stop();
    }
  });

  test("a 429 stops the round at once and the loop waits at least the Retry-After", async () => {
    w = await startWorld({ minio: { buckets: ["alpha", "beta"] } });
    const sc = await reconcilerOf(w);
    try {
      const from = w.api.requests.length;
      w.api.failNext(1, 429, { retryAfterSeconds: 7, match: (r) => r.resource === "services" });
      const err = await sc.reconciler.run(["alpha", "beta"]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RoundThrottled);
      expect((err as RoundThrottled).retryAfterMs).toBe(7_000);
      expect(serviceRequests(w, from)).toEqual(["list 429"]);
    } finally {
      await sc.stop();
    }
  });
});

describe("6. Events follow changes, not deliveries", () => {
  test("an invalid Secret re-delivered by three forced re-lists is one Event write; the recovery is written at once", async () => {
    // No bookmarks: each watch's resourceVersion stays its object's, so every restart below expires both.
    const e = await setup({ env: { POD_NAME: "myminio-pool-0-0" }, api: { bookmarkIntervalMs: 3_600_000 } });
    await fileIs(e, EXPECTED_BASE);
    const eventWrites = () => e.api.requests.filter((r) => r.resource === "events" && r.method !== "GET");
    setSecret(e, 'export MINIO_ROOT_USER="minio"\nexport MINIO_BROWSER="on"');
    await statusWhen(e, (s) => s.configValid === false);
    await eventually(() => eventWrites().length === 1, 10_000, "the ConfigInvalid Event");
    for (let i = 0; i < 3; i++) {
      // A restarted API server: a fresh watch history, so both watches get 410 and re-list.
      const from = e.api.requests.length;
      // An unrelated write first: the new history starts past both watches' resourceVersions.
      e.api.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: `unrelated-${i}`, namespace: NS } } as KObject);
      await e.api.restart();
      await eventually(() => e.api.requests.slice(from).filter((r) => r.verb === "list" && r.status === 200).length >= 2, 20_000, "both re-lists").catch((err) => {
        console.log(e.sc.logs.slice(-8).map((l) => JSON.stringify(l)).join("\n"));
        throw err;
      });
      // Streams that ran a while: each restart is one dropped connection, not a flapping server.
      await Bun.sleep(1_500);
    }
    // Past the 10 s in which the old recorder folded repeats into one PATCH: still nothing more written.
    await Bun.sleep(11_000);
    expect(eventWrites().map((r) => `${r.verb} ${r.status}`)).toEqual(["create 201"]);
    const t0 = Date.now();
    setSecret(e, configEnv(pw("fixed")));
    await eventually(() => e.api.list("events.events.k8s.io", { namespace: NS }).some((x) => (x as { reason?: string }).reason === "ConfigApplied"), 5_000, "ConfigApplied");
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(eventWrites()).toHaveLength(2);
    await finish(e);
  });
});
