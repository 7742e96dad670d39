/**
 * Accelerated leak runs (issue 11): one path of the compiled sidecar at a
 * time, driven hard, with its RSS sampled every second. Paths:
 *
 *   probe-up        GET /ready, MinIO answering (http stub)
 *   probe-refused   GET /ready, nothing listening on the MinIO port
 *   probe-timeout   GET /ready, MinIO accepting TLS and never answering (every probe waits its 500 ms)
 *   webhook         bucket webhook create + delete pairs (ExternalName Services on the fake API server)
 *   metrics         GET /metrics and /status, alternating
 *   config          Secret updates, each waited for until the file is rewritten
 *
 * Each runs at least REQUESTS requests (default 1,000,000; config: UPDATES,
 * default 100,000) and at least MIN_MINUTES (default 6; config:
 * CONFIG_MIN_MINUTES, default 25; webhook: WEBHOOK_MIN_MINUTES, default 12)
 * so there are enough minutes to read a trend: config's minima are the
 * noisiest (each update rewrites the file and reaches the API server
 * twice): 6 minutes left four points after the climb, too few to tell a
 * trend from one late GC, and 15 left the slope a standard error of about
 * 1 MiB per million, half the goal (1.5 and -0.8 in two runs whose sidecars
 * differed only in whether two fsyncs ran on the thread pool); 25 halve it. The webhook path reaches its plateau late (a step
 * up in minute 4 of a six-minute run read as 4.7 MiB per million; its
 * 12-minute run, flat at -0.14), so it gets 12. RSS swings with every GC cycle, so what is
 * compared is each minute's minimum (what stays after a collection). The
 * first WARMUP_FRACTION of the requests (at least the first 2 minutes) is
 * the climb to the plateau; after it, the growth is the least-squares slope
 * of the per-minute minima against the request count, in MiB per million
 * requests (per 100,000 updates for config, scaled to per million).
 * Goal: < 2 MiB per million.
 *
 *   npm run build && bun bench/leak.ts [path ...]     (all paths when none given)
 * Writes bench/LEAK-REPORT.md when all paths ran; ends with the RESULT line.
 */
import { spawn, type ChildProcess } from "node:child_process";
import http from "node:http";
import https from "node:https";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { Socket } from "node:net";
import { cpus } from "node:os";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFakeApiServer, loadTlsFixtures, type FakeApiServer } from "../test/fake-apiserver/index.ts";
import { pool, tenant } from "../test/support/objects.ts";
import { freePort } from "../test/support/sidecar.ts";
import { dropPageCache, fmt, median, requireProduct, result, spawnReady, type Figure } from "./lib.ts";
import { rssOf } from "./probes.ts";

// ---- stubs for MinIO, run in a child process (`--stub up|hang-tls`) -------------------------

if (process.argv[2] === "--stub") {
  const sockets = new Set<Socket>();
  const server =
    process.argv[3] === "hang-tls"
      ? https.createServer({ key: loadTlsFixtures().keyPem, cert: loadTlsFixtures().certPem }, () => {
          // Accepts, completes TLS, reads the request, never answers.
        })
      : http.createServer((req, res) => {
          res.writeHead(req.url === "/minio/health/live" ? 200 : 404, { "Content-Length": "0" }).end();
        });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as { port: number };
    console.log(`ready ${process.argv[3] === "hang-tls" ? "https" : "http"}://127.0.0.1:${port}`);
  });
  process.on("SIGTERM", () => process.exit(0));
  await new Promise(() => {});
}

const REQUESTS = Number(process.env.REQUESTS ?? 1_000_000);
const UPDATES = Number(process.env.UPDATES ?? 100_000);
const MIN_MINUTES = Number(process.env.MIN_MINUTES ?? 6);
const CONFIG_MIN_MINUTES = Number(process.env.CONFIG_MIN_MINUTES ?? 25);
const WEBHOOK_MIN_MINUTES = Number(process.env.WEBHOOK_MIN_MINUTES ?? 12);
const minutesFor = (path: string) => (path === "config" ? CONFIG_MIN_MINUTES : path === "webhook" ? WEBHOOK_MIN_MINUTES : MIN_MINUTES);
const WARMUP_FRACTION = 0.2;
const GOAL_MIB_PER_MILLION = 2;
const NS = "leak";
const bin = requireProduct();

const PATHS = ["probe-up", "probe-refused", "probe-timeout", "webhook", "metrics", "config"] as const;
type PathName = (typeof PATHS)[number];
const chosen = (process.argv.slice(2).filter((a) => (PATHS as readonly string[]).includes(a)) as PathName[]);
const paths = chosen.length ? chosen : [...PATHS];

const secret = (step: number) => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name: "storage-configuration", namespace: NS },
  stringData: { "config.env": `export MINIO_ROOT_USER="admin"\nexport MINIO_ROOT_PASSWORD="leak-password"\nexport MINIO_STEP="${step}"\n` },
});

interface Sample {
  t: number;
  n: number;
  mib: number;
}

interface Run {
  path: PathName;
  requests: number;
  seconds: number;
  errors: number;
  minima: Sample[];
  slope: number;
  unit: string;
  perMillion: number;
  robustPerMillion: number;
  /** Standard error of the least-squares slope, per million. */
  sePerMillion: number;
  first: number;
  last: number;
  exit: number | null;
}

async function runPath(path: PathName): Promise<Run> {
  const api: FakeApiServer = await startFakeApiServer({
    objects: [tenant({ configuration: { name: "storage-configuration" }, features: { bucketDNS: path === "webhook" }, pools: [pool()] }, "myminio", NS), secret(0)],
  });
  const work = mkdtempSync(join(tmpdir(), `leak-${path}-`));
  const kubeconfig = join(work, "kubeconfig");
  await api.writeKubeconfig(kubeconfig, { namespace: NS });
  const children: ChildProcess[] = [];
  let minioUrl = `http://127.0.0.1:${await freePort()}`; // probe-refused: nothing listens there
  if (path === "probe-up" || path === "probe-timeout" || path === "webhook" || path === "metrics" || path === "config") {
    const stub = await spawnReady([new URL(import.meta.url).pathname, "--stub", path === "probe-timeout" ? "hang-tls" : "up"], "MinIO stub");
    children.push(stub.proc);
    minioUrl = stub.url;
  }
  const configFile = join(work, "config.env");
  const ports = { probe: await freePort(), webhook: await freePort(), sidecar: await freePort() };
  dropPageCache(bin); // as the other RSS benches (bench/lib.ts)
  const sidecar = spawn(
    bin,
    [
      "sidecar", "--tenant", "myminio", "--config-name", "storage-configuration", "--namespace", NS, "--kubeconfig", kubeconfig,
      "--config-file", configFile, "--minio-url", minioUrl,
      "--probe-address", `127.0.0.1:${ports.probe}`, "--webhook-address", `127.0.0.1:${ports.webhook}`, "--sidecar-address", `127.0.0.1:${ports.sidecar}`,
    ],
    // Logs go where a container's would, at the default level; nobody keeps them here.
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  children.push(sidecar);
  let stderrTail = "";
  sidecar.stderr!.on("data", (d: Buffer) => (stderrTail = (stderrTail + d).slice(-2000)));
  const exited = new Promise<number | null>((r) => sidecar.once("exit", (code) => r(code)));
  process.on("exit", () => children.forEach((c) => c.exitCode === null && c.kill("SIGKILL")));

  const agent = new http.Agent({ keepAlive: true, maxSockets: 2048 });
  const get = (port: number, p: string, method = "GET") =>
    new Promise<number>((resolve) => {
      const req = http.request({ host: "127.0.0.1", port, path: p, method, agent }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      });
      req.on("error", () => resolve(0));
      req.end();
    });
  for (let deadline = Date.now() + 20_000; (await get(ports.probe, "/healthz")) !== 200; ) {
    if (Date.now() > deadline || sidecar.exitCode !== null) throw new Error(`${path}: sidecar did not start: ${stderrTail}`);
    await Bun.sleep(50);
  }

  const target = path === "config" ? UPDATES : REQUESTS;
  const t0 = Date.now();
  const minEnd = t0 + minutesFor(path) * 60_000;
  let n = 0;
  let errors = 0;
  const more = () => n < target || Date.now() < minEnd;
  const samples: Sample[] = [];
  const sampler = setInterval(() => {
    samples.push({ t: (Date.now() - t0) / 1000, n, mib: rssOf(sidecar.pid!).rss });
    api.requests.length = 0; // the fake API server's own log is not what is measured
  }, 1000);
  const workers = (count: number, one: (w: number, i: number) => Promise<void>) =>
    Promise.all(Array.from({ length: count }, async (_, w) => {
      for (let i = 0; more(); i++) await one(w, i);
    }));
  const expect = (ok: boolean) => {
    if (!ok) errors++;
  };

  switch (path) {
    case "probe-up":
      await workers(8, async () => {
        expect((await get(ports.probe, "/ready")) === 200);
        n++;
      });
      break;
    case "probe-refused":
    case "probe-timeout":
      // Every answer is 500 (no answer from MinIO); probe-timeout needs many in flight, each waits 500 ms.
      await workers(path === "probe-timeout" ? 1000 : 8, async () => {
        expect((await get(ports.probe, "/ready")) === 500);
        n++;
      });
      break;
    case "metrics":
      await workers(8, async (_w, i) => {
        expect((await get(ports.probe, i % 2 ? "/status" : "/metrics")) === 200);
        n++;
      });
      break;
    case "webhook":
      await workers(8, async (w, i) => {
        const bucket = `leak-${w}-${Math.floor(i / 2) % 50}`;
        expect((await get(ports.webhook, `/webhook/v1/bucketsrv/${NS}/myminio?bucket=${bucket}&delete=${i % 2 === 1}`, "POST")) === 200);
        n++;
      });
      break;
    case "config":
      for (let step = 1; more(); step++) {
        api.update(secret(step));
        const want = `MINIO_STEP="${step}"`;
        const deadline = Date.now() + 10_000;
        while (!readFileSync(configFile, "utf8").includes(want)) {
          if (Date.now() > deadline) {
            errors++;
            break;
          }
          await Bun.sleep(1);
        }
        n++;
      }
      break;
  }
  clearInterval(sampler);
  const seconds = (Date.now() - t0) / 1000;
  agent.destroy();
  sidecar.kill("SIGTERM");
  const exit = await exited;
  children.forEach((c) => c.exitCode === null && c.kill("SIGTERM"));
  await api.close();
  rmSync(work, { recursive: true, force: true });

  // Per-minute minima, and the trend after the climb.
  const minima = new Map<number, Sample>();
  for (const s of samples) {
    const m = Math.floor(s.t / 60);
    if (!minima.has(m) || minima.get(m)!.mib > s.mib) minima.set(m, s);
  }
  const perMinute = [...minima.values()];
  const warmN = n * WARMUP_FRACTION;
  const after = perMinute.filter((s) => s.n >= warmN && s.t >= 120);
  const pts = after.map((s) => [s.n, s.mib] as const);
  const { slope, standardError } = lsq(pts); // MiB per request
  const robust = theilSen(pts);
  const scale = path === "config" ? 100_000 : 1_000_000;
  return {
    path,
    requests: n,
    seconds,
    errors,
    minima: perMinute,
    slope: slope * scale,
    unit: path === "config" ? "MiB per 100,000 updates" : "MiB per million requests",
    perMillion: slope * 1_000_000,
    robustPerMillion: robust * 1_000_000,
    sePerMillion: standardError * 1_000_000,
    first: after[0]?.mib ?? NaN,
    last: after.at(-1)?.mib ?? NaN,
    exit,
  };
}

/**
 * Theil-Sen slope (median of the pairwise slopes): printed next to the
 * least-squares one, which decides, to show whether one odd minute (a GC
 * that came late, a burst of JIT work) drives the trend.
 */
function theilSen(pts: ReadonlyArray<readonly [number, number]>): number {
  const slopes: number[] = [];
  for (let i = 0; i < pts.length; i++) for (let j = i + 1; j < pts.length; j++) if (pts[j]![0] !== pts[i]![0]) slopes.push((pts[j]![1] - pts[i]![1]) / (pts[j]![0] - pts[i]![0]));
  return slopes.length ? median(slopes) : NaN;
}

/**
 * Least-squares slope of y against x, and its standard error: how far noise
 * alone moves it (about two of them either way; NaN below three points).
 */
function lsq(pts: ReadonlyArray<readonly [number, number]>): { slope: number; standardError: number } {
  if (pts.length < 2) return { slope: NaN, standardError: NaN };
  const mx = pts.reduce((a, p) => a + p[0], 0) / pts.length;
  const my = pts.reduce((a, p) => a + p[1], 0) / pts.length;
  const sxx = pts.reduce((a, p) => a + (p[0] - mx) ** 2, 0);
  const slope = pts.reduce((a, p) => a + (p[0] - mx) * (p[1] - my), 0) / sxx;
  const residuals = pts.reduce((a, p) => a + (p[1] - my - slope * (p[0] - mx)) ** 2, 0);
  return { slope, standardError: pts.length < 3 ? NaN : Math.sqrt(residuals / (pts.length - 2) / sxx) };
}

const runs: Run[] = [];
for (const p of paths) {
  console.log(`== ${p}: at least ${p === "config" ? `${UPDATES} updates` : `${REQUESTS} requests`} and ${minutesFor(p)} minutes`);
  const r = await runPath(p);
  runs.push(r);
  console.log(
    `${p}: ${r.requests} in ${fmt(r.seconds, 0)} s (${fmt(r.requests / r.seconds, 0)}/s), ${r.errors} unexpected answers, sidecar exit ${r.exit}\n` +
      `  per-minute RSS minima (MiB): ${r.minima.map((m) => fmt(m.mib)).join(" ")}\n` +
      `  after the climb: ${fmt(r.first)} -> ${fmt(r.last)} MiB; trend ${fmt(r.slope, 2)} ${r.unit} (${fmt(r.perMillion, 2)} ± ${fmt(r.sePerMillion, 2)} MiB per million; goal < ${GOAL_MIB_PER_MILLION}: ${r.perMillion < GOAL_MIB_PER_MILLION ? "met" : "NOT met"}); Theil-Sen ${fmt(r.robustPerMillion, 2)} MiB per million`,
  );
}

const figures: Figure[] = runs.map((r) => ({
  figure: `leak run ${r.path}: RSS trend after the plateau (${r.requests} ${r.path === "config" ? "updates" : "requests"}, per-minute minima)`,
  value: +fmt(r.perMillion, 2),
  unit: "MiB per million",
  goal: `< ${GOAL_MIB_PER_MILLION}`,
  met: r.perMillion < GOAL_MIB_PER_MILLION && r.errors === 0 && r.exit === 0,
}));

if (paths.length === PATHS.length) {
  const cpu = cpus();
  const md = [
    "# Accelerated leak runs",
    "",
    `Generated by \`bun bench/leak.ts\` on ${new Date().toISOString().slice(0, 10)} (${cpu.length} cores, Bun ${Bun.version}), compiled sidecar.`,
    `Growth = least-squares slope of the per-minute RSS minima against requests, after the first ${WARMUP_FRACTION * 100}% of the requests and 2 minutes (the climb to the plateau). Goal: < ${GOAL_MIB_PER_MILLION} MiB per million. "±" is the slope's standard error (noise alone moves the figure by about two of them). "Theil-Sen" is the median of the pairwise slopes of the same points, per million: where it is far below the least-squares figure, one odd minute drives the trend.`,
    "",
    "| path | requests | rate | unexpected answers | RSS after the climb | growth | per million ± standard error (Theil-Sen) | verdict | per-minute minima (MiB) |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...runs.map(
      (r, i) =>
        `| ${r.path} | ${r.requests} | ${fmt(r.requests / r.seconds, 0)}/s | ${r.errors} | ${fmt(r.first)} -> ${fmt(r.last)} MiB | ${fmt(r.slope, 2)} ${r.unit} | ${fmt(r.perMillion, 2)} ± ${fmt(r.sePerMillion, 2)} (${fmt(r.robustPerMillion, 2)}) | ${figures[i]!.met ? "met" : "**NOT met**"} | ${r.minima.map((m) => fmt(m.mib)).join(" ")} |`,
    ),
    "",
  ].join("\n");
  writeFileSync("bench/LEAK-REPORT.md", md);
  console.log("wrote bench/LEAK-REPORT.md");
}
result(figures);
process.exit(0);
