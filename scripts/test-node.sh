#!/usr/bin/env bash
# npm run test:node: the product's image in a Pod built as the MinIO Operator
# builds it, on a real node (etcd, kube-apiserver, containerd, a kubelet) that
# test/node/node.ts starts inside a network namespace of the test's own and
# tears down completely afterwards (test/node/*.node.ts).
#
# Needs: root (network namespaces, mounts, cgroups), the Go toolchain when the
# node's binaries are not cached yet (scripts/kube-servers.sh --node builds the
# kubelet and containerd besides the API server and etcd: about 10 minutes for
# all of them from a cold Go build cache on two cores), runc and catatonit
# (installed here when missing), and the image
# archive dist/minio-operator-sidecar.oci.tar that `npm run image` writes.
# Extra arguments go to bun test (e.g. -t "NotReady").
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

archive=dist/minio-operator-sidecar.oci.tar
if [ ! -f "$archive" ]; then
  echo "test:node: $archive is missing: run npm run image first" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "test:node: needs root (it creates a network namespace, mounts and cgroups for the node)" >&2
  exit 1
fi
# runc runs the containers; catatonit is the pause image's process (static).
missing=()
command -v runc >/dev/null || missing+=(runc)
command -v catatonit >/dev/null || missing+=(catatonit)
if [ ${#missing[@]} -gt 0 ]; then
  echo "test:node: installing ${missing[*]}" >&2
  apt-get install -y --no-install-recommends "${missing[@]}" >&2 ||
    { apt-get update >&2 && apt-get install -y --no-install-recommends "${missing[@]}" >&2; }
fi

start=$SECONDS
dirs=$(bash scripts/kube-servers.sh --node)
echo "test:node: kube-apiserver, etcd, kubelet from $(sed -n 1p <<<"$dirs"); containerd from $(sed -n 2p <<<"$dirs") ($((SECONDS - start))s)"
exec bun test --timeout 120000 "$@" ./test/node/*.node.ts
