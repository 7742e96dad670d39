// Verifies test/fake-apiserver against the REAL @kubernetes/client-node 1.4.0
// (KubeConfig, CoreV1Api, CustomObjectsApi, Watch) over real sockets and TLS.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ApiException,
  ApisApi,
  CoreApi,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  ListWatch,
  PatchStrategy,
  setHeaderOptions,
  VersionApi,
  Watch,
  type V1Secret,
  EventsV1Api,
} from "@kubernetes/client-node";
import { startFakeApiServer, unrelatedCaPem, type FakeApiServer, type Rule } from "./fake-apiserver/index.ts";

const NS = "minio";
const ADMIN = "admin-token";
const SIDECAR = "sidecar-token";
const GROUP = "minio.min.io";
const VERSION = "v2";

/** What the sidecar is meant to have: its own credentials secret by name, tenants in its namespace. */
const sidecarRules: Rule[] = [
  { apiGroups: [""], resources: ["secrets"], verbs: ["get", "list", "watch", "update", "patch"], resourceNames: ["tenant-creds"], namespaces: [NS] },
  { apiGroups: [""], resources: ["secrets"], verbs: ["create"], resourceNames: ["tenant-creds"], namespaces: [NS] }, // never matches: create + resourceNames
  { apiGroups: [GROUP], resources: ["tenants"], verbs: ["get", "list", "watch"], namespaces: [NS] },
  { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"], namespaces: [NS] },
];

function clients(server: FakeApiServer, token?: string, namespace?: string) {
  const kc = new KubeConfig();
  kc.loadFromString(server.kubeconfig({ token, namespace }));
  return { kc, core: kc.makeApiClient(CoreV1Api), custom: kc.makeApiClient(CustomObjectsApi) };
}

async function apiError(p: Promise<unknown>): Promise<ApiException<string>> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ApiException) return e as ApiException<string>;
    throw e;
  }
  throw new Error("expected an ApiException");
}

/** client-node 1.4.0 puts the raw response text into ApiException.body for non-2xx codes it does not model. */
function statusOf(e: ApiException<string>): any {
  return typeof e.body === "string" ? JSON.parse(e.body) : e.body;
}

interface WatchHandle {
  events: Array<{ type: string; object: any }>;
  done: Promise<any>;
  abort(): Promise<void>;
  next(pred: (ev: { type: string; object: any }) => boolean, timeoutMs?: number): Promise<{ type: string; object: any }>;
}

function watch(kc: KubeConfig, path: string, params: Record<string, string | number | boolean | undefined>): WatchHandle {
  const events: Array<{ type: string; object: any }> = [];
  const listeners = new Set<() => void>();
  let resolveDone!: (e: any) => void;
  const done = new Promise<any>((r) => (resolveDone = r));
  const controller = new Watch(kc).watch(
    path,
    params,
    (type, object) => {
      events.push({ type, object });
      for (const l of [...listeners]) l();
    },
    (err) => resolveDone(err ?? null),
  );
  return {
    events,
    done,
    async abort() {
      (await controller).abort();
    },
    next(pred, timeoutMs = 3000) {
      return new Promise((resolve, reject) => {
        let seen = 0;
        const check = () => {
          for (; seen < events.length; seen++) {
            if (pred(events[seen]!)) {
              listeners.delete(check);
              clearTimeout(t);
              resolve(events[seen]!);
              return;
            }
          }
        };
        const t = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`watch: no matching event in ${timeoutMs} ms; got ${JSON.stringify(events.map((e) => e.type))}`));
        }, timeoutMs);
        listeners.add(check);
        check();
      });
    },
  };
}

async function until(cond: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timeout: ${what}`);
    await Bun.sleep(5);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, rej) => setTimeout(() => rej(new Error(`timeout: ${what}`)), ms))]);
}

describe("fake apiserver over https with the real client-node", () => {
  let server: FakeApiServer;
  let admin: ReturnType<typeof clients>;

  beforeAll(async () => {
    server = await startFakeApiServer({
      tokens: { [ADMIN]: "admin", [SIDECAR]: { user: "system:serviceaccount:minio:sidecar", rules: sidecarRules } },
      bookmarkIntervalMs: 100,
    });
    admin = clients(server, ADMIN, NS);
  });
  afterAll(async () => {
    await server.close();
  });

  test("serves https with the fixture CA and answers discovery", async () => {
    expect(server.url).toStartWith("https://127.0.0.1:");
    expect(server.caPem).toContain("BEGIN CERTIFICATE");
    const v = await admin.kc.makeApiClient(VersionApi).getCode();
    expect(v.major).toBe("1");
    expect(v.gitVersion).toMatch(/^v1\.\d+\.\d+/);
    const api = await admin.kc.makeApiClient(CoreApi).getAPIVersions();
    expect(api.versions).toEqual(["v1"]);
    const apis = await admin.kc.makeApiClient(ApisApi).getAPIVersions();
    expect(apis.groups.map((g) => g.name)).toContain(GROUP);
    expect(apis.groups.find((g) => g.name === GROUP)?.preferredVersion?.groupVersion).toBe("minio.min.io/v2");
  });

  test("refuses a client that trusts another CA", async () => {
    const kc = new KubeConfig();
    kc.loadFromString(server.kubeconfig({ token: ADMIN, caPem: unrelatedCaPem() }));
    const err: any = await kc
      .makeApiClient(CoreV1Api)
      .readNamespacedSecret({ name: "nope", namespace: NS })
      .then(() => undefined, (e) => e);
    expect(err).toBeDefined();
    expect(err).not.toBeInstanceOf(ApiException);
    expect(String(err.code ?? err.message)).toMatch(/CERT|certificate|SELF_SIGNED|UNABLE_TO_VERIFY/i);
  });

  test("secrets: create 201 / 409, get, list, replace (409 on stale rv), patch, delete (404 after)", async () => {
    const { core } = admin;
    const created = await core.createNamespacedSecretWithHttpInfo({
      namespace: NS,
      body: { metadata: { name: "s1", labels: { app: "minio" } }, data: { a: Buffer.from("1").toString("base64") } },
    });
    expect(created.httpStatusCode).toBe(201);
    const s1 = created.data;
    expect(s1.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(s1.metadata?.namespace).toBe(NS);
    expect(s1.metadata?.resourceVersion).toMatch(/^\d+$/);
    expect(s1.metadata?.creationTimestamp).toBeInstanceOf(Date);
    expect(s1.type).toBe("Opaque");

    const dup = await apiError(core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: "s1" } } }));
    expect(dup.code).toBe(409);
    expect(statusOf(dup)).toMatchObject({ kind: "Status", status: "Failure", reason: "AlreadyExists", code: 409, details: { name: "s1", kind: "secrets" } });
    expect(statusOf(dup).message).toBe('secrets "s1" already exists');

    const got = await core.readNamespacedSecret({ name: "s1", namespace: NS });
    expect(Buffer.from(got.data!.a!, "base64").toString()).toBe("1");
    const missing = await apiError(core.readNamespacedSecret({ name: "nope", namespace: NS }));
    expect(missing.code).toBe(404);
    expect(statusOf(missing)).toMatchObject({ reason: "NotFound", message: 'secrets "nope" not found', details: { name: "nope", kind: "secrets" } });

    const list = await core.listNamespacedSecret({ namespace: NS, labelSelector: "app=minio" });
    expect(list.kind).toBe("SecretList");
    expect(list.metadata?.resourceVersion).toBe(server.resourceVersion);
    expect(list.items.map((i) => i.metadata?.name)).toEqual(["s1"]);
    expect(list.items[0]!.kind).toBeUndefined(); // built-in list items carry no kind/apiVersion

    // replace: stale resourceVersion -> 409 Conflict; current -> 200 with a new rv
    const replaced = await core.replaceNamespacedSecret({ name: "s1", namespace: NS, body: { ...got, data: { a: Buffer.from("2").toString("base64") } } });
    expect(Number(replaced.metadata!.resourceVersion)).toBeGreaterThan(Number(got.metadata!.resourceVersion));
    expect(replaced.metadata?.uid).toBe(s1.metadata!.uid!);
    const stale = await apiError(core.replaceNamespacedSecret({ name: "s1", namespace: NS, body: got }));
    expect(stale.code).toBe(409);
    expect(statusOf(stale)).toMatchObject({ reason: "Conflict" });
    expect(statusOf(stale).message).toContain("the object has been modified");
    const absent = await apiError(core.replaceNamespacedSecret({ name: "ghost", namespace: NS, body: { metadata: { name: "ghost" } } }));
    expect(absent.code).toBe(404);

    // merge patch (the client's default content type is json-patch; merge needs the header option)
    const merged = await core.patchNamespacedSecret(
      { name: "s1", namespace: NS, body: { metadata: { labels: { extra: "yes", app: null } } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    expect(merged.metadata?.labels).toEqual({ extra: "yes" });
    const jsonPatched = await core.patchNamespacedSecret({ name: "s1", namespace: NS, body: [{ op: "add", path: "/metadata/annotations", value: { x: "y" } }] });
    expect(jsonPatched.metadata?.annotations).toEqual({ x: "y" });
    const strategic = await core.patchNamespacedSecret(
      { name: "s1", namespace: NS, body: { data: { b: Buffer.from("3").toString("base64") } } },
      setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
    );
    expect(Object.keys(strategic.data!).sort()).toEqual(["a", "b"]);
    const stalePatch = await apiError(
      core.patchNamespacedSecret(
        { name: "s1", namespace: NS, body: { metadata: { resourceVersion: got.metadata!.resourceVersion }, data: {} } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      ),
    );
    expect(stalePatch.code).toBe(409);

    // a no-op update does not bump the resourceVersion
    const rvBefore = server.resourceVersion;
    const same = await core.replaceNamespacedSecret({ name: "s1", namespace: NS, body: strategic });
    expect(same.metadata?.resourceVersion).toBe(strategic.metadata!.resourceVersion!);
    expect(server.resourceVersion).toBe(rvBefore);

    const del = await core.deleteNamespacedSecretWithHttpInfo({ name: "s1", namespace: NS });
    expect(del.httpStatusCode).toBe(200);
    expect(del.data).toMatchObject({ kind: "Status", status: "Success", details: { name: "s1", kind: "secrets" } });
    const again = await apiError(core.deleteNamespacedSecret({ name: "s1", namespace: NS }));
    expect(again.code).toBe(404);
  });

  test("secrets: stringData is merged into base64 data and dropped", async () => {
    const { core } = admin;
    const s = await core.createNamespacedSecret({
      namespace: NS,
      body: { metadata: { name: "sd" }, data: { keep: Buffer.from("k").toString("base64") }, stringData: { user: "minio", keep: "override" } },
    });
    expect(s.stringData).toBeUndefined();
    expect(Buffer.from(s.data!.user!, "base64").toString()).toBe("minio");
    expect(Buffer.from(s.data!.keep!, "base64").toString()).toBe("override");
    const u = await core.replaceNamespacedSecret({ name: "sd", namespace: NS, body: { ...s, stringData: { pass: "p@ss" } } });
    expect(Object.keys(u.data!).sort()).toEqual(["keep", "pass", "user"]);
    expect(server.get({ kind: "Secret", namespace: NS, name: "sd" })?.stringData).toBeUndefined();
    // validation is real too
    const bad = await apiError(core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: "Bad_Name" } } }));
    expect(bad.code).toBe(422);
    expect(statusOf(bad)).toMatchObject({ reason: "Invalid", details: { name: "Bad_Name", kind: "Secret" } });
    const withRv = await apiError(core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: "rv", resourceVersion: "5" } } }));
    expect(withRv.code).toBe(500);
    expect(statusOf(withRv).message).toBe("resourceVersion should not be set on objects to be created");
  });

  test("tenants (minio.min.io/v2) through CustomObjectsApi, with a status subresource", async () => {
    const { custom } = admin;
    const base = { group: GROUP, version: VERSION, namespace: NS, plural: "tenants" };
    const t = await custom.createNamespacedCustomObject({
      ...base,
      body: { apiVersion: "minio.min.io/v2", kind: "Tenant", metadata: { name: "t1" }, spec: { pools: [{ servers: 4 }] }, status: { currentState: "ignored" } },
    });
    expect(t.metadata.generation).toBe(1);
    expect(t.status).toBeUndefined(); // status only through /status
    const got = await custom.getNamespacedCustomObject({ ...base, name: "t1" });
    expect(got.spec.pools[0].servers).toBe(4);
    const list = await custom.listNamespacedCustomObject(base);
    expect(list.kind).toBe("TenantList");
    expect(list.items[0].kind).toBe("Tenant"); // custom resource list items keep kind/apiVersion

    const patched = await custom.patchNamespacedCustomObject(
      { ...base, name: "t1", body: { spec: { pools: [{ servers: 8 }] } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    expect(patched.spec.pools[0].servers).toBe(8);
    expect(patched.metadata.generation).toBe(2);
    const smp = await apiError(
      custom.patchNamespacedCustomObject({ ...base, name: "t1", body: { spec: {} } }, setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch)),
    );
    expect(smp.code).toBe(415);

    const noRv = await apiError(
      custom.replaceNamespacedCustomObject({ ...base, name: "t1", body: { apiVersion: "minio.min.io/v2", kind: "Tenant", metadata: { name: "t1" }, spec: {} } }),
    );
    expect(noRv.code).toBe(422);

    const st = await custom.replaceNamespacedCustomObjectStatus({ ...base, name: "t1", body: { ...patched, spec: { changed: true }, status: { currentState: "Initialized" } } });
    expect(st.status.currentState).toBe("Initialized");
    expect(st.spec.pools[0].servers).toBe(8); // /status ignores spec
    expect(st.metadata.generation).toBe(2);

    const missing = await apiError(custom.getNamespacedCustomObject({ ...base, name: "nope" }));
    expect(missing.code).toBe(404);
    expect(statusOf(missing)).toMatchObject({ reason: "NotFound", message: 'tenants.minio.min.io "nope" not found', details: { group: GROUP, kind: "tenants" } });

    await custom.deleteNamespacedCustomObject({ ...base, name: "t1" });
    expect((await apiError(custom.deleteNamespacedCustomObject({ ...base, name: "t1" }))).code).toBe(404);
  });

  test("watch with fieldSelector after a resourceVersion: ADDED, MODIFIED, DELETED", async () => {
    const { core, kc } = admin;
    await core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: "other" } } });
    const before = await core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: "w1" }, stringData: { v: "0" } } });
    const rv = before.metadata!.resourceVersion!;
    // a change after rv, before the watch starts: replayed from history
    await core.replaceNamespacedSecret({ name: "w1", namespace: NS, body: { ...before, stringData: { v: "1" } } });

    const w = watch(kc, `/api/v1/namespaces/${NS}/secrets`, { fieldSelector: "metadata.name=w1", resourceVersion: rv });
    const m1 = await w.next((e) => e.type === "MODIFIED");
    expect(Buffer.from(m1.object.data.v, "base64").toString()).toBe("1");
    expect(m1.object.kind).toBe("Secret"); // watch events carry kind/apiVersion

    server.create({ apiVersion: "v1", kind: "Secret", metadata: { name: "w2", namespace: NS } }); // filtered out
    server.patch(`secrets/${NS}/w1`, { metadata: { labels: { x: "1" } } });
    const m2 = await w.next((e) => e.type === "MODIFIED" && e.object.metadata.labels?.x === "1");
    await core.deleteNamespacedSecret({ name: "w1", namespace: NS });
    const d = await w.next((e) => e.type === "DELETED");
    expect(Number(d.object.metadata.resourceVersion)).toBeGreaterThan(Number(m2.object.metadata.resourceVersion));
    await core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: "w1" } } });
    await w.next((e) => e.type === "ADDED");
    expect(w.events.map((e) => e.type)).toEqual(["MODIFIED", "MODIFIED", "DELETED", "ADDED"]);
    expect(w.events.every((e) => e.object.metadata.name === "w1")).toBe(true);

    // without a resourceVersion: synthetic ADDED for what exists, then live events
    const w0 = watch(kc, `/api/v1/namespaces/${NS}/secrets`, { labelSelector: "tier=a" });
    server.create({ apiVersion: "v1", kind: "Secret", metadata: { name: "la", namespace: NS, labels: { tier: "a" } } });
    await w0.next((e) => e.type === "ADDED" && e.object.metadata.name === "la");
    // leaving the label selection is a DELETED for this watch
    server.patch(`secrets/${NS}/la`, { metadata: { labels: { tier: "b" } } });
    await w0.next((e) => e.type === "DELETED" && e.object.metadata.name === "la");

    await w.abort();
    await w0.abort();
    const log = server.requests.filter((r) => r.verb === "watch" && r.resource === "secrets");
    expect(log.length).toBeGreaterThanOrEqual(2);
    expect(log[0]).toMatchObject({ watch: true, status: 200, namespace: NS, name: "w1", token: ADMIN });
  });

  test("BOOKMARK events with allowWatchBookmarks, and timeoutSeconds ends the stream", async () => {
    const w = watch(admin.kc, `/api/v1/namespaces/${NS}/secrets`, {
      allowWatchBookmarks: true,
      resourceVersion: server.resourceVersion,
      timeoutSeconds: 1,
    });
    const b = await w.next((e) => e.type === "BOOKMARK");
    expect(b.object.kind).toBe("Secret");
    expect(b.object.apiVersion).toBe("v1");
    expect(b.object.metadata.resourceVersion).toBe(server.resourceVersion);
    expect(Object.keys(b.object.metadata).sort()).toEqual(["creationTimestamp", "resourceVersion"]);
    expect(await withTimeout(w.done, 3000, "watch timeout")).toBeNull();
  });

  test("too old resourceVersion: ERROR event with a 410 Expired Status, then end of stream", async () => {
    const s = await admin.core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: "old" } } });
    await admin.core.patchNamespacedSecret({ name: "old", namespace: NS, body: [{ op: "add", path: "/metadata/labels", value: { a: "b" } }] });
    server.compact();
    const w = watch(admin.kc, `/api/v1/namespaces/${NS}/secrets`, { resourceVersion: s.metadata!.resourceVersion });
    const err = await w.next((e) => e.type === "ERROR");
    expect(err.object).toMatchObject({ kind: "Status", apiVersion: "v1", status: "Failure", reason: "Expired", code: 410 });
    expect(err.object.message).toMatch(/^too old resource version: \d+ \(\d+\)$/);
    expect(await withTimeout(w.done, 3000, "done after ERROR")).toBeNull(); // client-node: stream end -> done(null)
    expect(w.events.length).toBe(1);
    // the current resourceVersion is still fine
    const ok = watch(admin.kc, `/api/v1/namespaces/${NS}/secrets`, { resourceVersion: server.resourceVersion });
    server.patch(`secrets/${NS}/old`, { metadata: { labels: { a: "c" } } });
    await ok.next((e) => e.type === "MODIFIED");
    await ok.abort();
  });

  test("too old resourceVersion answered as HTTP 410: done(err) with statusCode 410", async () => {
    server.expiredWatch = "http";
    try {
      const w = watch(admin.kc, `/api/v1/namespaces/${NS}/secrets`, { resourceVersion: "1" });
      const err = await withTimeout(w.done, 3000, "done with 410");
      expect(err).toBeInstanceOf(Error);
      expect(err.statusCode).toBe(410);
      expect(err.message).toBe("Gone");
      expect(w.events).toEqual([]);
      expect(server.requests.at(-1)).toMatchObject({ verb: "watch", status: 410 });
    } finally {
      server.expiredWatch = "event";
    }
  });

  test("RBAC: resourceNames, fieldSelector on list/watch, 403 and 401", async () => {
    const sidecar = clients(server, SIDECAR, NS);
    server.create({ apiVersion: "v1", kind: "Secret", metadata: { name: "tenant-creds", namespace: NS }, stringData: { k: "v" } });
    server.create({ apiVersion: "v1", kind: "Secret", metadata: { name: "tenant-creds", namespace: "elsewhere" } });

    const own = await sidecar.core.readNamespacedSecret({ name: "tenant-creds", namespace: NS });
    expect(own.metadata?.name).toBe("tenant-creds");
    const other = await apiError(sidecar.core.readNamespacedSecret({ name: "sd", namespace: NS }));
    expect(other.code).toBe(403);
    expect(statusOf(other)).toMatchObject({ kind: "Status", reason: "Forbidden", code: 403, details: { name: "sd", kind: "secrets" } });
    expect(statusOf(other).message).toBe(
      'secrets "sd" is forbidden: User "system:serviceaccount:minio:sidecar" cannot get resource "secrets" in API group "" in the namespace "minio"',
    );
    expect((await apiError(sidecar.core.readNamespacedSecret({ name: "tenant-creds", namespace: "elsewhere" }))).code).toBe(403);

    // list/watch with resourceNames: only with fieldSelector=metadata.name=<allowed name>
    const listed = await sidecar.core.listNamespacedSecret({ namespace: NS, fieldSelector: "metadata.name=tenant-creds" });
    expect(listed.items.map((i) => i.metadata?.name)).toEqual(["tenant-creds"]);
    const unnamed = await apiError(sidecar.core.listNamespacedSecret({ namespace: NS }));
    expect(unnamed.code).toBe(403);
    expect(statusOf(unnamed).message).toBe('secrets is forbidden: User "system:serviceaccount:minio:sidecar" cannot list resource "secrets" in API group "" in the namespace "minio"');
    expect((await apiError(sidecar.core.listNamespacedSecret({ namespace: NS, fieldSelector: "metadata.name=sd" }))).code).toBe(403);
    const clusterWide = await apiError(sidecar.core.listSecretForAllNamespaces({}));
    expect(statusOf(clusterWide).message).toContain("at the cluster scope");

    const w = watch(sidecar.kc, `/api/v1/namespaces/${NS}/secrets`, { fieldSelector: "metadata.name=tenant-creds" });
    await w.next((e) => e.type === "ADDED");
    await w.abort();
    const denied = watch(sidecar.kc, `/api/v1/namespaces/${NS}/secrets`, {});
    const derr = await withTimeout(denied.done, 3000, "forbidden watch");
    expect(derr.statusCode).toBe(403);

    // create can never be granted through resourceNames; update/patch by name can
    const create = await apiError(sidecar.core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: "tenant-creds2" } } }));
    expect(create.code).toBe(403);
    await sidecar.core.patchNamespacedSecret(
      { name: "tenant-creds", namespace: NS, body: { metadata: { annotations: { rotated: "1" } } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    expect((await apiError(sidecar.core.deleteNamespacedSecret({ name: "tenant-creds", namespace: NS }))).code).toBe(403);
    // tenants: namespace-wide read is granted
    const tenants = await sidecar.custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NS, plural: "tenants" });
    expect(tenants.kind).toBe("TenantList");
    expect((await apiError(sidecar.custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: "tenants" }))).code).toBe(403);

    // 401: no token, unknown token (client-node models 401 itself: body is undefined)
    const anon = await apiError(clients(server).core.readNamespacedSecret({ name: "tenant-creds", namespace: NS }));
    expect(anon.code).toBe(401);
    expect((await apiError(clients(server, "bogus").core.readNamespacedSecret({ name: "tenant-creds", namespace: NS }))).code).toBe(401);
    expect(server.requests.at(-1)).toMatchObject({ status: 401, token: "bogus" });

    // the request log lets tests assert the sidecar never listed/watched secrets without a name
    const broad = server.requests.filter((r) => r.token === SIDECAR && r.resource === "secrets" && (r.verb === "list" || r.verb === "watch") && !r.name);
    expect(broad.map((r) => `${r.verb} ${r.namespace || "<cluster>"} ${r.status}`)).toEqual([`list ${NS} 403`, `list <cluster> 403`, `watch ${NS} 403`]);
  });

  test("cluster-wide list and watch of secrets work and are logged", async () => {
    const all = await admin.core.listSecretForAllNamespaces({});
    expect(all.items.some((s) => s.metadata?.namespace === "elsewhere")).toBe(true);
    const w = watch(admin.kc, "/api/v1/secrets", { resourceVersion: server.resourceVersion });
    server.create({ apiVersion: "v1", kind: "Secret", metadata: { name: "x", namespace: "third" } });
    const ev = await w.next((e) => e.type === "ADDED");
    expect(ev.object.metadata.namespace).toBe("third");
    await w.abort();
    const logged = server.requests.filter((r) => r.path === "/api/v1/secrets" && r.token === ADMIN);
    expect(logged.map((r) => [r.verb, r.namespace, r.watch])).toEqual([
      ["list", "", false],
      ["watch", "", true],
    ]);
  });

  test("failNext: 500 Status, then connection resets", async () => {
    server.failNext(1, 500);
    const e500 = await apiError(admin.core.readNamespacedSecret({ name: "sd", namespace: NS }));
    expect(e500.code).toBe(500);
    expect(statusOf(e500)).toMatchObject({ kind: "Status", reason: "InternalError", code: 500 });
    expect(server.requests.at(-1)).toMatchObject({ status: 500, fault: 500 });

    // client-node's node-fetch is Bun's fetch, which silently retries a request once when a
    // *pooled* keep-alive connection is reset: one injected reset is invisible to the caller...
    await admin.core.readNamespacedSecret({ name: "sd", namespace: NS }); // the connection is pooled now
    let n = server.requests.length;
    server.failNext(1, "reset");
    expect((await admin.core.readNamespacedSecret({ name: "sd", namespace: NS })).metadata?.name).toBe("sd");
    expect(server.requests.slice(n).map((r) => r.status)).toEqual([0, 200]);
    expect(server.requests[n]).toMatchObject({ fault: "reset", verb: "get", name: "sd" });

    // ...so inject several to make the caller see ECONNRESET (a plain TypeError, not an ApiException).
    n = server.requests.length;
    server.failNext(3, "reset");
    const err: any = await admin.core.readNamespacedSecret({ name: "sd", namespace: NS }).then(() => undefined, (e) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect(err).not.toBeInstanceOf(ApiException);
    expect(err.code).toBe("ECONNRESET");
    const resets = server.requests.slice(n);
    expect(resets.length).toBe(3 - server.pendingFaults);
    expect(resets.length).toBeGreaterThanOrEqual(1);
    expect(resets.every((r) => r.status === 0 && r.fault === "reset")).toBe(true);
    server.clearFaults();
    expect((await admin.core.readNamespacedSecret({ name: "sd", namespace: NS })).metadata?.name).toBe("sd");
  });

  test("dropWatches ends open watches: done(null)", async () => {
    const from = server.requests.length;
    const w = watch(admin.kc, `/api/v1/namespaces/${NS}/secrets`, { resourceVersion: server.resourceVersion });
    await server.waitForRequest((r) => r.verb === "watch" && r.status === 200, { from });
    expect(server.openWatches.length).toBe(1);
    expect(server.dropWatches()).toBe(1);
    expect(await withTimeout(w.done, 3000, "done after dropWatches")).toBeNull();
    expect(server.openWatches.length).toBe(0);
  });

  test("stop/restart on the same port: requests fail while stopped, work again after", async () => {
    const port = server.port;
    const from = server.requests.length;
    const w = watch(admin.kc, `/api/v1/namespaces/${NS}/secrets`, { resourceVersion: server.resourceVersion });
    await server.waitForRequest((r) => r.verb === "watch" && r.status === 200, { from });
    await server.stop();
    expect(server.listening).toBe(false);
    expect(await withTimeout(w.done, 3000, "watch done on stop")).toBeNull(); // under Bun the cut stream ends "cleanly"
    const down: any = await admin.core.readNamespacedSecret({ name: "sd", namespace: NS }).then(() => undefined, (e) => e);
    expect(down?.code).toBe("ECONNREFUSED");
    await server.restart();
    expect(server.port).toBe(port);
    const s = await admin.core.readNamespacedSecret({ name: "sd", namespace: NS });
    expect(s.metadata?.name).toBe("sd"); // same store
  });

  test("client-node ListWatch (informer) relists after a 410 on re-watch", async () => {
    const list = () => admin.core.listNamespacedSecret({ namespace: NS, fieldSelector: "metadata.name=inf" });
    const lw = new ListWatch<V1Secret>(`/api/v1/namespaces/${NS}/secrets`, new Watch(admin.kc), list, false, undefined, "metadata.name=inf");
    const seen: string[] = [];
    const errs: unknown[] = [];
    lw.on("add", (o) => seen.push(`add ${o.metadata?.name} ${o.data?.v ?? ""}`));
    lw.on("update", (o) => seen.push(`update ${o.metadata?.name} ${o.data?.v ?? ""}`));
    lw.on("error", (e) => errs.push(e));
    const from = server.requests.length;
    server.create({ apiVersion: "v1", kind: "Secret", metadata: { name: "inf", namespace: NS }, data: { v: "MQ==" } });
    await lw.start();
    await server.waitForRequest((r) => r.verb === "watch" && r.name === "inf", { from });
    expect(seen).toEqual(["add inf MQ=="]);

    // An unrelated write moves the global rv, compact() forgets history, the stream drops:
    // the informer re-watches from its old rv, gets 200 + ERROR 410, and relists.
    server.create({ apiVersion: "v1", kind: "Secret", metadata: { name: "unrelated", namespace: NS } });
    server.compact();
    const mark = server.requests.length;
    server.dropWatches();
    const relist = await server.waitForRequest((r) => r.verb === "list" && r.name === "inf", { from: mark });
    const refused = server.requests.slice(mark).filter((r) => r.verb === "watch");
    expect(refused.length).toBeGreaterThanOrEqual(1);
    // (no expect.any() inside toMatchObject here: Bun 1.4.5 writes the matcher into the received object)
    expect(refused[0]!.status).toBe(200); // 200 + ERROR event, not HTTP 410
    expect(Number(refused[0]!.query.resourceVersion)).toBeLessThan(Number(server.resourceVersion));
    await server.waitForRequest((r) => r.verb === "watch" && r.query.resourceVersion === server.resourceVersion, { from: server.requests.indexOf(relist) });
    server.patch(`secrets/${NS}/inf`, { data: { v: "Mg==" } });
    await until(() => seen.length >= 2, "update after relist");
    expect(seen).toEqual(["add inf MQ==", "update inf Mg=="]);
    expect(errs).toEqual([]);
    await lw.stop(); // note: client-node 1.4.0 reports the AbortError of stop() to "error" listeners
    await until(() => server.openWatches.length === 0, "informer watch closed server-side");
  });

  test("pagination, finalizers, generateName, events, watch cleanup", async () => {
    const { core, kc } = admin;
    const watchesBefore = server.openWatches.length;
    for (const n of ["p1", "p2", "p3"]) server.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: n, namespace: "pages" } });
    const page1 = await core.listNamespacedConfigMap({ namespace: "pages", limit: 2 });
    expect(page1.items.map((i) => i.metadata?.name)).toEqual(["p1", "p2"]);
    expect(page1.metadata?.remainingItemCount).toBe(1);
    const page2 = await core.listNamespacedConfigMap({ namespace: "pages", limit: 2, _continue: page1.metadata!._continue! });
    expect(page2.items.map((i) => i.metadata?.name)).toEqual(["p3"]);
    expect(page2.metadata?._continue).toBeUndefined();

    const g = await core.createNamespacedSecret({ namespace: NS, body: { metadata: { generateName: "gen-", finalizers: ["minio.min.io/cleanup"] } } });
    expect(g.metadata?.name).toMatch(/^gen-[a-z0-9]{5}$/);
    const name = g.metadata!.name!;
    const w = watch(kc, `/api/v1/namespaces/${NS}/secrets`, { fieldSelector: `metadata.name=${name}`, resourceVersion: g.metadata!.resourceVersion! });
    const del = await core.deleteNamespacedSecretWithHttpInfo({ name, namespace: NS });
    expect(del.httpStatusCode).toBe(202); // finalizers pending: the object comes back, marked
    expect(server.get(`secrets/${NS}/${name}`)?.metadata?.deletionTimestamp).toBeString();
    await core.patchNamespacedSecret({ name, namespace: NS, body: [{ op: "remove", path: "/metadata/finalizers" }] });
    await w.next((e) => e.type === "DELETED");
    expect(w.events.map((e) => e.type)).toEqual(["MODIFIED", "DELETED"]);
    expect(server.get(`secrets/${NS}/${name}`)).toBeUndefined();

    const ev = await core.createNamespacedEvent({
      namespace: NS,
      body: { metadata: { name: "t1.abc" }, involvedObject: { kind: "Tenant", name: "t1", namespace: NS }, reason: "Rotated", message: "m", type: "Normal" },
    });
    expect(ev.reason).toBe("Rotated");
    const evs = await core.listNamespacedEvent({ namespace: NS, fieldSelector: "involvedObject.kind=Tenant,reason=Rotated" });
    expect(evs.items.length).toBe(1);
    const badField = await apiError(core.listNamespacedSecret({ namespace: NS, fieldSelector: "spec.nope=1" }));
    expect(badField.code).toBe(400);
    expect(statusOf(badField).message).toBe("field label not supported: spec.nope");

    expect(server.openWatches.length).toBe(watchesBefore + 1);
    await w.abort();
    await until(() => server.openWatches.length === watchesBefore, "watch closed server-side");
    expect(server.openWatches.length).toBe(watchesBefore); // a client abort releases the server side
  });

  test("events.k8s.io/v1: discovery, kube-apiserver's strict create/update validation, strategic-merge patch of the series", async () => {
    const { kc } = admin;
    const ev = kc.makeApiClient(EventsV1Api);
    const groups = await kc.makeApiClient(ApisApi).getAPIVersions();
    expect(groups.groups.map((g) => g.name)).toContain("events.k8s.io");
    const good = {
      metadata: { name: "t1.0001" },
      eventTime: new Date("2026-01-01T00:00:00.123Z"),
      reportingController: "minio-operator-sidecar",
      reportingInstance: "pod-0",
      action: "Validate",
      reason: "ConfigInvalid",
      regarding: { apiVersion: "minio.min.io/v2", kind: "Tenant", name: "t1", namespace: NS, uid: "u1" },
      note: "n",
      type: "Warning",
    };
    const created = await ev.createNamespacedEvent({ namespace: NS, body: good as never });
    expect(created.reason).toBe("ConfigInvalid");
    const missing = await apiError(ev.createNamespacedEvent({ namespace: NS, body: { ...good, metadata: { name: "t1.0002" }, eventTime: undefined, type: "Bad", action: "" } as never }));
    expect(missing.code).toBe(422);
    expect(statusOf(missing).details.causes.map((c: { field: string }) => c.field)).toEqual(["action", "eventTime", "type"]);
    const strategic = setHeaderOptions("Content-Type", "application/strategic-merge-patch+json");
    const patched = await ev.patchNamespacedEvent({ name: "t1.0001", namespace: NS, body: { series: { count: 2, lastObservedTime: "2026-01-01T00:00:01.000000Z" } } }, strategic);
    expect(patched.series?.count).toBe(2);
    const tooFew = await apiError(ev.patchNamespacedEvent({ name: "t1.0001", namespace: NS, body: { series: { count: 1, lastObservedTime: "2026-01-01T00:00:02.000000Z" } } }, strategic));
    expect(statusOf(tooFew).details.causes.map((c: { field: string }) => c.field)).toEqual(["series.count"]);
    const immutable = await apiError(ev.patchNamespacedEvent({ name: "t1.0001", namespace: NS, body: { note: "changed" } }, strategic));
    expect(statusOf(immutable).details.causes).toEqual([{ field: "message", reason: "FieldValueInvalid", message: 'Invalid value: "changed": field is immutable' }]);
    // Stored apart from core v1 events; "events" alone resolves to the core type, as kubectl does.
    expect(server.list("events.events.k8s.io", { namespace: NS }).map((e) => e.metadata.name)).toEqual(["t1.0001"]);
    expect(server.list("events", { namespace: NS }).map((e) => e.metadata.name)).not.toContain("t1.0001");
  });

  test("in-cluster config: service-account files + KUBERNETES_SERVICE_* env", async () => {
    const root = await mkdtemp(join(tmpdir(), "fake-sa-"));
    const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
    try {
      await server.writeServiceAccount(join(root, "var/run/secrets/kubernetes.io/serviceaccount"), { token: SIDECAR, namespace: NS });
      Object.assign(process.env, server.inClusterEnv());
      const kc = new KubeConfig();
      kc.loadFromCluster(root);
      expect(kc.getCurrentCluster()?.server).toBe(server.url);
      const s = await kc.makeApiClient(CoreV1Api).readNamespacedSecret({ name: "tenant-creds", namespace: NS });
      expect(s.metadata?.name).toBe("tenant-creds");
      expect(server.requests.at(-1)).toMatchObject({ token: SIDECAR, user: "system:serviceaccount:minio:sidecar", status: 200 });
    } finally {
      process.env.KUBERNETES_SERVICE_HOST = saved.host;
      process.env.KUBERNETES_SERVICE_PORT = saved.port;
      if (saved.host === undefined) delete process.env.KUBERNETES_SERVICE_HOST;
      if (saved.port === undefined) delete process.env.KUBERNETES_SERVICE_PORT;
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe("answers aligned with kube-apiserver v1.37 (test/kube/fake-parity.kube.ts compares them)", () => {
  let server: FakeApiServer;
  const call = async (method: string, path: string, body?: unknown, contentType = "application/json") => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN}`, ...(body === undefined ? {} : { "content-type": contentType }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      tls: { ca: server.caPem },
    } as RequestInit);
    return { status: res.status, body: (await res.json()) as any };
  };
  beforeAll(async () => {
    server = await startFakeApiServer({ tokens: { [ADMIN]: "admin" } });
    server.create({ apiVersion: "v1", kind: "Service", metadata: { name: "svc", namespace: NS }, spec: { type: "ExternalName", externalName: "x.example.com" } });
    server.create({ apiVersion: "v1", kind: "Secret", metadata: { name: "s", namespace: NS }, data: {} });
    server.create({ apiVersion: `${GROUP}/${VERSION}`, kind: "Tenant", metadata: { name: "t", namespace: NS }, spec: {} });
  });
  afterAll(() => server.close());

  test("DELETE of a Service answers with the deleted Service, of a Secret with a Success Status", async () => {
    expect((await call("DELETE", `/api/v1/namespaces/${NS}/services/svc`)).body).toMatchObject({ kind: "Service", metadata: { name: "svc" } });
    expect((await call("DELETE", `/api/v1/namespaces/${NS}/secrets/s`)).body).toMatchObject({ kind: "Status", status: "Success" });
  });

  test("failed delete preconditions are worded on the kind, like the registry store", async () => {
    const uid = "00000000-0000-4000-8000-000000000000";
    const r = await call("DELETE", `/apis/${GROUP}/${VERSION}/namespaces/${NS}/tenants/t`, { kind: "DeleteOptions", apiVersion: "v1", preconditions: { uid } });
    expect(r.status).toBe(409);
    expect(r.body.message).toMatch(new RegExp(`^Operation cannot be fulfilled on Tenant\\.minio\\.min\\.io "t": the UID in the precondition \\(${uid}\\) does not match the UID in record \\([-0-9a-f]{36}\\)\\. The object might have been deleted and then recreated$`));
  });

  test("a Tenant update without resourceVersion: 422 naming the qualified resource", async () => {
    const r = await call("PUT", `/apis/${GROUP}/${VERSION}/namespaces/${NS}/tenants/t`, { apiVersion: `${GROUP}/${VERSION}`, kind: "Tenant", metadata: { name: "t" }, spec: {} });
    expect([r.status, r.body.message]).toEqual([422, 'tenants.minio.min.io "t" is invalid: metadata.resourceVersion: Invalid value: 0: must be specified for an update']);
  });

  test("JSON patch: `replace` of a missing key adds it (json-patch v4); a patch that does not apply is a generic 422 with the cause", async () => {
    const ok = await call("PATCH", `/apis/${GROUP}/${VERSION}/namespaces/${NS}/tenants/t`, [{ op: "replace", path: "/spec/requestAutoCert", value: true }], "application/json-patch+json");
    expect([ok.status, ok.body.spec]).toEqual([200, { requestAutoCert: true }]);
    const bad = await call("PATCH", `/apis/${GROUP}/${VERSION}/namespaces/${NS}/tenants/t`, [{ op: "remove", path: "/spec/nope" }], "application/json-patch+json");
    expect([bad.status, bad.body.message]).toEqual([422, "the server rejected our request due to an error in our request"]);
    expect(bad.body.details.causes[0].message).toContain("nope");
  });
});

describe("fake apiserver over plain http", () => {
  let server: FakeApiServer;
  beforeAll(async () => {
    server = await startFakeApiServer({ tls: false });
  });
  afterAll(async () => {
    await server.close();
  });

  test("insecure-skip-tls-verify kubeconfig, no auth, services defaulted", async () => {
    expect(server.url).toStartWith("http://127.0.0.1:");
    expect(server.caPem).toBe("");
    expect(server.kubeconfig()).toContain("insecure-skip-tls-verify: true");
    const { core } = clients(server);
    const svc = await core.createNamespacedService({ namespace: "default", body: { metadata: { name: "minio" }, spec: { ports: [{ port: 9000 }] } } });
    expect(svc.spec?.type).toBe("ClusterIP");
    expect(svc.spec?.clusterIP).toMatch(/^10\.9[6-9]\./);
    expect(svc.spec?.ports?.[0]?.protocol).toBe("TCP");
    const list = await core.listNamespacedService({ namespace: "default" });
    expect(list.items.map((s) => s.metadata?.name)).toEqual(["minio"]);
    expect(server.requests.map((r) => [r.method, r.verb, r.status])).toEqual([
      ["POST", "create", 201],
      ["GET", "list", 200],
    ]);
  });
});
