#!/usr/bin/env bash
# npm run test:kube: the real-Kubernetes suite (test/kube/*.kube.ts). Builds
# kube-apiserver and etcd when the cache is cold (scripts/kube-servers.sh;
# needs Go, says so in one line otherwise), builds the sidecar binary, and
# runs the suite against both with the compiled binary (SIDECAR_BIN).
# Plain `bun test` never picks these files up: they do not match its
# *.test.ts pattern; bun runs them only when named, as here.
# Extra arguments go to bun test (e.g. -t "410").
# The API server runs with OwnerReferencesPermissionEnforcement (as OpenShift).
# KUBE_TEST_ROLE=operator-per-tenant binds the sidecar to the Role the MinIO
# Operator gives Tenant pods instead of deploy/rbac.yaml's (test/support/kube-backend.ts);
# with the binary built, e.g.:
#   KUBE_TEST_ROLE=operator-per-tenant SIDECAR_BIN=$PWD/dist/minio-operator-sidecar \
#     bun test --timeout 60000 ./test/kube/webhook-buckets.kube.ts ./test/kube/reconcile-buckets.kube.ts
# (.ci/run does exactly that).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

dir=$(bash scripts/kube-servers.sh)
echo "test:kube: kube-apiserver $(basename "$dir") and etcd from $dir"
npm run --silent build >/dev/null
export SIDECAR_BIN="$PWD/dist/minio-operator-sidecar"
exec bun test --timeout 60000 "$@" ./test/kube/*.kube.ts
