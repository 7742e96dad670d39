#!/usr/bin/env bash
# Scripted check of the Containerfile's private-CA build secret (npm-ca):
# the build stage, from the stand-in Bun base npm run image made (a Debian
# minbase plus Bun: it lacks the machine's extra CA, and Bun trusts only its
# built-in roots anyway), built twice with no layer cache:
#   1. with the machine's CA bundle as --secret id=npm-ca: bun install works;
#   2. without it: bun install fails with the certificate error.
# Then checks the secret left no trace in any layer of build 1.
#
# Only meaningful where the registry is reached through a private CA (a
# TLS-inspecting proxy, an internal mirror): where build 2 succeeds, this
# machine needs no extra CA and the check says SKIP instead of pretending.
# Reaches the npm registry (or NPM_CONFIG_REGISTRY) like npm run image does.
#
# Usage: scripts/image-ca-check.sh   (run npm run image once before)
set -uo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/containers-env.sh
source scripts/containers-env.sh
ca=${IMAGE_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
bun_image=$(podman images --format '{{.Repository}}:{{.Tag}}' | grep '^localhost/stand-in/bun:' | head -1)
[ -n "$bun_image" ] || { echo "image-ca-check: no stand-in Bun base; run npm run image first" >&2; exit 1; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
registry=()
[ -n "${NPM_CONFIG_REGISTRY:-}" ] && registry=(--build-arg "NPM_CONFIG_REGISTRY=$NPM_CONFIG_REGISTRY")

build() { # build TAG [podman build args...]
  local tag=$1
  shift
  podman build --pull=never --network=host --no-cache --target build "${registry[@]}" \
    --build-arg "BUN_IMAGE=$bun_image" -f Containerfile -t "$tag" "$@" . >"$log" 2>&1
}

rc=0
if build localhost/ca-check:with-secret --secret "id=npm-ca,src=$ca"; then
  echo "PASS build stage with --secret id=npm-ca (bun install trusted the bundle)"
  # Neither the bundle as a file nor its last certificate (update-ca-certificates
  # appends local CAs last; the base's own Debian bundle has the public roots)
  # may be in any layer of the image.
  last=$(awk '/BEGIN CERT/ { n = 0 } { n++; if (n == 2) l = $0 } END { print l }' "$ca")
  sum=$(sha256sum <"$ca" | cut -c1-64)
  mnt=$(podman image mount localhost/ca-check:with-secret)
  if grep -rqsF -- "$last" "$mnt" 2>/dev/null || [ -e "$mnt/run/secrets/npm-ca" ] ||
    find "$mnt" -type f -size "$(stat -c %s "$ca")c" -exec sha256sum {} + 2>/dev/null | grep -q "^$sum"; then
    echo "FAIL the CA bundle is in the image"; rc=1
  else
    echo "PASS the CA bundle is in no layer (and /run/secrets/npm-ca is absent)"
  fi
  podman image unmount localhost/ca-check:with-secret >/dev/null
else
  echo "FAIL build stage with --secret id=npm-ca:"; tail -15 "$log"; rc=1
fi

if build localhost/ca-check:without-secret; then
  echo "SKIP without the secret the build also works: this machine reaches the registry without a private CA"
else
  err=$(grep -Eo 'SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|UNABLE_TO_VERIFY_LEAF_SIGNATURE|DEPTH_ZERO_SELF_SIGNED_CERT|CERT_[A-Z_]+' "$log" | sort -u | tr '\n' ' ')
  if [ -n "$err" ]; then
    echo "PASS build stage without the secret fails with the certificate error: $err"
    grep -m3 -E 'error|SELF_SIGNED|UNABLE_TO' "$log" | sed 's/^/     /'
  else
    echo "FAIL build stage without the secret failed, but not with a certificate error:"; tail -15 "$log"; rc=1
  fi
fi
podman rmi -f localhost/ca-check:with-secret localhost/ca-check:without-secret >/dev/null 2>&1
exit $rc
