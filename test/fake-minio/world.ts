/**
 * The world a sidecar test runs in: the fake Kubernetes API server (https +
 * CA) holding a bucket-DNS Tenant, its configuration Secret and the Services
 * the MinIO Operator itself creates for the Tenant (`minio`, `T-hl`,
 * `T-console`, each with the operator's controller ownerReference to the
 * Tenant, exactly like `t.OwnerRef()` in the operator), plus a fake MinIO.
 * The sidecar authenticates with a token bound to the Role shipped in
 * deploy/rbac.yaml, so every test also proves that Role is enough.
 * startWorldOn(kubeBackend) builds the same world on a real kube-apiserver.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadAll } from "js-yaml";
import { startFakeApiServer, type FakeApiServer, type KObject } from "../fake-apiserver/index.ts";
import { operatorRoleRules, shippedRoleRules, type ApiServer, type Backend } from "../support/backend.ts";
import { CREDENTIALS, NS, PASSWORD, secret, tenant } from "../support/objects.ts";
import { eventually, startSidecar, type SidecarProcess } from "../support/sidecar.ts";
import { startFakeMinio, type FakeMinio, type FakeMinioOptions } from "./index.ts";

export { NS, PASSWORD };
export const TENANT = "myminio";
export const SECRET = "storage-configuration";
export const ROOT_USER = "minio";
/** The operator's own Services for the Tenant: never to be touched by the sidecar. */
export const OPERATOR_SERVICES = ["minio", `${TENANT}-hl`, `${TENANT}-console`];

const ROOT = new URL("../../", import.meta.url).pathname;

export { shippedRoleRules };

export interface WorldOptions {
  /** Merged into the Tenant's spec (default: bucketDNS on, TLS on). */
  tenantSpec?: Record<string, unknown>;
  minio?: FakeMinioOptions;
  /** Give the sidecar an admin token instead of the shipped Role. */
  admin?: boolean;
  /** Give the sidecar the MinIO Operator's own per-Tenant Role (no list on services) instead of the shipped Role. */
  operatorRole?: boolean;
  /** Create the operator's Services (default true). */
  operatorServices?: boolean;
}

export interface World<A extends ApiServer = FakeApiServer> {
  api: A;
  minio: FakeMinio;
  dir: string;
  kubeconfig: string;
  configFile: string;
  tenantUid: string;
  /** The sidecar (from source, or SIDECAR_BIN) against this world, MinIO at the fake's URL. */
  sidecar(args?: string[], env?: Record<string, string | undefined>): Promise<SidecarProcess>;
  /** Synchronous on the fake; `await` it in scenarios that run on both. */
  service(name: string): A extends FakeApiServer ? KObject | undefined : Promise<KObject | undefined>;
  close(): Promise<void>;
}

export function operatorService(name: string, uid: string, tls = true): KObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name,
      namespace: NS,
      labels: { "v1.min.io/tenant": TENANT },
      ownerReferences: [{ apiVersion: "minio.min.io/v2", kind: "Tenant", name: TENANT, uid, controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      type: "ClusterIP",
      ...(name.endsWith("-hl") ? { clusterIP: "None" } : {}),
      selector: { "v1.min.io/tenant": TENANT },
      ports: [{ name: tls ? "https-minio" : "http-minio", port: name === "minio" ? (tls ? 443 : 80) : 9000, targetPort: 9000, protocol: "TCP" }],
    },
  } as KObject;
}

/** The world on `backend`: the fake (as startWorld) or a real kube-apiserver. */
export async function startWorldOn(backend: Backend, o: WorldOptions = {}): Promise<World<ApiServer>> {
  if (backend.name === "fake") return (await startWorld(o)) as unknown as World<ApiServer>;
  const cluster = await backend.cluster();
  const api = cluster.api;
  const t = tenant({ configuration: { name: SECRET }, features: { bucketDNS: true }, ...o.tenantSpec }, TENANT);
  const tenantUid = (await api.create(t as unknown as KObject)).metadata!.uid as string;
  await api.create(secret(CREDENTIALS, SECRET) as unknown as KObject);
  const tls = (o.tenantSpec?.requestAutoCert as boolean | undefined) !== false;
  if (o.operatorServices !== false) for (const name of OPERATOR_SERVICES) await api.create(operatorService(name, tenantUid, tls));
  return assemble(api, tenantUid, o.admin ? cluster.adminToken : cluster.token, o, () => cluster.close());
}

async function assemble<A extends ApiServer>(api: A, tenantUid: string, token: string, o: WorldOptions, closeApi: () => Promise<void>): Promise<World<A>> {
  const minio = await startFakeMinio({ accessKey: ROOT_USER, secretKey: PASSWORD, ...o.minio });
  const dir = await mkdtemp(join(tmpdir(), "sidecar-world-"));
  const kubeconfig = join(dir, "kubeconfig");
  await api.writeKubeconfig(kubeconfig, { token, namespace: NS });
  const configFile = join(dir, "config.env");
  const running: SidecarProcess[] = [];
  return {
    api,
    minio,
    dir,
    kubeconfig,
    configFile,
    tenantUid,
    async sidecar(args = [], env = {}) {
      const sc = await startSidecar({
        kubeconfig,
        namespace: NS,
        tenant: TENANT,
        configName: SECRET,
        configFile,
        args: ["--minio-url", minio.url, ...args],
        env,
      });
      running.push(sc);
      return sc;
    },
    service: ((name: string) => api.get({ kind: "Service", namespace: NS, name })) as World<A>["service"],
    async close() {
      await Promise.all(running.map((s) => s.stop()));
      await Promise.all([closeApi(), minio.close()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function startWorld(o: WorldOptions = {}): Promise<World> {
  const api = await startFakeApiServer({
    tokens: {
      admin: "admin",
      sidecar: o.admin ? "admin" : { user: `system:serviceaccount:${NS}:${TENANT}-sidecar`, rules: o.operatorRole ? operatorRoleRules() : shippedRoleRules() },
    },
  });
  const t = tenant({ configuration: { name: SECRET }, features: { bucketDNS: true }, ...o.tenantSpec }, TENANT);
  const created = api.create(t as unknown as KObject);
  const tenantUid = created.metadata!.uid as string;
  api.create(secret(CREDENTIALS, SECRET) as unknown as KObject);
  const tls = (o.tenantSpec?.requestAutoCert as boolean | undefined) !== false;
  if (o.operatorServices !== false) for (const name of OPERATOR_SERVICES) api.create(operatorService(name, tenantUid, tls));

  return assemble(api, tenantUid, "sidecar", o, () => api.close());
}

/** Every log line and both output streams of a sidecar, as one string (for "no secret anywhere" checks). */
export const everything = (sc: SidecarProcess) => `${sc.stdout()}\n${sc.stderr()}`;

/** `eventually` for checks that return the value once it is there (undefined/false/null until then). */
export async function until<T>(check: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 10_000, what = "condition"): Promise<T> {
  return (await eventually(check, timeoutMs, what)) as T;
}
