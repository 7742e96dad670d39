/**
 * Bucket-DNS webhook cost: for each of N buckets, a create then a delete
 * through the compiled sidecar's webhook (the sidecar then does create
 * Service; delete with the uid it remembered as precondition), next to the
 * bare Kubernetes API calls for the same job made directly with
 * @kubernetes/client-node from this process (create the Service, delete it
 * with its uid as precondition), in the same run,
 * interleaved bucket by bucket. Both go to the same fake API server (https,
 * CA in the kubeconfig) running in a process of its own. A third row, two
 * webhook POSTs the sidecar answers without any API call (400, invalid
 * name), shows what the extra hop alone (client -> sidecar over loopback)
 * costs. The sidecar runs with --log-level error (no line per request).
 * Goal: webhook total / direct total <= 1.3.
 *
 *   npm run build && bun bench/webhook.ts        (N=1000 by default)
 */
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, CustomObjectsApi, KubeConfig, type V1Service } from "@kubernetes/client-node";
import { startSidecar } from "../test/support/sidecar.ts";
import { fmt, percentile, requireProduct, result, spawnReady } from "./lib.ts";

const N = Number(process.env.N ?? 1000);
const WARMUP = 50;
const GOAL = 1.3;
const BLOCK = Math.max(1, Number(process.env.BLOCK ?? 1));
const NS = "minio-tenant";

const bin = requireProduct();
const dir = await mkdtemp(join(tmpdir(), "bench-webhook-"));
const kubeconfig = join(dir, "kubeconfig.yaml");

const { proc: cluster, url: apiUrl } = await spawnReady(["scripts/dev-cluster.ts", "--kubeconfig", kubeconfig, "--port", "0"], "dev-cluster");
// Whatever happens (a failed start included), no child outlives this script.
const children: ChildProcess[] = [cluster];
process.on("exit", () => children.forEach((c) => c.exitCode === null && c.kill("SIGKILL")));

process.env.SIDECAR_BIN = bin;
const sc = await startSidecar({ kubeconfig, namespace: NS, configFile: join(dir, "config.env"), args: ["--log-level", "error"] });
children.push(sc.proc);

const kc = new KubeConfig();
kc.loadFromFile(kubeconfig);
const core = kc.makeApiClient(CoreV1Api);
const tenant = (
  (await kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ group: "minio.min.io", version: "v2", namespace: NS, plural: "tenants", name: "myminio" })) as {
    metadata: { uid: string };
  }
).metadata.uid;

/** The Service the sidecar creates (bucket-services.ts), so both sides send the same bytes. */
const body = (name: string): V1Service => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: {
    name,
    namespace: NS,
    labels: { "app.kubernetes.io/managed-by": "minio-operator-sidecar", "v1.min.io/tenant": "myminio" },
    ownerReferences: [{ apiVersion: "minio.min.io/v2", kind: "Tenant", name: "myminio", uid: tenant, controller: true, blockOwnerDeletion: true }],
  },
  spec: { type: "ExternalName", externalName: `minio.${NS}.svc.cluster.local`, ports: [{ name: "https-minio", port: 443, targetPort: 9000, protocol: "TCP" }] },
});

/** The webhook call as MinIO makes it: a POST without a body, keep-alive (fetch pools connections). */
async function post(path: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${sc.ports.webhook}${path}`, { method: "POST" });
  await res.arrayBuffer();
  return res.status;
}

async function viaWebhook(bucket: string): Promise<number> {
  const t0 = performance.now();
  const a = await post(`/webhook/v1/bucketsrv/${NS}/myminio?bucket=${bucket}`);
  const b = await post(`/webhook/v1/bucketsrv/${NS}/myminio?bucket=${bucket}&delete=true`);
  const ms = performance.now() - t0;
  if (a !== 200 || b !== 200) throw new Error(`webhook answered ${a}/${b} for ${bucket}`);
  return ms;
}

/** Two POSTs the sidecar answers itself (400, invalid name: no API call): the cost of the extra hop alone. */
async function hopFloor(): Promise<number> {
  const t0 = performance.now();
  const a = await post(`/webhook/v1/bucketsrv/${NS}/myminio?bucket=Not.A.Service`);
  const b = await post(`/webhook/v1/bucketsrv/${NS}/myminio?bucket=Not.A.Service&delete=true`);
  const ms = performance.now() - t0;
  if (a !== 400 || b !== 400) throw new Error(`expected 400, got ${a}/${b}`);
  return ms;
}

async function direct(bucket: string): Promise<number> {
  const t0 = performance.now();
  const created = await core.createNamespacedService({ namespace: NS, body: body(bucket) });
  await core.deleteNamespacedService({ namespace: NS, name: bucket, body: { preconditions: { uid: created.metadata?.uid } } });
  return performance.now() - t0;
}

try {
  const hook: number[] = [];
  const bare: number[] = [];
  const floor: number[] = [];
  // BLOCK buckets one way, then BLOCK the other (BLOCK=1: strictly alternating).
  for (let i = 0; i < WARMUP + N; i += BLOCK) {
    for (let j = i; j < Math.min(i + BLOCK, WARMUP + N); j++) {
      const ms = await viaWebhook(`wh-${j}`);
      if (j >= WARMUP) hook.push(ms);
    }
    for (let j = i; j < Math.min(i + BLOCK, WARMUP + N); j++) {
      const ms = await direct(`bare-${j}`);
      if (j >= WARMUP) bare.push(ms);
    }
    for (let j = i; j < Math.min(i + BLOCK, WARMUP + N); j++) {
      const ms = await hopFloor();
      if (j >= WARMUP) floor.push(ms);
    }
  }
  const sum = (xs: number[]) => xs.reduce((x, y) => x + y, 0);
  const row = (name: string, xs: number[]) =>
    `${name.padEnd(44)} total ${fmt(sum(xs), 0)} ms  per bucket p50 ${fmt(percentile(xs, 50), 2)} ms  p99 ${fmt(percentile(xs, 99), 2)} ms`;
  const ratio = sum(hook) / sum(bare);
  console.log(`${N} buckets, create + delete each (after ${WARMUP} warm-up), interleaved; API server ${apiUrl} (fake, https, own process)`);
  console.log(row("webhook via the compiled sidecar", hook));
  console.log(row("client-node direct: create, delete", bare));
  console.log(row("hop floor: 2 POSTs answered without API call", floor));
  console.log(`ratio webhook/direct ${fmt(ratio, 2)} (p50 ${fmt(percentile(hook, 50) / percentile(bare, 50), 2)}, p99 ${fmt(percentile(hook, 99) / percentile(bare, 99), 2)})`);
  console.log(`webhook minus hop floor vs direct: ${fmt((sum(hook) - sum(floor)) / sum(bare), 2)} (what the sidecar adds besides the extra loopback hop)`);
  console.log(`goal: ratio <= ${GOAL}: ${ratio <= GOAL ? "met" : "NOT met"} (${fmt(ratio, 2)})`);
  result([
    {
      figure: `webhook create+delete, ${N} buckets (total)`,
      value: Math.round(sum(hook)),
      unit: "ms",
      baseline: Math.round(sum(bare)),
      baselineLabel: "client-node create+delete",
      goal: `<= ${GOAL}x (the extra hop alone: ${Math.round(sum(floor))} ms)`,
      met: ratio <= GOAL,
    },
  ]);
} finally {
  await sc.stop();
  cluster.kill("SIGTERM");
  await rm(dir, { recursive: true, force: true });
}
