/**
 * SPEC 6, bucket-DNS webhook, every row of its table, end to end: the real
 * sidecar process (token bound to the Role in deploy/rbac.yaml) against the
 * fake API server, which holds the Tenant and the Services the operator
 * itself creates for it (`minio`, `myminio-hl`, `myminio-console`, each with
 * the operator's controller ownerReference to the Tenant).
 */
import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { Buffer } from "node:buffer";
import net from "node:net";
import type { KObject } from "./fake-apiserver/index.ts";
import type { SidecarProcess } from "./support/sidecar.ts";
import { NS, OPERATOR_SERVICES, startWorld, TENANT, until, type World } from "./fake-minio/world.ts";

// Real processes and servers: more than bun test's default 5 s per test (bunfig's timeout key is not applied by Bun 1.4.5).
setDefaultTimeout(30_000);

const HOOK = `/webhook/v1/bucketsrv/${NS}/${TENANT}`;

async function hook(sc: SidecarProcess, query: string, path = HOOK, method = "POST") {
  const res = await sc.webhook(`${path}${query}`, { method });
  return { status: res.status, body: await res.text(), allow: res.headers.get("allow") };
}

/**
 * One request over a raw socket, so the target reaches the server exactly as
 * written (fetch would normalise it) and the answer's framing can be checked:
 * every answer must carry Content-Length, since MinIO reads an error body only
 * that far.
 */
async function rawHook(sc: SidecarProcess, target: string, method = "POST") {
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = net.connect(sc.ports.webhook, "127.0.0.1", () =>
      socket.write(`${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`),
    );
    let data = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => (data += chunk));
    socket.on("end", () => resolve(data));
    socket.on("error", reject);
  });
  const split = answer.indexOf("\r\n\r\n");
  const [statusLine = "", ...headerLines] = answer.slice(0, split).split("\r\n");
  const headers = Object.fromEntries(headerLines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
  const body = answer.slice(split + 4);
  return { status: Number(statusLine.split(" ")[1]), headers, body };
}

function expectFramed(r: Awaited<ReturnType<typeof rawHook>>) {
  expect(r.headers["transfer-encoding"]).toBeUndefined();
  expect(r.headers["content-length"]).toBe(String(Buffer.byteLength(r.body, "latin1")));
  expect(r.body.length).toBeGreaterThan(0);
}

/** What a bucket Service must look like (SPEC 6), for a TLS or plain Tenant. */
function expectBucketService(svc: KObject | undefined, bucket: string, uid: string, tls: boolean) {
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
const startupReconcileDone = (sc: SidecarProcess) =>
  until(async () => ((await (await sc.probe("/status")).json()) as { bucketReconcile: unknown }).bucketReconcile, 10_000, "start-up reconcile");

const serviceWrites = (w: World, from: number) =>
  w.api.requests.slice(from).filter((r) => r.resource === "services" && ["create", "update", "patch", "delete"].includes(r.verb ?? ""));

describe("webhook against a TLS Tenant", () => {
  let w: World;
  let sc: SidecarProcess;
  beforeAll(async () => {
    w = await startWorld();
    // Services that share a name with a bucket but are not ours.
    w.api.create({ apiVersion: "v1", kind: "Service", metadata: { name: "handmade", namespace: NS }, spec: { type: "ExternalName", externalName: "example.com" } } as KObject);
    w.api.create({
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

  describe("403 when namespace/name are not this sidecar's tenant", () => {
    for (const path of [`/webhook/v1/bucketsrv/other-ns/${TENANT}`, `/webhook/v1/bucketsrv/${NS}/other-tenant`, `/webhook/v1/bucketsrv/${TENANT}/${NS}`]) {
      test(path, async () => {
        const from = w.api.requests.length;
        const r = await hook(sc, "?bucket=abc", path);
        expect(r.status).toBe(403);
        expect(serviceWrites(w, from)).toEqual([]);
        expect(w.service("abc")).toBeUndefined();
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
        expectBucketService(w.service(b), b, w.tenantUid, true);
      }
    });
  });

  test("create: an ExternalName Service to minio.NS.svc.CD, https-minio 443 -> 9000, controlled by the Tenant; 200", async () => {
    const r = await hook(sc, "?bucket=photos&delete=false");
    expect(r.status).toBe(200);
    expectBucketService(w.service("photos"), "photos", w.tenantUid, true);
  });

  test("`delete` absent means create", async () => {
    expect(w.service("no-delete-param")).toBeUndefined();
    expect((await hook(sc, "?bucket=no-delete-param")).status).toBe(200);
    expectBucketService(w.service("no-delete-param"), "no-delete-param", w.tenantUid, true);
  });

  test("create twice: 200 both times, one Service, not rewritten", async () => {
    expect((await hook(sc, "?bucket=twice")).status).toBe(200);
    const first = w.service("twice")!;
    const from = w.api.requests.length;
    expect((await hook(sc, "?bucket=twice")).status).toBe(200);
    expect(w.service("twice")!.metadata!.resourceVersion).toBe(first.metadata!.resourceVersion);
    expect(serviceWrites(w, from).filter((x) => x.status < 300)).toEqual([]);
    expect(w.api.list("Service", { namespace: NS }).filter((s) => s.metadata!.name === "twice")).toHaveLength(1);
  });

  describe("create when a Service of that name is not ours: 409, nothing changed", () => {
    for (const name of [...OPERATOR_SERVICES, "handmade", "other-tenants"]) {
      test(name, async () => {
        const before = structuredClone(w.service(name));
        expect(before).toBeDefined();
        const from = w.api.requests.length;
        const r = await hook(sc, `?bucket=${name}`);
        expect(r.status).toBe(409);
        expect(r.body).toContain("conflict");
        expect(w.service(name)).toEqual(before!);
        expect(serviceWrites(w, from).filter((x) => x.status < 300)).toEqual([]);
      });
    }
  });

  test("delete ours: gone, 200", async () => {
    expect((await hook(sc, "?bucket=to-delete")).status).toBe(200);
    expect(w.service("to-delete")).toBeDefined();
    const r = await hook(sc, "?bucket=to-delete&delete=true");
    expect(r.status).toBe(200);
    expect(w.service("to-delete")).toBeUndefined();
  });

  test("delete after our Service was replaced by someone else's of the same name: 409, theirs survives", async () => {
    expect((await hook(sc, "?bucket=replaced")).status).toBe(200); // ours, its uid remembered by the sidecar
    const ours = w.service("replaced")!;
    w.api.delete({ kind: "Service", namespace: NS, name: "replaced" });
    w.api.create({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "replaced", namespace: NS },
      spec: { type: "ExternalName", externalName: "elsewhere.example.com" },
    });
    const theirs = structuredClone(w.service("replaced"));
    expect(theirs!.metadata!.uid).not.toBe(ours.metadata!.uid);
    const r = await hook(sc, "?bucket=replaced&delete=true");
    expect(r.status).toBe(409);
    expect(w.service("replaced")).toEqual(theirs!);
  });

  test("delete absent: 200", async () => {
    expect(w.service("never-there")).toBeUndefined();
    expect((await hook(sc, "?bucket=never-there&delete=true")).status).toBe(200);
  });

  describe("delete when the Service is not ours: 409, nothing deleted", () => {
    for (const name of [...OPERATOR_SERVICES, "handmade", "other-tenants"]) {
      test(name, async () => {
        const before = structuredClone(w.service(name));
        const from = w.api.requests.length;
        const r = await hook(sc, `?bucket=${name}&delete=true`);
        expect(r.status).toBe(409);
        expect(r.body).toContain("conflict");
        expect(w.service(name)).toEqual(before!);
        expect(serviceWrites(w, from)).toEqual([]);
      });
    }
  });

  test("Kubernetes API answers 500: 502 with the reason; the next request works", async () => {
    w.api.failNext(1, 500, { match: (r) => r.resource === "services" });
    const r = await hook(sc, "?bucket=api-fails");
    expect(r.status).toBe(502);
    expect(r.body).toContain("Kubernetes API");
    expect(r.body).toContain("500");
    expect(w.service("api-fails")).toBeUndefined();
    expect((await hook(sc, "?bucket=api-fails")).status).toBe(200);
    expect(w.service("api-fails")).toBeDefined();
  });

  test("Kubernetes API refuses a delete with 503: 502, the Service stays", async () => {
    expect((await hook(sc, "?bucket=api-fails-delete")).status).toBe(200);
    w.api.failNext(1, 503, { match: (r) => r.resource === "services" && r.verb === "delete" });
    const r = await hook(sc, "?bucket=api-fails-delete&delete=true");
    expect(r.status).toBe(502);
    expect(r.body).toContain("503");
    expect(w.service("api-fails-delete")).toBeDefined();
  });

  test("Kubernetes API server down: 502 with the reason; the sidecar keeps serving and recovers", async () => {
    await w.api.stop();
    try {
      const r = await hook(sc, "?bucket=api-down");
      expect(r.status).toBe(502);
      expect(r.body).toContain("Kubernetes API");
      expect(r.body).toMatch(/ECONNREFUSED|Unable to connect|connect/i);
      expect((await hook(sc, "?bucket=api-down&delete=true")).status).toBe(502);
      expect((await sc.probe("/healthz")).status).toBe(200);
      expect((await sc.probe("/ready")).status).toBe(200);
      expect((await hook(sc, "?bucket=Not.Valid")).status).toBe(400); // decided without the API
    } finally {
      await w.api.start();
    }
    expect((await hook(sc, "?bucket=api-down")).status).toBe(200);
    expect(w.service("api-down")).toBeDefined();
    expect(sc.proc.exitCode).toBeNull();
  });

  test("other method: 405 with Allow: POST; other path: 404", async () => {
    for (const method of ["GET", "PUT", "DELETE", "PATCH"]) {
      const r = await hook(sc, "?bucket=methods", HOOK, method);
      expect({ method, status: r.status, allow: r.allow }).toEqual({ method, status: 405, allow: "POST" });
    }
    for (const path of ["/webhook/v1/bucketsrv", `/webhook/v1/bucketsrv/${NS}`, `${HOOK}/extra`, "/webhook/v2/bucketsrv/x/y", "/", "/ready"]) {
      expect({ path, status: (await hook(sc, "?bucket=paths", path)).status }).toEqual({ path, status: 404 });
    }
    expect(w.service("methods")).toBeUndefined();
    expect(w.service("paths")).toBeUndefined();
  });

  describe("400 when `bucket` or `delete` is repeated or `delete` is not true/false; nothing done", () => {
    const cases: Record<string, string> = {
      "delete=true&delete=false on an absent bucket (last-wins would create)": "?bucket=dup-absent&delete=true&delete=false",
      "delete=false&delete=true on an existing bucket (last-wins would delete)": "?bucket=dup-present&delete=false&delete=true",
      "delete twice with one value": "?bucket=dup-absent&delete=false&delete=false",
      "bucket twice": "?bucket=dup-absent&bucket=dup-other",
      "bucket twice with one value": "?bucket=dup-absent&bucket=dup-absent",
      "delete=1": "?bucket=dup-present&delete=1",
      "delete=TRUE": "?bucket=dup-present&delete=TRUE",
      "delete=True": "?bucket=dup-present&delete=True",
      "delete=t": "?bucket=dup-present&delete=t",
      "delete=0": "?bucket=dup-absent&delete=0",
      "delete empty": "?bucket=dup-absent&delete=",
      "delete without a value": "?bucket=dup-absent&delete",
      "delete=yes": "?bucket=dup-present&delete=yes",
    };
    beforeAll(async () => {
      expect((await hook(sc, "?bucket=dup-present")).status).toBe(200);
    });
    for (const [what, q] of Object.entries(cases)) {
      test(what, async () => {
        const before = structuredClone(w.service("dup-present"));
        const from = w.api.requests.length;
        const r = await rawHook(sc, `${HOOK}${q}`);
        expect(r.status).toBe(400);
        expectFramed(r);
        expect(w.api.requests.slice(from).filter((x) => x.resource === "services")).toEqual([]);
        expect(w.service("dup-absent")).toBeUndefined();
        expect(w.service("dup-other")).toBeUndefined();
        expect(w.service("dup-present")).toEqual(before!);
      });
    }
    test("exactly true and false still work", async () => {
      expect((await rawHook(sc, `${HOOK}?bucket=dup-exact&delete=false`)).status).toBe(200);
      expect(w.service("dup-exact")).toBeDefined();
      expect((await rawHook(sc, `${HOOK}?delete=true&bucket=dup-exact`)).status).toBe(200);
      expect(w.service("dup-exact")).toBeUndefined();
    });
  });

  describe("the path must match exactly: anything else is 404 for any method, nothing done", () => {
    const targets = [
      `${HOOK}/`,
      `${HOOK}//`,
      `${HOOK}/?bucket=path-exact`,
      `/webhook/v1/bucketsrv/${NS}//${TENANT}`,
      `/webhook/v1/bucketsrv//${NS}/${TENANT}`,
      `//webhook/v1/bucketsrv/${NS}/${TENANT}`,
      `/webhook/v1/bucketsrv/${NS}/%E0%A4%A`,
    ];
    for (const target of targets) {
      test(target, async () => {
        const from = w.api.requests.length;
        for (const method of ["POST", "GET"]) {
          const r = await rawHook(sc, target.includes("?") ? target : `${target}?bucket=path-exact`, method);
          expect({ method, status: r.status }).toEqual({ method, status: 404 });
          expectFramed(r);
        }
        expect(serviceWrites(w, from)).toEqual([]);
        expect(w.service("path-exact")).toBeUndefined();
      });
    }
    test("a percent-encoded segment is decoded: it names the same tenant", async () => {
      const r = await rawHook(sc, `/webhook/v1/bucketsrv/${NS.replace("-", "%2D")}/${TENANT}?bucket=path-encoded`);
      expect(r.status).toBe(200);
      expectFramed(r);
      expect(w.service("path-encoded")).toBeDefined();
    });
  });

  test("every other answer carries Content-Length too: 200, 403, 405, 409, invalid name", async () => {
    for (const [target, method, status] of [
      [`${HOOK}?bucket=framed`, "POST", 200],
      [`/webhook/v1/bucketsrv/other/${TENANT}?bucket=framed`, "POST", 403],
      [`${HOOK}?bucket=framed`, "GET", 405],
      [`${HOOK}?bucket=minio`, "POST", 409],
      [`${HOOK}?bucket=Not.Valid`, "POST", 400],
    ] as const) {
      const r = await rawHook(sc, target, method);
      expect({ target, method, status: r.status }).toEqual({ target, method, status });
      expectFramed(r);
      if (status === 400) expect(r.body).toContain("invalid bucket name");
    }
  });

  test("200 concurrent creates of one bucket: every caller gets 200, one Service", async () => {
    const results = await Promise.all(Array.from({ length: 200 }, () => hook(sc, "?bucket=stampede")));
    const statuses = new Map<number, number>();
    for (const r of results) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    expect([...statuses]).toEqual([[200, 200]]);
    expect(w.api.list("Service", { namespace: NS }).filter((s) => s.metadata!.name === "stampede")).toHaveLength(1);
    expectBucketService(w.service("stampede"), "stampede", w.tenantUid, true);
  });

  test("the operator's own Services survived everything above", () => {
    for (const name of OPERATOR_SERVICES) expect((w.service(name) as { spec: { type: string } }).spec.type).toBe("ClusterIP");
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
  let w: World;
  let sc: SidecarProcess;
  beforeAll(async () => {
    w = await startWorld({ tenantSpec: { requestAutoCert: false } });
    sc = await w.sidecar();
    await startupReconcileDone(sc);
  });
  afterAll(() => w.close());

  test("create: http-minio 80 -> 9000", async () => {
    expect((await hook(sc, "?bucket=plain")).status).toBe(200);
    expectBucketService(w.service("plain"), "plain", w.tenantUid, false);
  });

  test("after the Tenant turns TLS on, a create brings our existing Service in line (https-minio 443)", async () => {
    const t = w.api.get({ kind: "Tenant", namespace: NS, name: TENANT }) as { spec: Record<string, unknown> };
    w.api.update({ ...t, spec: { ...t.spec, requestAutoCert: true } } as KObject);
    await until(async () => {
      const s = (await (await sc.probe("/status")).json()) as { configSha256?: string };
      const file = await Bun.file(w.configFile).text();
      return s.configSha256 && file.includes("https://minio.") ? s : undefined;
    }, 10_000, "config regenerated with TLS");
    expect((await hook(sc, "?bucket=plain")).status).toBe(200);
    expectBucketService(w.service("plain"), "plain", w.tenantUid, true);
    expect((await hook(sc, "?bucket=fresh")).status).toBe(200);
    expectBucketService(w.service("fresh"), "fresh", w.tenantUid, true);
  });
});
