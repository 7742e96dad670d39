/**
 * Shared harness of the sidecar process tests (sidecar-watch, sidecar-faults,
 * test/kube): an API server (the in-repo fake by default, or the real one via
 * setupOn(kubeBackend); https, CA in the kubeconfig) with the example Tenant
 * and Secret and the token of the sidecar's ServiceAccount bound to the Role
 * of deploy/rbac.yaml, the sidecar as a child process, and the checks every
 * test ends with.
 */
import { expect } from "bun:test";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadAll } from "js-yaml";
import type { FakeApiServer, FakeApiServerOptions, KObject } from "../fake-apiserver/index.ts";
import { fakeBackend, type ApiServer, type Backend, type Cluster } from "./backend.ts";
import { NS, PASSWORD, secret } from "./objects.ts";
import { eventually, inPod, startSidecar, type SidecarProcess } from "./sidecar.ts";

const EX = new URL("../fixtures/examples/", import.meta.url).pathname;
export const EXAMPLE_PASSWORD = "minio123";
export const SECRET = "storage-configuration";
export const SECRET_V2 = "storage-configuration-v2";
const TENANT_DOC = (loadAll(await readFile(`${EX}tenant-base.yaml`, "utf8")) as KObject[])[0]!;
export const EXPECTED_BASE = await readFile(`${EX}tenant-base.expected.env`, "utf8");

/** config.env of the example Secret with another root password. */
export const configEnv = (password: string) =>
  `export MINIO_ROOT_USER="minio"\nexport MINIO_ROOT_PASSWORD="${password}"\nexport MINIO_STORAGE_CLASS_STANDARD="EC:2"\nexport MINIO_BROWSER="on"`;
/** The file the sidecar must write for the example Tenant and configEnv(password). */
export const expectedFile = (password: string) => EXPECTED_BASE.replace(`MINIO_ROOT_PASSWORD="${EXAMPLE_PASSWORD}"`, `MINIO_ROOT_PASSWORD="${password}"`);
export const exampleTenant = (): KObject => structuredClone(TENANT_DOC);
export const pw = (tag: string | number) => `${PASSWORD}-${tag}`;

export interface Env<A extends ApiServer = FakeApiServer> {
  api: A;
  cluster: Cluster<A>;
  sc: SidecarProcess;
  dir: string;
  file: string;
  /** The kubeconfig the sidecar was started with. */
  kubeconfig: string;
}
let current: Env<ApiServer> | undefined;

export interface SetupOptions {
  tenant?: boolean;
  secretNames?: string[];
  args?: string[];
  /** Run the sidecar under this command (e.g. a private mount namespace for in-cluster mode). */
  wrap?: string[];
  env?: Record<string, string | undefined>;
  /**
   * In-cluster mode: no --kubeconfig/--namespace; KUBERNETES_SERVICE_HOST/_PORT
   * set and the token, ca.crt and namespace files at the fixed in-pod path, in
   * a private mount namespace (needs root; see inPod in sidecar.ts).
   */
  inCluster?: boolean;
  /** Fake only. */
  api?: FakeApiServerOptions;
  /** Fake only: false = the API server is not there yet (its port is reserved and closed). */
  listening?: boolean;
}

/** The example Tenant and Secret on `backend`, the sidecar's Role from deploy/rbac.yaml, and the sidecar. */
export async function setupOn(backend: Backend, o: SetupOptions = {}): Promise<Env<ApiServer>> {
  const fake = o.api || o.listening !== undefined ? { ...o.api, listening: o.listening } : undefined;
  const cluster = await backend.cluster({
    objects: [...(o.tenant === false ? [] : [exampleTenant()]), secret(configEnv(EXAMPLE_PASSWORD), SECRET)],
    secretNames: o.secretNames,
    fake,
  });
  const api = cluster.api;
  const dir = await mkdtemp(join(tmpdir(), "sidecar-test-"));
  const kubeconfig = join(dir, "kubeconfig.yaml");
  await api.writeKubeconfig(kubeconfig, { token: cluster.token, namespace: NS });
  const file = join(dir, "config", "config.env");
  current = { api, cluster, dir, file, kubeconfig } as Env<ApiServer>;
  if (o.inCluster) {
    const sa = join(dir, "serviceaccount");
    await api.writeServiceAccount(sa, { token: cluster.token, namespace: NS });
    // A $KUBECONFIG that would fail shows that the in-cluster config wins.
    const env = { ...api.inClusterEnv(), KUBECONFIG: join(dir, "does-not-exist.yaml"), ...o.env };
    current.sc = await startSidecar({ configFile: file, args: o.args, wrap: [...inPod(sa), ...(o.wrap ?? [])], env });
  } else {
    current.sc = await startSidecar({ kubeconfig, namespace: NS, configFile: file, args: o.args, wrap: o.wrap, env: o.env });
  }
  return current;
}

/** setupOn the in-repo fake API server. */
export const setup = (o: SetupOptions = {}) => setupOn(fakeBackend, o) as Promise<Env<FakeApiServer>>;

/** Register once per test file: stops the sidecar and API server of the last setup(). */
export const cleanup = async () => {
  const e = current;
  current = undefined;
  if (!e) return;
  if (e.sc && e.sc.proc.exitCode === null) e.sc.proc.kill("SIGKILL");
  await e.cluster.close();
  await rm(e.dir, { recursive: true, force: true });
};

export const fileText = (e: Env<ApiServer>) => readFile(e.file, "utf8").catch(() => "");
export interface ObjectIdentity {
  name: string;
  uid: string | null;
  resourceVersion: string | null;
}
export interface ConfigInputs {
  tenant: ObjectIdentity;
  secret: ObjectIdentity;
}
/** The uid and resourceVersion of the Tenant and Secret as the API server has them now (what /status names once the file follows them). */
export async function inputsNow(e: Env<ApiServer>, secretName = SECRET, tenantName = "myminio"): Promise<ConfigInputs> {
  const identity = async (kind: string, name: string): Promise<ObjectIdentity> => {
    const o = (await e.api.get({ kind, namespace: NS, name })) as { metadata?: { uid?: string; resourceVersion?: string } } | undefined;
    return { name, uid: o?.metadata?.uid ?? null, resourceVersion: o?.metadata?.resourceVersion ?? null };
  };
  return { tenant: await identity("Tenant", tenantName), secret: await identity("Secret", secretName) };
}
export interface Status {
  configValid: boolean;
  inputs: ConfigInputs | null;
  lastError?: string;
  secret: string;
  watches: Array<{ kind: string; name: string; state: string; lastError?: string }>;
  [k: string]: unknown;
}
export const status = async (e: Env<ApiServer>) => (await (await e.sc.probe("/status")).json()) as Status;
/** The first /status answer that satisfies `pred`. */
export async function statusWhen(e: Env<ApiServer>, pred: (s: Status) => unknown, timeoutMs = 10_000): Promise<Status> {
  let last: Status | undefined;
  await eventually(async () => pred((last = await status(e))), timeoutMs, "/status condition");
  return last!;
}
/** Sum of a metric's samples (all label sets, or those containing `labels`). */
export async function metric(e: Env<ApiServer>, name: string, labels = ""): Promise<number> {
  const text = await (await e.sc.probe("/metrics")).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name && (m[2] ?? "").includes(labels)) sum += Number(m[3]);
  }
  return sum;
}
export const fileIs = (e: Env<ApiServer>, content: string, timeoutMs = 10_000) => eventually(async () => (await fileText(e)) === content, timeoutMs, "config file content");
export const setSecret = async (e: Env<ApiServer>, configEnvText: string | null, name = SECRET) => {
  await e.api.update(secret(configEnvText, name));
};

/**
 * A log line that reports a 401/403: in its text, or as a status field. Not
 * any number that happens to be 401 or 403 (a backoff of `retryInMs: 403`
 * made this check fail once in CI).
 */
function mentionsRefusal(line: Record<string, unknown>): boolean {
  const texts: string[] = [];
  const walk = (v: unknown, key = "") => {
    if (key === "time" || /resourceVersion$/i.test(key)) return; // any number, 401 included
    if (typeof v === "string") texts.push(v);
    else if (typeof v === "number" && /status/i.test(key)) texts.push(String(v));
    else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) walk(x, k);
  };
  walk(line);
  return texts.some((t) => /\b40[13]\b|forbidden|unauthorized/i.test(t));
}

/**
 * What every test ends with: the sidecar is still running (it never exits on
 * its own), stops with exit 0 within 2 s on SIGTERM, read nothing but its two
 * objects by name, was never refused (401/403, in the server's log or its
 * own), and printed no secret value.
 */
export async function finish(e: Env<ApiServer>, o: { secretNames?: string[]; signal?: NodeJS.Signals } = {}) {
  expect(e.sc.proc.exitCode).toBeNull();
  const { code, ms } = await e.sc.stop(o.signal ?? "SIGTERM");
  expect(code).toBe(0);
  expect(ms).toBeLessThan(2_000);
  const names = { secrets: o.secretNames ?? [SECRET], tenants: ["myminio"] } as Record<string, string[]>;
  const bad = e.api.requests
    .filter((r) => {
      // Events regarding the Tenant are written, never read (SPEC 4); without the permission, one try is refused.
      if (r.apiGroup === "events.k8s.io" && r.resource === "events") return r.verb !== "create" && r.verb !== "patch";
      if (r.status === 401 || r.status === 403) return true;
      if (r.resource !== "secrets" && r.resource !== "tenants") return true; // nothing else is read
      if (r.verb !== "list" && r.verb !== "watch") return r.verb !== "get";
      return r.namespace !== NS || !r.name || r.query.fieldSelector !== `metadata.name=${r.name}` || !names[r.resource]!.includes(r.name);
    })
    .map((r) => `${r.method} ${r.path}?${new URLSearchParams(r.query)} -> ${r.status}`);
  expect(bad).toEqual([]);
  // Nor did the sidecar itself see a refusal (its own log).
  expect(e.sc.logs.filter(mentionsRefusal)).toEqual([]);
  expect(e.api.requests.some((r) => r.resource === "secrets" && r.watch)).toBe(true);
  for (const out of [e.sc.stdout(), e.sc.stderr()]) {
    expect(out).not.toContain(PASSWORD);
    expect(out).not.toContain(EXAMPLE_PASSWORD);
  }
}

