/**
 * SPEC 6, probe server and sidecar API, end to end: the real sidecar process
 * against the fake API server (shipped Role) and a fake MinIO, over real
 * sockets. Covers /ready (any answer, MinIO's code, no answer, slowness, TLS
 * with SNI and an unverifiable certificate), /healthz, /status, /metrics,
 * the sidecar API and the URL/body limits shared by all three servers.
 */
import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import http from "node:http";
import { secret } from "./support/objects.ts";
import { canUnshare, eventually, freePort, startSidecar, type SidecarProcess } from "./support/sidecar.ts";
import { parseExposition, sample } from "./fake-minio/prom.ts";
import { everything, NS, PASSWORD, SECRET, startWorld, TENANT, until, type World } from "./fake-minio/world.ts";

// Real processes and servers: more than bun test's default 5 s per test (bunfig's timeout key is not applied by Bun 1.4.5).
setDefaultTimeout(30_000);

const READY_OK = (code: number) => `Readiness probe succeeded with HTTP status ${code}`;
/** /ready shares its answer for up to a second (SPEC 6): after changing MinIO, wait that out before asking. */
const pastSharedAnswer = () => Bun.sleep(1_100);
const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
/** A value that only ever lives in the Secret: it must never come out of any endpoint or log. */
const OTHER_SECRET = "oidc-client-Secret-9f8e7d";
const SECRET_ENV = `export MINIO_ROOT_USER="minio"\nexport MINIO_ROOT_PASSWORD="${PASSWORD}"\nexport MINIO_IDENTITY_OPENID_CLIENT_SECRET="${OTHER_SECRET}"\n`;

async function timed(p: Promise<Response>) {
  const t0 = performance.now();
  const res = await p;
  const body = await res.text();
  return { status: res.status, body, ms: performance.now() - t0 };
}

describe("GET /ready against a TLS MinIO (certificate for 127.0.0.1 only, CA not trusted, SNI checked)", () => {
  let w: World;
  let sc: SidecarProcess;
  beforeAll(async () => {
    // bucketDNS off: the bucket loop then never calls MinIO, so every request MinIO sees is the probe's.
    w = await startWorld({ minio: { tls: true }, tenantSpec: { features: { bucketDNS: false } } });
    sc = await w.sidecar();
  });
  afterAll(() => w.close());

  test("MinIO answers 200: 200 with exactly the Go sidecar's body; HEAD /minio/health/live with SNI minio.NS.svc.cluster.local", async () => {
    const from = w.minio.requests.length;
    const r = await timed(sc.probe("/ready"));
    expect(r.status).toBe(200);
    expect(r.body).toBe(READY_OK(200));
    const seen = w.minio.requests.slice(from).filter((q) => q.path === "/minio/health/live");
    expect(seen.length).toBe(1);
    expect(seen[0]!.method).toBe("HEAD");
    expect(seen[0]!.servername).toBe(`minio.${NS}.svc.cluster.local`);
    expect(seen[0]!.status).toBe(200);
  });

  test("MinIO answers 503: still 200, reporting MinIO's code", async () => {
    w.minio.liveStatus = 503;
    await pastSharedAnswer();
    try {
      const r = await timed(sc.probe("/ready"));
      expect(r.status).toBe(200);
      expect(r.body).toBe(READY_OK(503));
    } finally {
      w.minio.liveStatus = 200;
      await pastSharedAnswer();
    }
  });

  test("MinIO slow (2 s): 500 with the reason in under 1.5 s", async () => {
    w.minio.liveDelayMs = 2_000;
    await pastSharedAnswer();
    try {
      const r = await timed(sc.probe("/ready"));
      expect(r.status).toBe(500);
      expect(r.body).toContain("500 ms");
      expect(r.ms).toBeLessThan(1_500);
      expect(r.ms).toBeGreaterThanOrEqual(450); // it did wait for the 500 ms timeout
    } finally {
      w.minio.liveDelayMs = 0;
      await pastSharedAnswer();
    }
  });

  test("MinIO down: 500 with the reason within 1 s; back up: 200 again", async () => {
    await w.minio.stop();
    await pastSharedAnswer();
    try {
      const r = await timed(sc.probe("/ready"));
      expect(r.status).toBe(500);
      expect(r.body).toContain("ECONNREFUSED");
      expect(r.ms).toBeLessThan(1_000);
    } finally {
      await w.minio.start();
    }
    await pastSharedAnswer();
    const again = await timed(sc.probe("/ready"));
    expect(again).toMatchObject({ status: 200, body: READY_OK(200) });
  });

  test("600 concurrent and repeated calls within a second share one HEAD; later calls ask again, over a kept-alive connection", async () => {
    await pastSharedAnswer();
    const heads = () => w.minio.requestsTo("/minio/health/live").length;
    const from = heads();
    const connections = w.minio.connections;
    const t0 = performance.now();
    const answers = await Promise.all(Array.from({ length: 600 }, () => timed(sc.probe("/ready"))));
    for (let i = 0; i < 10; i++) answers.push(await timed(sc.probe("/ready")));
    const elapsed = performance.now() - t0;
    expect(answers.every((a) => a.status === 200 && a.body === READY_OK(200))).toBe(true);
    // One HEAD per second of calls at most (the old handler sent one per call: 610 here).
    expect(heads() - from).toBeGreaterThanOrEqual(1);
    expect(heads() - from).toBeLessThanOrEqual(Math.ceil(elapsed / 1_000) + 1);
    for (let i = 0; i < 3; i++) {
      const before = heads();
      await pastSharedAnswer();
      expect((await timed(sc.probe("/ready"))).status).toBe(200);
      expect(heads() - before).toBe(1);
    }
    expect(w.minio.connections - connections).toBeLessThanOrEqual(1);
  });
});

test("SNI follows CLUSTER_DOMAIN; a plain-http MinIO works too", async () => {
  const tlsWorld = await startWorld({ minio: { tls: true }, tenantSpec: { features: { bucketDNS: false } } });
  const httpWorld = await startWorld({ minio: { tls: false } });
  try {
    const a = await tlsWorld.sidecar([], { CLUSTER_DOMAIN: "corp.internal" });
    expect(await timed(a.probe("/ready"))).toMatchObject({ status: 200, body: READY_OK(200) });
    expect(tlsWorld.minio.requestsTo("/minio/health/live").at(-1)?.servername).toBe(`minio.${NS}.svc.corp.internal`);
    const b = await httpWorld.sidecar();
    httpWorld.minio.liveStatus = 404;
    expect(await timed(b.probe("/ready"))).toMatchObject({ status: 200, body: READY_OK(404) });
  } finally {
    await Promise.all([tlsWorld.close(), httpWorld.close()]);
  }
});

describe("/healthz, /status, /metrics and the sidecar API", () => {
  let w: World;
  let sc: SidecarProcess;
  let startedAt: number;
  beforeAll(async () => {
    w = await startWorld();
    w.api.update(secret(SECRET_ENV, SECRET) as never);
    startedAt = Date.now();
    sc = await w.sidecar();
  });
  afterAll(() => w.close());

  const status = async () => (await sc.probe("/status")).json() as Promise<Record<string, any>>;
  /** The Tenant's and Secret's uid and resourceVersion on the API server now. */
  const currentInputs = () => {
    const identity = (kind: string, name: string) => {
      const md = w.api.get({ kind, namespace: NS, name })?.metadata as { uid?: string; resourceVersion?: string } | undefined;
      return { name, uid: md?.uid ?? null, resourceVersion: md?.resourceVersion ?? null };
    };
    return { tenant: identity("Tenant", TENANT), secret: identity("Secret", SECRET) };
  };
  const metrics = async () => {
    const res = await sc.probe("/metrics");
    expect(res.status).toBe(200);
    return { contentType: res.headers.get("content-type"), text: await res.text() };
  };

  test("/healthz: 200 while the loop runs, also while the API server is unreachable", async () => {
    const r = await sc.probe("/healthz");
    expect(r.status).toBe(200);
    expect(await r.text()).toBe("ok");
    await w.api.stop();
    try {
      expect((await sc.probe("/healthz")).status).toBe(200);
    } finally {
      await w.api.start();
    }
  });

  test("/status: tenant, namespace, the inputs the file was rendered from (uid, resourceVersion), last write time, watch states, no error", async () => {
    const s = await until(async () => {
      const st = await status();
      return st.watches?.length === 2 && st.watches.every((x: { state: string }) => x.state === "watching") ? st : undefined;
    }, 10_000, "both watches watching");
    expect(s.tenant).toBe(TENANT);
    expect(s.namespace).toBe(NS);
    expect(s.inputs).toEqual(currentInputs());
    expect(s).not.toHaveProperty("configSha256");
    expect(s.configValid).toBe(true);
    expect(s.lastError).toBeUndefined();
    const written = Date.parse(s.lastWriteTime);
    expect(new Date(written).toISOString()).toBe(s.lastWriteTime);
    expect(written).toBeGreaterThanOrEqual(startedAt - 1_000);
    expect(written).toBeLessThanOrEqual(Date.now());
    expect(s.watches.map((x: { kind: string; name: string }) => `${x.kind}/${x.name}`).sort()).toEqual([`Secret/${SECRET}`, `Tenant/${TENANT}`]);
    const raw = await (await sc.probe("/status")).text();
    expect(raw).not.toContain(PASSWORD);
    expect(raw).not.toContain(OTHER_SECRET);
  });

  test("/metrics: Prometheus text with every counter the SPEC lists", async () => {
    const m = await metrics();
    expect(m.contentType).toStartWith("text/plain; version=0.0.4");
    const e = parseExposition(m.text);
    const expected = {
      minio_sidecar_config_writes_total: "counter",
      minio_sidecar_config_errors_total: "counter",
      minio_sidecar_config_valid: "gauge",
      minio_sidecar_watch_restarts_total: "counter",
      minio_sidecar_webhook_requests_total: "counter",
      minio_sidecar_readiness_probe_total: "counter",
    };
    for (const [name, type] of Object.entries(expected)) {
      expect({ name, type: e.type.get(name) }).toEqual({ name, type });
      expect(e.help.get(name)?.length ?? 0).toBeGreaterThan(0);
    }
    expect(sample(e, "minio_sidecar_config_writes_total")).toBe(1);
    expect(sample(e, "minio_sidecar_config_valid")).toBe(1);
    expect(m.text).not.toContain(PASSWORD);
  });

  test("/metrics: process metrics are this process's true figures; no V8-only or VmData ones", async () => {
    const e = parseExposition((await metrics()).text);
    const status = await readFile(`/proc/${sc.proc.pid}/status`, "utf8");
    const vmRss = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) * 1024;
    const rss = sample(e, "minio_sidecar_process_resident_memory_bytes");
    expect(Math.abs(rss - vmRss) / vmRss).toBeLessThan(0.25); // sampled moments apart
    const cpu = sample(e, "minio_sidecar_process_cpu_seconds_total");
    expect(cpu).toBeGreaterThan(0);
    expect(cpu).toBeCloseTo(sample(e, "minio_sidecar_process_cpu_user_seconds_total") + sample(e, "minio_sidecar_process_cpu_system_seconds_total"), 1);
    expect(e.type.get("minio_sidecar_process_cpu_seconds_total")).toBe("counter");
    const start = sample(e, "minio_sidecar_process_start_time_seconds");
    expect(Math.abs(start - startedAt / 1000)).toBeLessThan(30);
    const fds = (await import("node:fs")).readdirSync(`/proc/${sc.proc.pid}/fd`).length;
    expect(Math.abs(sample(e, "minio_sidecar_process_open_fds") - fds)).toBeLessThanOrEqual(3);
    const maxFds = Number(/^Max open files\s+(\d+)/m.exec(await readFile(`/proc/${sc.proc.pid}/limits`, "utf8"))![1]);
    expect(sample(e, "minio_sidecar_process_max_fds")).toBe(maxFds);
    const names = [...e.type.keys()];
    expect(names.filter((n) => n.includes("nodejs_") || n.includes("heap") || n.includes("virtual_memory"))).toEqual([]);
  });

  test("/metrics counts probe results and webhook requests by result", async () => {
    const before = parseExposition((await metrics()).text);
    for (let i = 0; i < 3; i++) expect((await sc.probe("/ready")).status).toBe(200);
    await w.minio.stop();
    await pastSharedAnswer();
    expect((await sc.probe("/ready")).status).toBe(500);
    await w.minio.start();
    await pastSharedAnswer();
    const hook = (q: string) => sc.webhook(`/webhook/v1/bucketsrv/${q}`, { method: "POST" }).then((r) => r.status);
    expect(await hook(`${NS}/${TENANT}?bucket=metrics-one`)).toBe(200);
    expect(await hook(`${NS}/${TENANT}?bucket=metrics-one`)).toBe(200);
    expect(await hook(`${NS}/${TENANT}?bucket=Bad.Name`)).toBe(400);
    expect(await hook(`other/${TENANT}?bucket=abc`)).toBe(403);
    expect(await hook(`${NS}/${TENANT}?bucket=minio`)).toBe(409);
    expect(await hook(`${NS}/${TENANT}?bucket=metrics-one&delete=true`)).toBe(200);
    const after = parseExposition((await metrics()).text);
    const delta = (name: string, labels: Record<string, string>) => sample(after, name, labels) - sample(before, name, labels);
    expect(delta("minio_sidecar_readiness_probe_total", { result: "success" })).toBe(3);
    expect(delta("minio_sidecar_readiness_probe_total", { result: "failure" })).toBe(1);
    const W = "minio_sidecar_webhook_requests_total";
    expect(delta(W, { operation: "create", result: "created" })).toBe(1);
    expect(delta(W, { operation: "create", result: "exists" })).toBe(1);
    expect(delta(W, { operation: "create", result: "invalid-name" })).toBe(1);
    expect(delta(W, { operation: "create", result: "forbidden" })).toBe(1);
    expect(delta(W, { operation: "create", result: "conflict" })).toBe(1);
    expect(delta(W, { operation: "delete", result: "deleted" })).toBe(1);
    // Labels are fixed enums: a bucket name never becomes a label value.
    expect([...after.samples.keys()].filter((k) => k.includes("metrics-one"))).toEqual([]);
  });

  test("/metrics counts watch restarts", async () => {
    const name = "minio_sidecar_watch_restarts_total";
    const before = sample(parseExposition((await metrics()).text), name, { kind: "Tenant" });
    // The next Tenant watch requests fail; ending the open streams makes the sidecar re-watch into them.
    w.api.failNext(2, 500, { match: (r) => r.resource === "tenants" && r.watch });
    w.api.dropWatches();
    await eventually(async () => sample(parseExposition((await metrics()).text), name, { kind: "Tenant" }) > before, 15_000, "a Tenant watch restart counted");
    // Two failures of the backoff (0.8 s doubling, waits of half to three steps); earlier tests' failures of this
    // sidecar within 2 minutes are not forgotten, so its waits may already be on a longer step.
    await eventually(async () => (await status()).watches.every((x: { state: string }) => x.state === "watching"), 60_000, "watches back");
  }, 90_000);

  test("sidecar API: GET gives the inputs and write time of the file on disk; POST ?c= answers the same and compares nothing", async () => {
    const st = await status();
    const want = { inputs: currentInputs(), lastWriteTime: st.lastWriteTime };
    const got = await sc.api("/sidecar/v1/config");
    expect(got.status).toBe(200);
    expect(await got.json()).toEqual(want);
    const post = async (q: string) => {
      const r = await sc.api(`/sidecar/v1/config${q}`, { method: "POST" });
      return { status: r.status, body: await r.json() };
    };
    // The file's real sha256, a wrong one and none at all get the same answer: nothing is compared.
    const onDisk = sha256(await readFile(w.configFile));
    for (const q of [`?c=${onDisk}`, `?c=${sha256("something else")}`, "", "?c="]) expect(await post(q)).toEqual({ status: 200, body: want });
  });

  test("an invalid Secret: last good file kept, error on /status and /metrics, no secret value anywhere; fixed: valid again", async () => {
    const before = await readFile(w.configFile, "utf8");
    const errorsBefore = sample(parseExposition((await metrics()).text), "minio_sidecar_config_errors_total", { reason: "invalid" });
    w.api.update(secret(`export MINIO_ROOT_USER="minio"\nexport MINIO_IDENTITY_OPENID_CLIENT_SECRET="${OTHER_SECRET}"\n`, SECRET) as never);
    const s = await until(async () => {
      const st = await status();
      return st.lastError ? st : undefined;
    }, 10_000, "error on /status");
    expect(s.lastError).toContain("missing root credentials");
    expect(s.configValid).toBe(false);
    const kept = s.inputs;
    expect(kept.secret.resourceVersion).not.toBe(currentInputs().secret.resourceVersion);
    expect(await readFile(w.configFile, "utf8")).toBe(before);
    const e = parseExposition((await metrics()).text);
    expect(sample(e, "minio_sidecar_config_valid")).toBe(0);
    expect(sample(e, "minio_sidecar_config_errors_total", { reason: "invalid" })).toBe(errorsBefore + 1);
    expect((await sc.probe("/healthz")).status).toBe(200);
    // The sidecar API reports the file on disk, which is still the last good one: the inputs it came from.
    expect(await (await sc.api("/sidecar/v1/config")).json()).toEqual({ inputs: kept, lastWriteTime: s.lastWriteTime });

    w.api.update(secret(SECRET_ENV.replace("minio\"", "minio2\""), SECRET) as never);
    const fixed = await until(async () => {
      const st = await status();
      return st.configValid && st.inputs.secret.resourceVersion === currentInputs().secret.resourceVersion ? st : undefined;
    }, 10_000, "valid again");
    expect(fixed.lastError).toBeUndefined();
    expect(await readFile(w.configFile, "utf8")).toContain('MINIO_ROOT_USER="minio2"');
    expect(await (await sc.api("/sidecar/v1/config")).json()).toEqual({ inputs: fixed.inputs, lastWriteTime: fixed.lastWriteTime });
    const after = parseExposition((await metrics()).text);
    expect(sample(after, "minio_sidecar_config_valid")).toBe(1);
    expect(sample(after, "minio_sidecar_config_writes_total")).toBe(2);
    for (const body of [JSON.stringify(fixed), (await metrics()).text, everything(sc)]) {
      expect(body).not.toContain(PASSWORD);
      expect(body).not.toContain(OTHER_SECRET);
    }
  });

  describe("limits on all three servers: long URLs and any body are refused; the sidecar carries on", () => {
    const servers = ["probe", "webhook", "sidecar"] as const;
    const path = { probe: "/ready", webhook: `/webhook/v1/bucketsrv/${NS}/${TENANT}?bucket=limits`, sidecar: "/sidecar/v1/config" };
    const method = { probe: "GET", webhook: "POST", sidecar: "GET" };
    const url = (s: (typeof servers)[number], extra = "") => `http://127.0.0.1:${sc.ports[s]}${path[s]}${path[s].includes("?") ? "&" : "?"}${extra}`;

    for (const s of servers) {
      test(`${s}: an 8 KiB URL gets 414, a 100 KiB query string a 4xx`, async () => {
        const r8 = await fetch(url(s, `q=${"x".repeat(8 * 1024)}`), { method: method[s] });
        expect(r8.status).toBe(414);
        await r8.text();
        const r100 = await fetch(url(s, `q=${"x".repeat(100 * 1024)}`), { method: method[s] });
        // Bun's HTTP parser refuses it before our guard (431); either way a 4xx and no work done.
        expect(r100.status).toBeGreaterThanOrEqual(400);
        expect(r100.status).toBeLessThan(500);
        await r100.text();
      });

      test(`${s}: a 1 MiB body gets 413, with Content-Length or chunked`, async () => {
        const r = await fetch(url(s), { method: "POST", body: new Uint8Array(1 << 20) });
        expect(r.status).toBe(413);
        await r.text();
        const chunked = await new Promise<number>((resolve, reject) => {
          const req = http.request(url(s), { method: "POST", headers: { "transfer-encoding": "chunked" } }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
          req.on("error", reject);
          req.write(Buffer.alloc(1 << 20));
          req.end();
        });
        expect(chunked).toBe(413);
      });
    }

    test("after all that: healthy, serving, and no Service was created by a refused request", async () => {
      expect((await sc.probe("/healthz")).status).toBe(200);
      expect((await sc.probe("/ready")).status).toBe(200);
      expect(w.service("limits")).toBeUndefined();
      const ok = await sc.webhook(`/webhook/v1/bucketsrv/${NS}/${TENANT}?bucket=after-limits`, { method: "POST" });
      expect(ok.status).toBe(200);
      expect(w.service("after-limits")).toBeDefined();
    });
  });

  test("no secret value in any log line of this sidecar", () => {
    expect(sc.logs.length).toBeGreaterThan(0);
    expect(everything(sc)).not.toContain(PASSWORD);
    expect(everything(sc)).not.toContain(OTHER_SECRET);
  });
});

describe("request logs", () => {
  test("probe, status and metrics requests stay out of info-level logs and appear at debug; webhook calls are logged at info", async () => {
    const w = await startWorld({ tenantSpec: { features: { bucketDNS: false } } });
    try {
      for (const level of ["info", "debug"] as const) {
        const sc = await w.sidecar(["--log-level", level]);
        for (const path of ["/ready", "/healthz", "/status", "/metrics"]) await (await sc.probe(path)).text();
        await (await sc.webhook(`/webhook/v1/bucketsrv/${NS}/${TENANT}?bucket=logged`, { method: "POST" })).text();
        await sc.waitForLog((l) => l.msg === "bucket webhook: created" || l.msg === "bucket webhook: exists");
        const probeLines = sc.logs.filter((l) => l.msg === "probe request");
        if (level === "info") expect(probeLines).toEqual([]);
        // (startSidecar itself polls /healthz until the sidecar serves, hence the set)
        else expect([...new Set(probeLines.map((l) => l.path))].sort()).toEqual(["/healthz", "/metrics", "/ready", "/status"]);
        expect((await sc.stop()).code).toBe(0);
      }
    } finally {
      await w.close();
    }
  });
});

// The pod's resolver here says localhost is ::1 only (an /etc/hosts of the test's own, in a private
// mount namespace): a sidecar that looked the name up would bind ::1, not the 127.0.0.1 MinIO calls.
test.skipIf(!canUnshare)("--webhook-address localhost:PORT binds 127.0.0.1 whatever the resolver says localhost is (the webhook creates Services unauthenticated)", async () => {
  const w = await startWorld({ tenantSpec: { features: { bucketDNS: false } } });
  let sc: SidecarProcess | undefined;
  try {
    const hosts = `${w.dir}/hosts`;
    await writeFile(hosts, "::1 localhost\n");
    const port = await freePort();
    sc = await startSidecar({
      kubeconfig: w.kubeconfig, namespace: NS, tenant: TENANT, configName: SECRET, configFile: w.configFile,
      args: ["--minio-url", w.minio.url, "--webhook-address", `localhost:${port}`],
      wrap: ["unshare", "-m", "--propagation", "private", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"', hosts],
    });
    const call = (host: string) =>
      fetch(`http://${host}:${port}/webhook/v1/bucketsrv/${NS}/${TENANT}?bucket=via-localhost`, { method: "POST" }).then(
        (r) => r.status,
        () => "refused",
      );
    expect(await call("127.0.0.1")).toBe(200);
    expect(await call("[::1]")).toBe("refused");
    // The listening socket itself: 127.0.0.1 (0100007F in /proc/net/tcp), nothing on tcp6.
    const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
    const listening = (table: string) => table.split("\n").filter((l) => l.includes(`:${hexPort} `) && / 0A /.test(l));
    expect(listening(await readFile("/proc/net/tcp", "utf8")).map((l) => l.trim().split(/\s+/)[1])).toEqual([`0100007F:${hexPort}`]);
    expect(listening(await readFile("/proc/net/tcp6", "utf8").catch(() => ""))).toEqual([]);
  } finally {
    await sc?.stop(); // started outside the world, so the world's close does not stop it
    await w.close();
  }
}, 60_000);
