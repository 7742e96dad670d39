/**
 * SPEC 6, bucket-DNS webhook, every row of its table, end to end: the real
 * sidecar process (token bound to the Role in deploy/rbac.yaml) against an
 * API server that holds the Tenant and the Services the operator itself
 * creates for it (`minio`, `myminio-hl`, `myminio-console`, each with the
 * operator's controller ownerReference to the Tenant).
 *
 * One copy, run on the fake by test/webhook-buckets.test.ts (which adds the
 * API-failure rows only a fake can stage) and on a real kube-apiserver by
 * test/kube/webhook-buckets.kube.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { KObject } from "../fake-apiserver/index.ts";
import type { ApiServer, Backend } from "../support/backend.ts";
import type { SidecarProcess } from "../support/sidecar.ts";
import { NS, OPERATOR_SERVICES, startWorldOn, TENANT, until, type World } from "../fake-minio/world.ts";

export const HOOK = `/webhook/v1/bucketsrv/${NS}/${TENANT}`;

export async function hook(sc: SidecarProcess, query: string, path = HOOK, method = "POST") {
  const res = await sc.webhook(`${path}${query}`, { method });
  return { status: res.status, body: await res.text(), allow: res.headers.get("allow") };
}

/** What a bucket Service must look like (SPEC 6), for a TLS or plain Tenant. */
export function expectBucketService(svc: KObject | undefined, bucket: string, uid: string, tls: boolean) {
  expect(svc).toBeDefined();
  const s = svc as { metadata: Record<string, any>; spec: Record<string, any> };
  expect(s.metadata.name).toBe(bucket);
  expect(s.metadata.namespace).toBe(NS);
  expect(s.spec.type).toBe("ExternalName");
  expect(s.spec.externalName).toBe(`minio.${NS}.svc.cluster.local`);
  expect(s.spec.ports).toHaveLength(1);
  expect(s.spec.ports[0].name).toBe(tls ? "https-minio" : "http-minio");
  expect(s.spec.ports[0].port).toBe(tls ? 443 : 80);
  expect(String(s.spec.ports[0].targetPort)).toBe("9000");
  const controllers = (s.metadata.ownerReferences ?? []).filter((r: { controller?: boolean }) => r.controller);
  expect(controllers).toHaveLength(1);
  expect(controllers[0]).toMatchObject({ apiVersion: "minio.min.io/v2", kind: "Tenant", name: TENANT, uid });
}

/** The start-up bucket reconcile (bucketDNS is on) has run, so its API requests do not interleave with the tests'. */
export const startupReconcileDone = (sc: SidecarProcess) =>
  until(async () => ((await (await sc.probe("/status")).json()) as { bucketReconcile: unknown }).bucketReconcile, 10_000, "start-up reconcile");

export const serviceWrites = (w: World<ApiServer>, from: number) =>
  w.api.requests.slice(from).filter((r) => r.resource === "services" && ["create", "update", "patch", "delete"].includes(r.verb ?? ""));

/** Registers the scenarios on `backend` (real processes and servers: use a per-test timeout of 30 s or more). */
export function webhookScenarios(backend: Backend) {
  describe("webhook against a TLS Tenant", () => {
    let w: World<ApiServer>;
    let sc: SidecarProcess;
    beforeAll(async () => {
      w = await startWorldOn(backend);
      // Services that share a name with a bucket but are not ours.
      await w.api.create({ apiVersion: "v1", kind: "Service", metadata: { name: "handmade", namespace: NS }, spec: { type: "ExternalName", externalName: "example.com" } } as KObject);
      await w.api.create({
        apiVersion: "v1",
        kind: "Service",
        metadata: {
          name: "other-tenants",
          namespace: NS,
          ownerReferences: [{ apiVersion: "minio.min.io/v2", kind: "Tenant", name: "other", uid: "9d1e3c59-0000-4000-8000-000000000000", controller: true }],
        },
        spec: { type: "ExternalName", externalName: `minio.${NS}.svc.cluster.local` },
      } as KObject);
      sc = await w.sidecar();
      await startupReconcileDone(sc);
    });
    afterAll(() => w.close());

    describe("409 for a Service name the operator or Kubernetes uses, existing or not: nothing created or deleted", () => {
      // The operator's own three exist in this world; the KES and API-server names do not (yet): a bucket must not squat them.
      for (const name of [...OPERATOR_SERVICES, `${TENANT}-kes-hl-svc`, "kubernetes"]) {
        test(name, async () => {
          const existed = (await w.service(name)) !== undefined;
          const from = w.api.requests.length;
          for (const q of [`?bucket=${name}`, `?bucket=${name}&delete=true`]) {
            const r = await hook(sc, q);
            expect(r.status).toBe(409);
            expect(r.body).toContain("bucket name conflict");
          }
          expect(serviceWrites(w, from)).toEqual([]);
          expect((await w.service(name)) !== undefined).toBe(existed);
        });
      }
    });

    describe("403 when namespace/name are not this sidecar's tenant", () => {
      for (const path of [`/webhook/v1/bucketsrv/other-ns/${TENANT}`, `/webhook/v1/bucketsrv/${NS}/other-tenant`, `/webhook/v1/bucketsrv/${TENANT}/${NS}`]) {
        test(path, async () => {
          const from = w.api.requests.length;
          const r = await hook(sc, "?bucket=abc", path);
          expect(r.status).toBe(403);
          expect(serviceWrites(w, from)).toEqual([]);
          expect(await w.service("abc")).toBeUndefined();
        });
      }
    });

    describe("400 with `invalid bucket name` for names that cannot be a Service", () => {
      const cases: Record<string, string> = {
        "a dot": "?bucket=a.b",
        "a leading digit": "?bucket=1abc",
        "upper case": "?bucket=UPPER",
        "64 characters": `?bucket=${"a".repeat(64)}`,
        "a leading hyphen": "?bucket=-abc",
        "a trailing hyphen": "?bucket=abc-",
        "an underscore": "?bucket=a_b",
        "empty": "?bucket=",
        "missing": "",
        "missing, delete=true": "?delete=true",
      };
      for (const [what, q] of Object.entries(cases)) {
        test(what, async () => {
          const from = w.api.requests.length;
          const r = await hook(sc, q);
          expect(r.status).toBe(400);
          expect(r.body).toContain("invalid bucket name");
          expect(w.api.requests.slice(from).filter((x) => x.resource === "services")).toEqual([]);
        });
      }

      test("the limits themselves are accepted: one letter, 63 characters", async () => {
        for (const b of ["a", `a${"-b".repeat(31)}`]) {
          expect(b.length === 1 || b.length === 63).toBe(true);
          expect((await hook(sc, `?bucket=${b}`)).status).toBe(200);
          expectBucketService(await w.service(b), b, w.tenantUid, true);
        }
      });
    });

    test("create: an ExternalName Service to minio.NS.svc.CD, https-minio 443 -> 9000, controlled by the Tenant; 200", async () => {
      const r = await hook(sc, "?bucket=photos&delete=false");
      expect(r.status).toBe(200);
      expectBucketService(await w.service("photos"), "photos", w.tenantUid, true);
    });

    test("`delete` absent means create", async () => {
      expect(await w.service("no-delete-param")).toBeUndefined();
      expect((await hook(sc, "?bucket=no-delete-param")).status).toBe(200);
      expectBucketService(await w.service("no-delete-param"), "no-delete-param", w.tenantUid, true);
    });

    test("create twice: 200 both times, one Service, not rewritten", async () => {
      expect((await hook(sc, "?bucket=twice")).status).toBe(200);
      const first = (await w.service("twice"))!;
      const from = w.api.requests.length;
      expect((await hook(sc, "?bucket=twice")).status).toBe(200);
      expect((await w.service("twice"))!.metadata!.resourceVersion).toBe(first.metadata!.resourceVersion);
      expect(serviceWrites(w, from).filter((x) => x.status < 300)).toEqual([]);
      expect((await w.api.list("Service", { namespace: NS })).filter((s) => s.metadata!.name === "twice")).toHaveLength(1);
    });

    describe("create when a Service of that name is not ours: 409, nothing changed", () => {
      for (const name of [...OPERATOR_SERVICES, "handmade", "other-tenants"]) {
        test(name, async () => {
          const before = structuredClone(await w.service(name));
          expect(before).toBeDefined();
          const from = w.api.requests.length;
          const r = await hook(sc, `?bucket=${name}`);
          expect(r.status).toBe(409);
          expect(r.body).toContain("conflict");
          expect(await w.service(name)).toEqual(before!);
          expect(serviceWrites(w, from).filter((x) => x.status < 300)).toEqual([]);
        });
      }
    });

    test("delete ours: gone, 200", async () => {
      expect((await hook(sc, "?bucket=to-delete")).status).toBe(200);
      expect(await w.service("to-delete")).toBeDefined();
      const r = await hook(sc, "?bucket=to-delete&delete=true");
      expect(r.status).toBe(200);
      expect(await w.service("to-delete")).toBeUndefined();
    });

    test("delete after our Service was replaced by someone else's of the same name: 409, theirs survives", async () => {
      expect((await hook(sc, "?bucket=replaced")).status).toBe(200); // ours, its uid remembered by the sidecar
      const ours = (await w.service("replaced"))!;
      await w.api.delete({ kind: "Service", namespace: NS, name: "replaced" });
      await w.api.create({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "replaced", namespace: NS },
        spec: { type: "ExternalName", externalName: "elsewhere.example.com" },
      });
      const theirs = structuredClone(await w.service("replaced"));
      expect(theirs!.metadata!.uid).not.toBe(ours.metadata!.uid);
      const r = await hook(sc, "?bucket=replaced&delete=true");
      expect(r.status).toBe(409);
      expect(await w.service("replaced")).toEqual(theirs!);
    });

    test("delete absent: 200", async () => {
      expect(await w.service("never-there")).toBeUndefined();
      expect((await hook(sc, "?bucket=never-there&delete=true")).status).toBe(200);
    });

    describe("delete when the Service is not ours: 409, nothing deleted", () => {
      for (const name of [...OPERATOR_SERVICES, "handmade", "other-tenants"]) {
        test(name, async () => {
          const before = structuredClone(await w.service(name));
          const from = w.api.requests.length;
          const r = await hook(sc, `?bucket=${name}&delete=true`);
          expect(r.status).toBe(409);
          expect(r.body).toContain("conflict");
          expect(await w.service(name)).toEqual(before!);
          expect(serviceWrites(w, from)).toEqual([]);
        });
      }
    });

    test("other method: 405 with Allow: POST; other path: 404", async () => {
      for (const method of ["GET", "PUT", "DELETE", "PATCH"]) {
        const r = await hook(sc, "?bucket=methods", HOOK, method);
        expect({ method, status: r.status, allow: r.allow }).toEqual({ method, status: 405, allow: "POST" });
      }
      for (const path of ["/webhook/v1/bucketsrv", `/webhook/v1/bucketsrv/${NS}`, `${HOOK}/extra`, "/webhook/v2/bucketsrv/x/y", "/", "/ready"]) {
        expect({ path, status: (await hook(sc, "?bucket=paths", path)).status }).toEqual({ path, status: 404 });
      }
      expect(await w.service("methods")).toBeUndefined();
      expect(await w.service("paths")).toBeUndefined();
    });

    test("200 concurrent creates of one bucket: every caller gets 200, one Service", async () => {
      const results = await Promise.all(Array.from({ length: 200 }, () => hook(sc, "?bucket=stampede")));
      const statuses = new Map<number, number>();
      for (const r of results) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      expect([...statuses]).toEqual([[200, 200]]);
      expect((await w.api.list("Service", { namespace: NS })).filter((s) => s.metadata!.name === "stampede")).toHaveLength(1);
      expectBucketService(await w.service("stampede"), "stampede", w.tenantUid, true);
    });

    test("the operator's own Services survived everything above", async () => {
      for (const name of OPERATOR_SERVICES) expect(((await w.service(name)) as { spec: { type: string } }).spec.type).toBe("ClusterIP");
    });

    test("SIGTERM under webhook load: exit 0 within 2 s", async () => {
      const sc2 = await w.sidecar();
      let running = true;
      let answered = 0;
      const worker = async (i: number) => {
        for (let n = 0; running; n++) {
          const r = await sc2.webhook(`${HOOK}?bucket=load-${i}&delete=${n % 2 === 1}`, { method: "POST" }).catch(() => undefined);
          if (r) {
            await r.text().catch(() => "");
            answered++;
          }
        }
      };
      const workers = Array.from({ length: 16 }, (_, i) => worker(i));
      await until(() => answered >= 50, 10_000, "webhook load running");
      const { code, ms } = await sc2.stop("SIGTERM");
      running = false;
      await Promise.all(workers);
      expect(code).toBe(0);
      expect(ms).toBeLessThan(2_000);
      expect(sc2.logs.some((l) => l.msg === "stopped")).toBe(true);
      // The first sidecar did not notice.
      expect((await sc.probe("/healthz")).status).toBe(200);
    });
  });

  describe("webhook against a Tenant without TLS (requestAutoCert: false), then with TLS switched on", () => {
    let w: World<ApiServer>;
    let sc: SidecarProcess;
    beforeAll(async () => {
      w = await startWorldOn(backend, { tenantSpec: { requestAutoCert: false } });
      sc = await w.sidecar();
      await startupReconcileDone(sc);
    });
    afterAll(() => w.close());

    test("create: http-minio 80 -> 9000", async () => {
      expect((await hook(sc, "?bucket=plain")).status).toBe(200);
      expectBucketService(await w.service("plain"), "plain", w.tenantUid, false);
    });

    test("after the Tenant turns TLS on, a create brings our existing Service in line (https-minio 443)", async () => {
      const t = (await w.api.get({ kind: "Tenant", namespace: NS, name: TENANT })) as { spec: Record<string, unknown> };
      const updated = (await w.api.update({ ...t, spec: { ...t.spec, requestAutoCert: true } } as KObject)) as { metadata?: { resourceVersion?: string } };
      // The sidecar has taken the TLS config in when /status names the updated Tenant as the file's
      // input: the file alone is not enough, it is renamed into place before the directory's fsync completes.
      await until(async () => {
        const s = (await (await sc.probe("/status")).json()) as { inputs?: { tenant: { resourceVersion: string } } };
        const file = await Bun.file(w.configFile).text();
        return file.includes("https://minio.") && s.inputs?.tenant.resourceVersion === updated.metadata?.resourceVersion ? s : undefined;
      }, 10_000, "config regenerated with TLS");
      expect((await hook(sc, "?bucket=plain")).status).toBe(200);
      expectBucketService(await w.service("plain"), "plain", w.tenantUid, true);
      expect((await hook(sc, "?bucket=fresh")).status).toBe(200);
      expectBucketService(await w.service("fresh"), "fresh", w.tenantUid, true);
    });
  });
}
