/**
 * Soak: the compiled sidecar under a steady mix of Secret/Tenant updates,
 * readiness probes and webhook traffic, RSS sampled every second. Reports
 * RSS growth per hour after warm-up (least-squares slope of the samples).
 * Goal: no growth beyond noise, at most 1 MiB per hour.
 *
 *   npm run soak -- --minutes N     (default 2)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFakeApiServer } from "../test/fake-apiserver/index.ts";
import { startFakeMinio } from "../test/fake-minio/index.ts";
import { startSidecar } from "../test/support/sidecar.ts";
import { pool, tenant } from "../test/support/objects.ts";
import { fmt, requireProduct, result, rssKiB } from "./lib.ts";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
};
const minutes = Number(arg("minutes", "2"));
const warmupFraction = 0.25;
process.env.SIDECAR_BIN = requireProduct();

const NS = "soak";
const secret = (i: number) => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name: "storage-configuration", namespace: NS },
  stringData: { "config.env": `MINIO_ROOT_USER=admin\nMINIO_ROOT_PASSWORD=soak-password\nMINIO_STEP=${i}\n` },
});
const api = await startFakeApiServer({
  objects: [tenant({ configuration: { name: "storage-configuration" }, features: { bucketDNS: true }, pools: [pool()] }, "myminio", NS), secret(0)],
});
const minio = await startFakeMinio({ buckets: ["alpha", "beta"], accessKey: "admin", secretKey: "soak-password" });
const work = mkdtempSync(join(tmpdir(), "soak-"));
const kubeconfig = join(work, "kubeconfig");
await api.writeKubeconfig(kubeconfig, { namespace: NS });
const sc = await startSidecar({ kubeconfig, namespace: NS, configFile: join(work, "config.env"), args: ["--minio-url", minio.url] });
const pid = sc.proc.pid!;

const endAt = Date.now() + minutes * 60_000;
let updates = 0;
let probes = 0;
let hooks = 0;
const loops = [
  // 2 config changes per second
  (async () => {
    while (Date.now() < endAt) {
      api.update(secret(++updates));
      await Bun.sleep(500);
    }
  })(),
  // 20 probe requests per second (/ready, /status, /metrics)
  (async () => {
    const paths = ["/ready", "/status", "/metrics", "/healthz"];
    while (Date.now() < endAt) {
      await sc.probe(paths[probes++ % paths.length]!).then((r) => r.arrayBuffer(), () => undefined);
      await Bun.sleep(50);
    }
  })(),
  // 10 webhook calls per second: create and delete a rotating set of buckets
  (async () => {
    while (Date.now() < endAt) {
      const b = `soak-${hooks % 100}`;
      const del = Math.floor(hooks / 100) % 2 === 1;
      hooks++;
      await sc.webhook(`/webhook/v1/bucketsrv/${NS}/myminio?bucket=${b}&delete=${del}`, { method: "POST" }).then((r) => r.arrayBuffer(), () => undefined);
      await Bun.sleep(100);
    }
  })(),
];

const samples: Array<{ t: number; kib: number }> = [];
const t0 = Date.now();
while (Date.now() < endAt) {
  samples.push({ t: (Date.now() - t0) / 1000, kib: rssKiB(pid) });
  await Bun.sleep(1_000);
}
await Promise.all(loops);
const { code } = await sc.stop();
await api.close();
await minio.stop();
rmSync(work, { recursive: true, force: true });

const steady = samples.slice(Math.floor(samples.length * warmupFraction));
/** Least-squares slope of points, in KiB per second. */
const slope = (pts: Array<{ t: number; kib: number }>) => {
  const mt = pts.reduce((a, s) => a + s.t, 0) / pts.length;
  const mk = pts.reduce((a, s) => a + s.kib, 0) / pts.length;
  return pts.reduce((a, s) => a + (s.t - mt) * (s.kib - mk), 0) / pts.reduce((a, s) => a + (s.t - mt) ** 2, 0);
};
// RSS swings by several MiB with each GC cycle; the lowest sample of each
// minute (just after a collection) tracks what is really retained, so its
// trend is the headline figure; the slope over every sample is shown too.
const minima = new Map<number, { t: number; kib: number }>();
for (const s of steady) {
  const m = Math.floor(s.t / 60);
  if (!minima.has(m) || minima.get(m)!.kib > s.kib) minima.set(m, s);
}
const perHour = (kibPerSec: number) => (kibPerSec * 3600) / 1024;
const allSamples = perHour(slope(steady));
const mibPerHour = minima.size >= 3 ? perHour(slope([...minima.values()])) : allSamples;
const first = steady[0]?.kib ?? 0;
const last = steady.at(-1)?.kib ?? 0;
console.log(`soak ${minutes} min: ${updates} config updates, ${probes} probe requests, ${hooks} webhook calls; sidecar exit ${code}`);
console.log(`RSS after warm-up: ${fmt(first / 1024)} -> ${fmt(last / 1024)} MiB (min ${fmt(Math.min(...steady.map((s) => s.kib)) / 1024)}, max ${fmt(Math.max(...steady.map((s) => s.kib)) / 1024)})`);
console.log(`RSS growth, trend of per-minute minima: ${fmt(mibPerHour, 2)} MiB/hour over ${minima.size} minutes after ${Math.round(warmupFraction * 100)}% warm-up (goal <= 1 MiB/hour)`);
console.log(`RSS growth, least squares over all ${steady.length} samples: ${fmt(allSamples, 2)} MiB/hour (GC swings dominate short runs)`);
console.log(`per-minute RSS minima (MiB): ${[...minima.values()].map((m) => fmt(m.kib / 1024)).join(" ")}`);
result([{ figure: `soak RSS growth after warm-up (${minutes} min, trend of per-minute minima)`, value: +mibPerHour.toFixed(2), unit: "MiB/h", goal: "<= 1", met: mibPerHour <= 1 }]);
