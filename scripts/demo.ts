/**
 * `npm run demo`: the whole thing on one machine, no cluster needed.
 *
 * 1. starts the in-repo fake Kubernetes API server (https with its own CA)
 *    holding the example Tenant and Secret (deploy/examples/), the
 *    Services the operator creates for the Tenant (`minio`, `-hl`,
 *    `-console`), and enforcing the Role shipped in deploy/rbac.yaml;
 * 2. runs `validate` (the init container) from source, writing config.env
 *    into a temporary directory;
 * 3. starts `sidecar` from source on loopback (probe 4444, webhook 4222,
 *    sidecar API 4224; free ports instead when those are taken);
 * 4. after a few seconds edits the Secret once, to show the live rewrite;
 * 5. prints what to curl (including bucket `minio`: 409, the Tenant's own
 *    Service), reports file rewrites and every Service created or deleted as
 *    it happens (from the API server's own write stream, so a create followed
 *    at once by a delete shows both), and runs until Ctrl-C, then stops
 *    everything and removes the temporary directory.
 *
 *   bun scripts/demo.ts [--smoke]
 *
 * --smoke: do all of the above once without waiting for Ctrl-C (checks the
 * rewrite, a create, the 409 for `minio` and a create followed at once by a
 * delete; exit 0 on success): for CI and for trying it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { watch } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { loadAll } from "js-yaml";
import { startFakeApiServer, type Rule } from "../test/fake-apiserver/index.ts";
import { operatorServices, tenantUsesTls } from "./operator-services.ts";

const ROOT = resolve(import.meta.dir, "..");
const MAIN = join(ROOT, "src/main.ts");
const smoke = process.argv.includes("--smoke");
const UPDATE_AFTER_MS = smoke ? 1_000 : 5_000;

type Doc = { kind?: string; metadata?: { name?: string; namespace?: string }; rules?: Array<Record<string, string[]>> } & Record<string, unknown>;
const docs = async (file: string) => (loadAll(await readFile(join(ROOT, file), "utf8")) as Doc[]).filter(Boolean);

const tenant = (await docs("deploy/examples/tenant.yaml"))[0]!;
const secret = (await docs("deploy/examples/secret.yaml"))[0]!;
const NS = tenant.metadata!.namespace!;
const TENANT = tenant.metadata!.name!;
const SECRET = secret.metadata!.name!;

// The shipped Role, as the fake API server's RBAC (a RoleBinding in the Role's namespace).
const role = (await docs("deploy/rbac.yaml")).find((d) => d.kind === "Role")!;
const rules: Rule[] = role.rules!.map((r) => ({
  apiGroups: r.apiGroups!,
  resources: r.resources!,
  verbs: r.verbs!,
  ...(r.resourceNames ? { resourceNames: r.resourceNames } : {}),
  namespaces: [role.metadata!.namespace!],
}));

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const say = (s = "") => console.log(s.split("\n").map((l) => (l ? `demo | ${l}` : "demo |")).join("\n"));

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}
async function pickPort(wanted: number, taken: Set<number>): Promise<number> {
  if (!taken.has(wanted) && (await portFree(wanted))) return wanted;
  for (;;) {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer();
      srv.listen(0, "127.0.0.1", () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    if (!taken.has(port)) return port;
  }
}

/** Prefix every line of a child's output; the sidecar logs pino JSON lines. */
function relay(child: ChildProcess, name: string) {
  for (const stream of [child.stdout, child.stderr]) {
    let partial = "";
    stream?.on("data", (d: Buffer) => {
      partial += d;
      const lines = partial.split("\n");
      partial = lines.pop() ?? "";
      for (const l of lines) if (l) process.stdout.write(`${name} | ${l}\n`);
    });
  }
}

/** Variable names whose value differs (values are never printed: the file holds the root password). */
function changedNames(before: string, after: string): string[] {
  const vars = (s: string) => new Map(s.split("\n").filter(Boolean).map((l) => [l.slice(7, l.indexOf("=")), l] as const));
  const a = vars(before);
  const b = vars(after);
  return [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k)).sort();
}

const dir = await mkdtemp(join(tmpdir(), "minio-sidecar-demo-"));
const file = join(dir, "config", "config.env");
const kubeconfig = join(dir, "kubeconfig.yaml");
const api = await startFakeApiServer({ tokens: { sidecar: { user: `system:serviceaccount:${NS}:myminio-sidecar`, rules } }, objects: [tenant, secret] });
await api.writeKubeconfig(kubeconfig, { token: "sidecar", namespace: NS });
const storedTenant = api.get(`tenants/${NS}/${TENANT}`)!;
const ownServices = operatorServices(storedTenant, tenantUsesTls(storedTenant));
for (const svc of ownServices) api.create(svc);

let sidecar: ChildProcess | undefined;
let cleaning: Promise<void> | undefined;
const cleanup = () =>
  (cleaning ??= (async () => {
    if (sidecar && sidecar.exitCode === null && sidecar.signalCode === null) {
      const exited = new Promise((r) => sidecar!.once("exit", r));
      sidecar.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3_000))]);
      if (sidecar.exitCode === null) sidecar.kill("SIGKILL");
    }
    await api.close();
    await rm(dir, { recursive: true, force: true });
  })());
process.on("SIGINT", () => void cleanup().then(() => process.exit(0)));
process.on("SIGTERM", () => void cleanup().then(() => process.exit(0)));
async function fail(message: string): Promise<never> {
  say(`FAILED: ${message}`);
  await cleanup();
  process.exit(1);
}

say(bold("minio-operator-sidecar demo"));
say(`fake Kubernetes API server: ${api.url} (https, own CA), Tenant ${NS}/${TENANT} and Secret ${NS}/${SECRET} from deploy/examples/`);
say(`access: the Role of deploy/rbac.yaml; kubeconfig ${kubeconfig}`);
say(`the operator's Services for the Tenant: ${ownServices.map((s) => s.metadata.name).join(", ")}`);
say();

// ---- 1. validate, the init container ----------------------------------------------------------
say(bold("1. validate (init container), from source"));
const validate = spawn(process.execPath, [MAIN, "validate", "--tenant", TENANT, "--namespace", NS, "--kubeconfig", kubeconfig, "--config-file", file], {
  stdio: ["ignore", "pipe", "pipe"],
  env: { ...process.env, KUBERNETES_SERVICE_HOST: "" },
});
relay(validate, "validate");
const validateCode = await new Promise<number | null>((r) => validate.once("exit", r));
if (validateCode !== 0) await fail(`validate exited ${validateCode}`);
let content = await readFile(file, "utf8");
say(`validate exited 0 and wrote ${bold(file)} (${content.split("\n").filter(Boolean).length} variables)`);
say();

// ---- 2. the sidecar --------------------------------------------------------------------------
const taken = new Set<number>();
const ports = { probe: 0, webhook: 0, sidecar: 0 };
for (const [k, wanted] of [["probe", 4444], ["webhook", 4222], ["sidecar", 4224]] as const) {
  ports[k] = await pickPort(wanted, taken);
  taken.add(ports[k]);
  if (ports[k] !== wanted) say(`port ${wanted} is busy; using ${ports[k]} for the ${k} server`);
}
say(bold("2. sidecar, from source"));
sidecar = spawn(
  process.execPath,
  [
    MAIN, "sidecar", "--tenant", TENANT, "--config-name", SECRET, "--namespace", NS, "--kubeconfig", kubeconfig, "--config-file", file,
    "--probe-address", `127.0.0.1:${ports.probe}`, "--webhook-address", `127.0.0.1:${ports.webhook}`, "--sidecar-address", `127.0.0.1:${ports.sidecar}`,
  ],
  { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, KUBERNETES_SERVICE_HOST: "" } },
);
relay(sidecar, "sidecar ");
sidecar.once("exit", (code, signal) => {
  // Ctrl-C reaches the sidecar too (same process group); give our own SIGINT handler a moment.
  setTimeout(() => {
    if (!cleaning) void fail(`the sidecar exited unexpectedly (code ${code}, signal ${signal})`);
  }, 300);
});

const deadline = Date.now() + 20_000;
while (!(await fetch(`http://127.0.0.1:${ports.probe}/healthz`).then((r) => r.ok, () => false))) {
  if (Date.now() > deadline) await fail("the sidecar did not start serving within 20 s");
  await new Promise((r) => setTimeout(r, 100));
}

const host = (p: number) => `localhost:${p}`;
say();
say(bold("Try:"));
say(`  curl ${host(ports.probe)}/status                  # what the sidecar knows (no secret values)`);
say(`  curl ${host(ports.probe)}/metrics                 # Prometheus metrics`);
say(`  curl ${host(ports.probe)}/ready                   # 500 here: no MinIO is running on localhost:9000`);
say(`  curl -XPOST '${host(ports.webhook)}/webhook/v1/bucketsrv/${NS}/${TENANT}?bucket=photos'              # MinIO's bucket-DNS call: creates Service "photos"`);
say(`  curl -XPOST '${host(ports.webhook)}/webhook/v1/bucketsrv/${NS}/${TENANT}?bucket=photos&delete=true'  # and removes it`);
say(`  curl -XPOST '${host(ports.webhook)}/webhook/v1/bucketsrv/${NS}/${TENANT}?bucket=minio'               # 409: the Tenant's own Service "minio" is not ours to take`);
say(`  curl ${host(ports.sidecar)}/sidecar/v1/config     # which Tenant and Secret versions the file is from`);
say(`  cat ${file}`);
say(`In ${UPDATE_AFTER_MS / 1000} s the demo edits the Secret (MINIO_BROWSER on -> off) to show the live rewrite.`);
say(smoke ? "(--smoke: checks the rewrite, a bucket Service, the 409 for bucket minio and a create+delete, then exits)" : "Ctrl-C stops everything and removes the temporary directory.");
say();

// Report rewrites of the file (names of changed variables only) and bucket Services appearing/disappearing.
const rewrites: string[][] = [];
watch(join(dir, "config"), async () => {
  const next = await readFile(file, "utf8").catch(() => content);
  if (next === content) return;
  const names = changedNames(content, next);
  content = next;
  rewrites.push(names);
  say(`${bold("config file rewritten")}: ${names.join(", ")} changed`);
});
// Every Service write as the API server sees it: a create and a delete within
// a few milliseconds (MinIO removing a bucket it could not finish) both show.
const serviceLog: string[] = [];
api.store.subscribe((e) => {
  if (e.rt.resource !== "services" || e.object.metadata?.namespace !== NS) return;
  const name = e.object.metadata.name as string;
  const line = e.type === "ADDED" ? `Service created: ${NS}/${name} (ExternalName, owned by Tenant ${TENANT})` : e.type === "DELETED" ? `Service deleted: ${NS}/${name}` : undefined;
  if (!line) return;
  serviceLog.push(line);
  say(line.replace(/^(Service \w+)/, (m) => bold(m)));
});

// ---- 3. a live edit of the Secret -------------------------------------------------------------
await new Promise((r) => setTimeout(r, UPDATE_AFTER_MS));
const stored = api.get(`secrets/${NS}/${SECRET}`) as { data: Record<string, string> };
const env = Buffer.from(stored.data["config.env"]!, "base64").toString("utf8").replace('MINIO_BROWSER="on"', 'MINIO_BROWSER="off"');
api.patch(`secrets/${NS}/${SECRET}`, { data: { "config.env": Buffer.from(env).toString("base64") } });
say(`edited Secret ${NS}/${SECRET}: MINIO_BROWSER="off" (as \`kubectl edit secret\` would)`);

if (smoke) {
  const until = Date.now() + 10_000;
  while (!rewrites.some((n) => n.includes("MINIO_BROWSER"))) {
    if (Date.now() > until) await fail("the file was not rewritten after the Secret edit");
    await new Promise((r) => setTimeout(r, 50));
  }
  const hook = (q: string) => fetch(`http://127.0.0.1:${ports.webhook}/webhook/v1/bucketsrv/${NS}/${TENANT}?${q}`, { method: "POST" });
  const r = await hook("bucket=photos");
  if (r.status !== 200) await fail(`webhook answered ${r.status}: ${await r.text()}`);
  if (!api.get(`services/${NS}/photos`)) await fail("the webhook did not create Service photos");
  const own = await hook("bucket=minio");
  say(`webhook for bucket minio answered ${own.status}: ${await own.text()}`);
  if (own.status !== 409) await fail(`bucket minio: expected 409, got ${own.status}`);
  if (api.get(`services/${NS}/minio`)?.spec?.type !== "ClusterIP") await fail("the Tenant's own Service minio was changed");
  // A create followed at once by a delete, as MinIO sends when a bucket creation fails half way.
  const [c, d] = [await hook("bucket=brief"), await hook("bucket=brief&delete=true")];
  if (c.status !== 200 || d.status !== 200) await fail(`create+delete of brief answered ${c.status}/${d.status}`);
  await new Promise((r) => setTimeout(r, 50));
  if (!serviceLog.includes(`Service deleted: ${NS}/brief`)) await fail("the create+delete of brief was not reported");
  say("smoke check passed: file rewritten after the Secret edit; webhook created Service photos; minio refused with 409; brief created and deleted");
  await cleanup();
  process.exit(0);
}
