/**
 * Resident memory of the compiled sidecar after a day-in-the-life workload
 * (issue 11): 3,000 GET /ready (MinIO up), 600 alternating /metrics and
 * /status, 300 bucket-webhook create/delete pairs, 100 Secret updates (each
 * waited for until the file is rewritten). VmRSS is read SETTLE_MS after the
 * last request; VmHWM (the peak) is printed too. ROUNDS fresh sidecars,
 * median. Goal: <= 64 MiB. The fake API server and fake MinIO run in this
 * process (their memory is not the sidecar's).
 *
 *   npm run build && bun bench/workload-rss.ts    (ROUNDS=3 SETTLE_MS=10000)
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFakeApiServer } from "../test/fake-apiserver/index.ts";
import { startFakeMinio } from "../test/fake-minio/index.ts";
import { pool, tenant } from "../test/support/objects.ts";
import { startSidecar } from "../test/support/sidecar.ts";
import { dropPageCache, fmt, median, requireProduct, result } from "./lib.ts";
import { rssOf } from "./probes.ts";

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SETTLE_MS = Number(process.env.SETTLE_MS ?? 10_000);
const GOAL_MIB = 64;
const NS = "workload";
process.env.SIDECAR_BIN = requireProduct();

const secret = (i: number) => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name: "storage-configuration", namespace: NS },
  stringData: { "config.env": `export MINIO_ROOT_USER="admin"\nexport MINIO_ROOT_PASSWORD="workload-password"\nexport MINIO_STEP="${i}"\n` },
});
const api = await startFakeApiServer({
  objects: [tenant({ configuration: { name: "storage-configuration" }, features: { bucketDNS: true }, pools: [pool()] }, "myminio", NS), secret(0)],
});
const minio = await startFakeMinio({ buckets: ["alpha"], accessKey: "admin", secretKey: "workload-password" });
const work = mkdtempSync(join(tmpdir(), "workload-rss-"));
const kubeconfig = join(work, "kubeconfig");
await api.writeKubeconfig(kubeconfig, { namespace: NS });

const drain = (r: Response) => r.arrayBuffer().then(() => r.status);
const rss: number[] = [];
const peak: number[] = [];
try {
  for (let round = 0; round < ROUNDS; round++) {
    const configFile = join(work, `config-${round}.env`);
    dropPageCache(process.env.SIDECAR_BIN!); // RSS from read-in pages (bench/lib.ts says why)
    const sc = await startSidecar({ kubeconfig, namespace: NS, configFile, args: ["--minio-url", minio.url] });
    await sc.waitForLog((l) => l.msg === "sidecar serving", 20_000);
    // Four clients at a time, as a kubelet, Prometheus and MinIO would overlap.
    const parallel = async (n: number, one: (i: number) => Promise<unknown>) => {
      let next = 0;
      await Promise.all(Array.from({ length: 4 }, async () => {
        while (next < n) await one(next++);
      }));
    };
    await parallel(3000, () => sc.probe("/ready").then(drain));
    await parallel(600, (i) => sc.probe(i % 2 ? "/status" : "/metrics").then(drain));
    await parallel(300, async (i) => {
      const hook = (del: boolean) => sc.webhook(`/webhook/v1/bucketsrv/${NS}/myminio?bucket=wl-${round}-${i}&delete=${del}`, { method: "POST" }).then(drain);
      if ((await hook(false)) !== 200 || (await hook(true)) !== 200) throw new Error("webhook call failed");
    });
    for (let i = 1; i <= 100; i++) {
      api.update(secret(i * 1000 + round));
      const want = `MINIO_STEP="${i * 1000 + round}"`;
      const deadline = Date.now() + 10_000;
      while (!readFileSync(configFile, "utf8").includes(want)) {
        if (Date.now() > deadline) throw new Error(`Secret update ${i} not written`);
        await Bun.sleep(2);
      }
    }
    await Bun.sleep(SETTLE_MS);
    const r = rssOf(sc.proc.pid!);
    const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${sc.proc.pid}/status`, "utf8"))![1]) / 1024;
    rss.push(r.rss);
    peak.push(hwm);
    console.log(`round ${round + 1}: RSS ${fmt(r.rss)} MiB (file ${fmt(r.file)}, anon ${fmt(r.anon)}), peak ${fmt(hwm)} MiB`);
    await sc.stop();
    api.requests.length = 0;
    minio.requests.length = 0;
  }
} finally {
  await api.close();
  await minio.stop();
  rmSync(work, { recursive: true, force: true });
}
const m = median(rss);
console.log(`sidecar RSS ${SETTLE_MS / 1000} s after the workload, median of ${ROUNDS}: ${fmt(m)} MiB (peak ${fmt(median(peak))}); goal <= ${GOAL_MIB} MiB: ${m <= GOAL_MIB ? "met" : "NOT met"}`);
result([
  {
    figure: "sidecar RSS after the workload (3000 /ready, 600 /metrics+/status, 300 webhook pairs, 100 Secret updates)",
    value: +fmt(m),
    unit: "MiB",
    goal: `<= ${GOAL_MIB} MiB`,
    met: m <= GOAL_MIB,
  },
]);
