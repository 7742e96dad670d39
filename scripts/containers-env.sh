# Sourced by scripts/image.sh and test/image/: a podman whose configuration and
# state all live in one private cache folder, never in /etc/containers or
# /var/lib/containers, so building or testing the image leaves the machine's
# own container setup (if any) untouched.
#
#   source scripts/containers-env.sh [STATE_DIR]
#
# STATE_DIR defaults to ~/.cache/minio-operator-sidecar/containers; test:image
# passes a fresh folder so it loads the archive into a store of its own.
# Networking: callers use host networking only (--network=host), so podman
# creates no bridge and writes no firewall rule.

containers_root=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/minio-operator-sidecar/containers}
mkdir -p "$containers_root"/{storage,run,tmp,volumes,networks}

# Install what is missing (a fresh CI machine). runc, not crun: crun 1.8
# refuses a hybrid cgroup v1/v2 layout such as this machine's.
need=()
command -v podman >/dev/null || need+=(podman)
command -v runc >/dev/null || need+=(runc)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} (apt-get)" >&2
  if [ "$(id -u)" -eq 0 ]; then apt-get install -y "${need[@]}" >&2; else sudo apt-get install -y "${need[@]}" >&2; fi ||
    { echo "could not install ${need[*]}" >&2; return 1 2>/dev/null || exit 1; }
fi

export CONTAINERS_CONF="$containers_root/containers.conf"
export CONTAINERS_STORAGE_CONF="$containers_root/storage.conf"
# Image pulls are never needed (every FROM is a local image, --pull=never);
# an empty registries file keeps the system's search list and mirrors out.
export CONTAINERS_REGISTRIES_CONF="$containers_root/registries.conf"

# default_ulimits: podman's default raises RLIMIT_NOFILE/NPROC to the hard
# maximum, which needs CAP_SYS_RESOURCE; without it (this machine, many CI
# containers) every container start fails. 20000 open files and 32768
# processes are far above what a build step or the sidecar uses.
cat >"$CONTAINERS_CONF" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "host"
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$containers_root/run/events.log"
tmp_dir = "$containers_root/run/libpod"
static_dir = "$containers_root/storage/libpod"
volume_path = "$containers_root/volumes"
image_copy_tmp_dir = "$containers_root/tmp"

[network]
network_config_dir = "$containers_root/networks"
EOF

cat >"$CONTAINERS_STORAGE_CONF" <<EOF
[storage]
driver = "overlay"
graphroot = "$containers_root/storage"
runroot = "$containers_root/run/storage"
EOF

: >"$CONTAINERS_REGISTRIES_CONF"
# buildah's own temporary files (build contexts, layers being committed).
export TMPDIR="$containers_root/tmp"
