/**
 * test/scenarios/validate.ts against a real kube-apiserver + etcd, plus what
 * the real server decides itself: the Tenant CRD's schema refuses a wrong
 * type before validate could see it.
 */
import { afterAll, expect, test } from "bun:test";
import { SIDECAR_USER } from "../support/backend.ts";
import { controlPlane, kubeBackend } from "../support/kube-backend.ts";
import { NS, pool, tenant } from "../support/objects.ts";
import { validateScenarios } from "../scenarios/validate.ts";

validateScenarios(kubeBackend);

test("the real server refuses a Tenant whose pool `servers` is not an integer (422): the fake-only wrong-type case cannot occur here", async () => {
  const cp = await controlPlane();
  const r = await cp.raw("POST", `/apis/minio.min.io/v2/namespaces/${NS}/tenants`, tenant({ pools: [pool({ name: "pool-0", servers: "four" })] }, "bad-type"));
  expect(r.status).toBe(422);
  expect(r.body.message).toContain("spec.pools[0].servers");
});

afterAll(async () => {
  // The only refusals of this file are the expected ones: the rejected token
  // (401, no user) and the identity whose Role lacks the Secret (403).
  const cp = await controlPlane();
  const refused = cp.requestsSince(0).filter((r) => r.status === 401 || r.status === 403);
  expect(refused.map((r) => `${r.user ?? "-"} ${r.verb} ${r.resource}/${r.name} ${r.status}`).sort()).toEqual([
    `- get tenants/myminio 401`,
    `system:serviceaccount:${NS}:other-identity-1 get secrets/storage-configuration 403`,
  ]);
  expect(refused.some((r) => r.user === SIDECAR_USER)).toBe(false);
});
