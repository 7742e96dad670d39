/**
 * `npm run profile`: records the bytecode layout profiles that
 * `npm run build` compiles with (--bytecode-order, see ./build-flags.ts).
 *
 * A profile lists the functions one run of the executable used; the build
 * places their bytecode together at the front of the embedded code, so a
 * process faults in (and keeps resident) fewer pages of its own file. One
 * run per command, each doing what that command does in a pod:
 * - sidecar: start against the in-repo fake API server, MinIO up (the fake
 *   MinIO), serve, then what a kubelet and Prometheus do for a while
 *   (/ready, /healthz, /metrics, /status) and one Secret change rewriting
 *   the file; SIGTERM (the profile is written at exit);
 * - validate: read the Tenant and Secret over https with the cluster CA,
 *   write the file;
 * - render: the example manifests.
 * The bucket webhook is left out on purpose: it runs only in Tenants with
 * bucketDNS, and functions not in a profile are simply placed after the
 * recorded ones.
 *
 * Functions are matched by a hash of their syntax, so the committed
 * profiles stay useful as the code changes; test/bytecode-order.test.ts
 * re-records them and fails when the committed ones cover too little of a
 * fresh recording (then run this and commit the result).
 *
 *   bun scripts/record-bytecode-order.ts [--out DIR]   (default scripts/bytecode-order)
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { $ } from "bun";
import { startFakeApiServer } from "../test/fake-apiserver/index.ts";
import { startFakeMinio } from "../test/fake-minio/index.ts";
import { startSidecar } from "../test/support/sidecar.ts";
import { loadAll } from "js-yaml";
import { BYTECODE_ORDER_DIR, BYTECODE_ORDER_PROFILES, COMPILE_FLAGS } from "./build-flags.ts";

const ROOT = resolve(import.meta.dir, "..");
const outIndex = process.argv.indexOf("--out");
const outDir = resolve(outIndex > 0 ? process.argv[outIndex + 1]! : BYTECODE_ORDER_DIR);
mkdirSync(outDir, { recursive: true });
const profile = (name: (typeof BYTECODE_ORDER_PROFILES)[number]) => join(outDir, `${name}.order`);

const work = mkdtempSync(join(tmpdir(), "bytecode-order-"));
// Built without a profile, from the same flags as the product: the hashes are of the same code.
const bin = join(work, "minio-operator-sidecar");
await $`bun build ${join(ROOT, "src/main.ts")} ${COMPILE_FLAGS} --outfile ${bin}`.quiet();

const examples = ["deploy/examples/tenant.yaml", "deploy/examples/secret.yaml"].map((f) => join(ROOT, f));
const objects = examples.flatMap((f) => loadAll(readFileSync(f, "utf8")) as Record<string, unknown>[]);
const secret = objects.find((o) => o.kind === "Secret")! as { metadata: { name: string; namespace: string }; stringData?: Record<string, string> };
const NS = secret.metadata.namespace;
const api = await startFakeApiServer({ objects });
// MinIO serves https in a Tenant with requestAutoCert (the example): the probe's TLS path.
const minio = await startFakeMinio({ tls: true, buckets: ["alpha"] });
const kubeconfig = join(work, "kubeconfig.yaml");
await api.writeKubeconfig(kubeconfig, { namespace: NS });

async function run(args: string[], env: Record<string, string>): Promise<void> {
  const proc = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "inherit"] });
  const code = await new Promise<number | null>((r) => proc.once("exit", r));
  if (code !== 0) throw new Error(`${args[0]} exited ${code}`);
}

try {
  process.env.SIDECAR_BIN = bin;
  const configFile = join(work, "sidecar-config.env");
  const sc = await startSidecar({ kubeconfig, namespace: NS, configFile, args: ["--minio-url", minio.url], env: { BUN_BYTECODE_ORDER_OUT: profile("sidecar") } });
  await sc.waitForLog((l) => l.msg === "sidecar serving", 20_000);
  const drain = (r: Response) => r.arrayBuffer().then(() => r.status);
  for (let i = 0; i < 200; i++) {
    await sc.probe("/ready").then(drain);
    if (i % 10 === 0) await Promise.all(["/healthz", "/metrics", "/status"].map((path) => sc.probe(path).then(drain)));
  }
  const text = readFileSync(configFile, "utf8");
  api.update({ ...secret, stringData: { ...secret.stringData, "config.env": `${secret.stringData?.["config.env"] ?? ""}export MINIO_PROFILE_STEP="1"\n` } });
  const deadline = Date.now() + 10_000;
  while (readFileSync(configFile, "utf8") === text) {
    if (Date.now() > deadline) throw new Error("the Secret change was not written");
    await Bun.sleep(10);
  }
  const { code } = await sc.stop();
  if (code !== 0) throw new Error(`sidecar exited ${code}: ${sc.stderr()}`);

  await run(["validate", "--tenant", "myminio", "--namespace", NS, "--kubeconfig", kubeconfig, "--config-file", join(work, "validate-config.env")], { BUN_BYTECODE_ORDER_OUT: profile("validate") });
  await run(["render", "--tenant-file", examples[0]!, "--secret-file", examples[1]!], { BUN_BYTECODE_ORDER_OUT: profile("render") });
  for (const name of BYTECODE_ORDER_PROFILES) {
    const n = readFileSync(profile(name), "utf8").trim().split("\n").length - 1;
    console.log(`${profile(name)}: ${n} functions`);
  }
} finally {
  await api.close();
  await minio.stop();
  rmSync(work, { recursive: true, force: true });
}
