/**
 * test/scenarios/sidecar-watch.ts against a real kube-apiserver + etcd, plus
 * what only the real server can show: a 410 from etcd compaction, and
 * in-cluster mode with service-account files the TokenRequest API issued.
 */
import { afterEach, expect, test } from "bun:test";
import { NS, SIDECAR_USER } from "../support/backend.ts";
import { controlPlane, expectNoRefusals, kubeBackend } from "../support/kube-backend.ts";
import { canUnshare, eventually } from "../support/sidecar.ts";
import { SECRET, EXPECTED_BASE, cleanup, configEnv, expectedFile, fileIs, finish, pw, setSecret, setupOn, status, type SetupOptions } from "../support/sidecar-cluster.ts";
import { sidecarWatchScenarios } from "../scenarios/sidecar-watch.ts";

afterEach(cleanup);
const setup = (o?: SetupOptions) => setupOn(kubeBackend, o);

sidecarWatchScenarios(setup);

/** A raw watch from `rv` as the harness admin: the first event's type and Status code (what a client resuming there gets). */
async function watchFrom(rv: string): Promise<{ type: string; code?: number; message?: string }> {
  const cp = await controlPlane();
  const r = await cp.raw("GET", `/api/v1/namespaces/${NS}/secrets?watch=true&resourceVersion=${rv}&fieldSelector=metadata.name%3D${SECRET}&timeoutSeconds=1`);
  const first = JSON.parse(r.text.split("\n")[0]!);
  return { type: first.type, code: first.object?.code, message: first.object?.message };
}

test("a real 410: the watch resumes from a resourceVersion etcd has compacted away; the sidecar re-lists and converges", async () => {
  const cp = await controlPlane();
  // With the watch cache on, the API server serves watches from memory and
  // compaction never reaches them; without it they go to etcd, as on API
  // servers run with --watch-cache=false.
  await cp.restartApiserver(["--watch-cache=false"]);
  try {
    const e = await setup();
    await fileIs(e, EXPECTED_BASE);
    const rv = ((await e.api.get({ kind: "Secret", namespace: NS, name: SECRET })) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
    await eventually(() => e.api.openWatches.filter((w) => w.resource === "secrets").length === 1, 10_000, "the sidecar's Secret watch");
    // Cut the sidecar off, change the Secret, let the compactor (every 2 s) pass it.
    await cp.withClientsCutOff(async () => {
      await setSecret(e, configEnv(pw("after-compaction")));
      await eventually(async () => (await watchFrom(rv)).code === 410, 15_000, "compaction past the sidecar's resourceVersion");
    });
    const expired = await watchFrom(rv);
    expect(expired).toEqual({ type: "ERROR", code: 410, message: "The resourceVersion for the provided watch is too old." });
    await fileIs(e, expectedFile(pw("after-compaction")), 20_000);
    await e.sc.waitForLog((l) => JSON.stringify(l).includes("410"), 5_000);
    expect((await status(e)).configValid).toBe(true);
    await finish(e);
  } finally {
    await cp.restartApiserver([]);
  }
}, 90_000);

test.skipIf(!canUnshare)("in-cluster mode: KUBERNETES_SERVICE_HOST/_PORT and the projected token, ca.crt, namespace files; no kubeconfig", async () => {
  const e = await setup({ inCluster: true });
  await fileIs(e, EXPECTED_BASE);
  await setSecret(e, configEnv(pw("in-cluster")));
  await fileIs(e, expectedFile(pw("in-cluster")));
  expect(new Set(e.api.requests.map((r) => r.user))).toEqual(new Set([SIDECAR_USER]));
  await finish(e);
});

expectNoRefusals();
