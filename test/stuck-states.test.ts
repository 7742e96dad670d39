/**
 * SPEC 5 "no silent stuck state": faults that end with *nothing* (a request
 * accepted and never answered, a stream that goes silent, a permission that
 * disappears, a 200 with the wrong body) must not leave the sidecar stuck
 * while /status, config_valid and /healthz say all is well.
 *
 * The black-holed LIST and WATCH run against the real sidecar process with
 * its production timings (10 s header timeout). The rest use the sidecar's
 * own composition root (startSidecar) in this process with short timings, so
 * a 5-minute stream window or a 10-minute reconcile period fits in a test.
 */
import { afterEach, describe, expect, test, setDefaultTimeout } from "bun:test";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import type { RunningSidecar } from "../src/commands/sidecar.ts";
import { startInProcess } from "./support/in-process.ts";
import { loadKube } from "../src/kube/client.ts";
import { startFakeApiServer, type FakeApiServer, type KObject } from "./fake-apiserver/index.ts";
import { startFakeMinio, type FakeMinio } from "./fake-minio/index.ts";
import { startWorld, until, type World } from "./fake-minio/world.ts";
import { CREDENTIALS, NS, PASSWORD, secret, tenant } from "./support/objects.ts";
import { eventually } from "./support/sidecar.ts";
import { shippedRoleRules, SIDECAR_USER } from "./support/backend.ts";
import {
  cleanup,
  configEnv,
  EXPECTED_BASE,
  expectedFile,
  fileIs,
  finish,
  metric,
  pw,
  SECRET,
  SECRET_V2,
  setSecret,
  setup,
  statusWhen,
} from "./support/sidecar-cluster.ts";

setDefaultTimeout(60_000);

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await cleanup();
});

const isSecretWatch = (r: { resource?: string; watch: boolean }) => r.resource === "secrets" && r.watch;
const isSecretList = (r: { resource?: string; verb?: string }) => r.resource === "secrets" && r.verb === "list";

describe("the sidecar process, production timings", () => {
  test("a WATCH that is accepted and never answered is abandoned after 10 s; a Secret change made meanwhile lands within 30 s", async () => {
    const e = await setup();
    await fileIs(e, EXPECTED_BASE);
    await eventually(() => e.api.openWatches.some((w) => w.resource === "secrets"));
    // The next secrets WATCH is black-holed; end the current stream so the sidecar opens one.
    e.api.failNext(1, "hang", { match: isSecretWatch });
    const from = e.api.requests.length;
    e.api.dropWatches();
    await e.api.waitForRequest((r) => isSecretWatch(r) && r.fault === "hang", { from, timeoutMs: 10_000 });
    const changedAt = performance.now();
    setSecret(e, configEnv(pw("rotated-during-black-hole")));
    await fileIs(e, expectedFile(pw("rotated-during-black-hole")), 30_000);
    const ms = performance.now() - changedAt;
    console.log(`black-holed WATCH: Secret change reached the file ${Math.round(ms)} ms after it was made`);
    expect(ms).toBeLessThan(30_000);
    const s = await statusWhen(e, (s) => s.configValid === true);
    expect(s.watches.find((w) => w.kind === "Secret")!.state).toBe("watching");
    expect(await metric(e, "minio_sidecar_watch_restarts_total", 'kind="Secret"')).toBeGreaterThanOrEqual(1);
    await finish(e);
  });

  test("a LIST that is accepted and never answered is abandoned after 10 s and retried; the change lands", async () => {
    const e = await setup();
    await fileIs(e, EXPECTED_BASE);
    await eventually(() => e.api.openWatches.some((w) => w.resource === "secrets"));
    // Force a re-list: the resumed WATCH gets 410, and that re-LIST is black-holed.
    e.api.failNext(1, "hang", { match: isSecretList });
    e.api.failNext(1, 410, { match: isSecretWatch });
    const from = e.api.requests.length;
    e.api.dropWatches();
    await e.api.waitForRequest((r) => isSecretList(r) && r.fault === "hang", { from, timeoutMs: 10_000 });
    setSecret(e, configEnv(pw("rotated-during-black-holed-list")));
    const changedAt = performance.now();
    await fileIs(e, expectedFile(pw("rotated-during-black-holed-list")), 30_000);
    const ms = performance.now() - changedAt;
    console.log(`black-holed LIST: Secret change reached the file ${Math.round(ms)} ms after it was made`);
    expect(ms).toBeGreaterThan(5_000); // it really waited for the abandoned LIST
    expect(ms).toBeLessThan(30_000);
    // ...and abandoned it: the hung request was closed by the sidecar after its 10 s, not left open.
    const hung = e.api.requests.find((r) => isSecretList(r) && r.fault === "hang")!;
    await eventually(() => hung.closedAt !== undefined, 5_000, "hung LIST closed by the client");
    expect(hung.closedAt! - hung.time).toBeGreaterThan(9_000);
    expect(hung.closedAt! - hung.time).toBeLessThan(13_000);
    await finish(e);
  });

  test("Tenant switched to a Secret the Role does not allow: config_valid 0 and /status names the Secret and the reason; allowed: recovers", async () => {
    const e = await setup({ secretNames: [SECRET] });
    await fileIs(e, EXPECTED_BASE);
    e.api.create(secret(configEnv(pw("v2")), SECRET_V2));
    e.api.patch(`tenants/${NS}/myminio`, { spec: { configuration: { name: SECRET_V2 } } });
    const s = await statusWhen(e, (s) => s.configValid === false);
    expect(s.secret).toBe(SECRET_V2);
    expect(s.lastError).toStartWith(`Secret ${NS}/${SECRET_V2}: cannot be read: HTTP 403`);
    expect(s.lastError).toContain("forbidden");
    expect(await metric(e, "minio_sidecar_config_valid")).toBe(0);
    expect(await readFile(e.file, "utf8")).toBe(EXPECTED_BASE); // last good file kept
    expect((await e.sc.probe("/healthz")).status).toBe(200); // a permission problem is not a wedge
    // The Role is fixed: the watch's retry reads it, and the file follows.
    e.api.setToken(e.cluster.token, { user: SIDECAR_USER, rules: shippedRoleRules(NS, [SECRET, SECRET_V2]) });
    await fileIs(e, expectedFile(pw("v2")), 20_000);
    await statusWhen(e, (s) => s.configValid === true, 20_000);
    expect(await metric(e, "minio_sidecar_config_valid")).toBe(1);
    const out = e.sc.stdout();
    expect(out).not.toContain(PASSWORD);
    expect(e.sc.proc.exitCode).toBeNull();
  });
});

// ---- in-process: the composition root with short timings ------------------------------------

interface InProcess {
  api: FakeApiServer;
  sc: RunningSidecar;
  dir: string;
  file: string;
  lines: Record<string, unknown>[];
  get(path: string): Promise<Response>;
}

const FAST = { resyncMs: 60_000, streamMs: 1_500, silenceGraceMs: 1_000, headerTimeoutMs: 1_000, backoff: { baseMs: 50, capMs: 200 }, wedgeSlackMs: 1_000 };

async function inProcess(
  o: { objects?: KObject[]; minioHostPort?: string; minioUrl?: string; api?: FakeApiServer; secretName?: string; wedgeExitAfterMs?: number } = {},
): Promise<InProcess> {
  const api =
    o.api ??
    (await startFakeApiServer({
      tokens: { admin: "admin" },
      objects: o.objects ?? [tenant({ configuration: { name: "creds" } }) as unknown as KObject, secret(CREDENTIALS, "creds") as unknown as KObject],
    }));
  const dir = await mkdtemp(join(tmpdir(), "stuck-"));
  await api.writeKubeconfig(`${dir}/kc`, { token: "admin", namespace: NS });
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: "debug" }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const file = `${dir}/config.env`;
  const sc = await startInProcess(
    {
      tenant: "myminio",
      configName: o.secretName ?? "creds",
      namespace: NS,
      configFile: file,
      minioUrl: o.minioUrl,
      pruneBucketServices: false,
    },
    { kube: loadKube(`${dir}/kc`), log, watchTimings: FAST, minioHostPort: o.minioHostPort, initialSyncWaitMs: 3_000, wedgeExitAfterMs: o.wedgeExitAfterMs },
  );
  cleanups.push(async () => {
    await sc.stop();
    if (!o.api) await api.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { api, sc, dir, file, lines, get: (path) => fetch(`http://127.0.0.1:${sc.listeners.probe.port}${path}`) };
}

const fileOf = (p: InProcess) => readFile(p.file, "utf8").catch(() => "");

describe("in-process: streams and loops", () => {
  test("a stream that sends headers and then nothing is abandoned after its timeoutSeconds plus the grace period", async () => {
    const p = await inProcess();
    await until(() => fileOf(p).then((t) => t.includes(PASSWORD)));
    await eventually(() => p.api.openWatches.some((w) => w.resource === "secrets"));
    p.api.failNext(1, "silent", { match: isSecretWatch });
    const from = p.api.requests.length;
    p.api.dropWatches();
    await p.api.waitForRequest((r) => isSecretWatch(r) && r.fault === "silent", { from });
    const changedAt = performance.now();
    p.api.update(secret(CREDENTIALS.replace(PASSWORD, `${PASSWORD}-after-silence`), "creds") as unknown as KObject);
    await until(() => fileOf(p).then((t) => t.includes(`${PASSWORD}-after-silence`)), 10_000, "file after silent stream");
    const ms = performance.now() - changedAt;
    // window 1.5 s + grace 1 s, then a resumed WATCH delivers the change.
    expect(ms).toBeGreaterThan(1_500);
    expect(ms).toBeLessThan(6_000);
    expect(p.lines.some((l) => String(l.msg).includes("silent past its"))).toBe(true);
  });

  test("a server that answers every WATCH with 410 gets a backed-off LIST/WATCH loop, not a tight one", async () => {
    const p = await inProcess();
    await until(() => fileOf(p).then((t) => t.includes(PASSWORD)));
    const from = p.api.requests.length;
    p.api.failNext(10_000, 410, { match: (r) => r.watch });
    p.api.dropWatches();
    await Bun.sleep(2_000);
    p.api.clearFaults();
    const lists = p.api.requests.slice(from).filter((r) => r.verb === "list").length;
    console.log(`2 s of 410 on every WATCH: ${lists} LISTs`);
    // Backoff of 50 ms doubling to 200 ms, two loops: about 20 rounds each; a tight loop makes hundreds.
    expect(lists).toBeLessThan(100);
    expect(lists).toBeGreaterThan(2);
  });

  test("/healthz answers 503 once a watch loop stops making progress, and 200 through an API outage", async () => {
    const p = await inProcess();
    await until(() => fileOf(p).then((t) => t.includes(PASSWORD)));
    expect((await p.get("/healthz")).status).toBe(200);
    // An outage longer than the longest step (window + grace + header timeout + slack = 4.5 s): still 200.
    await p.api.stop();
    const outageEnds = Date.now() + 6_000;
    while (Date.now() < outageEnds) {
      expect((await p.get("/healthz")).status).toBe(200);
      await Bun.sleep(500);
    }
    await p.api.start();
    // A loop that has died (here: stopped behind the sidecar's back) is a wedge.
    await p.sc.controller.watches[0]!.stop();
    const r = await until(async () => {
      const res = await p.get("/healthz");
      return res.status === 503 ? res : undefined;
    }, 10_000, "/healthz 503");
    expect(await r.text()).toContain("stalled");
  });

  test("no liveness probe in the operator's pods: a loop wedged past its bound (+ wedgeExitAfterMs) ends the sidecar with the reason; an outage does not", async () => {
    const p = await inProcess({ wedgeExitAfterMs: 1_000 });
    let reason: string | undefined;
    void p.sc.wedged.then((r) => (reason = r));
    await until(() => fileOf(p).then((t) => t.includes(PASSWORD)));
    // An outage longer than the wedge bound (4.5 s here) plus wedgeExitAfterMs: no exit.
    await p.api.stop();
    await Bun.sleep(7_000);
    expect(reason).toBeUndefined();
    await p.api.start();
    await Bun.sleep(1_000);
    // The Secret's watch dies behind the sidecar's back: /healthz 503 after the bound, the exit 1 s later.
    const t0 = Date.now();
    await p.sc.controller.watches[1]!.stop();
    await until(async () => (await p.get("/healthz")).status === 503, 10_000, "/healthz 503");
    const failingAt = Date.now();
    expect(reason).toBeUndefined(); // not before /healthz has failed for wedgeExitAfterMs
    const reasonText = await Promise.race([p.sc.wedged, Bun.sleep(10_000).then(() => "no exit within 10 s")]);
    expect(reasonText).toMatch(new RegExp(`^sidecar wedged: Secret ${NS}/creds watch made no progress for \\d+ s \\(state stopped\\); exiting so the kubelet restarts the container$`));
    expect(Date.now() - failingAt).toBeGreaterThan(500);
    expect(Date.now() - t0).toBeLessThan(4_500 + 1_000 + 3_000);
  });

  test("Tenant switched to another Secret while the old one is deleted: late events of the old watch are ignored", async () => {
    const p = await inProcess({
      objects: [
        tenant({ configuration: { name: "creds" } }) as unknown as KObject,
        secret(CREDENTIALS, "creds") as unknown as KObject,
        secret(CREDENTIALS.replace(PASSWORD, `${PASSWORD}-v2`), "creds-v2") as unknown as KObject,
      ],
    });
    await until(() => fileOf(p).then((t) => t.includes(PASSWORD)));
    p.api.patch(`tenants/${NS}/myminio`, { spec: { configuration: { name: "creds-v2" } } });
    p.api.delete(`secrets/${NS}/creds`);
    await until(() => fileOf(p).then((t) => t.includes(`${PASSWORD}-v2`)), 10_000, "file from creds-v2");
    await Bun.sleep(1_000);
    const s = p.sc.controller.status();
    expect(s.secret).toBe("creds-v2");
    expect(s.configValid).toBe(true);
    expect(p.lines.filter((l) => String(l.msg).includes("creds-v2: not found"))).toEqual([]);
  });
});

describe("in-process: the MinIO URL follows the Tenant", () => {
  test("TLS-off Tenant whose Secret is invalid at start-up, no --minio-url: once the Secret is valid the probe uses http", async () => {
    const minio = await startFakeMinio({ tls: false });
    cleanups.push(() => minio.close());
    const p = await inProcess({
      minioHostPort: `127.0.0.1:${minio.port}`,
      objects: [
        tenant({ configuration: { name: "creds" }, requestAutoCert: false }) as unknown as KObject,
        secret('export MINIO_BROWSER="on"\n', "creds") as unknown as KObject, // no credentials yet
      ],
    });
    expect(p.sc.controller.status().configValid).toBe(false);
    // Nothing valid is known: the operator's default (TLS) is all there is; http MinIO does not answer TLS.
    expect((await p.get("/ready")).status).toBe(500);
    p.api.update(secret(CREDENTIALS, "creds") as unknown as KObject);
    const ready = await until(async () => {
      const r = await p.get("/ready");
      return r.status === 200 ? r : undefined;
    }, 10_000, "/ready 200 over http");
    expect(await ready.text()).toBe("Readiness probe succeeded with HTTP status 200");
    expect(((await (await p.get("/status")).json()) as { minioUrl: string }).minioUrl).toBe(`http://127.0.0.1:${minio.port}`);
    // TLS switched on while running: the probe follows.
    p.api.patch(`tenants/${NS}/myminio`, { spec: { requestAutoCert: true } });
    await until(async () => ((await (await p.get("/status")).json()) as { minioUrl: string }).minioUrl === `https://127.0.0.1:${minio.port}`);
    expect((await p.get("/ready")).status).toBe(500);
  });
});

describe("in-process: bucket reconcile fails closed and retries", () => {
  let w: World;
  afterEach(async () => w?.close());

  async function reconciling(o: { prune: boolean }) {
    w = await startWorld({ minio: { buckets: ["alpha", "beta"] } });
    const lines: Record<string, unknown>[] = [];
    const sc = await startInProcess(
      {
        tenant: "myminio",
        configName: "storage-configuration",
        namespace: NS,
        configFile: w.configFile,
        minioUrl: w.minio.url,
        pruneBucketServices: o.prune,
      },
      {
        kube: loadKube(w.kubeconfig),
        log: pino({ level: "debug" }, { write: (s: string) => void lines.push(JSON.parse(s)) }),
        bucketTimings: { intervalMs: 60 * 60_000, waitMs: 100, retry: { baseMs: 100, capMs: 300 } },
      },
    );
    cleanups.push(() => sc.stop());
    await until(() => w.service("alpha") && w.service("beta"), 10_000, "first reconcile");
    return { sc, lines };
  }

  for (const prune of [false, true]) {
    for (const [what, body] of [
      ["an HTML page", "<html><body><h1>502 Bad Gateway</h1></body></html>"],
      ["an empty body", ""],
      ["a truncated document", (real: string) => real.slice(0, real.indexOf("<Bucket>") + 20)],
      ["a document without its Buckets", (real: string) => real.replace(/<Buckets>[\s\S]*<\/Buckets>/, "")],
    ] as const) {
      test(`ListBuckets answering 200 with ${what}${prune ? ", with --prune-bucket-services" : ""}: a failed run, nothing deleted, retried`, async () => {
        const { sc } = await reconciling({ prune });
        const failures = () => sc.metrics.reconcileRuns.get().then((m) => m.values.find((v) => v.labels.result === "failure")?.value ?? 0);
        const before = await failures();
        w.minio.listBody = body;
        await sc.buckets.stop(); // drive runs by hand from here
        expect(await sc.buckets.once()).toBe("failure");
        expect(sc.buckets.lastRun?.ok).toBe(false);
        expect(sc.buckets.lastRun?.error).toContain("ListBuckets");
        expect((await failures()) - before).toBe(1);
        expect(w.service("alpha")).toBeDefined();
        expect(w.service("beta")).toBeDefined();
      });
    }
  }

  test("a failed first run is retried within seconds, not after the 10-minute period", async () => {
    w = await startWorld({ minio: { buckets: ["alpha"] } });
    w.minio.listBody = "<html>starting</html>";
    const sc = await w.sidecar();
    await until(() => w.minio.requests.filter((r) => r.path === "/").length >= 1, 10_000, "first ListBuckets");
    w.minio.listBody = undefined;
    const t0 = performance.now();
    await until(() => w.service("alpha"), 15_000, "alpha after retry");
    console.log(`reconcile retried and succeeded ${Math.round(performance.now() - t0)} ms after MinIO answered properly`);
    expect(sc.proc.exitCode).toBeNull();
  });

  test("per-bucket API failures make the run a failure (retried), not a success", async () => {
    const { sc } = await reconciling({ prune: false });
    await sc.buckets.stop();
    w.minio.buckets.push("gamma");
    w.api.failNext(1, 500, { match: (r) => r.resource === "services" && r.method === "POST" });
    expect(await sc.buckets.once()).toBe("failure");
    expect(sc.buckets.lastRun?.error).toBe("1 of 3 bucket Services not reconciled");
    expect(await sc.buckets.once()).toBe("success");
    expect(w.service("gamma")).toBeDefined();
  });

  test("create answered 409 and the read 404, again and again: the webhook gives up with 502 after a bounded number of rounds", async () => {
    const { sc } = await reconciling({ prune: false });
    const from = w.api.requests.length;
    w.api.failNext(100, 409, { match: (r) => r.resource === "services" && r.method === "POST" });
    w.api.failNext(100, 404, { match: (r) => r.resource === "services" && r.method === "GET" });
    const res = await fetch(`http://127.0.0.1:${sc.listeners.webhook.port}/webhook/v1/bucketsrv/${NS}/myminio?bucket=racing&delete=false`, { method: "POST" });
    expect(res.status).toBe(502);
    expect(w.api.requests.slice(from).filter((r) => r.method === "POST").length).toBe(3);
    w.api.clearFaults();
  });
});

describe("ObjectWatch itself", () => {
  test("nothing is delivered after stop(), even events already read in the same chunk", async () => {
    const api = await startFakeApiServer({ tokens: { admin: "admin" }, objects: [secret(CREDENTIALS, "creds") as unknown as KObject] });
    const dir = await mkdtemp(join(tmpdir(), "watch-stop-"));
    cleanups.push(async () => {
      await api.close();
      await rm(dir, { recursive: true, force: true });
    });
    await api.writeKubeconfig(`${dir}/kc`, { token: "admin", namespace: NS });
    const { ObjectWatch } = await import("../src/kube/object-watch.ts");
    const { secretSource } = await import("../src/kube/sources.ts");
    let afterStop = 0;
    let stopped = false;
    const seen: Array<string | undefined> = [];
    const w: InstanceType<typeof ObjectWatch> = new ObjectWatch(
      loadKube(`${dir}/kc`),
      secretSource(NS, "creds"),
      (o: unknown) => {
        if (stopped) afterStop++;
        seen.push((o as { metadata?: { resourceVersion?: string } } | undefined)?.metadata?.resourceVersion);
        // The first event of the stream: stop here, as the controller does when it replaces a watch.
        if (seen.length === 2) {
          stopped = true;
          void w.stop();
        }
      },
      { log: pino({ level: "silent" }) },
    ).start();
    await eventually(() => api.openWatches.some((x) => x.resource === "secrets"));
    // Three writes in one tick: the server writes them back to back, so they arrive together.
    api.update(secret(CREDENTIALS.replace(PASSWORD, "one"), "creds") as unknown as KObject);
    api.update(secret(CREDENTIALS.replace(PASSWORD, "two"), "creds") as unknown as KObject);
    api.delete(`secrets/${NS}/creds`);
    await eventually(() => stopped);
    await w.stop();
    await Bun.sleep(200);
    expect(seen.length).toBe(2); // the LIST, then the first event; never the two behind it
    expect(afterStop).toBe(0);
  });
});
