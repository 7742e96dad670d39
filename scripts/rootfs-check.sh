#!/usr/bin/env bash
# Proves the image layout works without a container engine: a root filesystem
# holding only the binary at /minio-operator-sidecar, the shared libraries
# `ldd` names (plus the dynamic loader) and the few files distroless/cc
# provides that matter, mounted READ-ONLY with only /tmp/minio writable (an
# in-memory emptyDir in the Pod), entered with chroot as uid/gid 1000 like
# `USER 1000:1000` in the Containerfile. Checks --version, render of the
# example Tenant, validate against a fake API server over loopback (https +
# CA, scripts/dev-cluster.ts), that nothing outside /tmp/minio is writable,
# and that the long-running sidecar serves /healthz and stops on SIGTERM.
#
# Anything distroless/cc adds beyond this (openssl, ca-certificates, tzdata,
# libgcc/libstdc++) is then provably unneeded. What a chroot lacks and every
# container runtime provides is added by hand: /proc (Bun-compiled binaries
# read /proc/self/exe at start, SPEC 7), /dev/null and /dev/urandom.
#
# Usage: sudo scripts/rootfs-check.sh [BINARY]   (default dist/minio-operator-sidecar)
# Needs root (mount, chroot). Prints one PASS/FAIL line per check, a summary
# and the root filesystem size; exits 0 only if every check passed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
export PATH="$PWD/node_modules/.bin:$PATH"

BIN=${1:-dist/minio-operator-sidecar}
EXPECTED=test/fixtures/examples/deploy-example.expected.env
[ "$(id -u)" -eq 0 ] || { echo "rootfs-check: needs root (mount, chroot)" >&2; exit 2; }
if [ ! -x "$BIN" ]; then npm run build >/dev/null || { echo "rootfs-check: build failed" >&2; exit 1; }; fi

work=$(mktemp -d /tmp/rootfs-check.XXXXXX)
root=$work/rootfs   # assembled read-write, as an image build would
ro=$work/ro         # the same tree, bind-mounted read-only: what the process sees
mounts=()           # in mount order; unmounted in reverse
cluster_pid=""
sidecar_pid=""

cleanup() {
  [ -n "$sidecar_pid" ] && kill "$sidecar_pid" 2>/dev/null
  [ -n "$cluster_pid" ] && kill "$cluster_pid" 2>/dev/null && wait "$cluster_pid" 2>/dev/null
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" 2>/dev/null || echo "warning: could not unmount ${mounts[i]}" >&2
  done
  # Only delete when nothing is mounted below $work any more: rm -rf through a
  # leftover bind mount would delete host files.
  if findmnt -rno TARGET | grep -q "^$work"; then
    echo "warning: mounts left under $work; not deleting it" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass=0
fail=0
skip=0
result() { # result PASS|FAIL|SKIP "name" ["detail"]
  case $1 in PASS) pass=$((pass + 1)) ;; FAIL) fail=$((fail + 1)) ;; SKIP) skip=$((skip + 1)) ;; esac
  printf '%-4s %s%s\n' "$1" "$2" "${3:+  ($3)}"
}

# --- assemble -------------------------------------------------------------
mkdir -p "$root"/{etc,tmp/minio,proc,dev,examples,home/nonroot}
chmod 1777 "$root/tmp"
install -m 0555 "$BIN" "$root/minio-operator-sidecar"

# Every library ldd resolves ("name => /path") and the loader (a bare path),
# copied to the same path, symlinks resolved. linux-vdso is in the kernel.
libs=$(ldd "$BIN" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u)
[ -n "$libs" ] || { echo "rootfs-check: ldd found no libraries (static binary?)" >&2; }
for lib in $libs; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done

# distroless' own account files, verbatim in substance: note there is no
# uid 1000 entry, as in the real image, so nothing may depend on one.
cp scripts/distroless-etc/passwd scripts/distroless-etc/group "$root/etc/"
cp deploy/examples/tenant.yaml deploy/examples/secret.yaml "$root/examples/"
touch "$root/dev/null" "$root/dev/urandom"

# --- the fake cluster (outside the chroot, reached over loopback) ---------
cluster_url=""
if [ -f scripts/dev-cluster.ts ]; then
  bun scripts/dev-cluster.ts --kubeconfig "$work/kubeconfig" --port 0 >"$work/cluster.out" 2>"$work/cluster.err" &
  cluster_pid=$!
  for _ in $(seq 1 150); do
    cluster_url=$(sed -n 's/^ready //p' "$work/cluster.out" | head -1)
    [ -n "$cluster_url" ] && break
    kill -0 "$cluster_pid" 2>/dev/null || break
    sleep 0.2
  done
  # Part of the image-like tree, readable by uid 1000 (in a Pod the token and CA come from the projected ServiceAccount volume).
  [ -n "$cluster_url" ] && install -m 0444 "$work/kubeconfig" "$root/etc/kubeconfig"
fi

# --- mount: read-only view, /proc, two devices, writable /tmp/minio --------
mkdir -p "$ro"
mount --bind "$root" "$ro" && mounts+=("$ro")
mount -o remount,bind,ro "$ro" || { echo "rootfs-check: cannot remount read-only" >&2; exit 1; }
mount -t proc proc "$ro/proc" && mounts+=("$ro/proc")
mount --bind /dev/null "$ro/dev/null" && mounts+=("$ro/dev/null")
mount --bind /dev/urandom "$ro/dev/urandom" && mounts+=("$ro/dev/urandom")
mount -t tmpfs -o size=1m,mode=0700,uid=1000,gid=1000 config "$ro/tmp/minio" && mounts+=("$ro/tmp/minio")

# As the image runs it: uid/gid 1000, empty environment but HOME=/ (what a
# runtime sets for a uid without a passwd entry), no shell anywhere.
CHROOT=$(command -v chroot)
run() { env -i HOME=/ "$CHROOT" --userspec=1000:1000 "$ro" /minio-operator-sidecar "$@"; }

echo "rootfs: $(cd "$root" && find . -type f | sort | tr '\n' ' ')"
echo "root mount: $(findmnt -no OPTIONS "$ro")"

# --- checks ---------------------------------------------------------------
if out=$(run --version 2>&1) && [[ $out == minio-operator-sidecar* ]]; then
  result PASS "--version" "$out"
else
  result FAIL "--version" "$out"
fi

if out=$(run render --tenant-file /examples/tenant.yaml --secret-file /examples/secret.yaml 2>"$work/render.err") &&
  [ "$out"$'\n' = "$(cat "$EXPECTED")"$'\n' ]; then
  result PASS "render deploy/examples = $EXPECTED"
else
  result FAIL "render deploy/examples" "$(head -c 300 "$work/render.err")"
  diff <(printf '%s\n' "$out") "$EXPECTED" | head -20
fi

if [ -z "$cluster_url" ]; then
  result SKIP "validate against the fake API server" "scripts/dev-cluster.ts missing or not ready: $(head -c 300 "$work/cluster.err" 2>/dev/null)"
  result SKIP "sidecar /healthz and SIGTERM" "no fake API server"
else
  if run validate --tenant myminio --namespace minio-tenant --kubeconfig /etc/kubeconfig \
    --config-file /tmp/minio/config.env >"$work/validate.out" 2>&1 &&
    cmp -s "$ro/tmp/minio/config.env" "$EXPECTED"; then
    result PASS "validate via $cluster_url wrote /tmp/minio/config.env" \
      "$(stat -c '%a %u:%g' "$ro/tmp/minio/config.env")"
  else
    result FAIL "validate via $cluster_url" "$(tail -c 400 "$work/validate.out")"
  fi

  mode=$(stat -c '%a' "$ro/tmp/minio/config.env" 2>/dev/null)
  if [ -n "$mode" ] && [ $((8#$mode & 8#007)) -eq 0 ]; then
    result PASS "config file not world-readable" "mode $mode"
  else
    result FAIL "config file not world-readable" "mode ${mode:-missing}"
  fi

  # Read-only root: the same command aimed outside /tmp/minio must fail.
  # It must fail for that reason (EROFS), not for another one.
  if run validate --tenant myminio --namespace minio-tenant --kubeconfig /etc/kubeconfig \
    --config-file /config.env >"$work/rofs.out" 2>&1; then
    result FAIL "root filesystem is read-only" "validate could write /config.env"
  elif why=$(grep -o -m1 'EROFS[^"]*\|[Rr]ead-only file system' "$work/rofs.out" | head -1) && [ -n "$why" ]; then
    result PASS "root filesystem is read-only" "validate --config-file /config.env: $why"
  else
    result FAIL "root filesystem is read-only" "failed for another reason: $(tail -c 300 "$work/rofs.out")"
  fi

  port=$((20000 + RANDOM % 20000))
  env -i HOME=/ "$CHROOT" --userspec=1000:1000 "$ro" /minio-operator-sidecar sidecar --tenant myminio \
    --config-name storage-configuration --namespace minio-tenant --kubeconfig /etc/kubeconfig \
    --probe-address "127.0.0.1:$port" --webhook-address "127.0.0.1:$((port + 1))" \
    --sidecar-address "127.0.0.1:$((port + 2))" >"$work/sidecar.out" 2>&1 &
  sidecar_pid=$!
  code=""
  for _ in $(seq 1 100); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz" 2>/dev/null) && [ "$code" = 200 ] && break
    kill -0 "$sidecar_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ "$code" = 200 ]; then
    t0=$(date +%s%N)
    kill -TERM "$sidecar_pid"
    wait "$sidecar_pid"
    rc=$?
    ms=$((($(date +%s%N) - t0) / 1000000))
    sidecar_pid=""
    if [ "$rc" -eq 0 ] && [ "$ms" -lt 2000 ]; then
      result PASS "sidecar served /healthz, exited 0 on SIGTERM" "${ms} ms"
    else
      result FAIL "sidecar SIGTERM" "exit $rc after ${ms} ms"
    fi
  else
    result FAIL "sidecar /healthz" "got '${code}'; $(tail -c 400 "$work/sidecar.out")"
  fi
fi

echo "rootfs size: $(du -sh --apparent-size "$root" | cut -f1) ($(du -sb "$root" | cut -f1) bytes; binary $(stat -c %s "$BIN") bytes)"
echo "rootfs-check: $pass passed, $fail failed, $skip skipped: $([ "$fail" -eq 0 ] && [ "$skip" -eq 0 ] && echo PASS || echo FAIL)"
[ "$fail" -eq 0 ] && [ "$skip" -eq 0 ]
