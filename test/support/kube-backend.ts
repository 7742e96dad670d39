/**
 * The real-server backend (see backend.ts): one etcd + kube-apiserver per
 * test process (bun runs all test/kube files in one process), started on
 * first use and stopped when the process exits. Each cluster() gives a clean
 * namespace `minio-tenant` with deploy/rbac.yaml applied unchanged, the
 * scenario's objects, and a ServiceAccount token from the TokenRequest API.
 * When a scenario needs more Secret names in the Role, the Role is edited the
 * way rbac.yaml's comment tells users to.
 */
import { afterAll, beforeAll, expect } from "bun:test";
import { readFileSync } from "node:fs";
import { loadAll } from "js-yaml";
import type { KObject, ObjectRef, PatchType, ListFilter, KubeconfigOptions } from "../fake-apiserver/index.ts";
import { KubeControlPlane, type AuditedRequest } from "../kube-apiserver/index.ts";
import { NS, SIDECAR_SA, SIDECAR_USER, shippedRbac, type ApiServer, type Backend, type Cluster, type ClusterOptions } from "./backend.ts";

let started: Promise<KubeControlPlane> | undefined;
/** The process-wide control plane; its start-up time is printed once. */
export function controlPlane(): Promise<KubeControlPlane> {
  started ??= (async () => {
    const t0 = performance.now();
    // OpenShift enables OwnerReferencesPermissionEnforcement (so can any
    // cluster): an ownerReference with blockOwnerDeletion then needs update on
    // the owner's finalizers, which neither Role grants. Every test here runs
    // with it, so a Service the sidecar makes must pass it.
    const cp = await KubeControlPlane.start({ apiserverArgs: ["--enable-admission-plugins=OwnerReferencesPermissionEnforcement"] });
    console.log(
      `kube-apiserver ${await cp.serverVersion()}, etcd v${cp.servers.etcdVersion}: ready in ${Math.round(performance.now() - t0)} ms ` +
        `(kube-apiserver start ${Math.round(cp.lastStartMs)} ms)`,
    );
    return cp;
  })();
  return started;
}

/** The real server as a scenario sees it: requests and open watches from the moment the view was made. */
export class KubeApiView implements ApiServer {
  private readonly mark: number;
  constructor(readonly cp: KubeControlPlane) {
    this.mark = cp.auditIndex;
  }
  get url() {
    return this.cp.url;
  }
  get caPem() {
    return this.cp.caPem;
  }
  get requests(): AuditedRequest[] {
    return this.cp.requestsSince(this.mark);
  }
  get openWatches() {
    return this.cp.openWatchesSince(this.mark);
  }
  create<T extends KObject>(obj: T) {
    return this.cp.create(obj);
  }
  update<T extends KObject>(obj: T) {
    return this.cp.update(obj);
  }
  patch(ref: ObjectRef, patch: unknown, type?: PatchType) {
    return this.cp.patch(ref, patch, type);
  }
  delete(ref: ObjectRef) {
    return this.cp.delete(ref);
  }
  get(ref: ObjectRef) {
    return this.cp.get(ref);
  }
  list(kind: string, f?: ListFilter) {
    return this.cp.list(kind, f);
  }
  writeKubeconfig(path: string, o?: KubeconfigOptions) {
    return this.cp.writeKubeconfig(path, o);
  }
  writeServiceAccount(dir: string, o: { token: string; namespace: string }) {
    return this.cp.writeServiceAccount(dir, o);
  }
  inClusterEnv() {
    return this.cp.inClusterEnv();
  }
}

/** Deletes everything a previous scenario may have left in the namespace (it is created if absent). */
async function resetNamespace(cp: KubeControlPlane) {
  if (!(await cp.get({ kind: "Namespace", name: NS }))) await cp.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
  for (const kind of ["Tenant", "Secret", "Service", "ConfigMap", "Event", "RoleBinding", "Role", "ServiceAccount"]) {
    for (const o of await cp.list(kind, { namespace: NS })) await cp.delete({ kind, namespace: NS, name: o.metadata!.name as string }).catch(() => {});
  }
}

let identities = 0;

/**
 * KUBE_TEST_ROLE=operator-per-tenant: the sidecar's ServiceAccount is bound
 * to the Role the MinIO Operator itself gives every Tenant's pods
 * (test/fixtures/operator-per-tenant-role.yaml) instead of deploy/rbac.yaml's.
 */
const ROLE = process.env.KUBE_TEST_ROLE ?? "shipped";
if (ROLE !== "shipped" && ROLE !== "operator-per-tenant") throw new Error(`KUBE_TEST_ROLE=${ROLE}: want shipped or operator-per-tenant`);
function sidecarRbac(): KObject[] {
  if (ROLE === "shipped") return shippedRbac();
  const operatorRole = loadAll(readFileSync(new URL("../fixtures/operator-per-tenant-role.yaml", import.meta.url), "utf8"))[0] as KObject;
  return shippedRbac().map((d) => (d.kind === "Role" ? operatorRole : d));
}

async function boundIdentity(cp: KubeControlPlane, sa: string, secretNames?: string[]): Promise<string> {
  for (const doc of sidecarRbac()) {
    const o = structuredClone(doc) as KObject & { rules?: Array<{ resources: string[]; resourceNames?: string[] }>; subjects?: Array<{ name: string }>; roleRef?: { name: string } };
    if (sa !== SIDECAR_SA) {
      o.metadata!.name = sa;
      if (o.subjects) o.subjects[0]!.name = sa;
      if (o.roleRef) o.roleRef.name = sa;
    }
    if (o.kind === "Role" && secretNames) for (const r of o.rules!) if (r.resources.includes("secrets")) r.resourceNames = secretNames;
    await cp.apply(o);
  }
  return cp.token(NS, sa);
}

export const kubeBackend: Backend = {
  name: "kube",
  async cluster(o: ClusterOptions = {}): Promise<Cluster> {
    if (o.fake) throw new Error("fake-only cluster options given to the real-server backend");
    const cp = await controlPlane();
    await resetNamespace(cp);
    const token = await boundIdentity(cp, SIDECAR_SA, o.secretNames);
    // cluster-admin for the admin credential, via a ServiceAccount of its own.
    await cp.apply({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "test-admin", namespace: NS } });
    await cp.apply({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: "minio-sidecar-test-admin" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
      subjects: [{ kind: "ServiceAccount", name: "test-admin", namespace: NS }],
    } as KObject);
    const adminToken = await cp.token(NS, "test-admin");
    for (const obj of o.objects ?? []) await cp.create(obj);
    const api = new KubeApiView(cp);
    return {
      backend: "kube",
      api,
      token,
      adminToken,
      tokenFor: (secretNames) => boundIdentity(cp, `other-identity-${++identities}`, secretNames),
      stopApiServer: () => cp.stopApiserver(),
      startApiServer: () => cp.startApiserver(),
      async close() {},
    };
  },
};

/**
 * Under the operator's per-Tenant Role (no `list` or `update` on services) the
 * sidecar asks each once per process and then degrades (GETs; delete and
 * create instead of an update): those refusals are by design, SPEC 4.
 */
const degradedByRole = (r: AuditedRequest) =>
  ROLE === "operator-per-tenant" && (r.verb === "list" || r.verb === "update") && /\/services(\/[^/]+)?$/.test(r.path);

/**
 * Registers a check over the whole test file: every request the sidecar's
 * ServiceAccount made was authorised by the shipped Role (no 401/403 in the
 * real server's audit log), except those `expected` says the file provokes.
 */
export function expectNoRefusals(expected: (r: AuditedRequest) => boolean = () => false) {
  let mark = 0;
  beforeAll(async () => {
    mark = (await controlPlane()).auditIndex;
  });
  afterAll(async () => {
    const refused = (await controlPlane()).requestsSince(mark).filter((r) => r.user === SIDECAR_USER && (r.status === 401 || r.status === 403));
    expect(refused.filter((r) => !expected(r) && !degradedByRole(r)).map((r) => `${r.verb} ${r.path}?${new URLSearchParams(r.query)} -> ${r.status}`)).toEqual([]);
  });
}

