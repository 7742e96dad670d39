/**
 * The bucket Service reconcile (SPEC 6) against a real kube-apiserver: the
 * start-up reconcile creates a Service per bucket of the (fake) MinIO under
 * the shipped Role, and a bucket Service deleted by hand comes back. The
 * periodic run is every 10 minutes with (rightly) no flag to shorten it, so
 * "comes back" is shown through the next sidecar start, as in a restarted pod.
 */
import { afterEach, expect, setDefaultTimeout, test } from "bun:test";
import { NS, startWorldOn, until, type World } from "../fake-minio/world.ts";
import type { ApiServer } from "../support/backend.ts";
import { expectNoRefusals, kubeBackend } from "../support/kube-backend.ts";

setDefaultTimeout(60_000);
expectNoRefusals();

let w: World<ApiServer> | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

type Svc = { metadata: { uid: string; resourceVersion: string; ownerReferences: Array<Record<string, unknown>> }; spec: Record<string, unknown> };

test("start-up reconcile: alpha and beta get Services, the operator's minio Service is left alone; alpha deleted by hand comes back on the next start", async () => {
  w = await startWorldOn(kubeBackend, { minio: { tls: true, buckets: ["alpha", "beta", "has.dot", "minio"] } });
  const minioBefore = await w.service("minio");
  const sc = await w.sidecar();
  const alpha = (await until(() => w!.service("alpha"), 15_000, "Service alpha")) as unknown as Svc;
  const beta = (await until(() => w!.service("beta"), 15_000, "Service beta")) as unknown as Svc;
  for (const s of [alpha, beta]) {
    expect(s.spec).toMatchObject({ type: "ExternalName", externalName: `minio.${NS}.svc.cluster.local` });
    expect(s.metadata.ownerReferences).toEqual([{ apiVersion: "minio.min.io/v2", kind: "Tenant", name: "myminio", uid: w.tenantUid, controller: true }]);
  }
  expect(await w.service("minio")).toEqual(minioBefore);
  await sc.stop();

  await w.api.delete({ kind: "Service", namespace: NS, name: "alpha" });
  expect(await w.service("alpha")).toBeUndefined();
  const sc2 = await w.sidecar();
  const back = (await until(() => w!.service("alpha"), 15_000, "Service alpha back")) as unknown as Svc;
  expect(back.metadata.uid).not.toBe(alpha.metadata.uid);
  expect(back.metadata.ownerReferences[0]).toMatchObject({ uid: w.tenantUid, controller: true });
  // beta was ours already: left as it was, not rewritten.
  expect(((await w.service("beta")) as unknown as Svc).metadata.resourceVersion).toBe(beta.metadata.resourceVersion);
  expect(await w.service("minio")).toEqual(minioBefore);
  expect(sc2.proc.exitCode).toBeNull();
});
