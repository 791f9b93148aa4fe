#!/usr/bin/env bash
# Prepare a fresh Debian 12 host for mlenv's integration tests: an unprivileged
# test user with a working rootless podman REST service and local test images,
# built offline. Run as root:
#
#     sudo tests/setup-host.sh          # (we are root on the test machines)
#
# Idempotent: a rerun on a set-up machine skips apt, debootstrap and image
# builds, rewrites config only when it changed, and restarts the service only
# then. Rerun it after a reboot (/dev/net/tun mode and the service are not
# persistent).
#
# Quirks of the test machines (Debian 12 firecracker VMs, run as root, no
# systemd running) that shape this script - see also
# /work/shared/notes/podman-facts.md:
#  - Debian 12 ships podman 4.3.1: no quadlet, CDI specs up to cdiVersion 0.5.0.
#  - cgroups are hybrid v1+v2: crun refuses ("cgroups in hybrid mode not
#    supported"), so runtime = "runc". Rootless on cgroup v1 cannot apply
#    resource limits: podman warns and drops --memory/--cpus (expected here).
#  - No systemd/logind: cgroup_manager = "cgroupfs", events_logger = "file",
#    /run/user/UID made by hand, and the API service started by hand
#    (tests/podman-service.sh) instead of podman.socket.
#  - The processes lack CAP_SYS_RESOURCE, so containers may only lower rlimits:
#    podman's default nofile=1048576 fails with "setrlimit ... operation not
#    permitted". default_ulimits are set at or below the hard limits seen here.
#  - /dev/net/tun is 0600, so slirp4netns (rootless networking and port
#    forwarding) fails until it is 0666.
#  - No container registry is reachable: images are `podman import`s of
#    tarballs (busybox-static, and a debootstrap of Debian from the host's own
#    apt mirror, read from the apt sources, never hardcoded).
#
# Environment overrides:
#   MLENV_TEST_USER   test user (default mlenvtest)
#   MLENV_TEST_CACHE  cache dir for image tarballs (default /var/cache/mlenv-test)
#   MLENV_TEST_MIRROR Debian mirror for debootstrap (default: from apt sources)
#   MLENV_TEST_SUITE  Debian suite for the python image (default bookworm)
set -euo pipefail

TEST_USER="${MLENV_TEST_USER:-mlenvtest}"
CACHE="${MLENV_TEST_CACHE:-/var/cache/mlenv-test}"
SUITE="${MLENV_TEST_SUITE:-bookworm}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BUSYBOX_IMAGE=localhost/mlenv-test/busybox:latest
PYTHON_IMAGE=localhost/mlenv-test/python:latest
CDI_SPEC=/etc/cdi/mlenv-test.json
PATH_IN_IMAGE=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

log() { printf '== %s\n' "$*"; }
die() { printf 'setup-host.sh: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root"
T0=$SECONDS

# ---------------------------------------------------------------- packages --
# runc: crun cannot run on hybrid cgroups. uidmap: newuidmap/newgidmap for the
# rootless user namespace. slirp4netns: rootless networking + port forwarding.
# fuse-overlayfs: fallback if the kernel's rootless overlay is unusable.
# catatonit: --init. busybox-static, debootstrap: offline test images.
# util-linux: runuser, setsid, unshare. curl: talk to the API socket.
# hyperfine: the warm-path benchmark (tests/bench.sh). docker-registry: a local
# registry for the image pull tests. python3-jsonschema, python3-yaml: the CDI
# schema check of tests/gpu-machine.sh, which the GPU tests run on a fixture tree.
# python3-pip: `pip download` of the Jupyter wheelhouse (below). chromium,
# fonts-dejavu-core: the headless browser of the `mlenv jupyter`/`tensorboard`
# tests (a font so that screenshots show text). rpm (rpmbuild, rpm2cpio), cpio,
# xz-utils, dpkg-dev (dpkg-shlibdeps), binutils (strip): the RPM and .deb builds
# and checks of packaging/build-rpm.sh and packaging/build-deb.sh. python3-venv: the
# kubernetes-validate venv of the `mlenv export kube` tests.
PACKAGES=(podman runc uidmap slirp4netns fuse-overlayfs catatonit conmon
    busybox-static debootstrap curl python3 procps util-linux tar hyperfine
    docker-registry python3-jsonschema python3-yaml python3-pip chromium
    fonts-dejavu-core rpm cpio xz-utils dpkg-dev binutils python3-venv)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # --no-install-recommends: podman recommends buildah, dbus-user-session,
    # crun etc., none of which we need (and dbus-user-session is useless
    # without systemd).
    apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
else
    log "packages already installed"
fi

# ------------------------------------------------------------------ user --
if ! id "$TEST_USER" >/dev/null 2>&1; then
    log "creating user $TEST_USER"
    useradd -m -s /bin/bash "$TEST_USER"
fi
TEST_UID=$(id -u "$TEST_USER")
TEST_GID=$(id -g "$TEST_USER")
TEST_HOME=$(getent passwd "$TEST_USER" | cut -d: -f6)
RUNDIR=/run/user/$TEST_UID
SOCK=$RUNDIR/podman/podman.sock

# Rootless podman maps the container's uids 1..65536 onto a subordinate range.
# useradd normally adds one (SUB_UID_* in login.defs), but not if the user was
# made some other way; add a range after every existing one so none overlap.
ensure_subids() {
    local file=$1 start
    touch "$file"
    grep -q "^$TEST_USER:" "$file" && return 0
    start=$(awk -F: 'BEGIN{m=100000} {e=$2+$3; if (e>m) m=e} END{print m}' "$file")
    log "adding $file range $start:65536 for $TEST_USER"
    echo "$TEST_USER:$start:65536" >>"$file"
}
ensure_subids /etc/subuid
ensure_subids /etc/subgid

# Run a command as the test user with a clean environment (root's PATH has
# pyenv shims; HOME and XDG_RUNTIME_DIR must be the user's) from a directory
# the user can read.
as_user() {
    (cd "$TEST_HOME" && runuser -u "$TEST_USER" -- env -i \
        HOME="$TEST_HOME" USER="$TEST_USER" LOGNAME="$TEST_USER" SHELL=/bin/bash \
        PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
        XDG_RUNTIME_DIR="$RUNDIR" "$@")
}

# Write $2 to file $1 (owner $3, mode $4) only when the content differs, so
# reruns do not touch mtimes or trigger service restarts. Returns 0 if written.
CONFIG_CHANGED=0
write_if_changed() {
    local dest=$1 content=$2 owner=$3 mode=$4
    if [[ -f $dest ]] && [[ "$(cat "$dest")" == "$content" ]]; then
        return 1
    fi
    install -d -o "${owner%%:*}" -g "${owner##*:}" "$(dirname "$dest")"
    printf '%s\n' "$content" >"$dest.tmp.$$"
    chown "$owner" "$dest.tmp.$$"
    chmod "$mode" "$dest.tmp.$$"
    mv -f "$dest.tmp.$$" "$dest"
    log "wrote $dest"
    return 0
}

# ------------------------------------------------------- devices, rundir --
# slirp4netns opens /dev/net/tun as the user; it is 0600 here. devtmpfs does
# not keep the mode across reboots, hence done on every run.
if [[ ! -c /dev/net/tun ]]; then
    mkdir -p /dev/net
    mknod -m 0666 /dev/net/tun c 10 200
fi
chmod 0666 /dev/net/tun

# No logind: the runtime dir podman keeps its sockets, locks and runroot in.
install -d -m 0700 -o "$TEST_UID" -g "$TEST_GID" "$RUNDIR"

# -------------------------------------------------------- containers.conf --
# Hard limits as seen by a process started from here (the service inherits
# them through runuser; pam_limits sets none). Containers may only lower them.
hard_limit() {
    local v=$1 want=$2
    if [[ $v == unlimited ]] || ((v >= want)); then echo "$want"; else echo "$v"; fi
}
NOFILE=$(hard_limit "$(ulimit -Hn)" 20000)
NPROC=$(hard_limit "$(ulimit -Hu)" 16384)

CONF_DIR=$TEST_HOME/.config/containers
install -d -o "$TEST_UID" -g "$TEST_GID" "$TEST_HOME/.config" "$CONF_DIR"

CONTAINERS_CONF="# Written by mlenv tests/setup-host.sh - see the header there for why.
[containers]
# Default nofile=1048576 is above the hard limit here (no CAP_SYS_RESOURCE).
default_ulimits = [\"nofile=$NOFILE:$NOFILE\", \"nproc=$NPROC:$NPROC\"]

[engine]
# Hybrid cgroups v1+v2: crun refuses them, runc works.
runtime = \"runc\"
# No systemd: no user slice to create scopes in, no journald.
cgroup_manager = \"cgroupfs\"
events_logger = \"file\""
if write_if_changed "$CONF_DIR/containers.conf" "$CONTAINERS_CONF" "$TEST_UID:$TEST_GID" 0644; then
    CONFIG_CHANGED=1
fi

# ----------------------------------------------------------- storage.conf --
# Without this podman may pick vfs, which copies the whole image per
# container. Prefer the kernel's rootless overlay (kernel >= 5.13); probe it in
# a user namespace as the test user, and fall back to fuse-overlayfs. The
# choice is made once: switching drivers later needs `podman system reset`.
STORAGE_FILE=$CONF_DIR/storage.conf
if [[ -f $STORAGE_FILE ]] && grep -q '^driver *= *"overlay"' "$STORAGE_FILE"; then
    log "storage.conf present ($(grep -q mount_program "$STORAGE_FILE" && echo fuse-overlayfs || echo native overlay))"
else
    probe=$(as_user mktemp -d /tmp/mlenv-ovl-probe.XXXXXX)
    # shellcheck disable=SC2016 # $1 expands in the inner sh
    if as_user unshare --user --map-root-user --mount sh -c '
        d=$1; mkdir -p "$d/l" "$d/u" "$d/w" "$d/m"
        mount -t overlay overlay -o "lowerdir=$d/l,upperdir=$d/u,workdir=$d/w" "$d/m"' sh "$probe" 2>/dev/null
    then
        log "rootless kernel overlay works"
        MOUNT_PROGRAM=""
    else
        log "rootless kernel overlay unavailable: using fuse-overlayfs"
        chmod 0666 /dev/fuse
        MOUNT_PROGRAM='
[storage.options.overlay]
mount_program = "/usr/bin/fuse-overlayfs"'
    fi
    rm -rf "$probe"
    STORAGE_CONF="# Written by mlenv tests/setup-host.sh.
[storage]
driver = \"overlay\"$MOUNT_PROGRAM"
    write_if_changed "$STORAGE_FILE" "$STORAGE_CONF" "$TEST_UID:$TEST_GID" 0644 && CONFIG_CHANGED=1
fi
# fuse-overlayfs needs /dev/fuse usable by the user (0600 here; 0666 on most hosts); not
# persistent. Always: the doctor tests mount a FUSE filesystem as a network one's stand-in.
chmod 0666 /dev/fuse

# -------------------------------------------------------- registries.conf --
# A local registry (below) lets the tests exercise a real image pull with progress, with
# no outside registry reachable. It speaks plain HTTP, hence insecure.
REGISTRY=127.0.0.1:5000
REGISTRIES_CONF="# Written by mlenv tests/setup-host.sh.
[[registry]]
location = \"$REGISTRY\"
insecure = true"
write_if_changed "$CONF_DIR/registries.conf" "$REGISTRIES_CONF" "$TEST_UID:$TEST_GID" 0644 && CONFIG_CHANGED=1

# ---------------------------------------------------------------- CDI spec --
# A made-up vendor so CDI injection can be tested without a GPU. cdiVersion
# 0.5.0 is the highest podman 4.3 accepts (and parsing is strict: one unknown
# field drops the whole spec). Container path == host path, because rootless
# runc fails to inject a node whose path differs from its hostPath. CDI env
# edits reach PID 1 only (not podman exec).
CDI_JSON='{
  "cdiVersion": "0.5.0",
  "kind": "mlenv.test/dev",
  "devices": [
    {
      "name": "zero",
      "containerEdits": {
        "env": ["MLENV_TEST_DEV=zero"],
        "deviceNodes": [{"path": "/dev/zero", "hostPath": "/dev/zero"}]
      }
    },
    {
      "name": "full",
      "containerEdits": {
        "env": ["MLENV_TEST_DEV=full"],
        "deviceNodes": [{"path": "/dev/full", "hostPath": "/dev/full"}]
      }
    }
  ],
  "containerEdits": {
    "env": ["MLENV_TEST_CDI=1"]
  }
}'
# 0644: rootless podman reads it as the user (an unreadable spec is a
# "unresolvable CDI devices" error). Podman rereads specs at each start.
write_if_changed "$CDI_SPEC" "$CDI_JSON" 0:0 0644 || true

# The GPU tests (tests/integration/gpu.rs) write specs where podman 4.3 reads them, as the
# test user: /var/run/cdi (a tmpfs, gone at reboot) is made writable by that user's group,
# as an admin would delegate it. The other tests never see a spec there: the GPU tests run
# after them, one at a time, and remove what they wrote.
install -d -o root -g "$TEST_GID" -m 2775 /run/cdi
find /run/cdi -mindepth 1 -delete

# ------------------------------------------------------------ quadlet tool --
# Podman 4.3 has no quadlet; the autostart tests check mlenv's quadlet files with the real
# generator of podman 5.4. Debian 13's binary runs here (it needs only libc): fetched with
# apt from the next release's suite, using this machine's own mirror and keyring.
QUADLET=/opt/mlenv-test/quadlet/quadlet
if [ ! -x "$QUADLET" ]; then
    log "fetching the quadlet generator (podman 5.4, Debian 13)"
    apt_tmp=$(mktemp -d)
    mkdir -p "$apt_tmp/sources.list.d" "$apt_tmp/lists/partial" "$apt_tmp/cache/archives/partial"
    # The first stanza of the machine's sources (the main archive), for suite trixie.
    awk 'BEGIN { RS = ""; ORS = "\n\n" } NR == 1' /etc/apt/sources.list.d/debian.sources \
        | sed -e 's/^Suites:.*/Suites: trixie/' >"$apt_tmp/sources.list.d/next.sources"
    apt_opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt_tmp/sources.list.d"
        -o "Dir::State::Lists=$apt_tmp/lists" -o "Dir::Cache=$apt_tmp/cache" -o Debug::NoLocking=1)
    apt-get "${apt_opts[@]}" update -qq 2>/dev/null
    (cd "$apt_tmp" && apt-get "${apt_opts[@]}" download podman 2>/dev/null >/dev/null)
    dpkg-deb -x "$apt_tmp"/podman_*.deb "$apt_tmp/x"
    install -D -m 0755 "$apt_tmp/x/usr/libexec/podman/quadlet" "$QUADLET"
    rm -rf "$apt_tmp"
fi
"$QUADLET" -version >/dev/null

# ------------------------------------------------------------- API service --
if ((CONFIG_CHANGED)); then
    # The service reads containers.conf only at start.
    "$HERE/podman-service.sh" restart
else
    "$HERE/podman-service.sh" start
fi

# ------------------------------------------------------------------ images --
install -d -m 0755 "$CACHE"

# busybox: static binary + one symlink per applet in /bin (no chroot needed,
# unlike `busybox --install`), passwd/group with root and nobody, /tmp 1777.
build_busybox() {
    local root
    root=$(mktemp -d "$CACHE/busybox-root.XXXXXX")
    install -d -m 0755 "$root"/{bin,sbin,etc,root,home,proc,sys,dev,var/www,usr/bin,usr/sbin,run}
    install -d -m 1777 "$root/tmp" "$root/var/tmp"
    install -m 0755 /bin/busybox "$root/bin/busybox"
    local a
    for a in $(/bin/busybox --list); do
        [[ $a == busybox ]] || ln -sf busybox "$root/bin/$a"
    done
    printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' \
        'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$root/etc/passwd"
    printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >"$root/etc/group"
    tar --numeric-owner --owner=0 --group=0 -C "$root" -cf "$CACHE/busybox.tar.tmp" .
    mv -f "$CACHE/busybox.tar.tmp" "$CACHE/busybox.tar"
    rm -rf "$root"
}

# The Debian mirror the host's apt already uses (deb822 or one-line format),
# so nothing in the repo names a mirror host.
apt_mirror() {
    local f m
    if [[ -n ${MLENV_TEST_MIRROR:-} ]]; then echo "$MLENV_TEST_MIRROR"; return; fi
    # Collected into a variable rather than piped through head: with pipefail a
    # SIGPIPE'd producer would fail the pipeline.
    m=$(for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        awk -v suite="$SUITE" '
            function flush() { if (deb && ok && !off && uri != "") print uri; deb=ok=off=0; uri="" }
            /^[[:space:]]*$/ { flush(); next }
            /^Types:/ { for (i=2;i<=NF;i++) if ($i=="deb") deb=1 }
            /^URIs:/ { uri=$2 }
            /^Suites:/ { for (i=2;i<=NF;i++) if ($i==suite) ok=1 }
            /^Enabled:[[:space:]]*no/ { off=1 }
            END { flush() }' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] || continue
        # deb [opts] URI SUITE components...
        sed -E 's/\[[^]]*\]//' "$f" | awk -v suite="$SUITE" '$1=="deb" && $3==suite {print $2}'
    done)
    [[ -n $m ]] || die "no Debian mirror for $SUITE found in apt sources; set MLENV_TEST_MIRROR"
    echo "${m%%$'\n'*}"
}

build_python() {
    local root mirror
    mirror=$(apt_mirror)
    root=$(mktemp -d "$CACHE/python-root.XXXXXX")
    log "debootstrap $SUITE from $mirror (about a minute)"
    debootstrap --variant=minbase --include=python3,python3-pip,python3-venv,procps,bash \
        "$SUITE" "$root" "$mirror" >"$CACHE/debootstrap.log" 2>&1 ||
        { tail -n 30 "$CACHE/debootstrap.log" >&2; rm -rf "$root"; die "debootstrap failed"; }
    # Keep the image small, and keep host-specific files out of it.
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin \
        "$root"/var/lib/apt/lists/* "$root"/var/log/*.log "$root"/var/cache/debconf/*-old
    : >"$root/etc/resolv.conf"
    : >"$root/etc/hostname"
    # Device nodes cannot be created in a rootless user namespace; podman
    # provides /dev anyway.
    tar --numeric-owner -C "$root" --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
        -cf "$CACHE/python-$SUITE.tar.tmp" .
    mv -f "$CACHE/python-$SUITE.tar.tmp" "$CACHE/python-$SUITE.tar"
    rm -rf "$root"
}

# import NAME TARBALL CHANGE... : feed the root-owned tarball on stdin so the
# user needs no read access to the cache.
import_image() {
    local name=$1 tarball=$2
    shift 2
    local args=() c
    for c in "$@"; do args+=(--change "$c"); done
    as_user podman import --quiet "${args[@]}" - "$name" <"$tarball" >/dev/null
    log "imported $name"
}

if as_user podman image exists "$BUSYBOX_IMAGE"; then
    log "$BUSYBOX_IMAGE present"
else
    [[ -f $CACHE/busybox.tar ]] || build_busybox
    import_image "$BUSYBOX_IMAGE" "$CACHE/busybox.tar" \
        'CMD ["/bin/sh"]' "ENV PATH=$PATH_IN_IMAGE"
fi

if as_user podman image exists "$PYTHON_IMAGE"; then
    log "$PYTHON_IMAGE present"
else
    [[ -f $CACHE/python-$SUITE.tar ]] || build_python
    import_image "$PYTHON_IMAGE" "$CACHE/python-$SUITE.tar" \
        'CMD ["/bin/bash"]' "ENV PATH=$PATH_IN_IMAGE" 'ENV LANG=C.UTF-8'
fi

# The NGC-shaped image (tests/ngc-image.sh), rebuilt when its files change.
. "$(dirname "${BASH_SOURCE[0]}")/ngc-image.sh"
NGC_TAR=$(ngc_tarball "$CACHE/python-$SUITE.tar")
if [[ $(as_user podman image inspect --format '{{index .Labels "io.mlenv.test.digest"}}' "$NGC_IMAGE" 2>/dev/null) == "$(ngc_digest)" ]]; then
    log "$NGC_IMAGE present"
else
    import_image "$NGC_IMAGE" "$NGC_TAR" "${NGC_CHANGES[@]}" "LABEL io.mlenv.test.digest=$(ngc_digest)"
    # The first keep-id start copies the image for the user's ID mapping (minutes for a
    # real NGC image, seconds here); done once here, so that no two tests race to make it.
    as_user podman run --rm --network=none --userns=keep-id --entrypoint /bin/true "$NGC_IMAGE"
fi

# ---------------------------------------------------------- local registry --
# Debian's distribution registry on loopback, holding a copy of the busybox image, for the
# pull tests. Not persistent across reboots, like the service.
REGISTRY_DIR=/var/lib/mlenv-test-registry
if curl -fsS -m 2 "http://$REGISTRY/v2/" >/dev/null 2>&1; then
    log "registry on $REGISTRY answers"
else
    log "starting a registry on $REGISTRY"
    mkdir -p "$REGISTRY_DIR"
    cat >"$REGISTRY_DIR/config.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $REGISTRY_DIR/data
http:
  addr: $REGISTRY
YAML
    setsid docker-registry serve "$REGISTRY_DIR/config.yml" >"$REGISTRY_DIR/registry.log" 2>&1 </dev/null &
    for _ in $(seq 1 50); do
        curl -fsS -m 2 "http://$REGISTRY/v2/" >/dev/null 2>&1 && break
        sleep 0.2
    done
    curl -fsS -m 2 "http://$REGISTRY/v2/" >/dev/null || die "registry did not start; see $REGISTRY_DIR/registry.log"
fi
# Two tags, so that two pull tests never remove an image the other one is using.
for tag in pull pull-tty; do
    if ! curl -fsS -m 5 -o /dev/null "http://$REGISTRY/v2/mlenv-test/busybox/manifests/$tag" \
        -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
        -H 'Accept: application/vnd.docker.distribution.manifest.v2+json'; then
        log "pushing $BUSYBOX_IMAGE to $REGISTRY/mlenv-test/busybox:$tag"
        as_user podman push --quiet --tls-verify=false "$BUSYBOX_IMAGE" "$REGISTRY/mlenv-test/busybox:$tag"
    fi
done

# -------------------------------------------------------- rootful service --
# A rootful podman service whose socket the test user may use, for the tests of mlenv's
# rootful mode (no keep-id there: the container runs as the caller's uid:gid). Its own
# containers.conf (through CONTAINERS_CONF, so /etc/containers is left alone) carries the
# same machine quirks as the user's. Access to a rootful socket is root-equivalent: fine on
# a throwaway test machine, never on a real one.
ROOTFUL_DIR=/run/mlenv-test-rootful
ROOTFUL_SOCK=$ROOTFUL_DIR/podman.sock
ROOTFUL_CONF=/var/lib/mlenv-test-rootful/containers.conf
write_if_changed "$ROOTFUL_CONF" "# Written by mlenv tests/setup-host.sh.
$CONTAINERS_CONF" root:root 0644 || true
rootful_podman() { CONTAINERS_CONF=$ROOTFUL_CONF podman "$@"; }
if curl -fsS -m 2 --unix-socket "$ROOTFUL_SOCK" http://d/v4.3.1/libpod/_ping >/dev/null 2>&1; then
    log "rootful service on $ROOTFUL_SOCK answers"
else
    log "starting a rootful service on $ROOTFUL_SOCK"
    install -d -m 0750 -o root -g "$TEST_GID" "$ROOTFUL_DIR"
    rm -f "$ROOTFUL_SOCK"
    # exec: no shell stays behind holding this script's stdout open.
    (cd / && CONTAINERS_CONF=$ROOTFUL_CONF exec setsid podman system service --time=0 \
        "unix://$ROOTFUL_SOCK" >/var/lib/mlenv-test-rootful/service.log 2>&1 </dev/null) &
    for _ in $(seq 1 100); do
        curl -fsS -m 2 --unix-socket "$ROOTFUL_SOCK" http://d/v4.3.1/libpod/_ping >/dev/null 2>&1 && break
        sleep 0.2
    done
    curl -fsS -m 2 --unix-socket "$ROOTFUL_SOCK" http://d/v4.3.1/libpod/_ping >/dev/null \
        || die "rootful service did not start; see /var/lib/mlenv-test-rootful/service.log"
fi
chgrp "$TEST_GID" "$ROOTFUL_SOCK"
chmod 0660 "$ROOTFUL_SOCK"
if ! rootful_podman image exists "$BUSYBOX_IMAGE"; then
    log "importing $BUSYBOX_IMAGE into root's storage"
    rootful_podman import --quiet --change 'CMD ["/bin/sh"]' --change "ENV PATH=$PATH_IN_IMAGE" \
        "$CACHE/busybox.tar" "$BUSYBOX_IMAGE" >/dev/null
fi

# ----------------------------------------------------- jupyter wheelhouse --
# JupyterLab and TensorBoard with every dependency, as wheels for the python image
# (CPython 3.11, x86_64, glibc 2.36), for the `mlenv jupyter` / `mlenv tensorboard`
# tests: containers reach no package index, the host does. Versions are pinned in
# tests/jupyter-wheels.txt; the wheelhouse is rebuilt when that file's sha256 differs
# from the stamp, else this costs one sha256sum. Tests install from it offline:
#     pip install --no-index --find-links DIR jupyterlab tensorboard
# DIR must be visible in the container: mlenv mounts only the project folder, so a
# test copies the wheelhouse into its project (cp -r; a hard link as the test user is
# refused, the files being root's and fs.protected_hardlinks=1). World-readable.
# Debian's pip allows `pip download` despite PEP 668 (nothing is installed on the host).
JUPYTER_PINS=$HERE/jupyter-wheels.txt
JUPYTER_WHEELS=$CACHE/wheels-jupyter
JUPYTER_STAMP=$JUPYTER_WHEELS/.pins-sha256
jupyter_pins_sha=$(sha256sum <"$JUPYTER_PINS" | cut -d' ' -f1)
if [[ -f $JUPYTER_STAMP && $(cat "$JUPYTER_STAMP") == "$jupyter_pins_sha" ]]; then
    log "jupyter wheelhouse present ($(find "$JUPYTER_WHEELS" -name '*.whl' | wc -l) wheels)"
else
    log "downloading the jupyter wheelhouse (about 90 MB, under a minute)"
    # The target the wheels must install on: every manylinux glibc up to 2.36;
    # manylinux2014 adds manylinux2010 and manylinux1.
    wheel_target=(--only-binary=:all: --python-version 3.11 --implementation cp --abi cp311
        --platform manylinux2014_x86_64)
    for m in $(seq 5 36); do wheel_target+=(--platform "manylinux_2_${m}_x86_64"); done
    rm -rf "$CACHE"/wheels-jupyter.tmp.* # left by an interrupted run
    wh_tmp=$(mktemp -d "$CACHE/wheels-jupyter.tmp.XXXXXX")
    # /usr/bin/python3: root's PATH may lead to a pyenv python instead.
    /usr/bin/python3 -m pip download --disable-pip-version-check --quiet "${wheel_target[@]}" \
        -d "$wh_tmp" -r "$JUPYTER_PINS" ||
        { rm -rf "$wh_tmp"; die "pip download of $JUPYTER_PINS failed"; }
    # The offline install the tests do, resolved (not performed) against the new
    # wheelhouse for that target: a missing wheel fails here, not in a test.
    /usr/bin/python3 -m pip install --disable-pip-version-check --quiet --dry-run \
        --no-index --find-links "$wh_tmp" "${wheel_target[@]}" --target "$wh_tmp/never-made" \
        jupyterlab tensorboard ||
        { rm -rf "$wh_tmp"; die "the jupyter wheelhouse does not install offline"; }
    echo "$jupyter_pins_sha" >"$wh_tmp/.pins-sha256"
    chmod 0755 "$wh_tmp"
    chmod 0644 "$wh_tmp"/*
    rm -rf "$JUPYTER_WHEELS"
    mv "$wh_tmp" "$JUPYTER_WHEELS"
    log "jupyter wheelhouse: $(find "$JUPYTER_WHEELS" -name '*.whl' | wc -l) wheels, $(du -sh "$JUPYTER_WHEELS" | cut -f1)"
fi

# ----------------------------------------------------- kubernetes-validate --
# The Kubernetes schema check of the `mlenv export kube` tests (schemas 1.25-1.37 bundled,
# offline). /usr/bin/python3: root's PATH may lead to a pyenv python the test user cannot run.
KV=/opt/mlenv-test/kv
KV_VERSION=1.37.0
if [[ -x $KV/bin/kubernetes-validate && $("$KV/bin/kubernetes-validate" --version 2>/dev/null) == "$KV_VERSION" ]]; then
    log "kubernetes-validate $KV_VERSION present"
else
    log "installing kubernetes-validate $KV_VERSION into $KV"
    rm -rf "$KV"
    /usr/bin/python3 -m venv "$KV"
    "$KV/bin/pip" install --disable-pip-version-check --quiet "kubernetes-validate==$KV_VERSION" ||
        { rm -rf "$KV"; die "pip install kubernetes-validate==$KV_VERSION failed"; }
    chmod -R a+rX "$KV"
fi

# ------------------------------------------------------------------- slurm --
# A single-node Slurm (munge, slurmctld, slurmd) for the `mlenv export slurm` tests.
MLENV_TEST_USER="$TEST_USER" bash "$HERE/setup-slurm.sh"

# ----------------------------------------------------------------- summary --
echo
echo "mlenv test host ready in $((SECONDS - T0))s"
echo "  user:    $TEST_USER (uid $TEST_UID), XDG_RUNTIME_DIR=$RUNDIR"
echo "  podman:  $(as_user podman version --format '{{.Client.Version}}') ($(as_user podman info --format '{{.Host.OCIRuntime.Name}}, {{.Store.GraphDriverName}}, cgroups {{.Host.CgroupsVersion}}'))"
echo "  socket:  unix://$SOCK"
echo "  CDI:     $CDI_SPEC (mlenv.test/dev=zero, mlenv.test/dev=full)"
echo "  rootful: unix://$ROOTFUL_SOCK (group $TEST_USER)"
echo "  registry: http://$REGISTRY (mlenv-test/busybox:pull, :pull-tty)"
echo "  wheels:  $JUPYTER_WHEELS (jupyterlab, tensorboard; pins in tests/jupyter-wheels.txt)"
echo "  slurm:   $(sinfo -h -o '%P %N %T' 2>/dev/null | head -1); kubernetes-validate in $KV"
echo "  images:"
as_user podman images --format '    {{.Repository}}:{{.Tag}}  {{.Size}}' | grep mlenv-test || true
echo "  run as the user: runuser -u $TEST_USER -- env XDG_RUNTIME_DIR=$RUNDIR podman ..."
