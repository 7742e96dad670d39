/**
 * test/scenarios/validate.ts against a real kube-apiserver + etcd, plus what
 * the real server decides itself: the Tenant CRD's schema refuses a wrong
 * type before validate could see it.
 */
import { expect, test } from "bun:test";
import { controlPlane, expectNoRefusals, kubeBackend } from "../support/kube-backend.ts";
import { NS, pool, tenant } from "../support/objects.ts";
import { validateScenarios } from "../scenarios/validate.ts";

validateScenarios(kubeBackend);

test("the real server refuses a Tenant whose pool `servers` is not an integer (422): the fake-only wrong-type case cannot occur here", async () => {
  const cp = await controlPlane();
  const r = await cp.raw("POST", `/apis/minio.min.io/v2/namespaces/${NS}/tenants`, tenant({ pools: [pool({ name: "pool-0", servers: "four" })] }, "bad-type"));
  expect(r.status).toBe(422);
  expect(r.body.message).toContain("spec.pools[0].servers");
});

// The only refusals are the ones provoked on purpose, of other identities:
// the rejected token (401) and the Role that lacks the Secret (403).
expectNoRefusals();
