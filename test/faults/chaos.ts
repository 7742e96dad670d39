/**
 * `npm run test:faults`: a scripted chaos run of the compiled binary against
 * the fake API server, all on loopback, bounded in time, stopping by itself.
 * Prints one summary table (scenario, operations, failures) and exits 1 when
 * any scenario failed.
 *
 *   bun test/faults/chaos.ts [--bin dist/minio-operator-sidecar] [--scale 1]
 *
 * --scale shrinks every operation count (e.g. 0.1 for a quick local run).
 */
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startFakeApiServer, type FakeApiServer } from "../fake-apiserver/index.ts";
import { eventually, startSidecar, type SidecarProcess } from "../support/sidecar.ts";
import { pool, tenant } from "../support/objects.ts";
import { seededRandom } from "../support/random.ts";
import { API_BACKOFF, longestBackoff } from "../../src/retry.ts";
import { startFakeMinio, type FakeMinio } from "../fake-minio/index.ts";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
};
const BIN = resolve(arg("bin", "dist/minio-operator-sidecar"));
const SCALE = Number(arg("scale", "1"));
const n = (count: number) => Math.max(1, Math.round(count * SCALE));
if (!existsSync(BIN)) {
  console.error(`${BIN} missing: run npm run build first`);
  process.exit(2);
}
process.env.SIDECAR_BIN = BIN;

const NS = "chaos";
const TENANT = "myminio";
const SECRET = "storage-configuration";
const work = mkdtempSync(join(tmpdir(), "chaos-"));
chmodSync(work, 0o755);

// Every secret value this run puts into a Secret carries this marker, so the
// log check can find any of them in any log line.
const MARK = `pw${Math.random().toString(36).slice(2, 8)}`;
const secretValues = new Set<string>();
const secretValue = (i: number) => {
  const v = `${MARK}-${i}-${Math.random().toString(36).slice(2, 10)}$\`'"#\\ x`;
  secretValues.add(v);
  return v;
};

// Deterministic pseudo-random choices, so a failure can be replayed with the same seed.
const SEED = Number(arg("seed", String(Date.now() % 100000)));
const rand = seededRandom(SEED);
const pick = <T>(xs: readonly T[]): T => xs[rand(xs.length)]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Row {
  scenario: string;
  operations: number;
  failures: number;
  note: string;
}
const rows: Row[] = [];
const sidecars: SidecarProcess[] = [];

function configEnv(i: number, valid = true): string {
  const lines = [`export MINIO_ROOT_USER="admin"`, `MINIO_ROOT_PASSWORD='${secretValue(i)}'`, `MINIO_STEP=${i}`];
  if (!valid) lines.splice(1, 1); // credentials removed
  return `${lines.join("\n")}\n`;
}

function secretObj(i: number, valid = true, name = SECRET) {
  return { apiVersion: "v1", kind: "Secret", metadata: { name, namespace: NS }, type: "Opaque", stringData: { "config.env": configEnv(i, valid) } };
}

function tenantObj(i: number, valid = true) {
  const t = tenant(
    {
      configuration: { name: SECRET },
      features: { bucketDNS: true },
      env: [{ name: "MINIO_TENANT_STEP", value: String(i) }],
      prometheusOperator: i % 2 === 0,
      pools: [pool({ name: "pool-0", servers: valid ? 4 : 2, volumesPerServer: valid ? 2 : 1 })],
    },
    TENANT,
    NS,
  );
  return t;
}

async function startApi(): Promise<FakeApiServer> {
  return startFakeApiServer({
    objects: [
      tenantObj(0),
      secretObj(0),
      // The tenant's own Services, which the webhook must never touch.
      { apiVersion: "v1", kind: "Service", metadata: { name: "minio", namespace: NS }, spec: { type: "ClusterIP", ports: [{ port: 443 }] } },
      { apiVersion: "v1", kind: "Service", metadata: { name: `${TENANT}-hl`, namespace: NS }, spec: { clusterIP: "None", ports: [{ port: 9000 }] } },
    ],
  });
}

async function sidecarFor(api: FakeApiServer, minio: FakeMinio | undefined, name: string, extra: { env?: Record<string, string>; wrap?: string[] } = {}) {
  const kubeconfig = join(work, `${name}.kubeconfig`);
  await api.writeKubeconfig(kubeconfig, { namespace: NS });
  chmodSync(kubeconfig, 0o644);
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const sc = await startSidecar({
    kubeconfig,
    namespace: NS,
    configFile: join(dir, "config.env"),
    args: minio ? ["--minio-url", minio.url] : [],
    env: extra.env,
    wrap: extra.wrap,
  });
  sidecars.push(sc);
  return { sc, file: join(dir, "config.env"), dir };
}

/** What `render` of these objects gives, from the same binary. */
function renderOf(t: unknown, s: unknown): string {
  const tf = join(work, "final-tenant.json");
  const sf = join(work, "final-secret.json");
  writeFileSync(tf, JSON.stringify(t));
  writeFileSync(sf, JSON.stringify(s));
  const r = spawnSync(BIN, ["render", "--tenant-file", tf, "--secret-file", sf], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`render failed: ${r.stderr}`);
  return r.stdout;
}

const readFile = (f: string) => {
  try {
    return readFileSync(f, "utf8");
  } catch {
    return "";
  }
};

async function scenario(name: string, run: () => Promise<Omit<Row, "scenario">>) {
  const t0 = performance.now();
  process.stderr.write(`-- ${name} ... `);
  try {
    const row = await run();
    rows.push({ scenario: name, ...row, note: `${row.note}${row.note ? ", " : ""}${((performance.now() - t0) / 1000).toFixed(1)} s` });
  } catch (err) {
    rows.push({ scenario: name, operations: 0, failures: 1, note: `aborted: ${(err as Error).message.split("\n")[0]}` });
  }
  process.stderr.write(`done\n`);
}

// 1. Updates in random order with faults mixed in; the file must end equal to render of the final objects.
async function updatesWithFaults(api: FakeApiServer, minio: FakeMinio) {
  const { sc, file } = await sidecarFor(api, minio, "updates");
  const total = n(1000);
  const faults: Record<string, number> = { drop: 0, gone: 0, e500: 0, reset: 0, restart: 0 };
  const restartAt = new Set([Math.floor(total / 3), Math.floor((2 * total) / 3)]);
  let lastTenant = tenantObj(0);
  let lastSecret = secretObj(0);
  for (let i = 1; i <= total; i++) {
    if (rand(2) === 0) {
      lastTenant = { ...tenantObj(i, rand(10) !== 0), metadata: api.get({ kind: "Tenant", namespace: NS, name: TENANT })!.metadata } as typeof lastTenant;
      api.update(lastTenant);
    } else {
      lastSecret = secretObj(i, rand(10) !== 0);
      api.update({ ...lastSecret, metadata: { ...lastSecret.metadata } });
    }
    const f = rand(40);
    if (f === 0) faults.drop! += api.dropWatches() >= 0 ? 1 : 0;
    else if (f === 1) (api.expiredWatch = pick(["event", "http"] as const), api.compact(), api.dropWatches(), faults.gone!++);
    else if (f === 2) (api.failNext(3, 500), faults.e500!++);
    else if (f === 3) (api.failNext(3, "reset"), faults.reset!++);
    if (restartAt.has(i)) {
      await api.stop();
      await sleep(2_000);
      await api.restart();
      faults.restart!++;
    }
    if (i % 10 === 0) await sleep(2);
  }
  api.clearFaults();
  // The final objects are valid, so the file must converge to exactly their render.
  const finalTenant = tenantObj(total + 1);
  const finalSecret = secretObj(total + 1);
  api.update({ ...finalTenant, metadata: api.get({ kind: "Tenant", namespace: NS, name: TENANT })!.metadata });
  api.update(finalSecret);
  const expected = renderOf(api.get({ kind: "Tenant", namespace: NS, name: TENANT }), api.get({ kind: "Secret", namespace: NS, name: SECRET }));
  let failures = 0;
  await eventually(() => readFile(file) === expected, 30_000, "file equal to render of the final objects").catch(() => failures++);
  if (sc.proc.exitCode !== null) failures++;
  return {
    operations: total,
    failures,
    note: `faults: ${faults.drop} drops, ${faults.gone} 410s, ${faults.e500} 500 bursts, ${faults.reset} reset bursts, ${faults.restart} restarts; sidecar ${sc.proc.exitCode === null ? "alive" : "EXITED"}`,
  };
}

// 2. 1,000 rewrites while a separate reader process reads the file 20,000 times: no partial or empty read.
async function readsDuringRewrites(api: FakeApiServer) {
  const { sc, file } = await sidecarFor(api, undefined, "rewrites");
  const rewrites = n(1000);
  const minReads = n(20_000);
  const stopFile = join(work, "reader.stop");
  const reader = spawn(process.execPath, [new URL("./reader.ts", import.meta.url).pathname, file, stopFile, String(minReads)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  reader.stdout.on("data", (d) => (out += d));
  const readerDone = new Promise((r) => reader.on("exit", r));
  let applied = 0;
  for (let i = 1; i <= rewrites; i++) {
    api.update(secretObj(100_000 + i));
    const marker = `export MINIO_STEP="${100_000 + i}"`;
    const ok = await eventually(() => readFile(file).includes(marker), 5_000, "rewrite").then(() => true, () => false);
    if (ok) applied++;
  }
  writeFileSync(stopFile, "");
  await readerDone;
  const r = JSON.parse(out || "{}") as { reads?: number; bad?: number; distinct?: number };
  return {
    operations: (r.reads ?? 0) + rewrites,
    failures: (r.bad ?? 1) + (rewrites - applied) + (sc.proc.exitCode === null ? 0 : 1),
    note: `${applied} rewrites applied, ${r.reads} reads (${r.distinct} distinct contents), ${r.bad} partial/empty`,
  };
}

// 3. Random webhook traffic: only defined statuses, no Service that a valid create did not ask for.
async function randomWebhook(api: FakeApiServer) {
  const { sc } = await sidecarFor(api, undefined, "webhook");
  const total = n(10_000);
  // SPEC 6's statuses, plus 413/414 from our guard and 431 from Bun's HTTP parser for oversized request lines.
  const allowed = new Set([200, 400, 403, 404, 405, 409, 413, 414, 431, 502]);
  const asked = new Set<string>();
  const statuses = new Map<number, number>();
  let failures = 0;
  let transportErrors = 0;
  const names = ["photos", "minio", `${TENANT}-hl`, "a.b", "1abc", "UPPER", "x".repeat(64), "", "ok-bucket", "b-1", "with space", "%2e%2e", "é"];
  const big = "x".repeat(1 << 20);
  const one = async () => {
    const method = pick(["POST", "POST", "POST", "GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]);
    const good = rand(4) !== 0;
    const path = good
      ? `/webhook/v1/bucketsrv/${rand(8) ? NS : "other"}/${rand(8) ? TENANT : "other"}`
      : pick(["/", "/webhook", "/webhook/v1/bucketsrv", `/webhook/v1/bucketsrv/${NS}`, "/webhook/v1/bucketsrv/a/b/c", "/../etc/passwd", "/%00", `/${"a".repeat(rand(3000))}`]);
    const bucket = rand(3) === 0 ? pick(names) : `b${rand(400)}`;
    const del = pick([undefined, "true", "false", "1", "0", "maybe", ""]);
    let query = rand(10) === 0 ? `?${"q".repeat(rand(120_000))}` : `?bucket=${encodeURIComponent(bucket)}${del === undefined ? "" : `&delete=${del}`}`;
    if (rand(20) === 0) query += "&bucket=second";
    const withBody = method !== "GET" && method !== "HEAD" && rand(15) === 0;
    const headers: Record<string, string> = rand(5) === 0 ? { "x-random": "y".repeat(rand(2000)), "content-type": pick(["text/plain", "application/json", "x/y"]) } : {};
    // A create the sidecar may honour: right tenant, valid name, delete false/absent.
    const finalBucket = query.includes("&bucket=second") ? "second" : bucket;
    if (method === "POST" && path === `/webhook/v1/bucketsrv/${NS}/${TENANT}` && !withBody && query.length < 4000 && (del === undefined || del === "false" || del === "0")) {
      asked.add(finalBucket);
    }
    try {
      const res = await sc.webhook(`${path}${query}`, { method, headers, body: withBody ? big.slice(0, rand(big.length)) : undefined });
      await res.arrayBuffer();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (!allowed.has(res.status)) failures++;
    } catch {
      transportErrors++;
    }
  };
  const concurrency = 16;
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next++ < total) await one();
  }));
  const existing = api.list("Service", { namespace: NS }).map((s) => s.metadata.name as string);
  const unexpected = existing.filter((s) => s !== "minio" && s !== `${TENANT}-hl` && !asked.has(s));
  const own = api.get({ kind: "Service", namespace: NS, name: "minio" });
  failures += unexpected.length + transportErrors + (own?.spec?.type === "ClusterIP" ? 0 : 1) + (sc.proc.exitCode === null ? 0 : 1);
  return {
    operations: total,
    failures,
    note: `statuses ${[...statuses].sort((a, b) => a[0] - b[0]).map(([s, c]) => `${s}:${c}`).join(" ")}; ${existing.length - 2} bucket Services, ${unexpected.length} unexpected; ${transportErrors} transport errors`,
  };
}

// 4. The config directory made read-only, then writable: errors reported, then recovery, no crash.
async function readOnlyDirectory(api: FakeApiServer) {
  // Root ignores directory permissions, so this sidecar runs as uid 1000 (as in the image).
  const asRoot = process.getuid?.() === 0;
  const wrap = asRoot ? ["setpriv", "--reuid=1000", "--regid=1000", "--clear-groups", "--"] : [];
  const { sc, file, dir } = await sidecarFor(api, undefined, "readonly", { wrap, env: { HOME: work } });
  if (asRoot) chownSync(dir, 1000, 1000);
  let failures = 0;
  api.update(secretObj(200_000));
  await eventually(() => readFile(file).includes('MINIO_STEP="200000"'), 10_000, "first write").catch(() => failures++);
  chmodSync(dir, 0o555);
  api.update(secretObj(200_001));
  const status = async () => (await (await sc.probe("/status")).json()) as { configValid: boolean; lastError?: string };
  const reported = await eventually(async () => {
    const s = await status();
    return !s.configValid && /EACCES|permission/i.test(s.lastError ?? "") ? s : undefined;
  }, 10_000, "write error on /status").catch(() => undefined);
  if (!reported) failures++;
  const metrics = await (await sc.probe("/metrics")).text();
  if (!/minio_sidecar_config_errors_total\{reason="write"\} [1-9]/.test(metrics)) failures++;
  const kept = readFile(file).includes('MINIO_STEP="200000"');
  if (!kept) failures++;
  chmodSync(dir, 0o755);
  // No new change: the sidecar's own write retry must bring the file up to date.
  const recovered = await eventually(async () => readFile(file).includes('MINIO_STEP="200001"') && (await status()).configValid, 40_000, "recovery").then(() => true, () => false);
  if (!recovered) failures++;
  if (sc.proc.exitCode !== null) failures++;
  return { operations: 3, failures, note: `error reported: ${!!reported}, last good file kept: ${kept}, recovered without a new change: ${recovered}${asRoot ? " (as uid 1000)" : ""}` };
}

// 5. SIGTERM under probe and webhook load: exit 0 within 2 s.
async function sigtermUnderLoad(api: FakeApiServer, minio: FakeMinio) {
  const { sc } = await sidecarFor(api, minio, "sigterm");
  let stop = false;
  let sent = 0;
  const load = Array.from({ length: 8 }, async (_, k) => {
    while (!stop) {
      sent++;
      const r = k % 2 ? sc.probe("/ready") : sc.webhook(`/webhook/v1/bucketsrv/${NS}/${TENANT}?bucket=load${sent % 50}`, { method: "POST" });
      await r.then((x) => x.arrayBuffer(), () => undefined);
    }
  });
  await sleep(1_000);
  const { code, ms } = await sc.stop("SIGTERM");
  stop = true;
  await Promise.all(load);
  return { operations: sent, failures: code === 0 && ms < 2_000 ? 0 : 1, note: `exit ${code} after ${Math.round(ms)} ms` };
}

async function withOwnApi<T>(run: (api: FakeApiServer) => Promise<T>): Promise<T> {
  const own = await startApi();
  try {
    return await run(own);
  } finally {
    await own.close();
  }
}

/** Waits until the file holds step `i` of the Secret; returns the time it took, or -1 when it did not within limitMs. */
async function landed(file: string, i: number, limitMs: number): Promise<number> {
  const t0 = performance.now();
  const ok = await eventually(() => readFile(file).includes(`export MINIO_STEP="${i}"`), limitMs, "file").then(() => true, () => false);
  return ok ? performance.now() - t0 : -1;
}

// 6. Requests accepted and never answered (no headers), alternately a WATCH and a re-LIST:
//    each is abandoned after 10 s, and a Secret change made meanwhile reaches the file within
//    BLACK_HOLE_LIMIT_MS: the 10 s header deadline plus the longest backoff wait (client-go's
//    reflector: a 30 s step jittered up to 60 s; four incidents within 2 minutes are not
//    forgotten in between, so the last rounds wait the long steps) plus 5 s of slack.
const BLACK_HOLE_LIMIT_MS = 10_000 + longestBackoff(API_BACKOFF) + 5_000;
async function blackHoles(api: FakeApiServer) {
  const { sc, file } = await sidecarFor(api, undefined, "blackhole");
  const rounds = n(4);
  const isSecret = (r: { resource?: string }) => r.resource === "secrets";
  let failures = 0;
  let worst = 0;
  const missed: string[] = [];
  for (let i = 1; i <= rounds; i++) {
    const step = 20_000 + i;
    const from = api.requests.length;
    if (i % 2) api.failNext(1, "hang", { match: (r) => isSecret(r) && r.watch });
    else (api.failNext(1, "hang", { match: (r) => isSecret(r) && r.verb === "list" }), api.failNext(1, 410, { match: (r) => isSecret(r) && r.watch }));
    api.dropWatches();
    const hung = await api.waitForRequest((r) => isSecret(r) && r.fault === "hang", { from, timeoutMs: 15_000 }).then(() => true, () => false);
    api.update(secretObj(step));
    const ms = hung ? await landed(file, step, BLACK_HOLE_LIMIT_MS) : -1;
    if (ms < 0) {
      failures++;
      missed.push(`round ${i}: ${hung ? "change not in the file in time" : "no request reached the black hole"}`);
    }
    worst = Math.max(worst, ms);
    // Let the Secret's new WATCH open and run a second before the next round drops it: a stream
    // dropped within a second of opening, with no event, is a failure to the sidecar ("watch closed
    // immediately"), and its backoff wait would add to the next round's, which this scenario does not test.
    await eventually(() => api.openWatches.some((w) => w.resource === "secrets"), 30_000, "the Secret watched again").catch(() => undefined);
    await Bun.sleep(1_100);
  }
  if (sc.proc.exitCode !== null) {
    failures++;
    missed.push(`sidecar exited ${sc.proc.exitCode}: ${sc.stderr().trim().split("\n").at(-1) ?? ""}`);
  }
  const why = missed.length ? `; ${missed.join("; ")}` : "";
  return { operations: rounds, failures, note: `${Math.ceil(rounds / 2)} WATCH and ${Math.floor(rounds / 2)} LIST black holes; slowest change to file ${(worst / 1000).toFixed(1)} s (limit ${BLACK_HOLE_LIMIT_MS / 1000} s)${why}` };
}

// 7. Streams that send their headers and then nothing: abandoned after their timeoutSeconds plus
//    the grace period. The binary's window is 5 minutes, so this runs the sidecar's own
//    composition root (startSidecar, what the binary runs) in this process with a 2 s window.
async function silentStreams(api: FakeApiServer) {
  const { startInProcess } = await import("../support/in-process.ts");
  const { loadKube } = await import("../../src/kube/client.ts");
  const { default: pino } = await import("pino");
  const dir = join(work, "silent");
  mkdirSync(dir, { recursive: true });
  await api.writeKubeconfig(join(dir, "kubeconfig"), { namespace: NS });
  const logLines: string[] = [];
  const file = join(dir, "config.env");
  const sc = await startInProcess(
    {
      tenant: TENANT,
      configName: SECRET,
      namespace: NS,
      configFile: file,
      pruneBucketServices: false,
    },
    {
      kube: loadKube(join(dir, "kubeconfig")),
      log: pino({ level: "info" }, { write: (l: string) => void logLines.push(l) }),
      // A short backoff too: this scenario is about the silent-stream watchdog; ten abandoned
      // streams in a row would otherwise climb client-go's backoff to its 30 s step.
      watchTimings: { streamMs: 2_000, silenceGraceMs: 1_000, backoff: { baseMs: 200, capMs: 1_000 } },
    },
  );
  const rounds = n(10);
  let failures = 0;
  let worst = 0;
  try {
    for (let i = 1; i <= rounds; i++) {
      const step = 30_000 + i;
      const from = api.requests.length;
      api.failNext(1, "silent", { match: (r) => r.resource === (i % 2 ? "secrets" : "tenants") && r.watch });
      api.dropWatches();
      const silent = await api.waitForRequest((r) => r.fault === "silent", { from, timeoutMs: 10_000 }).then(() => true, () => false);
      api.update(secretObj(step));
      const ms = silent ? await landed(file, step, 10_000) : -1;
      if (ms < 0) failures++;
      worst = Math.max(worst, ms);
    }
    if (!sc.healthy()) failures++;
  } finally {
    await sc.stop();
  }
  const leaks = logLines.filter((l) => l.includes(MARK)).length;
  return { operations: rounds, failures: failures + leaks, note: `Secret and Tenant streams alternately; slowest change to file ${(worst / 1000).toFixed(1)} s (window 2-3 s + grace 1 s); ${leaks} secret values in ${logLines.length} log lines` };
}

// 8. No secret value in any log line of the whole run.
function logCheck() {
  let lines = 0;
  let leaks = 0;
  for (const sc of sidecars) {
    const text = `${sc.stdout()}\n${sc.stderr()}`;
    lines += text.split("\n").filter(Boolean).length;
    if (text.includes(MARK)) leaks += text.split("\n").filter((l) => l.includes(MARK)).length;
    for (const v of secretValues) if (text.includes(v)) leaks++;
  }
  rows.push({ scenario: "no secret value in any log line", operations: lines, failures: leaks, note: `${secretValues.size} secret values checked` });
}

const started = performance.now();
const api = await startApi();
const minio = await startFakeMinio({ buckets: ["alpha", "beta"], accessKey: "admin" });
try {
  await scenario("1,000 updates with watch drops, 410s, 500s, resets, 2 API restarts", () => updatesWithFaults(api, minio));
  await scenario("20,000 reads during 1,000 rewrites", () => readsDuringRewrites(api));
  await scenario("10,000 random webhook requests", () => randomWebhook(api));
  await scenario("config directory read-only, then writable", () => readOnlyDirectory(api));
  await scenario("SIGTERM under load", () => sigtermUnderLoad(api, minio));
  // Their own API servers: the faults must reach this sidecar's requests, not those of the earlier scenarios' sidecars.
  await scenario("black-holed WATCH and LIST requests", () => withOwnApi(blackHoles));
  await scenario("watch streams that go silent", () => withOwnApi(silentStreams));
} finally {
  for (const sc of sidecars) if (sc.proc.exitCode === null) await sc.stop();
  logCheck();
  await api.close();
  await minio.stop();
  rmSync(work, { recursive: true, force: true });
}

const w = Math.max(...rows.map((r) => r.scenario.length));
console.log(`\n${"scenario".padEnd(w)} | operations | failures | notes`);
console.log(`${"-".repeat(w)}-|------------|----------|------`);
for (const r of rows) console.log(`${r.scenario.padEnd(w)} | ${String(r.operations).padStart(10)} | ${String(r.failures).padStart(8)} | ${r.note}`);
const failed = rows.filter((r) => r.failures > 0).length;
console.log(`\nchaos run: ${rows.length - failed} scenarios passed, ${failed} failed in ${((performance.now() - started) / 1000).toFixed(0)} s (seed ${SEED}; replay with --seed ${SEED})`);
process.exit(failed ? 1 : 0);
