/**
 * test/scenarios/webhook-buckets.ts against a real kube-apiserver + etcd: the
 * bucket Services are created and deleted by the sidecar's ServiceAccount
 * under the shipped Role, with the real server's validation of the Service,
 * its ownerReference and the uid precondition on delete.
 */
import { setDefaultTimeout } from "bun:test";
import { expectNoRefusals, kubeBackend } from "../support/kube-backend.ts";
import { webhookScenarios } from "../scenarios/webhook-buckets.ts";

setDefaultTimeout(60_000);

webhookScenarios(kubeBackend);

// The Role was enough for everything the webhook and the start-up reconcile
// did (its one LIST of Services included: deploy/rbac.yaml grants `list`).
expectNoRefusals();
