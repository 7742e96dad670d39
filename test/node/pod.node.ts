/**
 * `npm run test:node`: the product's image (dist/minio-operator-sidecar.oci.tar,
 * from `npm run image`) in a Pod built as the MinIO Operator builds it, run by
 * a real kubelet on a real containerd (test/node/node.ts), beside a stand-in
 * MinIO. What a cluster gives a pod and only a kubelet gives: the init
 * container before the others, the shared emptyDir, the projected
 * service-account token, KUBERNETES_SERVICE_HOST, the readiness probe every
 * second, the termination message in the pod status, the grace period on
 * delete. Every check reads the kubelet's own view (the pod's status, its
 * Events) or what the stand-in MinIO saw inside the pod; none asks the
 * sidecar how it is.
 *
 * The pods use the host network of the node, so they run one after another
 * (the sidecar's ports are fixed): under the shipped Role (deploy/rbac.yaml),
 * then under the operator's per-Tenant Role, then a failing `validate`, then
 * a pod without MinIO. The last test stops the node and checks that nothing
 * of it is left on the machine.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { AwsClient } from "aws4fetch";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadAll } from "js-yaml";
import { PAUSE_IMAGE, STAND_IN_IMAGE, writePauseImage, writeStandInImage } from "./images.ts";
import { NODE_NAME, TestNode } from "./node.ts";
import { operatorPod, operatorTenantRbac } from "./operator-pod.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const SIDECAR_ARCHIVE = join(ROOT, "dist/minio-operator-sidecar.oci.tar");
const NS = "minio-tenant";
const TENANT = "myminio";
const CONFIG = "storage-configuration";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let node: TestNode;
let sidecarImage = "";
let work = "";

function tenant(name: string, configName: string, serviceAccountName: string) {
  return {
    apiVersion: "minio.min.io/v2",
    kind: "Tenant",
    metadata: { name, namespace: NS },
    spec: {
      // bucketDNS: the stand-in calls the sidecar's webhook for every bucket it creates.
      features: { bucketDNS: true },
      configuration: { name: configName },
      image: "quay.io/minio/minio:RELEASE.2024-03-15T01-07-19Z",
      mountPath: "/export",
      serviceAccountName,
      // One server, so MinIO's arguments are the local volumes; plain http, as the stand-in speaks.
      pools: [{ name: "pool-0", servers: 1, volumesPerServer: 4, volumeClaimTemplate: { metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } } }],
      requestAutoCert: false,
    },
  };
}

const SECRET_ENV = ['export MINIO_ROOT_USER="minio"', 'export MINIO_ROOT_PASSWORD="minio123"', 'export MINIO_STORAGE_CLASS_STANDARD="EC:2"', 'export MINIO_BROWSER="on"'];
const secret = (name: string, lines: string[]) => ({ apiVersion: "v1", kind: "Secret", metadata: { name, namespace: NS }, type: "Opaque", stringData: { "config.env": lines.join("\n") } });

async function apply(obj: Record<string, any>) {
  const kind = obj.kind as string;
  const plural: Record<string, string> = {
    Namespace: "/api/v1/namespaces",
    Secret: `/api/v1/namespaces/${NS}/secrets`,
    ConfigMap: `/api/v1/namespaces/${NS}/configmaps`,
    ServiceAccount: `/api/v1/namespaces/${NS}/serviceaccounts`,
    Tenant: `/apis/minio.min.io/v2/namespaces/${NS}/tenants`,
    Role: `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/roles`,
    RoleBinding: `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/rolebindings`,
    CustomResourceDefinition: "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
    Pod: `/api/v1/namespaces/${NS}/pods`,
    Service: `/api/v1/namespaces/${NS}/services`,
  };
  const path = plural[kind];
  if (!path) throw new Error(`apply: unknown kind ${kind}`);
  return node.ok("POST", path, obj);
}

type Pod = { metadata: { name: string; deletionTimestamp?: string; uid: string }; status?: any };
const getPod = async (name: string): Promise<Pod | undefined> => {
  const r = await node.api("GET", `/api/v1/namespaces/${NS}/pods/${name}`);
  return r.status === 404 ? undefined : r.body;
};
const condition = (p: Pod | undefined, type: string) => p?.status?.conditions?.find((c: { type: string }) => c.type === type);
const containerStatus = (p: Pod | undefined, name: string) => p?.status?.containerStatuses?.find((c: { name: string }) => c.name === name);

async function waitPod(name: string, what: string, ok: (p: Pod) => boolean, timeoutMs = 90_000): Promise<Pod> {
  const deadline = Date.now() + timeoutMs;
  let last: Pod | undefined;
  for (;;) {
    last = await getPod(name);
    if (last && ok(last)) return last;
    if (Date.now() > deadline) throw new Error(`pod ${name}: ${what} not within ${timeoutMs / 1000}s; status: ${JSON.stringify(last?.status)}\nkubelet log:\n${node.kubeletLog(30)}`);
    await sleep(250);
  }
}

/** Deletes the pod and waits until the API server no longer has it (the kubelet has stopped every container). */
async function deletePodAndWait(name: string) {
  if (!node || !(await getPod(name))) return;
  await node.api("DELETE", `/api/v1/namespaces/${NS}/pods/${name}`);
  const deadline = Date.now() + 60_000;
  while (await getPod(name)) {
    if (Date.now() > deadline) throw new Error(`pod ${name} still there 60 s after DELETE`);
    await sleep(250);
  }
}

async function startPod(o: { name: string; tenant: string; configName: string; serviceAccount: string; minio: boolean }) {
  const created = performance.now();
  await apply(
    operatorPod({ name: o.name, namespace: NS, tenant: o.tenant, configName: o.configName, serviceAccount: o.serviceAccount, sidecarImage, minioImage: o.minio ? STAND_IN_IMAGE : null, nodeName: NODE_NAME }),
  );
  return created;
}

/** The stand-in MinIO inside the pod, through the node's bridge; `sign` with root credentials. */
function standIn(credentials?: { accessKeyId: string; secretAccessKey: string }) {
  const base = `http://127.0.0.1:${node.podPort(9000)}`;
  const aws = credentials ? new AwsClient({ ...credentials, service: "s3", region: "us-east-1" }) : undefined;
  return {
    config: async () => (await (await fetch(`${base}/stand-in/config`)).json()) as { env: Record<string, string>; error?: string; buckets: string[] },
    s3: (method: string, path: string) => (aws ? aws.fetch(`${base}${path}`, { method }) : fetch(`${base}${path}`, { method })),
  };
}

beforeAll(async () => {
  if (!existsSync(SIDECAR_ARCHIVE)) throw new Error(`${SIDECAR_ARCHIVE} is missing: run npm run image first`);
  // Named after this process, so a later run can tell a killed run's leftovers from a live run's.
  for (const d of readdirSync(tmpdir()).filter((d) => /^node-test-images-\d+-/.test(d))) {
    const owner = Number(d.split("-")[3]);
    if (!existsSync(`/proc/${owner}`)) rmSync(join(tmpdir(), d), { recursive: true, force: true });
  }
  work = mkdtempSync(join(tmpdir(), `node-test-images-${process.pid}-`));
  // The stand-in MinIO, compiled like the product, and the pause image.
  const standInBin = join(work, "stand-in-minio");
  const b = spawnSync(process.execPath, ["build", "--compile", join(ROOT, "test/node/stand-in-minio.ts"), "--outfile", standInBin], { encoding: "utf8" });
  if (b.status !== 0) throw new Error(`bun build --compile stand-in-minio.ts failed: ${b.stderr}`);
  writePauseImage(join(work, "pause.oci.tar"));
  writeStandInImage(join(work, "stand-in.oci.tar"), standInBin);

  // A run killed before its teardown (SIGKILL, a CI timeout) left its node behind: remove it first.
  for (const d of await TestNode.cleanUpStaleRuns()) console.log(`test:node: cleaned up the node a killed run left in ${d}`);
  node = await TestNode.start({ archives: [join(work, "pause.oci.tar"), join(work, "stand-in.oci.tar")], pauseImage: PAUSE_IMAGE }, [9000]);
  // The product's image, imported as the issue asks (`ctr -n k8s.io images import`); its name is whatever the archive carries.
  const before = new Set(node.imageNames());
  const r = node.ctr(["-n", "k8s.io", "images", "import", SIDECAR_ARCHIVE], true);
  if (r.status !== 0) throw new Error(`ctr -n k8s.io images import ${SIDECAR_ARCHIVE}: ${(r.err || r.out).trim()}`);
  sidecarImage = node.imageNames().find((n) => !before.has(n) && !n.startsWith("sha256:")) ?? "";
  if (!sidecarImage) throw new Error(`importing ${SIDECAR_ARCHIVE} added no named image: ${r.out}`);
  node.log(`sidecar image ${sidecarImage}; node started in ${node.timings["node start"]} ms (${JSON.stringify(node.timings)})`);

  // What the operator and a cluster's controllers would have made: the namespace, the Tenant CRD,
  // the kube-root-ca.crt ConfigMap every projected token volume names.
  await apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
  for (const crd of loadAll(readFileSync(join(ROOT, "test/kube-apiserver/tenant-crd.yaml"), "utf8")).filter(Boolean) as Record<string, any>[]) await apply(crd);
  await apply({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "kube-root-ca.crt", namespace: NS }, data: { "ca.crt": node.caPem } });
  const deadline = Date.now() + 30_000;
  while ((await node.api("GET", `/apis/minio.min.io/v2/namespaces/${NS}/tenants`)).status !== 200) {
    if (Date.now() > deadline) throw new Error("Tenants are not served");
    await sleep(200);
  }
  // The shipped least-privilege access, as a user installs it.
  for (const doc of loadAll(readFileSync(join(ROOT, "deploy/rbac.yaml"), "utf8")).filter(Boolean) as Record<string, any>[]) await apply(doc);
  await apply(secret(CONFIG, SECRET_ENV));
  await apply(tenant(TENANT, CONFIG, "myminio-sidecar"));
}, 900_000);

afterAll(async () => {
  // The last test stops the node; this covers a run that failed before it.
  if (node) await node.stop().catch((e) => console.error(`test:node: teardown: ${e}`));
  if (work) rmSync(work, { recursive: true, force: true });
});

// The pods share the node's network (fixed ports): a test that fails half-way must not leave its
// pod behind, or the kubelet refuses the next one (host port conflict) and the failure cascades.
describe("the operator's pod on a real node, under the shipped Role (deploy/rbac.yaml)", () => {
  const POD = "myminio-pool-0-0";
  let created = 0;
  afterAll(() => deletePodAndWait(POD));

  test("the node is Ready and reports the pinned kubelet and containerd", async () => {
    const n = await node.ok("GET", `/api/v1/nodes/${NODE_NAME}`);
    expect(n.status.conditions.find((c: { type: string }) => c.type === "Ready").status).toBe("True");
    expect(n.status.nodeInfo.kubeletVersion).toBe(node.bins.version);
    expect(n.status.nodeInfo.containerRuntimeVersion).toBe(`containerd://${node.bins.containerdDir.split("/").at(-1)!.replace(/^v/, "")}`);
    expect(n.status.addresses).toContainEqual({ type: "InternalIP", address: "10.200.0.2" });
  });

  test("the pod turns Ready through the kubelet's own readiness probe", async () => {
    created = await startPod({ name: POD, tenant: TENANT, configName: CONFIG, serviceAccount: "myminio-sidecar", minio: true });
    const p = await waitPod(POD, "Ready", (p) => condition(p, "Ready")?.status === "True");
    const readyMs = Math.round(performance.now() - created);
    node.log(`pod ${POD} Ready ${readyMs} ms after it was created (the probe's initialDelaySeconds is 5)`);
    // validate ran first and succeeded; both containers run; the sidecar is ready by its probe, never restarted.
    expect(p.status.initContainerStatuses[0].state.terminated).toMatchObject({ exitCode: 0, reason: "Completed" });
    expect(containerStatus(p, "sidecar")).toMatchObject({ ready: true, restartCount: 0 });
    expect(containerStatus(p, "sidecar").state.running).toBeDefined();
    expect(containerStatus(p, "minio")).toMatchObject({ ready: true, restartCount: 0 });
    expect(p.status.podIP).toBe("10.200.0.2");
    // The kubelet judged by the probe: the Ready condition came after the sidecar started plus the initial delay.
    const started = Date.parse(containerStatus(p, "sidecar").state.running.startedAt);
    expect(Date.parse(condition(p, "Ready").lastTransitionTime) - started).toBeGreaterThanOrEqual(4_000);
  }, 120_000);

  test("the stand-in MinIO reads the config the Tenant and the Secret produce, from the shared emptyDir", async () => {
    const c = await standIn().config();
    expect(c.error).toBeUndefined();
    expect(c.env).toMatchObject({
      MINIO_ARGS: "/export{0...3}",
      MINIO_SERVER_URL: `http://minio.${NS}.svc.cluster.local:80`,
      MINIO_STORAGE_CLASS_STANDARD: "EC:2",
      MINIO_BROWSER: "on",
      MINIO_ROOT_USER: "minio",
      MINIO_ROOT_PASSWORD: "(set)",
      MINIO_DNS_WEBHOOK_ENDPOINT: `http://127.0.0.1:4222/webhook/v1/bucketsrv/${NS}/${TENANT}`,
    });
    // The root credentials in the file are the Secret's: a request signed with them is accepted, others are not.
    expect((await standIn({ accessKeyId: "minio", secretAccessKey: "minio123" }).s3("GET", "/")).status).toBe(200);
    expect((await standIn({ accessKeyId: "minio", secretAccessKey: "wrong-password" }).s3("GET", "/")).status).toBe(403);
  });

  test("a Secret edit reaches the file inside the running pod", async () => {
    const edited = SECRET_ENV.map((l) => l.replace("minio123", "minio456").replace('"EC:2"', '"EC:1"'));
    await node.ok("PATCH", `/api/v1/namespaces/${NS}/secrets/${CONFIG}`, { stringData: { "config.env": edited.join("\n") } }, "application/merge-patch+json");
    const t0 = performance.now();
    const deadline = Date.now() + 30_000;
    while ((await standIn().config()).env.MINIO_STORAGE_CLASS_STANDARD !== "EC:1") {
      if (Date.now() > deadline) throw new Error(`the Secret edit did not reach the pod's file within 30 s: ${JSON.stringify(await standIn().config())}`);
      await sleep(100);
    }
    node.log(`Secret edit in the pod's file after ${Math.round(performance.now() - t0)} ms`);
    expect((await standIn({ accessKeyId: "minio", secretAccessKey: "minio456" }).s3("GET", "/")).status).toBe(200);
    expect((await standIn({ accessKeyId: "minio", secretAccessKey: "minio123" }).s3("GET", "/")).status).toBe(403);
    // The pod stayed as it was: nothing restarted for a config change.
    const p = await getPod(POD);
    expect(containerStatus(p, "sidecar")).toMatchObject({ ready: true, restartCount: 0 });
    expect(containerStatus(p, "minio").restartCount).toBe(0);
  });

  test("the stand-in's bucket-DNS webhook call creates the bucket Service", async () => {
    const res = await standIn({ accessKeyId: "minio", secretAccessKey: "minio456" }).s3("PUT", "/photos");
    expect(res.status).toBe(200);
    const svc = await node.ok("GET", `/api/v1/namespaces/${NS}/services/photos`);
    expect(svc.spec).toMatchObject({ type: "ExternalName", externalName: `minio.${NS}.svc.cluster.local` });
    const t = await node.ok("GET", `/apis/minio.min.io/v2/namespaces/${NS}/tenants/${TENANT}`);
    expect(svc.metadata.ownerReferences).toContainEqual(expect.objectContaining({ kind: "Tenant", name: TENANT, uid: t.metadata.uid, controller: true }));
    // The operator's own `minio` Service (made here as the operator makes it): a bucket of that
    // name is refused by the webhook (409), and MinIO (the stand-in) undoes the bucket.
    await apply({ apiVersion: "v1", kind: "Service", metadata: { name: "minio", namespace: NS, labels: { "v1.min.io/tenant": TENANT } }, spec: { ports: [{ name: "http-minio", port: 80, targetPort: 9000 }], selector: { "v1.min.io/tenant": TENANT } } });
    expect((await standIn({ accessKeyId: "minio", secretAccessKey: "minio456" }).s3("PUT", "/minio")).status).toBe(409);
    expect((await standIn().config()).buckets).toEqual(["photos"]);
  });

  test("DELETE of the pod (kubectl delete pod) ends the sidecar with exit 0 inside the grace period", async () => {
    const before = await getPod(POD);
    const events = node.watch(
      `/api/v1/namespaces/${NS}/pods?fieldSelector=metadata.name%3D${POD}&resourceVersion=${(before as any).metadata.resourceVersion}`,
      (e) => e.type === "DELETED",
      60_000,
    );
    await sleep(200);
    const t0 = Date.now();
    await node.ok("DELETE", `/api/v1/namespaces/${NS}/pods/${POD}`);
    const seen = await events;
    expect(seen.at(-1)?.type).toBe("DELETED");
    // The kubelet's last status report before the pod went away: every container terminated.
    const last = seen.filter((e) => e.object.status?.containerStatuses?.some((c: any) => c.name === "sidecar" && c.state.terminated)).at(-1)?.object;
    expect(last).toBeDefined();
    const sidecar = containerStatus(last, "sidecar").state.terminated;
    expect(sidecar.exitCode).toBe(0);
    // The DELETE's own grace period and deadline: the first event that carries them (the kubelet's
    // final delete, once every container has stopped, sets the grace period to 0).
    const marked = seen.find((e) => e.object.metadata.deletionTimestamp)!.object;
    const grace = marked.metadata.deletionGracePeriodSeconds;
    expect(grace).toBe(30);
    const stoppedAfterMs = Date.parse(sidecar.finishedAt) - (Date.parse(marked.metadata.deletionTimestamp) - grace * 1000);
    node.log(`sidecar exit ${sidecar.exitCode} ${stoppedAfterMs} ms after the DELETE (grace period ${grace} s); pod gone after ${Date.now() - t0} ms`);
    // finishedAt has a resolution of one second.
    expect(stoppedAfterMs).toBeLessThan(grace * 1000);
    expect(containerStatus(last, "minio").state.terminated.exitCode).toBe(0);
  }, 90_000);
});

describe("the operator's pod under the operator's own per-Tenant Role", () => {
  const POD = "myminio-pool-0-0";
  afterAll(() => deletePodAndWait(POD));

  test("turns Ready and its webhook creates a bucket Service", async () => {
    for (const o of operatorTenantRbac(TENANT, NS)) await apply(o);
    await node.ok("PATCH", `/apis/minio.min.io/v2/namespaces/${NS}/tenants/${TENANT}`, { spec: { serviceAccountName: `${TENANT}-sa` } }, "application/merge-patch+json");
    const created = await startPod({ name: POD, tenant: TENANT, configName: CONFIG, serviceAccount: `${TENANT}-sa`, minio: true });
    await waitPod(POD, "Ready", (p) => condition(p, "Ready")?.status === "True");
    node.log(`pod under ${TENANT}-role Ready ${Math.round(performance.now() - created)} ms after it was created`);
    const res = await standIn({ accessKeyId: "minio", secretAccessKey: "minio456" }).s3("PUT", "/videos");
    expect(res.status).toBe(200);
    const svc = await node.ok("GET", `/api/v1/namespaces/${NS}/services/videos`);
    expect(svc.spec.externalName).toBe(`minio.${NS}.svc.cluster.local`);
    await deletePodAndWait(POD);
  }, 150_000);
});

describe("what the kubelet shows when the sidecar cannot work", () => {
  afterEach(async () => {
    await deletePodAndWait("broken-pool-0-0");
    await deletePodAndWait("myminio-pool-0-0");
  });
  test("a failing validate puts its reason in initContainerStatuses[0].state.terminated.message", async () => {
    for (const o of operatorTenantRbac("broken", NS)) await apply(o);
    await apply(secret("broken-configuration", ['export MINIO_BROWSER="on"']));
    await apply(tenant("broken", "broken-configuration", "broken-sa"));
    await startPod({ name: "broken-pool-0-0", tenant: "broken", configName: "broken-configuration", serviceAccount: "broken-sa", minio: true });
    const p = await waitPod("broken-pool-0-0", "validate terminated", (p) => !!p.status?.initContainerStatuses?.[0]?.state?.terminated || !!p.status?.initContainerStatuses?.[0]?.lastState?.terminated);
    const s = p.status.initContainerStatuses[0];
    const terminated = s.state.terminated ?? s.lastState.terminated;
    expect(terminated.exitCode).toBe(1);
    expect(terminated.message).toBe(
      `error: Secret ${NS}/broken-configuration: config.env: missing root credentials (set MINIO_ROOT_USER and MINIO_ROOT_PASSWORD to non-empty values in the Secret; spec.env does not count)\n`,
    );
    // The main containers never start while the init container fails.
    expect(p.status.containerStatuses.every((c: any) => !c.state.running)).toBe(true);
    expect(condition(p, "Ready").status).toBe("False");
    await deletePodAndWait("broken-pool-0-0");
  }, 120_000);

  test("a sidecar whose MinIO does not answer keeps the pod NotReady, by the kubelet's probe", async () => {
    const POD = "myminio-pool-0-0";
    await startPod({ name: POD, tenant: TENANT, configName: CONFIG, serviceAccount: `${TENANT}-sa`, minio: false });
    const running = await waitPod(POD, "sidecar running", (p) => !!containerStatus(p, "sidecar")?.state?.running);
    const started = Date.parse(containerStatus(running, "sidecar").state.running.startedAt);
    // Past the initial delay (5 s) and many 1 s probe periods.
    await sleep(Math.max(0, started + 12_000 - Date.now()));
    const p = await getPod(POD);
    expect(containerStatus(p, "sidecar")).toMatchObject({ ready: false, restartCount: 0 });
    expect(containerStatus(p, "sidecar").state.running).toBeDefined();
    expect(condition(p, "Ready")).toMatchObject({ status: "False", reason: "ContainersNotReady" });
    // The kubelet probed and recorded why: its Events on the pod.
    const ev = await node.ok("GET", `/api/v1/namespaces/${NS}/events?fieldSelector=involvedObject.name%3D${POD},reason%3DUnhealthy`);
    const probeFailures = ev.items.filter((e: any) => e.involvedObject.uid === p!.metadata.uid && /Readiness probe failed: HTTP probe failed with statuscode: 500/.test(e.message));
    expect(probeFailures.length).toBeGreaterThan(0);
    expect(probeFailures.reduce((n: number, e: any) => n + (e.count ?? 1), 0)).toBeGreaterThanOrEqual(3);
    await deletePodAndWait(POD);
  }, 120_000);
});

describe("teardown", () => {
  test("stopping the node leaves none of its processes, mounts, cgroups, network namespace, shim sockets or ports", async () => {
    expect(node.leftovers().length).toBeGreaterThan(0); // the check sees a running node
    const t0 = performance.now();
    await node.stop();
    node.log(`node stopped and cleaned up in ${Math.round(performance.now() - t0)} ms (${JSON.stringify(node.stopTimings)})`);
    expect(node.leftovers()).toEqual([]);
    expect(existsSync(node.dir)).toBe(false);
    expect(spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout).not.toContain(node.id);
  }, 120_000);
});
