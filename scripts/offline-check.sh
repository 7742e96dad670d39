#!/usr/bin/env bash
# Air-gapped build and run, proven:
#   1. populate a private npm cache: `npm ci --cache DIR` in a copy of the
#      working tree (the only step that uses the registry);
#   2. in a fresh copy, `npm ci --offline --cache DIR` with a dead proxy
#      (see below why not a dead registry), then `npm run build`, both inside a network namespace
#      with no interfaces up (unshare -n), so any network use fails loudly.
#      This includes the postinstall scripts of `bun` and `deno`, which fetch
#      their binaries when npm did not install them; `bun --version` and
#      `deno --version` must work afterwards;
#   3. the compiled binary's `render` in that namespace, and under strace,
#      which must show no inet socket or connect at all.
# Without root (no unshare -n) steps 2 and 3 rely on --offline, the dead
# proxy and strace alone, and say so.
#
# Usage: scripts/offline-check.sh            (about 1-2 minutes)
# Prints PASS/FAIL per step and a summary; exits 0 only if all passed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
repo=$PWD
work=$(mktemp -d /tmp/offline-check.XXXXXX)
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

pass=0
fail=0
result() {
  case $1 in PASS) pass=$((pass + 1)) ;; *) fail=$((fail + 1)) ;; esac
  printf '%-4s %s%s\n' "$1" "$2" "${3:+  ($3)}"
}

# The working tree as it is (tracked and untracked files, minus ignored ones
# such as node_modules and dist): what would be committed, not HEAD.
copy_tree() {
  mkdir -p "$1"
  git -C "$repo" ls-files -z --cached --others --exclude-standard |
    tar -C "$repo" --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -C "$1" -xf -
}

if [ "$(id -u)" -eq 0 ] && unshare -n true 2>/dev/null; then
  isolate() { unshare -n -- "$@"; }
  how="unshare -n: no network at all"
else
  isolate() { "$@"; }
  how="no unshare -n (needs root): --offline and a dead proxy only"
fi
echo "isolation: $how"

cache=$work/npm-cache
t0=$SECONDS
copy_tree "$work/online"
if (cd "$work/online" && npm ci --cache "$cache" --no-audit --no-fund >"$work/online.log" 2>&1); then
  result PASS "populate cache: npm ci --cache (online)" "$(du -sh "$cache" | cut -f1), $((SECONDS - t0)) s"
else
  result FAIL "populate cache: npm ci --cache (online)" "$(tail -3 "$work/online.log")"
fi
rm -rf "$work/online"

off=$work/offline
copy_tree "$off"
# Every network route npm could take leads nowhere: a dead proxy (nothing
# listens on port 9) on top of --offline and, as root, no network at all. Not a
# dead *registry*: npm keys its cache by registry URL, and package-lock.json
# carries no `resolved` URLs, so npm must read each package's metadata from the
# cache under the registry URL it was filled from (the same mirror URL both
# times, in a real air gap).
export npm_config_proxy=http://127.0.0.1:9/ npm_config_https_proxy=http://127.0.0.1:9/
t0=$SECONDS
if (cd "$off" && isolate npm ci --offline --cache "$cache" --no-audit --no-fund >"$work/offline.log" 2>&1); then
  result PASS "npm ci --offline, dead proxy" "$((SECONDS - t0)) s"
else
  result FAIL "npm ci --offline, dead proxy" "$(grep -m3 -i 'error' "$work/offline.log")"
fi

# The postinstall scripts must have put real binaries in place without the network.
for tool in bun deno; do
  if v=$(cd "$off" && isolate "node_modules/.bin/$tool" --version 2>&1 | head -1); then
    result PASS "$tool from the offline install runs" "$v"
  else
    result FAIL "$tool from the offline install runs" "$v"
  fi
done

t0=$SECONDS
if (cd "$off" && PATH="$off/node_modules/.bin:$PATH" isolate npm run build >"$work/build.log" 2>&1); then
  result PASS "npm run build offline" "$((SECONDS - t0)) s, $(stat -c %s "$off/dist/minio-operator-sidecar") bytes"
else
  result FAIL "npm run build offline" "$(tail -3 "$work/build.log")"
fi

bin=$off/dist/minio-operator-sidecar
if [ -x "$bin" ]; then
  if out=$(cd "$off" && isolate "$bin" render --tenant-file deploy/examples/tenant.yaml --secret-file deploy/examples/secret.yaml) &&
    [ "$out" = "$(cat "$off/test/fixtures/examples/deploy-example.expected.env")" ]; then
    result PASS "render without network" "$how"
  else
    result FAIL "render without network"
  fi
  if command -v strace >/dev/null; then
    # Every socket/connect of the process and its threads; AF_UNIX would be local IPC, inet is network.
    (cd "$off" && strace -f -qq -e trace=socket,connect,sendto,sendmsg -o "$work/strace.log" \
      "$bin" render --tenant-file deploy/examples/tenant.yaml --secret-file deploy/examples/secret.yaml >/dev/null)
    inet=$(grep -cE 'AF_INET|AF_INET6|sin_port|sin6_port' "$work/strace.log")
    calls=$(grep -cE 'socket\(|connect\(|sendto\(|sendmsg\(' "$work/strace.log")
    if [ "$inet" -eq 0 ]; then
      result PASS "render makes no network access (strace)" "$calls socket/connect/send calls, 0 inet"
    else
      result FAIL "render makes no network access (strace)" "$(grep -m3 -E 'AF_INET|sin_port' "$work/strace.log")"
    fi
  else
    echo "note: strace not installed; the unshare -n run above is the only run-time network check"
  fi
else
  result FAIL "render without network" "no binary"
fi

echo "offline-check: $pass passed, $fail failed: $([ "$fail" -eq 0 ] && echo PASS || echo FAIL)"
[ "$fail" -eq 0 ]
