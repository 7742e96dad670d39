/**
 * test/scenarios/webhook-buckets.ts against a real kube-apiserver + etcd: the
 * bucket Services are created and deleted by the sidecar's ServiceAccount
 * under the shipped Role, with the real server's validation of the Service,
 * its ownerReference and the uid precondition on delete.
 */
import { setDefaultTimeout } from "bun:test";
import { expectNoRefusals, kubeBackend, orphanSearch } from "../support/kube-backend.ts";
import { webhookScenarios } from "../scenarios/webhook-buckets.ts";

setDefaultTimeout(60_000);

webhookScenarios(kubeBackend);

// The Role was enough for everything the webhook did. The one refusal is by
// design: deploy/rbac.yaml grants no `list` on services, so the start-up
// reconcile's orphan search (one LIST per sidecar start) gets 403 and only
// covers the Services this process has seen (reconcile-buckets.test.ts).
expectNoRefusals(orphanSearch);
