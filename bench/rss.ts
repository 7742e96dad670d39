/**
 * Memory of the compiled sidecar does not grow with the namespace: VmRSS
 * (from /proc/PID/status) after IDLE_MS idle, with 0 and with 10,000 other
 * Secrets in the namespace. Both sidecars run side by side, each against its
 * own fake API server (https, least-privilege token), so machine noise hits
 * both alike; ROUNDS rounds, medians compared. Each round starts from a
 * cold page cache (dropPageCache in ./lib.ts); one more sidecar from a
 * just-written copy shows the other state. Goals: ratio <= 1.05, and
 * (issue 11) the small-namespace sidecar at most 45 MiB.
 *
 *   npm run build && bun bench/rss.ts     (IDLE_MS=10000 ROUNDS=3 OTHERS=10000)
 */
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadAll } from "js-yaml";
import { startFakeApiServer, type FakeApiServer } from "../test/fake-apiserver/index.ts";
import { freePort } from "../test/support/sidecar.ts";
import { dropPageCache, fmt, median, requireProduct, result } from "./lib.ts";

const IDLE_MS = Number(process.env.IDLE_MS ?? 10_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const OTHERS = Number(process.env.OTHERS ?? 10_000);
const GOAL = 1.05;
const GOAL_IDLE_MIB = 45;
const NS = "minio-tenant";
const bin = requireProduct();

const docs = async (f: string) => loadAll(await readFile(f, "utf8")) as Record<string, unknown>[];
const examples = [...(await docs("deploy/examples/tenant.yaml")), ...(await docs("deploy/examples/secret.yaml"))];

async function cluster(others: number): Promise<FakeApiServer> {
  const api = await startFakeApiServer({
    tokens: {
      sidecar: [
        { apiGroups: ["minio.min.io"], resources: ["tenants"], verbs: ["get", "list", "watch"], resourceNames: ["myminio"], namespaces: [NS] },
        { apiGroups: [""], resources: ["secrets"], verbs: ["get", "list", "watch"], resourceNames: ["storage-configuration"], namespaces: [NS] },
      ],
    },
    objects: examples,
  });
  // Other tenants' and applications' Secrets: ~1 KiB each, like typical config Secrets.
  for (let i = 0; i < others; i++) {
    api.create({ apiVersion: "v1", kind: "Secret", metadata: { name: `other-${i}`, namespace: NS }, data: { "config.env": btoa(`OTHER_${i}=${"x".repeat(768)}`) } });
  }
  return api;
}

const vmRss = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;

async function startSidecar(api: FakeApiServer, dir: string, binary = bin): Promise<{ proc: ChildProcess; file: string }> {
  const kubeconfig = join(dir, "kubeconfig.yaml");
  await api.writeKubeconfig(kubeconfig, { token: "sidecar", namespace: NS });
  const file = join(dir, "config.env");
  const ports = [await freePort(), await freePort(), await freePort()];
  const proc = spawn(
    binary,
    [
      "sidecar", "--tenant", "myminio", "--config-name", "storage-configuration", "--namespace", NS, "--kubeconfig", kubeconfig, "--config-file", file,
      "--probe-address", `127.0.0.1:${ports[0]}`, "--webhook-address", `127.0.0.1:${ports[1]}`, "--sidecar-address", `127.0.0.1:${ports[2]}`,
    ],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  const deadline = Date.now() + 20_000;
  while (!existsSync(file)) {
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error("sidecar did not write its file");
    await new Promise((r) => setTimeout(r, 20));
  }
  return { proc, file };
}

const apis = { none: await cluster(0), many: await cluster(OTHERS) };
const secretsListed = (api: FakeApiServer) => api.requests.filter((r) => r.resource === "secrets" && r.verb === "list" && !r.name).length;
const rss = { none: [] as number[], many: [] as number[] };
const dir = await mkdtemp(join(tmpdir(), "bench-rss-"));
try {
  for (let round = 0; round < ROUNDS; round++) {
    dropPageCache(bin); // RSS from read-in pages (bench/lib.ts says why)
    const started = {
      none: await startSidecar(apis.none, await mkdtemp(join(dir, "none-"))),
      many: await startSidecar(apis.many, await mkdtemp(join(dir, "many-"))),
    };
    await new Promise((r) => setTimeout(r, IDLE_MS));
    for (const k of ["none", "many"] as const) {
      rss[k].push(vmRss(started[k].proc.pid!));
      started[k].proc.kill("SIGTERM");
      await new Promise((r) => started[k].proc.once("exit", r));
    }
    console.log(`round ${round + 1}: RSS with 0 other Secrets ${fmt(rss.none.at(-1)!)} MiB, with ${OTHERS} ${fmt(rss.many.at(-1)!)} MiB`);
  }
  // The other page-cache state, for the record: the binary just written in one piece (as right after a build).
  const fresh = join(dir, "just-written");
  writeFileSync(fresh, readFileSync(bin));
  chmodSync(fresh, 0o755);
  const f = await startSidecar(apis.none, await mkdtemp(join(dir, "fresh-")), fresh);
  await new Promise((r) => setTimeout(r, IDLE_MS));
  const justWritten = vmRss(f.proc.pid!);
  f.proc.kill("SIGTERM");
  await new Promise((r) => f.proc.once("exit", r));
  const none = median(rss.none);
  const many = median(rss.many);
  console.log(`sidecar (compiled) VmRSS after ${IDLE_MS / 1000} s idle, median of ${ROUNDS}:`);
  console.log(`  0 other Secrets in the namespace       ${fmt(none)} MiB (baseline)`);
  console.log(`  ${OTHERS} other Secrets in the namespace  ${fmt(many)} MiB`);
  console.log(`  binary just written (large folios in the page cache), 0 other Secrets: ${fmt(justWritten)} MiB`);
  console.log(`  ratio ${fmt(many / none, 3)} (goal <= ${GOAL}: ${many / none <= GOAL ? "met" : "NOT met"})`);
  result([
    { figure: "sidecar RSS after 10 s idle, 0 other Secrets", value: +none.toFixed(1), unit: "MiB", goal: `<= ${GOAL_IDLE_MIB} MiB`, met: none <= GOAL_IDLE_MIB },
    { figure: "sidecar RSS after 10 s idle, binary just written (not read back from disk)", value: +justWritten.toFixed(1), unit: "MiB" },
    { figure: `sidecar RSS after 10 s idle, ${OTHERS} other Secrets`, value: +many.toFixed(1), unit: "MiB", baseline: +none.toFixed(1), baselineLabel: "0 other Secrets", goal: `ratio <= ${GOAL}`, met: many / none <= GOAL },
  ]);
  console.log(`  namespace-wide Secret lists seen by the API servers: ${secretsListed(apis.none) + secretsListed(apis.many)}`);
} finally {
  await Promise.all([apis.none.close(), apis.many.close()]);
  await rm(dir, { recursive: true, force: true });
}
