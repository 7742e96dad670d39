/**
 * `GET /ready` latency of the compiled sidecar, next to the baseline of the
 * same `HEAD /minio/health/live` sent directly to the MinIO stub, measured
 * in the same run, interleaved request by request (so drift and noise hit
 * both alike). Sequential requests, one keep-alive connection per target.
 * Goal: p99 overhead (sidecar p99 - direct p99) <= 2 ms. For reading the
 * figures, `/healthz` of the same sidecar (same server, no MinIO call) is
 * measured alongside: the sidecar's own HTTP floor.
 *
 *   npm run build && bun bench/ready.ts        (N=5000 by default; SCHEME=https for a TLS stub)
 *
 * The MinIO stub (test/fake-minio, answering like MinIO with Content-Length)
 * runs in a process of its own, as MinIO would: the baseline is then one
 * hop to another process, the sidecar path two (client -> sidecar -> stub).
 * The fake API server (example Tenant and Secret) runs in this process; it
 * is not on the measured path. The sidecar is the compiled binary.
 */
import type { ChildProcess } from "node:child_process";
import http from "node:http";
import https from "node:https";
import { startFakeApiServer } from "../test/fake-apiserver/index.ts";
import { startFakeMinio } from "../test/fake-minio/index.ts";
import { startSidecar } from "../test/support/sidecar.ts";
import { mkdtemp, rm } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadAll } from "js-yaml";
import { fmt, percentile, requireProduct, result, spawnReady } from "./lib.ts";

const N = Number(process.env.N ?? 5000);
const WARMUP = 200;
const GOAL_MS = 2;
const tls = process.env.SCHEME === "https";

if (process.argv.includes("--stub")) {
  const stub = await startFakeMinio({ tls });
  console.log(`ready ${stub.url}`);
  process.on("SIGTERM", () => stub.close().then(() => process.exit(0)));
  await new Promise(() => {});
}

const bin = requireProduct();
const objects = ["deploy/examples/tenant.yaml", "deploy/examples/secret.yaml"].flatMap((f) => loadAll(readFileSync(f, "utf8")) as never[]);
const api = await startFakeApiServer({ objects });
const { proc: stubProc, url: minioUrl } = await spawnReady([new URL(import.meta.url).pathname, "--stub"], "MinIO stub");
// Whatever happens (a failed start included), no child outlives this script.
const children: ChildProcess[] = [stubProc];
process.on("exit", () => children.forEach((c) => c.exitCode === null && c.kill("SIGKILL")));
const dir = await mkdtemp(join(tmpdir(), "bench-ready-"));
const kubeconfig = join(dir, "kubeconfig");
await api.writeKubeconfig(kubeconfig, { namespace: "minio-tenant" });
process.env.SIDECAR_BIN = bin;
const sc = await startSidecar({
  kubeconfig,
  namespace: "minio-tenant",
  configFile: join(dir, "config.env"),
  args: ["--minio-url", minioUrl, "--log-level", "warn"],
});
children.push(sc.proc);

/** One sequential request over a keep-alive agent; resolves with the status and the wall time in ms. */
function timedRequest(mod: typeof http | typeof https, agent: http.Agent, url: string, method: string): Promise<{ status: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = mod.request(url, { method, agent }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
    });
    req.on("error", reject);
    req.end();
  });
}

const sidecarAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const directAgent = tls
  ? new https.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false, servername: "minio.minio-tenant.svc.cluster.local" })
  : new http.Agent({ keepAlive: true, maxSockets: 1 });
const readyUrl = `http://127.0.0.1:${sc.ports.probe}/ready`;
const liveUrl = `${minioUrl}/minio/health/live`;
const healthzUrl = `http://127.0.0.1:${sc.ports.probe}/healthz`;

try {
  const viaSidecar: number[] = [];
  const direct: number[] = [];
  const healthz: number[] = [];
  for (let i = 0; i < WARMUP + N; i++) {
    const a = await timedRequest(http, sidecarAgent, readyUrl, "GET");
    const b = await timedRequest(tls ? https : http, directAgent, liveUrl, "HEAD");
    const c = await timedRequest(http, sidecarAgent, healthzUrl, "GET");
    if (a.status !== 200 || b.status !== 200 || c.status !== 200) throw new Error(`unexpected status: /ready ${a.status}, direct HEAD ${b.status}, /healthz ${c.status}`);
    if (i >= WARMUP) {
      viaSidecar.push(a.ms);
      direct.push(b.ms);
      healthz.push(c.ms);
    }
  }
  const row = (name: string, xs: number[]) =>
    `${name.padEnd(34)} p50 ${fmt(percentile(xs, 50), 3)} ms  p90 ${fmt(percentile(xs, 90), 3)} ms  p99 ${fmt(percentile(xs, 99), 3)} ms  max ${fmt(Math.max(...xs), 3)} ms`;
  const p99Over = percentile(viaSidecar, 99) - percentile(direct, 99);
  console.log(`${N} sequential requests each (after ${WARMUP} warm-up), interleaved; MinIO stub over ${tls ? "https" : "http"}`);
  console.log(row("GET /ready via the compiled sidecar", viaSidecar));
  console.log(row(`HEAD direct to the stub (baseline)`, direct));
  console.log(row("GET /healthz (sidecar, no MinIO call)", healthz));
  console.log(`overhead p50 ${fmt(percentile(viaSidecar, 50) - percentile(direct, 50), 3)} ms, p99 ${fmt(p99Over, 3)} ms; ratio p50 ${fmt(percentile(viaSidecar, 50) / percentile(direct, 50), 2)}x, p99 ${fmt(percentile(viaSidecar, 99) / percentile(direct, 99), 2)}x`);
  console.log(`goal: p99 overhead <= ${GOAL_MS} ms: ${p99Over <= GOAL_MS ? "met" : "NOT met"} (${fmt(p99Over, 3)} ms)`);
  const r3 = (x: number) => +x.toFixed(3);
  result([
    { figure: `/ready p50 (${N} sequential, stub over ${tls ? "https" : "http"})`, value: r3(percentile(viaSidecar, 50)), unit: "ms", baseline: r3(percentile(direct, 50)), baselineLabel: "HEAD direct to the stub" },
    {
      figure: `/ready p99 (${N} sequential, stub over ${tls ? "https" : "http"})`,
      value: r3(percentile(viaSidecar, 99)),
      unit: "ms",
      baseline: r3(percentile(direct, 99)),
      baselineLabel: "HEAD direct to the stub",
      goal: `overhead <= ${GOAL_MS} ms (${fmt(p99Over, 3)} ms)`,
      met: p99Over <= GOAL_MS,
    },
  ]);
} finally {
  sidecarAgent.destroy();
  directAgent.destroy();
  await sc.stop();
  stubProc.kill("SIGTERM");
  await api.close();
  await rm(dir, { recursive: true, force: true });
}
