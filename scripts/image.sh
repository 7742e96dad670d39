#!/usr/bin/env bash
# npm run image: build the Containerfile the air-gapped way and write
# dist/minio-operator-sidecar.oci.tar (an OCI archive: podman load, docker
# load, skopeo copy oci-archive:..., ctr import all take it).
#
# No image is pulled from a registry. The two base images are local stand-ins
# made from Debian packages, passed as BUN_IMAGE / BASE_IMAGE exactly as a user
# with a registry mirror passes theirs:
#   - BUN_IMAGE: a minimal Debian root filesystem (mmdebstrap minbase) plus the
#     Bun that package.json pins, taken from node_modules (the Containerfile
#     checks the version);
#   - BASE_IMAGE: distroless-like: only the files of libc6, libgcc-s1,
#     libstdc++6, ca-certificates and tzdata, distroless' passwd/group
#     (root, nobody, nonroot 65532), an empty /tmp, and no shell.
# The Debian mirror is read from this machine's apt sources at run time (as
# a user's own mirror would be); none is written into the repository. Both
# stand-ins are cached by a key over their inputs, so warm runs reuse them.
#
# The machine's CA bundle goes to the build as the secret "npm-ca" (never a
# layer): the npm registry may be reached through a TLS-inspecting proxy or a
# mirror with a private CA. IMAGE_CA_BUNDLE=FILE picks another bundle,
# IMAGE_CA_BUNDLE= (empty) builds without the secret.
#
# All podman configuration and state: ~/.cache/minio-operator-sidecar/containers
# (scripts/containers-env.sh). Host networking only.
#
# Usage: npm run image        (env: VERSION, REVISION, CREATED as build args)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
start=$(date +%s)

# shellcheck source=scripts/containers-env.sh
source scripts/containers-env.sh
bases=$containers_root/bases
mkdir -p "$bases" dist

bun_bin=node_modules/@oven/bun-linux-x64/bin/bun
[ -x "$bun_bin" ] || bun_bin=$(node -e 'console.log(require.resolve("bun/bin/bun.exe"))' 2>/dev/null || true)
[ -x "$bun_bin" ] || { echo "image: no Bun in node_modules; run npm ci first" >&2; exit 1; }
bun_version=$("$bun_bin" --version)

# --- the machine's Debian mirror ------------------------------------------
# (read, not sourced: os-release sets VERSION, which is a build arg here)
suite=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release | tr -d '"')
[ -n "$suite" ] || { echo "image: /etc/os-release has no VERSION_CODENAME (not a Debian-based machine?)" >&2; exit 1; }
sources=()
for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list; do
  [ -f "$f" ] && grep -Eq '^(URIs:|deb )' "$f" && sources+=("$f")
done
[ ${#sources[@]} -gt 0 ] || { echo "image: no apt sources on this machine (/etc/apt/sources.list*)" >&2; exit 1; }

base_packages=libc6,libgcc-s1,libstdc++6,ca-certificates,tzdata
# Bump "v1" when build_bases changes what it makes.
key=$( { echo "v1 $suite $base_packages $bun_version"; cat "${sources[@]}" "$bun_bin" scripts/distroless-etc/*; } | sha256sum | cut -c1-12)
bun_image=localhost/stand-in/bun:$bun_version-$key
base_image=localhost/stand-in/distroless-cc:$key

build_bases() {
  local tmp=$bases/tmp.$$ rootfs
  rm -rf "$tmp" && mkdir -p "$tmp"
  rootfs=$tmp/rootfs
  echo "== stand-in base images from Debian $suite packages (mmdebstrap, mirror from ${sources[*]})"
  # One download for both: minbase (dash, coreutils: the build stage's RUN
  # steps need a shell) plus the runtime packages.
  mmdebstrap --quiet --variant=minbase --include="${base_packages}" \
    --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
    "$suite" "$rootfs" "${sources[@]}"

  # BUN_IMAGE: the whole minbase tree plus the pinned Bun.
  install -m 0755 "$bun_bin" "$rootfs/usr/local/bin/bun"
  tar --numeric-owner -C "$rootfs" -cf "$tmp/bun.tar" .
  podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'WORKDIR /' "$tmp/bun.tar" "$bun_image" >/dev/null
  rm -f "$rootfs/usr/local/bin/bun"

  # BASE_IMAGE: only the files those packages own (dpkg's lists), with the
  # merged-/usr directories resolved so each lands where the symlinks point,
  # plus the certificates update-ca-certificates generated.
  local list=$tmp/files
  {
    for pkg in ${base_packages//,/ }; do
      arch_pkg=$(chroot "$rootfs" dpkg-query -W -f='${binary:Package}\n' "$pkg")
      cat "$rootfs/var/lib/dpkg/info/${arch_pkg#*:}.list" "$rootfs/var/lib/dpkg/info/$arch_pkg.list" 2>/dev/null || true
    done
    find "$rootfs/etc/ssl/certs" -mindepth 1 | sed "s|^$rootfs||"
  } | sort -u | while IFS= read -r path; do
    [ "$path" = "/." ] && continue
    if [ -d "$rootfs$path" ] && [ ! -L "$rootfs$path" ]; then
      real=$(realpath "$rootfs$path")
    else
      real=$(realpath "$rootfs$(dirname "$path")")/$(basename "$path")
    fi
    echo ".${real#"$rootfs"}"
  done | sort -u >"$list"
  # merged-/usr top-level symlinks (lib -> usr/lib, ...), as in distroless.
  for l in bin lib lib32 lib64 libx32 sbin; do [ -L "$rootfs/$l" ] && echo "./$l"; done >>"$list"
  local base=$tmp/base
  mkdir -p "$base"
  tar -C "$rootfs" --no-recursion -T "$list" -cf - | tar -C "$base" -xf -
  mkdir -p "$base"/{etc,home/nonroot,root,tmp}
  chmod 1777 "$base/tmp"
  chmod 0700 "$base/root"
  chown 65532:65532 "$base/home/nonroot"
  # distroless' account files: no uid 1000 entry (the image runs as 1000:1000
  # like the MinIO container beside it), so nothing may depend on one.
  cp scripts/distroless-etc/passwd scripts/distroless-etc/group "$base/etc/"
  echo 'hosts: files dns' >"$base/etc/nsswitch.conf"
  cp "$rootfs/etc/os-release" "$base/etc/os-release" 2>/dev/null || cp "$rootfs/usr/lib/os-release" "$base/etc/os-release"
  for sh in bin/sh bin/bash bin/dash usr/bin/sh usr/bin/dash usr/bin/bash; do
    [ -e "$base/$sh" ] && { echo "image: stand-in base unexpectedly holds /$sh" >&2; exit 1; }
  done
  tar --numeric-owner -C "$base" -cf "$tmp/base.tar" .
  podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'USER 65532:65532' --change 'WORKDIR /home/nonroot' \
    "$tmp/base.tar" "$base_image" >/dev/null
  rm -rf "$tmp"
}

if podman image exists "$bun_image" && podman image exists "$base_image"; then
  echo "== stand-in base images: reusing $bun_image, $base_image"
else
  build_bases
fi

# --- the image --------------------------------------------------------------
version=${VERSION:-$(node -p 'require("./package.json").version')}
revision=${REVISION:-$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}
created=${CREATED:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}
tag=localhost/minio-operator-sidecar:$version

ca=${IMAGE_CA_BUNDLE-/etc/ssl/certs/ca-certificates.crt}
secret=()
if [ -n "$ca" ]; then
  [ -s "$ca" ] || { echo "image: CA bundle $ca is missing or empty (IMAGE_CA_BUNDLE= builds without one)" >&2; exit 1; }
  secret=(--secret "id=npm-ca,src=$ca")
fi
registry=()
[ -n "${NPM_CONFIG_REGISTRY:-}" ] && registry=(--build-arg "NPM_CONFIG_REGISTRY=$NPM_CONFIG_REGISTRY")

echo "== podman build $tag (BUN_IMAGE=$bun_image BASE_IMAGE=$base_image${ca:+, CA secret from $ca})"
podman build --pull=never --network=host --layers \
  "${secret[@]}" "${registry[@]}" \
  --build-arg "BUN_IMAGE=$bun_image" --build-arg "BASE_IMAGE=$base_image" \
  --build-arg "VERSION=$version" --build-arg "REVISION=$revision" --build-arg "CREATED=$created" \
  -f Containerfile -t "$tag" "$repo"

archive=dist/minio-operator-sidecar.oci.tar
rm -f "$archive.tmp"
podman save --format oci-archive -o "$archive.tmp" "$tag"
mv "$archive.tmp" "$archive"
# Untagged layers older than a week: the private store does not grow for
# ever, and the recent ones stay as build cache (the bun install layer).
podman image prune -f --filter until=168h >/dev/null || true

image_size=$(podman image inspect --format '{{.Size}}' "$tag")
mnt=$(podman image mount "$tag")
binary_size=$(stat -c %s "$mnt/minio-operator-sidecar")
podman image unmount "$tag" >/dev/null
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
echo
echo "image   $tag  $(mib "$image_size")"
echo "binary  /minio-operator-sidecar  $(mib "$binary_size")  (image/binary $(awk -v i="$image_size" -v b="$binary_size" 'BEGIN { printf "%.2f", i / b }')x)"
echo "archive $archive  $(mib "$(stat -c %s "$archive")")"
echo "done in $(($(date +%s) - start)) s"
