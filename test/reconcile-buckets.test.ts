/**
 * SPEC 6, bucket Service reconcile: S3 ListBuckets signed with SigV4, one
 * ExternalName Service per bucket whose name can be a Service, orphans only
 * reported unless --prune-bucket-services, failures logged and retried.
 *
 * The periodic run is every 10 minutes and the CLI has (rightly) no flag to
 * change that. So:
 * - the sidecar *process* is tested for what happens at start-up (the first
 *   reconcile once MinIO answers, orphan reporting, pruning, a 403 from MinIO,
 *   SIGTERM during a reconcile);
 * - "a Service deleted or changed by hand comes back on the next reconcile"
 *   is tested in-process with the real BucketLoop, BucketReconciler,
 *   BucketServices, ConfigController and MinioClient against the fake API
 *   server and the fake MinIO, wired by the sidecar's own composition root
 *   (startSidecar) with a short period (the production default is 10
 *   minutes), and `once()`.
 * The fake MinIO's SigV4 check is itself checked against AWS's published
 * examples first, so "the signature is accepted" means something.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { AwsClient } from "aws4fetch";
import pino from "pino";
import type { KObject } from "./fake-apiserver/index.ts";
import { parseExposition, sample } from "./fake-minio/prom.ts";
import { startFakeMinio, verifySigV4, type FakeMinio } from "./fake-minio/index.ts";
import { everything, NS, OPERATOR_SERVICES, PASSWORD, ROOT_USER, SECRET, startWorld, TENANT, until, type World } from "./fake-minio/world.ts";
import { MANAGED_BY, TENANT_LABEL } from "../src/buckets/bucket-services.ts";
import { startInProcess } from "./support/in-process.ts";
import { operatorRoleRules } from "./support/backend.ts";
import { loadKube } from "../src/kube/client.ts";
import { MinioClient } from "../src/minio/client.ts";
import { listBuckets } from "../src/minio/list-buckets.ts";

// Real processes and servers: more than bun test's default 5 s per test (bunfig's timeout key is not applied by Bun 1.4.5).
setDefaultTimeout(30_000);

/** A Service exactly as the sidecar creates it, for seeding the store with pre-existing bucket Services. */
function ourService(name: string, uid: string): KObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name,
      namespace: NS,
      labels: { ...MANAGED_BY, [TENANT_LABEL]: TENANT },
      ownerReferences: [{ apiVersion: "minio.min.io/v2", kind: "Tenant", name: TENANT, uid, controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      type: "ExternalName",
      externalName: `minio.${NS}.svc.cluster.local`,
      ports: [{ name: "https-minio", port: 443, targetPort: 9000, protocol: "TCP" }],
    },
  } as KObject;
}

const handmade = (): KObject =>
  ({ apiVersion: "v1", kind: "Service", metadata: { name: "handmade", namespace: NS }, spec: { type: "ExternalName", externalName: "example.com" } }) as KObject;

describe("the fake MinIO's SigV4 check", () => {
  const AWS = { accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region: "us-east-1" };
  const common = { host: "examplebucket.s3.amazonaws.com", "x-amz-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "x-amz-date": "20130524T000000Z" };
  // The two header-signed examples of AWS's "Signature Calculations for the Authorization Header" (S3 docs).
  const getObject = {
    method: "GET",
    path: "/test.txt",
    query: "",
    headers: {
      ...common,
      range: "bytes=0-9",
      authorization:
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    },
  };
  const listObjects = {
    method: "GET",
    path: "/",
    query: "?max-keys=2&prefix=J",
    headers: {
      ...common,
      authorization:
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
    },
  };

  test("accepts AWS's published examples", () => {
    expect(verifySigV4(getObject, AWS)).toBeUndefined();
    expect(verifySigV4(listObjects, AWS)).toBeUndefined();
  });

  test("refuses them with the wrong secret, a changed signed header, query or method, another key, no header", () => {
    expect(verifySigV4(getObject, { ...AWS, secretKey: `${AWS.secretKey}x` })?.code).toBe("SignatureDoesNotMatch");
    expect(verifySigV4({ ...getObject, headers: { ...getObject.headers, range: "bytes=0-10" } }, AWS)?.code).toBe("SignatureDoesNotMatch");
    expect(verifySigV4({ ...listObjects, query: "?max-keys=3&prefix=J" }, AWS)?.code).toBe("SignatureDoesNotMatch");
    expect(verifySigV4({ ...listObjects, method: "HEAD" }, AWS)?.code).toBe("SignatureDoesNotMatch");
    expect(verifySigV4(getObject, { ...AWS, region: "eu-west-1" })?.code).toBe("SignatureDoesNotMatch");
    expect(verifySigV4(getObject, { ...AWS, accessKey: "OTHER" })?.code).toBe("InvalidAccessKeyId");
    expect(verifySigV4({ ...getObject, headers: common }, AWS)?.code).toBe("AccessDenied");
  });

  describe("over the wire", () => {
    let minio: FakeMinio;
    beforeAll(async () => (minio = await startFakeMinio({ accessKey: "ak", secretKey: "sk-123", buckets: ["one", "a&b"] })));
    afterAll(() => minio.close());
    const get = async (creds?: { accessKeyId: string; secretAccessKey: string }) => {
      const res = creds
        ? await new AwsClient({ ...creds, service: "s3", region: "us-east-1" }).fetch(`${minio.url}/`)
        : await fetch(`${minio.url}/`);
      return { status: res.status, body: await res.text() };
    };

    test("a request signed by an independent signer (aws4fetch over fetch) with the right key: 200 and the bucket list", async () => {
      const r = await get({ accessKeyId: "ak", secretAccessKey: "sk-123" });
      expect(r.status).toBe(200);
      expect(r.body).toContain("<Name>one</Name>");
      expect(r.body).toContain("<Name>a&amp;b</Name>");
    });

    test("wrong secret, wrong key, unsigned: 403 with MinIO's error codes", async () => {
      expect(await get({ accessKeyId: "ak", secretAccessKey: "nope" })).toMatchObject({ status: 403, body: expect.stringContaining("<Code>SignatureDoesNotMatch</Code>") });
      expect(await get({ accessKeyId: "nobody", secretAccessKey: "sk-123" })).toMatchObject({ status: 403, body: expect.stringContaining("<Code>InvalidAccessKeyId</Code>") });
      expect(await get()).toMatchObject({ status: 403, body: expect.stringContaining("<Code>AccessDenied</Code>") });
    });

    test("the sidecar's listBuckets (node:http, aws4fetch signing) gets the names, XML-decoded; wrong creds throw with the S3 code", async () => {
      const client = new MinioClient({ baseUrl: () => minio.url, serverName: "minio.x.svc.cluster.local" });
      try {
        expect(await listBuckets(client, { accessKeyId: "ak", secretAccessKey: "sk-123" })).toEqual(["one", "a&b"]);
        const err = await listBuckets(client, { accessKeyId: "ak", secretAccessKey: "bad" }).catch((e: Error) => e);
        expect(String(err)).toContain("403");
        expect(String(err)).toContain("SignatureDoesNotMatch");
        expect(String(err)).not.toContain("bad");
      } finally {
        client.close();
      }
    });
  });
});

describe("the sidecar process: reconcile at start-up", () => {
  let w: World | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  test("creates alpha and beta (not has.dot, 1abc), leaves the operator's minio Service alone, SigV4-signed over TLS", async () => {
    w = await startWorld({ minio: { tls: true, buckets: ["alpha", "beta", "has.dot", "1abc", "minio"] } });
    const minioBefore = structuredClone(w.service("minio"));
    const sc = await w.sidecar();
    const line = await sc.waitForLog((l) => l.msg === "bucket Services reconciled", 10_000);
    expect(line.created).toEqual(["alpha", "beta"]);
    expect(line.skippedNames).toBe(2);
    for (const b of ["alpha", "beta"]) {
      const svc = w.service(b) as { spec: Record<string, any>; metadata: Record<string, any> };
      expect(svc.spec.type).toBe("ExternalName");
      expect(svc.spec.externalName).toBe(`minio.${NS}.svc.cluster.local`);
      expect(svc.metadata.ownerReferences[0]).toMatchObject({ kind: "Tenant", uid: w.tenantUid, controller: true });
    }
    expect(w.service("has.dot")).toBeUndefined();
    expect(w.service("1abc")).toBeUndefined();
    expect(w.service("minio")).toEqual(minioBefore!);
    expect(sc.logs.some((l) => l.level === "warn" && l.bucket === "minio" && String(l.msg).includes("conflict"))).toBe(true);
    // One ListBuckets, signed with the root user's key, accepted by the fake's signature check, sent with the tenant's SNI.
    const lists = w.minio.requestsTo("/").filter((r) => r.method === "GET");
    expect(lists).toHaveLength(1);
    expect(lists[0]!.authorization).toStartWith(`AWS4-HMAC-SHA256 Credential=${ROOT_USER}/`);
    expect(lists[0]!.status).toBe(200);
    expect(lists[0]!.servername).toBe(`minio.${NS}.svc.cluster.local`);
    expect(everything(sc)).not.toContain(PASSWORD);
    const m = parseExposition(await (await sc.probe("/metrics")).text());
    expect(sample(m, "minio_sidecar_bucket_reconcile_total", { result: "success" })).toBe(1);
    const status = (await (await sc.probe("/status")).json()) as { bucketReconcile: Record<string, unknown> };
    expect(status.bucketReconcile).toMatchObject({ ok: true, buckets: 5, created: 2 });
  });

  test("waits for MinIO: no ListBuckets while it is down, reconciles soon after it answers", async () => {
    w = await startWorld({ minio: { buckets: ["late"] } });
    await w.minio.stop();
    const sc = await w.sidecar();
    await Bun.sleep(1_000);
    expect(w.service("late")).toBeUndefined();
    expect(w.minio.requests).toEqual([]);
    await w.minio.start();
    await until(() => w!.service("late"), 12_000, "Service for bucket late");
    expect(sc.proc.exitCode).toBeNull();
  });

  test("bucketDNS off: no ListBuckets at all", async () => {
    w = await startWorld({ minio: { buckets: ["alpha"] }, tenantSpec: { features: { bucketDNS: false } } });
    const sc = await w.sidecar();
    expect((await sc.probe("/ready")).status).toBe(200);
    await Bun.sleep(500);
    expect(w.minio.requestsTo("/")).toEqual([]);
    expect(w.service("alpha")).toBeUndefined();
  });

  test("MinIO refuses ListBuckets (403): logged with the S3 code, retried later, the sidecar keeps serving; no secret in the log", async () => {
    w = await startWorld({ minio: { buckets: ["alpha"], secretKey: "rotated-elsewhere" } });
    const sc = await w.sidecar();
    const line = await sc.waitForLog((l) => String(l.msg).startsWith("bucket Service reconcile failed"), 10_000);
    expect(line.level).toBe("warn");
    expect(String(line.msg)).toContain("403");
    expect(String(line.msg)).toContain("SignatureDoesNotMatch");
    expect(w.service("alpha")).toBeUndefined();
    expect((await sc.probe("/healthz")).status).toBe(200);
    expect((await sc.webhook(`/webhook/v1/bucketsrv/${NS}/${TENANT}?bucket=still-works`, { method: "POST" })).status).toBe(200);
    const status = (await (await sc.probe("/status")).json()) as { bucketReconcile: { ok: boolean; error: string } };
    expect(status.bucketReconcile.ok).toBe(false);
    expect(status.bucketReconcile.error).toContain("403");
    expect(sample(parseExposition(await (await sc.probe("/metrics")).text()), "minio_sidecar_bucket_reconcile_total", { result: "failure" })).toBe(1);
    expect(everything(sc)).not.toContain(PASSWORD);
    expect(sc.proc.exitCode).toBeNull();
  });

  test("orphans (where listing Services is allowed) are reported in the log, metric and /status, and not deleted", async () => {
    w = await startWorld({ admin: true, minio: { buckets: ["alpha"] } });
    w.api.create(ourService("old-bucket", w.tenantUid));
    w.api.create(handmade());
    const sc = await w.sidecar();
    const line = await sc.waitForLog((l) => l.msg === "bucket Services reconciled", 10_000);
    expect(line.orphans).toEqual(["old-bucket"]);
    expect(line.pruned).toEqual([]);
    expect(w.service("old-bucket")).toBeDefined();
    expect(sample(parseExposition(await (await sc.probe("/metrics")).text()), "minio_sidecar_bucket_services_orphaned")).toBe(1);
    const status = (await (await sc.probe("/status")).json()) as { bucketReconcile: Record<string, unknown> };
    expect(status.bucketReconcile).toMatchObject({ ok: true, orphans: 1 });
  });

  test("--prune-bucket-services deletes orphans that are ours, and nothing else", async () => {
    w = await startWorld({ admin: true, minio: { buckets: ["alpha"] } });
    w.api.create(ourService("old-bucket", w.tenantUid));
    w.api.create(handmade());
    // Looks like ours (our labels, our controller reference) but is not a bucket Service.
    w.api.create({ ...ourService("labelled-clusterip", w.tenantUid), spec: { type: "ClusterIP", ports: [{ port: 80 }] } } as KObject);
    const sc = await w.sidecar(["--prune-bucket-services"]);
    const line = await sc.waitForLog((l) => l.msg === "bucket Services reconciled", 10_000);
    expect(line.pruned).toEqual(["old-bucket"]);
    expect(w.service("old-bucket")).toBeUndefined();
    expect(w.service("alpha")).toBeDefined();
    for (const name of [...OPERATOR_SERVICES, "handmade", "labelled-clusterip"]) expect({ name, there: !!w.service(name) }).toEqual({ name, there: true });
    expect(sample(parseExposition(await (await sc.probe("/metrics")).text()), "minio_sidecar_bucket_services_orphaned")).toBe(0);
  });

  test("with the MinIO Operator's Role (no list on services) the start-up reconcile still works and prunes nothing it has not seen", async () => {
    w = await startWorld({ operatorRole: true, minio: { buckets: ["alpha"] } });
    w.api.create(ourService("old-bucket", w.tenantUid));
    const sc = await w.sidecar(["--prune-bucket-services"]);
    const line = await sc.waitForLog((l) => l.msg === "bucket Services reconciled", 10_000);
    expect(line.created).toEqual(["alpha"]);
    expect(line.orphans).toEqual([]);
    expect(w.service("old-bucket")).toBeDefined();
    // It did try to list (and was refused), which is the documented fallback, not an error.
    expect(w.api.requests.some((r) => r.resource === "services" && r.verb === "list" && r.status === 403)).toBe(true);
    expect(sc.logs.some((l) => String(l.msg).startsWith("bucket Service reconcile failed"))).toBe(false);
  });

  test("SIGTERM while a ListBuckets is in flight: exit 0 promptly, clean stop", async () => {
    w = await startWorld({ minio: { buckets: ["alpha"], listDelayMs: 300 } });
    const sc = await w.sidecar();
    await until(() => w!.minio.requestsTo("/").length > 0, 10_000, "ListBuckets sent");
    const { code, ms } = await sc.stop();
    expect(code).toBe(0);
    expect(ms).toBeLessThan(1_200);
    expect(sc.logs.some((l) => l.msg === "stopped")).toBe(true);
    expect(sc.logs.some((l) => String(l.msg).includes("budget exceeded"))).toBe(false);
  });
});

describe("in-process: the real bucket loop against the fake API server and the fake MinIO", () => {
  let w: World;
  const stops: Array<() => Promise<void> | void> = [];
  beforeAll(async () => {
    w = await startWorld({ minio: { buckets: ["alpha", "beta"] } });
    // The MinIO Operator's own per-Tenant Role: services create/delete/get, no list.
    w.api.setToken("operator", { user: `system:serviceaccount:${NS}:operator-role`, rules: operatorRoleRules() });
  });
  afterEach(async () => {
    for (const s of stops.splice(0).reverse()) await s();
  });
  afterAll(() => w.close());

  /**
   * The sidecar's own composition root (startSidecar) in this process, with a log we can read,
   * a chosen token and a short period. Tests that drive once() or run() themselves stop the
   * loop first, so its own runs do not interleave with theirs.
   */
  async function wire(o: { prune?: boolean; token?: "sidecar" | "admin" | "operator"; intervalMs?: number; loop?: boolean } = {}) {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: "debug" }, { write: (s: string) => void lines.push(JSON.parse(s)) });
    const kubeconfig = `${w.dir}/kubeconfig-${o.token ?? "sidecar"}`;
    await w.api.writeKubeconfig(kubeconfig, { token: o.token ?? "sidecar", namespace: NS });
    const sc = await startInProcess(
      {
        tenant: TENANT,
        configName: SECRET,
        namespace: NS,
        configFile: `${w.dir}/config-inproc.env`,
        minioUrl: w.minio.url,
        pruneBucketServices: o.prune ?? false,
      },
      { kube: loadKube(kubeconfig), log, bucketTimings: { intervalMs: o.intervalMs ?? 60 * 60_000, waitMs: 100, retry: { baseMs: 100, capMs: 200 } } },
    );
    stops.push(() => sc.stop());
    if (o.loop === false) await sc.buckets.stop();
    const webhook = (bucket: string, del = false) =>
      fetch(`http://127.0.0.1:${sc.listeners.webhook.port}/webhook/v1/bucketsrv/${NS}/${TENANT}?bucket=${bucket}&delete=${del}`, { method: "POST" });
    return { lines, loop: sc.buckets, reconciler: sc.reconciler, webhook, metrics: sc.metrics };
  }

  test("a bucket Service deleted by hand, or changed by hand, is restored by the next periodic run", async () => {
    const { loop } = await wire({ intervalMs: 200 });
    await until(() => w.service("alpha") && w.service("beta"), 10_000, "first reconcile");
    w.api.delete({ kind: "Service", namespace: NS, name: "alpha" });
    w.api.patch({ kind: "Service", namespace: NS, name: "beta" }, { spec: { externalName: "evil.example.com" } });
    expect(w.service("alpha")).toBeUndefined();
    await until(() => w.service("alpha"), 5_000, "alpha restored");
    await until(() => (w.service("beta") as { spec: { externalName: string } }).spec.externalName === `minio.${NS}.svc.cluster.local`, 5_000, "beta restored");
    expect(loop.lastRun?.ok).toBe(true);
  });

  test("a bucket created in MinIO while the sidecar runs gets its Service on the next run", async () => {
    const { loop } = await wire({ intervalMs: 200 });
    await until(() => loop.lastRun?.ok, 10_000, "first run");
    w.minio.buckets.push("gamma");
    try {
      await until(() => w.service("gamma"), 5_000, "gamma created");
    } finally {
      w.minio.buckets.pop();
      await loop.stop();
      if (w.service("gamma")) w.api.delete({ kind: "Service", namespace: NS, name: "gamma" });
    }
  });

  test("once(): nothing while MinIO does not answer, a run once it does", async () => {
    const { loop } = await wire({ loop: false });
    await w.minio.stop();
    try {
      const from = w.minio.requests.length;
      expect(await loop.once()).toBe("skipped");
      expect(w.minio.requests.length).toBe(from);
    } finally {
      await w.minio.start();
    }
    expect(await loop.once()).toBe("success");
    expect(loop.lastRun?.ok).toBe(true);
  });

  test("stop() while a run is in flight returns once that run ends, without starting the 10-minute wait", async () => {
    w.minio.listDelayMs = 300;
    try {
      const from = w.minio.requests.length;
      const { loop } = await wire({ intervalMs: 10 * 60_000 });
      await until(() => w.minio.requests.slice(from).some((r) => r.path === "/"), 10_000, "ListBuckets in flight");
      const t0 = performance.now();
      const stopped = await Promise.race([loop.stop().then(() => true), Bun.sleep(3_000).then(() => false)]);
      expect(stopped).toBe(true);
      expect(performance.now() - t0).toBeLessThan(1_000);
    } finally {
      w.minio.listDelayMs = 0;
    }
  });

  test("MinIO Operator's Role (no list): orphans are the bucket Services this process created that have no bucket any more; prune deletes only those", async () => {
    const from = w.api.requests.length;
    const { reconciler, webhook } = await wire({ token: "operator", prune: true, loop: false });
    expect((await webhook("made-by-webhook")).status).toBe(200);
    expect((await webhook("minio")).status).toBe(409); // not ours, so never remembered nor pruned
    const r = await reconciler.run(["alpha", "beta"]);
    expect(r.orphans).toEqual(["made-by-webhook"]);
    expect(r.pruned).toEqual(["made-by-webhook"]);
    expect(w.service("made-by-webhook")).toBeUndefined();
    expect(w.service("minio")).toBeDefined();
    // Deleted through the webhook: forgotten, no longer an orphan candidate.
    expect((await webhook("short-lived")).status).toBe(200);
    expect((await webhook("short-lived", true)).status).toBe(200);
    expect((await reconciler.run(["alpha", "beta"])).orphans).toEqual([]);
    // The refused LIST is asked once per process, not on every run (each is a 403 in the audit log).
    expect(w.api.requests.slice(from).filter((r) => r.resource === "services" && r.verb === "list").map((r) => r.status)).toEqual([403]);
  });

  test("admin (list allowed): orphans found by label and ownership, reported without prune", async () => {
    w.api.create(ourService("pre-existing", w.tenantUid));
    w.api.create({ ...ourService("foreign-owner", "00000000-0000-4000-8000-000000000000") } as KObject);
    try {
      const { reconciler } = await wire({ token: "admin", loop: false });
      const r = await reconciler.run(["alpha", "beta"]);
      expect(r.orphans.sort()).toEqual(["pre-existing"]);
      expect(r.pruned).toEqual([]);
      expect(w.service("pre-existing")).toBeDefined();
    } finally {
      w.api.delete({ kind: "Service", namespace: NS, name: "pre-existing" });
      w.api.delete({ kind: "Service", namespace: NS, name: "foreign-owner" });
    }
  });

  test("a reconcile that cannot reach the API server fails, is recorded, and the next one succeeds", async () => {
    const { loop, metrics } = await wire({ token: "admin", loop: false });
    const count = async (result: string) => sample(parseExposition(await metrics.registry.metrics()), "minio_sidecar_bucket_reconcile_total", { result }) ?? 0;
    const before = { failure: await count("failure"), success: await count("success") };
    // The round's first request is its one LIST of Services: its failure fails the round.
    w.api.failNext(1, 500, { match: (r) => r.resource === "services" });
    expect(await loop.once()).toBe("failure");
    expect(loop.lastRun?.ok).toBe(false);
    expect(loop.lastRun?.error).toContain("500");
    expect(await loop.once()).toBe("success");
    expect(loop.lastRun?.ok).toBe(true);
    // The loop's own start-up run (before it was stopped) may have counted too: compare with before.
    expect((await count("failure")) - before.failure).toBe(1);
    expect((await count("success")) - before.success).toBe(1);
  });
});
