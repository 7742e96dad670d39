/**
 * The backend switch of the scenario tests: the same scenario runs against
 * the in-repo fake API server (`npm test`) or a real kube-apiserver + etcd
 * (`npm run test:kube`, test/kube/). A scenario gets a Cluster: an API server
 * holding its objects, and a credential of the sidecar's ServiceAccount bound
 * to the Role shipped in deploy/rbac.yaml.
 *
 * Both servers offer the same operations (the fake's direct store access;
 * the real server's as the harness admin); on the real one they are async,
 * so scenarios always `await` them. `requests` is, on both, what the clients
 * under test asked (the fake's request log; the real server's audit log),
 * never the test's own writes.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadAll } from "js-yaml";
import {
  startFakeApiServer,
  FakeApiServer,
  type FakeApiServerOptions,
  type KObject,
  type KubeconfigOptions,
  type ListFilter,
  type ObjectRef,
  type PatchType,
  type RequestRecord,
  type Rule,
  type WatchInfo,
} from "../fake-apiserver/index.ts";
import { freePort } from "./sidecar.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
export const NS = "minio-tenant";
/** The ServiceAccount deploy/rbac.yaml binds its Role to. */
export const SIDECAR_SA = "myminio-sidecar";
export const SIDECAR_USER = `system:serviceaccount:${NS}:${SIDECAR_SA}`;

/** What scenarios do with an API server; FakeApiServer and the real-server view both provide it. */
export interface ApiServer {
  readonly url: string;
  readonly caPem: string;
  /** Requests of the clients under test, oldest first (not the test's own writes). */
  readonly requests: RequestRecord[];
  readonly openWatches: WatchInfo[];
  create<T extends KObject>(obj: T): T | Promise<T>;
  update<T extends KObject>(obj: T): T | Promise<T>;
  patch(ref: ObjectRef, patch: unknown, type?: PatchType): KObject | Promise<KObject>;
  delete(ref: ObjectRef): unknown;
  get(ref: ObjectRef): KObject | undefined | Promise<KObject | undefined>;
  list(kind: string, f?: ListFilter): KObject[] | Promise<KObject[]>;
  writeKubeconfig(path: string, o?: KubeconfigOptions): Promise<void>;
  writeServiceAccount(dir: string, o: { token: string; namespace: string }): Promise<unknown>;
  inClusterEnv(): Record<string, string>;
}

export interface Cluster<A extends ApiServer = ApiServer> {
  backend: "fake" | "kube";
  api: A;
  /** The sidecar's credential: ServiceAccount myminio-sidecar, bound to deploy/rbac.yaml's Role. */
  token: string;
  /** A credential with every permission (for cases that are about content, not RBAC). */
  adminToken: string;
  /**
   * A credential of another identity bound to a copy of the shipped Role whose
   * secrets rule names `secretNames` instead (e.g. a Role that lacks the Secret).
   */
  tokenFor(secretNames: string[]): Promise<string>;
  /** The API server goes away (connections refused) with its storage kept: etcd keeps running on the real one. */
  stopApiServer(): Promise<void>;
  /** ...and comes back on the same address: a new process, a fresh watch cache. */
  startApiServer(): Promise<void>;
  close(): Promise<void>;
}

export interface ClusterOptions {
  objects?: KObject[];
  /** Secret names in the sidecar's Role (default: the shipped Role's, `storage-configuration`). */
  secretNames?: string[];
  /** Fake only: server options, and `listening: false` = its port reserved but closed. */
  fake?: FakeApiServerOptions & { listening?: boolean };
}

export interface Backend {
  name: "fake" | "kube";
  cluster(o?: ClusterOptions): Promise<Cluster>;
}

/** The Role of deploy/rbac.yaml as fake-apiserver rules, bound in `namespace`. */
export function shippedRoleRules(namespace = NS, secretNames?: string[]): Rule[] {
  const role = shippedRbac().find((d) => d.kind === "Role") as unknown as { rules: Rule[] } | undefined;
  if (!role?.rules) throw new Error("deploy/rbac.yaml has no Role");
  return role.rules.map((r) => ({ ...r, ...(secretNames && r.resources.includes("secrets") ? { resourceNames: secretNames } : {}), namespaces: [namespace] }));
}

/**
 * The MinIO Operator's own per-Tenant Role for its sidecar (SPEC 4): secrets get/list/watch,
 * services create/delete/get, tenants get/list/watch. No Service list or update, no Events.
 * Its one copy is test/fixtures/operator-per-tenant-role.yaml (the fake, the real API server
 * and the real node all take it from there).
 */
export function operatorRoleRules(namespace = NS): Rule[] {
  return operatorRole().rules.map((r) => ({ ...r, namespaces: [namespace] }));
}

/** The fixture's Role object (its rules; name and namespace are for the caller to set). */
export function operatorRole(): { rules: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }> } {
  const [role] = loadAll(readFileSync(join(ROOT, "test/fixtures/operator-per-tenant-role.yaml"), "utf8")) as Array<{ rules: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }> }>;
  return role!;
}

export function shippedRbac(): KObject[] {
  return (loadAll(readFileSync(join(ROOT, "deploy/rbac.yaml"), "utf8")) as KObject[]).filter(Boolean);
}

let extraIdentities = 0;

export const fakeBackend: Backend = {
  name: "fake",
  async cluster(o: ClusterOptions = {}) {
    const token = "sidecar-token";
    const options: FakeApiServerOptions = {
      ...o.fake,
      tokens: {
        [token]: { user: SIDECAR_USER, rules: shippedRoleRules(NS, o.secretNames) },
        "admin-token": "admin",
      },
      objects: o.objects ?? [],
    };
    const api = o.fake?.listening === false ? new FakeApiServer({ ...options, port: await freePort() }) : await startFakeApiServer(options);
    return {
      backend: "fake",
      api,
      token,
      adminToken: "admin-token",
      async tokenFor(secretNames) {
        const t = `other-identity-${++extraIdentities}`;
        api.setToken(t, { user: `system:serviceaccount:${NS}:${t}`, rules: shippedRoleRules(NS, secretNames) });
        return t;
      },
      stopApiServer: () => api.stop(),
      startApiServer: () => api.start(),
      close: () => api.close(),
    } satisfies Cluster<FakeApiServer>;
  },
};
