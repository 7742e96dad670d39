// A real Kubernetes control plane for tests: etcd and kube-apiserver built by
// scripts/kube-servers.sh, started on loopback the way controller-runtime's
// envtest does (own serving certificates, a client-certificate admin in
// system:masters, RBAC, a service-account signing key and issuer, the
// ServiceAccount admission plugin off because no controller-manager creates
// default ServiceAccounts), plus:
//  - an audit log (Metadata level) that stands in for the fake's request log;
//  - a short --etcd-compaction-interval, so old resourceVersions really expire;
//  - a TCP pass-through in front of the secure port: clients under test connect
//    there, so a test can cut their connections (a dropped watch) while the
//    server stays up; it stops listening while the API server is stopped, so
//    they see "connection refused" as they would without it.
// Everything lives in one temp directory; the processes die with this one
// (setpriv --pdeathsig), and a reaper removes the directory after it.
import { kubeconfigYaml } from "../support/kubeconfig-yaml.ts";
import { freePort } from "../support/sidecar.ts";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, fstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { createServer, connect, type Server, type Socket } from "node:net";
import { splice } from "../support/splice.ts";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { loadAll } from "js-yaml";
import type { KObject, ObjectRef, RequestRecord, WatchInfo, KubeconfigOptions, ListFilter, PatchType } from "../fake-apiserver/index.ts";
import { adminRequest, makePki, type Pki } from "./pki.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
export const ADMIN_USER = "test-harness-admin";
/** The issuer the service-account tokens carry (the in-cluster name, as a real cluster would). */
export const SA_ISSUER = "https://kubernetes.default.svc.cluster.local";

export interface KubeServers {
  dir: string;
  /** The Kubernetes release, e.g. v1.37.2 (the cache directory's name). */
  version: string;
  /** etcd --version's version, e.g. 3.7.0. */
  etcdVersion: string;
  apiserver: string;
  etcd: string;
}

/** Where scripts/kube-servers.sh put the binaries; throws one clear line if they are not there. */
export function kubeServers(): KubeServers {
  const r = spawnSync("bash", [join(ROOT, "scripts/kube-servers.sh"), "--dir"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr.trim() || "scripts/kube-servers.sh --dir failed");
  const dir = r.stdout.trim();
  const apiserver = join(dir, "kube-apiserver");
  const etcd = join(dir, "etcd");
  for (const bin of [apiserver, etcd]) {
    if (!existsSync(bin)) throw new Error(`${bin} is missing: run scripts/kube-servers.sh (npm run test:kube does)`);
  }
  const etcdVersion = /etcd Version: (\S+)/.exec(spawnSync(etcd, ["--version"], { encoding: "utf8" }).stdout)?.[1] ?? "unknown";
  return { dir, version: dir.split("/").at(-1)!, apiserver, etcd, etcdVersion };
}


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- processes that must not outlive us ------------------------------------------------------
//
// bun test fires no process "exit" event, and Ctrl-C or a SIGKILL ends us
// without any hook. So: the servers run under `setpriv --pdeathsig KILL` (the
// kernel kills them when we die, however we die), and a detached reaper shell
// removes the temp directory once our process is gone.

const pdeath = ["setpriv", "--pdeathsig", "KILL", "--"];

function reapWhenGone(dir: string) {
  const script = 'while kill -0 "$1" 2>/dev/null; do sleep 0.5; done; sleep 1; rm -rf "$2"';
  spawn("sh", ["-c", script, "reaper", String(process.pid), dir], { detached: true, stdio: "ignore" }).unref();
}

function startProcess(cmd: string[], logFile: string): ChildProcess {
  const full = [...pdeath, ...cmd];
  const fd = openSync(logFile, "a");
  const p = spawn(full[0]!, full.slice(1), { stdio: ["ignore", fd, fd] });
  closeSync(fd);
  return p;
}

async function stopProcess(p: ChildProcess | undefined, timeoutMs = 20_000) {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise<void>((r) => p.once("exit", () => r()));
  p.kill("SIGTERM");
  const t = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
  await exited;
  clearTimeout(t);
}

const tail = (file: string, n = 30) => (existsSync(file) ? readFileSync(file, "utf8").split("\n").slice(-n).join("\n") : "");

// ---- the TCP pass-through ---------------------------------------------------------------------

class PassThrough {
  private server?: Server;
  private readonly pairs = new Set<[Socket, Socket]>();
  port = 0;
  constructor(private readonly target: () => number) {}

  async listen(): Promise<void> {
    if (this.server) return;
    const server = createServer((client) => {
      const upstream = connect(this.target(), "127.0.0.1");
      const pair: [Socket, Socket] = [client, upstream];
      this.pairs.add(pair);
      splice(client, upstream, () => this.pairs.delete(pair));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  /** Destroy every proxied connection (both ends); returns how many there were. */
  cut(): number {
    const n = this.pairs.size;
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
    return n;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    this.cut();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}

// ---- resource paths ---------------------------------------------------------------------------

interface Kind {
  kind: string;
  plural: string;
  group: string;
  version: string;
  namespaced: boolean;
}
const KINDS: Kind[] = [
  { kind: "Namespace", plural: "namespaces", group: "", version: "v1", namespaced: false },
  { kind: "Secret", plural: "secrets", group: "", version: "v1", namespaced: true },
  { kind: "ConfigMap", plural: "configmaps", group: "", version: "v1", namespaced: true },
  { kind: "Service", plural: "services", group: "", version: "v1", namespaced: true },
  { kind: "ServiceAccount", plural: "serviceaccounts", group: "", version: "v1", namespaced: true },
  { kind: "Event", plural: "events", group: "events.k8s.io", version: "v1", namespaced: true },
  { kind: "Tenant", plural: "tenants", group: "minio.min.io", version: "v2", namespaced: true },
  { kind: "Role", plural: "roles", group: "rbac.authorization.k8s.io", version: "v1", namespaced: true },
  { kind: "RoleBinding", plural: "rolebindings", group: "rbac.authorization.k8s.io", version: "v1", namespaced: true },
  { kind: "ClusterRole", plural: "clusterroles", group: "rbac.authorization.k8s.io", version: "v1", namespaced: false },
  { kind: "ClusterRoleBinding", plural: "clusterrolebindings", group: "rbac.authorization.k8s.io", version: "v1", namespaced: false },
  { kind: "CustomResourceDefinition", plural: "customresourcedefinitions", group: "apiextensions.k8s.io", version: "v1", namespaced: false },
];

function kindOf(k: string): Kind {
  const found = KINDS.find((x) => x.kind === k || x.plural === k || x.kind.toLowerCase() === k);
  if (!found) throw new Error(`kube-apiserver harness: unknown kind ${JSON.stringify(k)}`);
  return found;
}

function refOf(ref: ObjectRef): { kind: string; namespace?: string; name: string } {
  if (typeof ref !== "string") return ref;
  const parts = ref.split("/");
  if (parts.length === 3) return { kind: parts[0]!, namespace: parts[1]!, name: parts[2]! };
  if (parts.length === 2) return { kind: parts[0]!, name: parts[1]! };
  throw new Error(`bad object reference ${JSON.stringify(ref)}`);
}

function collectionPath(k: Kind, namespace?: string): string {
  const base = k.group ? `/apis/${k.group}/${k.version}` : `/api/${k.version}`;
  return k.namespaced ? `${base}/namespaces/${namespace ?? "default"}/${k.plural}` : `${base}/${k.plural}`;
}

/** A non-2xx answer of the real server, with its Status. */
export class KubeError extends Error {
  constructor(
    readonly code: number,
    readonly status: { reason?: string; message?: string } | undefined,
    what: string,
  ) {
    super(`${what}: ${code} ${status?.reason ?? ""} ${status?.message ?? ""}`.trim());
  }
}

const CONTENT_TYPES: Record<PatchType, string> = {
  merge: "application/merge-patch+json",
  json: "application/json-patch+json",
  strategic: "application/strategic-merge-patch+json",
};

// ---- audit log ---------------------------------------------------------------------------------

interface AuditEvent {
  auditID: string;
  stage: string;
  requestURI: string;
  verb: string;
  user?: { username?: string };
  objectRef?: { resource?: string; namespace?: string; name?: string; apiGroup?: string; subresource?: string };
  responseStatus?: { code?: number };
  requestReceivedTimestamp?: string;
}

/** Not the harness's own requests nor the API server's requests to itself. */
const underTest = (r: { user?: string }) => r.user !== ADMIN_USER && r.user !== "system:apiserver";

const METHOD: Record<string, string> = { get: "GET", list: "GET", watch: "GET", create: "POST", update: "PUT", patch: "PATCH", delete: "DELETE", deletecollection: "DELETE" };

export interface AuditedRequest extends RequestRecord {
  auditID: string;
  /** Index of the API server process (0 = first start) that served it. */
  generation: number;
}

class AuditLog {
  private offset = 0;
  private partial = "";
  private readonly byId = new Map<string, AuditedRequest>();
  private readonly completed = new Set<string>();
  readonly records: AuditedRequest[] = [];
  generation = 0;
  constructor(readonly file: string) {}

  /** Reads what the API server appended since the last call. */
  sync(): void {
    if (!existsSync(this.file)) return;
    const fd = openSync(this.file, "r");
    try {
      const size = fstatSync(fd).size;
      if (size <= this.offset) return;
      const buf = Buffer.alloc(size - this.offset);
      readSync(fd, buf, 0, buf.length, this.offset);
      this.offset = size;
      const lines = (this.partial + buf.toString("utf8")).split("\n");
      this.partial = lines.pop() ?? "";
      for (const line of lines) if (line) this.add(JSON.parse(line) as AuditEvent);
    } finally {
      closeSync(fd);
    }
  }

  private add(e: AuditEvent) {
    if (e.stage === "ResponseComplete" || e.stage === "Panic") this.completed.add(e.auditID);
    const known = this.byId.get(e.auditID);
    if (known) {
      if (e.responseStatus?.code) known.status = e.responseStatus.code;
      return;
    }
    const url = new URL(e.requestURI, "https://x");
    const query = Object.fromEntries(url.searchParams);
    const fieldName = /^metadata\.name=(.+)$/.exec(query.fieldSelector ?? "")?.[1];
    const r: AuditedRequest = {
      auditID: e.auditID,
      generation: this.generation,
      method: METHOD[e.verb] ?? e.verb.toUpperCase(),
      path: url.pathname,
      query,
      verb: e.verb,
      apiGroup: e.objectRef?.apiGroup ?? "",
      resource: e.objectRef?.resource,
      subresource: e.objectRef?.subresource,
      namespace: e.objectRef?.namespace ?? "",
      name: e.objectRef?.name ?? fieldName,
      watch: e.verb === "watch",
      user: e.user?.username,
      status: e.responseStatus?.code ?? 0,
      time: Date.parse(e.requestReceivedTimestamp ?? "") || Date.now(),
    };
    this.byId.set(e.auditID, r);
    this.records.push(r);
  }

  /** Watches whose response started and has not completed, on the running API server. */
  openWatches(fromIndex = 0): WatchInfo[] {
    this.sync();
    return this.records
      .slice(fromIndex)
      .filter((r) => r.watch && underTest(r) && r.generation === this.generation && r.status === 200 && !this.completed.has(r.auditID))
      .map((r) => ({ path: r.path, query: r.query, resource: r.resource ?? "", namespace: r.namespace ?? "", startedAt: r.time }));
  }
}

const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
# Watches get ResponseStarted and ResponseComplete, so open watches are visible.
omitStages: [RequestReceived]
rules:
  - level: Metadata
`;

// ---- the control plane ------------------------------------------------------------------------

export interface ControlPlaneOptions {
  /** Extra kube-apiserver flags. */
  apiserverArgs?: string[];
  /** --etcd-compaction-interval (default 2s: history older than that is gone soon, as 410 tests need). */
  compactionInterval?: string;
}

export class KubeControlPlane {
  readonly dir: string;
  readonly servers: KubeServers;
  readonly pki: Pki;
  readonly audit: AuditLog;
  private etcd?: ChildProcess;
  private apiserver?: ChildProcess;
  private readonly proxy: PassThrough;
  etcdPort = 0;
  /** The secure port itself (the harness's admin client uses it). */
  apiPort = 0;
  private startArgs: string[] = [];
  /** Milliseconds the last API server start took until /readyz answered ok. */
  lastStartMs = 0;

  private constructor(private readonly opts: ControlPlaneOptions) {
    this.servers = kubeServers();
    if (spawnSync("setpriv", ["--help"]).status !== 0) throw new Error("kube-apiserver harness: needs setpriv (util-linux) so the servers die with the tests");
    this.dir = mkdtempSync(join(tmpdir(), "kube-apiserver-"));
    reapWhenGone(this.dir);
    this.pki = makePki(this.dir);
    this.audit = new AuditLog(join(this.dir, "audit.log"));
    this.proxy = new PassThrough(() => this.apiPort);
    writeFileSync(join(this.dir, "audit-policy.yaml"), AUDIT_POLICY);
  }

  static async start(opts: ControlPlaneOptions = {}): Promise<KubeControlPlane> {
    const cp = new KubeControlPlane(opts);
    try {
      await cp.startEtcd();
      cp.apiPort = await freePort();
      await cp.startApiserver();
      await cp.installTenantCrd();
    } catch (err) {
      await cp.close();
      throw err;
    }
    return cp;
  }

  /** What clients under test connect to (the pass-through). */
  get url(): string {
    return `https://127.0.0.1:${this.proxy.port}`;
  }
  get caPem(): string {
    return this.pki.caPem;
  }
  get apiserverRunning(): boolean {
    return !!this.apiserver && this.apiserver.exitCode === null && this.apiserver.signalCode === null;
  }

  private async startEtcd() {
    this.etcdPort = await freePort();
    const peer = await freePort();
    const log = join(this.dir, "etcd.log");
    this.etcd = startProcess(
      [
        this.servers.etcd,
        "--name=test",
        `--data-dir=${join(this.dir, "etcd")}`,
        `--listen-client-urls=http://127.0.0.1:${this.etcdPort}`,
        `--advertise-client-urls=http://127.0.0.1:${this.etcdPort}`,
        `--listen-peer-urls=http://127.0.0.1:${peer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
        `--initial-cluster=test=http://127.0.0.1:${peer}`,
        // Test data: durability across power loss is not needed, speed is.
        "--unsafe-no-fsync",
        "--log-level=warn",
      ],
      log,
    );
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${this.etcdPort}/health`)
        .then(async (r) => r.ok && ((await r.json()) as { health?: string }).health === "true")
        .catch(() => false);
      if (ok) return;
      if (this.etcd.exitCode !== null || Date.now() > deadline) throw new Error(`etcd did not start (exit ${this.etcd.exitCode}):\n${tail(log)}`);
      await sleep(100);
    }
  }

  /** Starts kube-apiserver on its port (again, after stopApiserver), waits for /readyz; `extraArgs` for this start only. */
  async startApiserver(extraArgs: string[] = []): Promise<void> {
    if (this.apiserverRunning) throw new Error("kube-apiserver is already running");
    const log = join(this.dir, "kube-apiserver.log");
    this.startArgs = extraArgs;
    this.audit.sync();
    this.audit.generation++;
    const t0 = performance.now();
    this.apiserver = startProcess(
      [
        this.servers.apiserver,
        `--etcd-servers=http://127.0.0.1:${this.etcdPort}`,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        // 1.37 refuses a loopback advertise address for the kubernetes Service's endpoints; no pod needs them here.
        "--endpoint-reconciler-type=none",
        `--secure-port=${this.apiPort}`,
        `--cert-dir=${join(this.dir, "apiserver-certs")}`,
        `--tls-cert-file=${this.pki.servingCrt}`,
        `--tls-private-key-file=${this.pki.servingKey}`,
        `--client-ca-file=${this.pki.caCrt}`,
        "--authorization-mode=RBAC",
        `--service-account-issuer=${SA_ISSUER}`,
        `--service-account-key-file=${this.pki.saPub}`,
        `--service-account-signing-key-file=${this.pki.saKey}`,
        "--service-cluster-ip-range=10.0.0.0/24",
        // As envtest: no controller-manager creates the `default` ServiceAccounts this plugin wants.
        "--disable-admission-plugins=ServiceAccount",
        `--etcd-compaction-interval=${this.opts.compactionInterval ?? "2s"}`,
        `--audit-log-path=${this.audit.file}`,
        `--audit-policy-file=${join(this.dir, "audit-policy.yaml")}`,
        "--audit-log-format=json",
        // Plain appends (no rotation): the harness reads the file incrementally, across restarts.
        "--audit-log-maxsize=0",
        "--profiling=false",
        ...(this.opts.apiserverArgs ?? []),
        ...extraArgs,
      ],
      log,
    );
    const deadline = Date.now() + 90_000;
    for (;;) {
      const r = await this.raw("GET", "/readyz").catch(() => undefined);
      if (r?.status === 200) break;
      if (!this.apiserverRunning || Date.now() > deadline) {
        throw new Error(`kube-apiserver did not become ready (exit ${this.apiserver.exitCode}):\n${tail(log)}`);
      }
      await sleep(200);
    }
    // /readyz does not wait for custom resources: right after a restart their
    // storage answers 429 "storage is (re)initializing" for a moment.
    if (this.crdInstalled) await this.waitTenantsServed(deadline);
    this.lastStartMs = performance.now() - t0;
    await this.proxy.listen();
  }

  /** Stops kube-apiserver (etcd keeps running); clients get connection refused until startApiserver(). */
  async stopApiserver(): Promise<void> {
    await this.proxy.close();
    await stopProcess(this.apiserver);
    this.audit.sync();
  }

  /** stop + start; `extraArgs` apply to the new process only (default: those of the current one). */
  async restartApiserver(extraArgs: string[] = this.startArgs): Promise<void> {
    await this.stopApiserver();
    await this.startApiserver(extraArgs);
  }

  /** Cuts every client connection (watches included); the server stays up. Returns how many were cut. */
  cutConnections(): number {
    return this.proxy.cut();
  }

  /**
   * Clients under test are cut off (connections cut, connection refused) while
   * `fn` runs, the API server stays up for the harness; then they may reconnect.
   */
  async withClientsCutOff<T>(fn: () => Promise<T>): Promise<T> {
    await this.proxy.close();
    try {
      return await fn();
    } finally {
      await this.proxy.listen();
    }
  }

  async close(): Promise<void> {
    await this.proxy.close();
    await stopProcess(this.apiserver);
    await stopProcess(this.etcd);
    rmSync(this.dir, { recursive: true, force: true });
  }

  // ---- admin client ---------------------------------------------------------------------------

  /** One request as the harness admin (system:masters), straight to the secure port. */
  raw(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<{ status: number; body: any; text: string }> {
    return adminRequest(this.pki, this.apiPort, method, path, body, contentType);
  }

  private async ok(method: string, path: string, body?: unknown, contentType?: string): Promise<any> {
    const r = await this.raw(method, path, body, contentType);
    if (r.status >= 300) throw new KubeError(r.status, r.body, `${method} ${path}`);
    return r.body;
  }

  private objectPath(o: { kind: string; namespace?: string; name: string }): string {
    return `${collectionPath(kindOf(o.kind), o.namespace)}/${encodeURIComponent(o.name)}`;
  }

  async create<T extends KObject>(obj: T): Promise<T> {
    const k = kindOf(obj.kind ?? "");
    return this.ok("POST", collectionPath(k, obj.metadata?.namespace as string | undefined), obj);
  }

  async update<T extends KObject>(obj: T): Promise<T> {
    const md = obj.metadata as { name: string; namespace?: string };
    return this.ok("PUT", this.objectPath({ kind: obj.kind ?? "", namespace: md.namespace, name: md.name }), obj);
  }

  async patch(ref: ObjectRef, patch: unknown, type: PatchType = "merge"): Promise<KObject> {
    return this.ok("PATCH", this.objectPath(refOf(ref)), patch, CONTENT_TYPES[type]);
  }

  async delete(ref: ObjectRef, opts?: { preconditions?: { uid?: string } }): Promise<void> {
    const body = opts ? { apiVersion: "v1", kind: "DeleteOptions", ...opts } : undefined;
    await this.ok("DELETE", this.objectPath(refOf(ref)), body);
  }

  /** The object, or undefined when the server says 404. */
  async get(ref: ObjectRef): Promise<KObject | undefined> {
    const r = await this.raw("GET", this.objectPath(refOf(ref)));
    if (r.status === 404) return undefined;
    if (r.status >= 300) throw new KubeError(r.status, r.body, `GET ${this.objectPath(refOf(ref))}`);
    return r.body;
  }

  async list(kind: string, f: ListFilter = {}): Promise<KObject[]> {
    const q = new URLSearchParams();
    if (f.labelSelector) q.set("labelSelector", f.labelSelector);
    if (f.fieldSelector) q.set("fieldSelector", f.fieldSelector);
    const path = collectionPath(kindOf(kind), f.namespace);
    return ((await this.ok("GET", `${path}${q.size ? `?${q}` : ""}`)) as { items: KObject[] }).items;
  }

  /** Create, or replace the existing object's content (server-side, keeping nothing of the old one but its identity). */
  async apply(obj: KObject): Promise<KObject> {
    const md = obj.metadata as { name: string; namespace?: string };
    const existing = await this.get({ kind: obj.kind ?? "", namespace: md.namespace, name: md.name });
    if (!existing) return this.create(obj);
    return this.update({ ...obj, metadata: { ...obj.metadata, resourceVersion: existing.metadata!.resourceVersion } } as KObject);
  }

  /** Every document of a YAML file, applied in order. */
  async applyFile(file: string): Promise<KObject[]> {
    const docs = (loadAll(readFileSync(file, "utf8")) as KObject[]).filter(Boolean);
    const out: KObject[] = [];
    for (const d of docs) out.push(await this.apply(d));
    return out;
  }

  /** A ServiceAccount token from the TokenRequest API (what the kubelet projects into a pod). */
  async token(namespace: string, serviceAccount: string, expirationSeconds = 3600): Promise<string> {
    const r = await this.ok("POST", `/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccount}/token`, {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: { expirationSeconds },
    });
    return r.status.token as string;
  }

  private async installTenantCrd() {
    await this.applyFile(join(ROOT, "test/kube-apiserver/tenant-crd.yaml"));
    const deadline = Date.now() + 30_000;
    for (;;) {
      const crd = (await this.get({ kind: "CustomResourceDefinition", name: "tenants.minio.min.io" })) as { status?: { conditions?: Array<{ type: string; status: string }> } };
      if (crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True")) break;
      if (Date.now() > deadline) throw new Error("the Tenant CRD did not become Established");
      await sleep(100);
    }
    // Established can precede the REST endpoint answering.
    await this.waitTenantsServed(deadline);
    this.crdInstalled = true;
  }

  private crdInstalled = false;
  private async waitTenantsServed(deadline: number) {
    for (;;) {
      const r = await this.raw("GET", "/apis/minio.min.io/v2/tenants?limit=1");
      if (r.status === 200) return;
      if (Date.now() > deadline) throw new Error(`Tenants are not served: ${r.status} ${r.text}`);
      await sleep(100);
    }
  }

  // ---- what clients under test see ------------------------------------------------------------

  kubeconfig(o: KubeconfigOptions = {}): string {
    return kubeconfigYaml({ name: o.name ?? "kube", server: o.server ?? this.url, caPem: o.caPem ?? this.caPem, token: o.token, namespace: o.namespace });
  }

  async writeKubeconfig(path: string, o: KubeconfigOptions = {}): Promise<void> {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, this.kubeconfig(o), { mode: 0o600 });
  }

  /** token, ca.crt and namespace in `dir`, like the projected service-account volume of a pod. */
  async writeServiceAccount(dir: string, o: { token: string; namespace: string }) {
    mkdirSync(dir, { recursive: true });
    await writeFile(join(dir, "token"), o.token);
    await writeFile(join(dir, "ca.crt"), this.caPem);
    await writeFile(join(dir, "namespace"), o.namespace);
    return { tokenPath: join(dir, "token"), caPath: join(dir, "ca.crt"), namespacePath: join(dir, "namespace") };
  }

  /** KUBERNETES_SERVICE_HOST / _PORT as the kubelet sets them (pointing at the pass-through). */
  inClusterEnv(): Record<string, string> {
    const port = String(new URL(this.url).port);
    return { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: port, KUBERNETES_SERVICE_PORT_HTTPS: port };
  }

  /** The audit log as request records, excluding the harness's own and the API server's internal requests. */
  requestsSince(index: number): AuditedRequest[] {
    this.audit.sync();
    return this.audit.records.slice(index).filter(underTest);
  }
  /** Watches of clients under test still open on the running API server (from audit index `index` on). */
  openWatchesSince(index: number): WatchInfo[] {
    return this.audit.openWatches(index);
  }
  get auditIndex(): number {
    this.audit.sync();
    return this.audit.records.length;
  }

  /** The kube-apiserver version as the server reports it (GET /version). */
  async serverVersion(): Promise<string> {
    return ((await this.ok("GET", "/version")) as { gitVersion: string }).gitVersion;
  }
}
