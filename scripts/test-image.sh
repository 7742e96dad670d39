#!/usr/bin/env bash
# npm run test:image: runs dist/minio-operator-sidecar.oci.tar (npm run image)
# as the MinIO Operator runs it in a pod, against a real kube-apiserver + etcd
# (scripts/kube-servers.sh builds them when the cache is cold): test/image/*.image.ts.
# The archive is loaded into a fresh private podman store (a temp folder,
# removed afterwards), so the test runs what was shipped, not what the build
# store happens to hold. Extra arguments go to bun test.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

archive=dist/minio-operator-sidecar.oci.tar
[ -f "$archive" ] || { echo "test:image: $archive is missing: run npm run image first" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "test:image: needs root (podman's own store, mounts owned by uid 1000)" >&2; exit 1; }

dir=$(bash scripts/kube-servers.sh)
echo "test:image: kube-apiserver $(basename "$dir") and etcd from $dir"

state=$(mktemp -d "${XDG_CACHE_HOME:-$HOME/.cache}/minio-operator-sidecar/test-image.XXXXXX")
cleanup() {
  podman rm -a -f -t 0 >/dev/null 2>&1 || true
  podman system reset -f >/dev/null 2>&1 || true
  umount "$state/storage/overlay" 2>/dev/null || true
  rm -rf "$state"
}
trap cleanup EXIT
# shellcheck source=scripts/containers-env.sh
source scripts/containers-env.sh "$state"

loaded=$(podman load -q -i "$archive")
# "Loaded image: localhost/minio-operator-sidecar:0.1.0" (or "Loaded image(s): ...")
export IMAGE=${loaded##*: }
echo "test:image: $IMAGE from $archive ($(du -h "$archive" | cut -f1))"
bun test --timeout 60000 "$@" ./test/image/*.image.ts
