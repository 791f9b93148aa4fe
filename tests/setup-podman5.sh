#!/usr/bin/env bash
# Rootless podman 5 beside the host's 4.3.1, for running the same integration suite against
# both (Fedora 41+ and RHEL 9.5+ ship podman 5; Debian 12 ships 4.3.1). Run as root, after
# tests/setup-host.sh (it provides the image tarballs, the local registry, the wheelhouse and
# the CDI spec this copies):
#
#     tests/setup-podman5.sh          # set up, or check and reuse a working setup
#     tests/setup-podman5.sh stop     # stop the service, the user's processes, the holder
#
# Then `tests/podman5 CMD...` runs CMD there as the podman 5 test user, and
# `MLENV_TEST_PODMAN=5 tests/it` runs the integration tests there.
#
# The shape (see /work/shared/notes/podman5.md for how it was found):
#  - A Debian trixie root filesystem with podman 5.4 (tests/trixie-rootfs.sh) under
#    /var/lib/mlenv-test/podman5/root. Not a chroot: the kernel refuses unprivileged user
#    namespaces to a chrooted process, so rootless podman cannot start in one. Instead a
#    "holder" process lives in a private mount namespace whose root is the rootfs
#    (pivot_root), with /proc, /sys, /dev, /tmp, the user's runtime dir and home, and the
#    test cache mounted in at the host's paths. Commands enter it with nsenter.
#  - Only the mount namespace is private: network, pids and cgroups are the host's. So the
#    API socket (/run/user/UID/podman/podman.sock), ports podman 5 publishes (pasta) and the
#    local registry on 127.0.0.1:5000 work across, and project folders under /tmp have the
#    same paths on both sides.
#  - Its own test user (mlenvtest5, own uid and subordinate ranges), the same in the rootfs's
#    passwd/group/shadow/subuid/subgid: the host's podman 4.3.1 never runs as that user (both
#    would keep their state in the same /run/user/UID). Its storage is inside the rootfs
#    (rootless_storage_path), so podman 5's images and containers never meet 4.3.1's.
#  - The machine quirks of setup-host.sh apply here too, in the rootfs's /etc/containers:
#    runc (hybrid cgroups: crun refuses), cgroupfs and file events (no systemd), ulimits at
#    or below the hard limits (no CAP_SYS_RESOURCE).
#
# Idempotent and fast on a rerun: the rootfs is unpacked once, config is rewritten only when
# it changed (and the service restarted only then), a live holder and service are reused.
# Rerun it after a reboot (the holder, the runtime dir and the service do not survive one).
#
# Environment overrides:
#   MLENV_TEST5_USER  the podman 5 test user (default mlenvtest5)
#   MLENV_TEST5_DIR   where the rootfs and the holder's files live (default /var/lib/mlenv-test/podman5)
#   MLENV_TEST_CACHE  image tarballs and wheelhouse of setup-host.sh (default /var/cache/mlenv-test)
set -euo pipefail

USER5="${MLENV_TEST5_USER:-mlenvtest5}"
BASE="${MLENV_TEST5_DIR:-/var/lib/mlenv-test/podman5}"
ROOT=$BASE/root
HOLDER_PIDFILE=$BASE/holder.pid
HOLDER_NAME=mlenv-podman5-holder
CACHE="${MLENV_TEST_CACHE:-/var/cache/mlenv-test}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BUSYBOX_IMAGE=localhost/mlenv-test/busybox:latest
PYTHON_IMAGE=localhost/mlenv-test/python:latest
PATH_IN_IMAGE=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# Written by tests/setup-host.sh; copied so that both podmans see the same spec.
CDI_SPEC=/etc/cdi/mlenv-test.json
KV=/opt/mlenv-test/kv
KV_VERSION=1.37.0

log() { printf '== %s\n' "$*"; }
die() { printf 'setup-podman5.sh: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root"
T0=$SECONDS
# tests/podman5 reads the same two variables.
export MLENV_TEST5_USER="$USER5" MLENV_TEST5_DIR="$BASE"
P5="$HERE/podman5"
# shellcheck source=support/rootfs-user.sh
. "$HERE/support/rootfs-user.sh"

# dev:inode of a path ("" if it does not exist): how a process's /proc/PID/root is matched
# against the rootfs (its readlink reads "/" from inside another mount namespace).
devino() { stat -L -c '%d:%i' "$1" 2>/dev/null || true; }

# The holder's pid, if the pid file names a live holder of this rootfs (never trust a pid
# that may have been recycled: check its name and its root).
holder_pid() {
    local pid
    [[ -r $HOLDER_PIDFILE ]] || return 1
    pid=$(<"$HOLDER_PIDFILE")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ $(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") == "$HOLDER_NAME "* ]] || return 1
    [[ -n $(devino "$ROOT") && $(devino "/proc/$pid/root") == "$(devino "$ROOT")" ]] || return 1
    echo "$pid"
}

# Whether process $1 is gone; a zombie counts (nothing here may reap it).
gone() {
    [[ ! -e /proc/$1 ]] || [[ $(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null) == Z ]]
}

# TERM to every pid given, up to 10 s for all of them, then KILL to what is left.
kill_pids() {
    local p i left
    (($#)) || return 0
    kill -TERM "$@" 2>/dev/null || true
    for ((i = 0; i < 40; i++)); do
        left=()
        for p in "$@"; do gone "$p" || left+=("$p"); done
        ((${#left[@]})) || return 0
        sleep 0.25
    done
    kill -KILL "${left[@]}" 2>/dev/null || true
}
kill_pid() { kill_pids "$1"; }

# The podman 5 user's ids and paths (once the user exists).
user_vars() {
    UID5=$(id -u "$USER5")
    GID5=$(id -g "$USER5")
    HOME5=$(getent passwd "$USER5" | cut -d: -f6)
    RUNDIR=/run/user/$UID5
    SOCK=$RUNDIR/podman/podman.sock
    SERVICE_PIDFILE=$RUNDIR/podman/service.pid
    SERVICE_LOG=$RUNDIR/podman-service.log
}
if id "$USER5" >/dev/null 2>&1; then user_vars; fi

# The podman 5 service we started, if that pid is still it.
service_pid() {
    local pid
    [[ -n ${SOCK:-} && -r $SERVICE_PIDFILE ]] || return 1
    pid=$(<"$SERVICE_PIDFILE")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q "system service .*unix://$SOCK" || return 1
    echo "$pid"
}

ping5() {
    [[ -S $SOCK ]] &&
        [[ $(curl -s --max-time 2 --unix-socket "$SOCK" http://d/v4.3.1/libpod/_ping 2>/dev/null) == OK ]]
}

# Wait up to 60 s for service pid $2 (named $1) to answer $3; die with its log $4 if it
# exits first or never answers. Liveness is the pid itself, never its command line: right
# after the fork it is still the shell that execs setsid, nohup, then podman, and a loaded
# machine is seen there (a "did not answer" with an empty log, on a service that was fine).
wait_for() {
    local what=$1 pid=$2 check=$3 logfile=$4 t0=$SECONDS
    while ((SECONDS - t0 < 60)); do
        "$check" && { log "$what answers (pid $pid, $((SECONDS - t0)) s)"; return 0; }
        if gone "$pid"; then
            sleep 0.5 # what it wrote last
            tail -n 20 "$logfile" >&2 || true
            die "$what (pid $pid) exited before it answered; log: $logfile"
        fi
        sleep 0.2
    done
    tail -n 20 "$logfile" >&2 || true
    ps -o pid,stat,etime,args --ppid "$pid" -p "$pid" >&2 || true
    die "$what (pid $pid) did not answer within 60 s; log: $logfile"
}

# ------------------------------------------------------------------ stop --
# podman5.md "Stopping": the rootless pause process outlives the service (a new service
# would join its old namespaces), exec-session conmons linger for minutes. So: the
# containers (rootless and rootful), the services, then every process whose root is the
# rootfs (the user's pause, conmon, pasta and clients; root's rootful service and conmons;
# matched by pid and root, never by name), the holder last.
stop() {
    local pid="" p root_id in_rootfs=()
    if pid=$(holder_pid); then
        if [[ -n ${UID5:-} ]]; then
            timeout 60 "$P5" podman stop --all --time 0 >/dev/null 2>&1 || true
        fi
        timeout 60 "$P5" --root env CONTAINERS_CONF=/etc/containers/mlenv-rootful.conf \
            podman stop --all --time 0 >/dev/null 2>&1 || true
    fi
    # Also when the holder is gone: what it started may still run.
    root_id=$(devino "$ROOT")
    if [[ -n $root_id ]]; then
        for p in /proc/[0-9]*; do
            p=${p#/proc/}
            [[ $p != "$pid" && $p != "$$" ]] || continue
            [[ $(devino "/proc/$p/root") == "$root_id" ]] || continue
            gone "$p" || in_rootfs+=("$p")
        done
    fi
    kill_pids "${in_rootfs[@]}"
    [[ -z $pid ]] || kill_pid "$pid"
    if [[ -n ${UID5:-} ]]; then rm -f "$SERVICE_PIDFILE" "$SOCK"; fi
    rm -f "$HOLDER_PIDFILE"
    log "podman 5 stopped (${#in_rootfs[@]} processes in the rootfs, holder ${pid:-none})"
}

case "${1:-}" in
"") ;;
stop)
    stop
    exit 0
    ;;
*)
    echo "usage: $0 [stop]" >&2
    exit 2
    ;;
esac

[[ -f $CACHE/busybox.tar && -f $CACHE/python-bookworm.tar && -f $CDI_SPEC ]] ||
    die "run tests/setup-host.sh first (it makes $CACHE/busybox.tar, python-bookworm.tar and $CDI_SPEC)"

# ------------------------------------------------------------------ user --
if ! id "$USER5" >/dev/null 2>&1; then
    log "creating user $USER5"
    useradd -m -s /bin/bash "$USER5"
fi
user_vars

# Subordinate ranges after every existing one, so none overlap (useradd usually adds one).
add_subids "$USER5"

# No logind: the runtime dir (sockets, locks, runroot) made by hand; bound into the holder.
# What it holds belongs to one holder's mount namespace: podman's pause process (which a new
# service would join, landing in a namespace whose paths are gone: every conmon then fails
# with "Failed to get working directory"), sockets, the runroot. Without a live holder it is
# cleared, as a reboot clears /run.
# Processes of a dead holder's namespace (a service, a pause process, conmons) outlive it
# and keep using the storage in the rootfs: they are ended first, as `stop` ends them.
if ! holder_pid >/dev/null; then
    stop
    if [[ -d $RUNDIR ]]; then
        log "no live holder: clearing the old runtime dir $RUNDIR"
        rm -rf "$RUNDIR"
    fi
fi
install -d -m 0700 -o "$UID5" -g "$GID5" "$RUNDIR"
# pasta and slirp4netns open /dev/net/tun as the user (0600 here; not persistent).
chmod 0666 /dev/net/tun 2>/dev/null || true

# ---------------------------------------------------------------- rootfs --
bash "$HERE/trixie-rootfs.sh" "$ROOT" >/dev/null
[[ -x $ROOT/usr/bin/podman ]] || die "no podman in $ROOT"
# The tarball's top dir comes from a mktemp -d (0700): the user must traverse "/" inside.
chmod 0755 "$ROOT"

CONFIG_CHANGED=0
# Write $2 to $1 (mode $3) only when the content differs. Returns 0 if written.
write_if_changed() {
    local dest=$1 content=$2 mode=$3
    if [[ -f $dest ]] && [[ "$(cat "$dest")" == "$content" ]]; then
        return 1
    fi
    install -d "$(dirname "$dest")"
    printf '%s\n' "$content" >"$dest.tmp.$$"
    chmod "$mode" "$dest.tmp.$$"
    mv -f "$dest.tmp.$$" "$dest"
    log "wrote ${dest#"$ROOT"} in the rootfs"
    return 0
}

# The same user inside: the host's passwd/group/shadow/subuid/subgid lines.
sync_user "$ROOT" "$USER5" || die "could not make $USER5 known in the rootfs"
# Mount points of the holder's binds, at the host's paths.
install -d "$ROOT$HOME5" "$ROOT$CACHE"

# ------------------------------------------------------- /etc/containers --
# Hard limits as the service started from here will see them; containers may only lower.
hard_limit() {
    local v=$1 want=$2
    if [[ $v == unlimited ]] || ((v >= want)); then echo "$want"; else echo "$v"; fi
}
NOFILE=$(hard_limit "$(ulimit -Hn)" 20000)
NPROC=$(hard_limit "$(ulimit -Hu)" 16384)
# $1: more [containers] lines (the rootful service's, below).
containers_conf() {
    printf '%s\n' "# Written by mlenv tests/setup-podman5.sh - see the header there for why.
[containers]
# Default nofile=1048576 is above the hard limit here (no CAP_SYS_RESOURCE).
default_ulimits = [\"nofile=$NOFILE:$NOFILE\", \"nproc=$NPROC:$NPROC\"]$1

[engine]
# Hybrid cgroups v1+v2: crun refuses them, runc works.
runtime = \"runc\"
# No systemd: no user slice to create scopes in, no journald.
cgroup_manager = \"cgroupfs\"
events_logger = \"file\""
}
write_if_changed "$ROOT/etc/containers/containers.conf" "$(containers_conf "")" 0644 && CONFIG_CHANGED=1
# The rootful service's (below): through CONTAINERS_CONF, so it is the only one it reads.
ROOTFUL_CONF=/etc/containers/mlenv-rootful.conf
ROOTFUL_CONF_CHANGED=0
write_if_changed "$ROOT$ROOTFUL_CONF" "$(containers_conf '
# The host network namespace: no bridge or firewall rules beside 4.3.1 (setup-podman5.sh).
netns = "host"')" 0644 && ROOTFUL_CONF_CHANGED=1

# The rootless store inside the rootfs, per uid ($UID: a client started with env -i has no
# USER). Native overlay: rootless kernel overlay works here (see setup-host.sh's probe).
write_if_changed "$ROOT/etc/containers/storage.conf" "# Written by mlenv tests/setup-podman5.sh.
[storage]
driver = \"overlay\"
runroot = \"/run/containers/storage\"
graphroot = \"/var/lib/containers/storage\"
rootless_storage_path = \"/var/lib/mlenv-podman5/\$UID/storage\"" 0644 && CONFIG_CHANGED=1
install -d -m 0755 "$ROOT/var/lib/mlenv-podman5"
install -d -m 0700 -o "$UID5" -g "$GID5" "$ROOT/var/lib/mlenv-podman5/$UID5"

# The local registry of setup-host.sh (plain HTTP on the host's loopback, which is ours too).
write_if_changed "$ROOT/etc/containers/registries.conf" "# Written by mlenv tests/setup-podman5.sh.
[[registry]]
location = \"127.0.0.1:5000\"
insecure = true" 0644 && CONFIG_CHANGED=1

# The made-up CDI vendor of setup-host.sh, as it wrote it (cdiVersion 0.5.0: 5.4 reads it).
write_if_changed "$ROOT$CDI_SPEC" "$(cat "$CDI_SPEC")" 0644 || true

# The host's CA bundle, for pip inside (the host's trust may include a local proxy's CA,
# which the rootfs's own bundle lacks).
write_if_changed "$ROOT/etc/ssl/certs/mlenv-host-ca-certificates.crt" \
    "$(cat /etc/ssl/certs/ca-certificates.crt)" 0644 || true

# ---------------------------------------------------------------- holder --
# Run by `bash -c` in the new mount namespace (private propagation: nothing leaks to the
# host), as root. The pid goes to fd 3 only when everything is mounted: the caller waits
# for it. exec -a names the process so that a recycled pid is never taken for it.
# shellcheck disable=SC2016 # expanded by the inner bash
HOLDER_SCRIPT='set -euo pipefail
root=$1 rundir=$2 home=$3 cache=$4 name=$5
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
mount --bind /tmp "$root/tmp"
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$root/run"
mkdir -p "$root$rundir"
mount --bind "$rundir" "$root$rundir"
mount --bind "$home" "$root$home"
mount --bind "$cache" "$root$cache"
mount -o remount,bind,ro "$root$cache"
cd "$root"
mkdir -p .oldroot
pivot_root . .oldroot
cd /
umount -l /.oldroot
rmdir /.oldroot 2>/dev/null || true
# Podman wants / shared ("/ is not a shared mount" otherwise).
mount --make-rshared /
install -d -m 1777 /run/lock
echo $$ >&3
exec 3>&-
exec -a "$name" sleep infinity'

if pid=$(holder_pid); then
    log "podman 5 holder running (pid $pid)"
else
    rm -f "$HOLDER_PIDFILE" "$HOLDER_PIDFILE.new"
    log "starting the podman 5 holder (private mount namespace rooted at $ROOT)"
    (cd / && exec setsid unshare --mount --propagation private --fork \
        bash -c "$HOLDER_SCRIPT" holder "$ROOT" "$RUNDIR" "$HOME5" "$CACHE" "$HOLDER_NAME" \
        3>"$HOLDER_PIDFILE.new" </dev/null >"$BASE/holder.log" 2>&1) &
    for _ in $(seq 1 100); do
        [[ -s $HOLDER_PIDFILE.new ]] && break
        sleep 0.1
    done
    [[ -s $HOLDER_PIDFILE.new ]] || { cat "$BASE/holder.log" >&2; die "the holder did not start"; }
    mv -f "$HOLDER_PIDFILE.new" "$HOLDER_PIDFILE"
    pid=$(holder_pid) || { cat "$BASE/holder.log" >&2; die "the holder is not what it should be"; }
    log "holder pid $pid"
fi

# /run is the holder's own tmpfs: the GPU tests write their specs to /var/run/cdi there, as
# the user's group (as an admin would delegate it), and the other tests must find it empty.
# shellcheck disable=SC2016 # expanded by the inner sh
"$P5" --root sh -c 'install -d -o root -g "$1" -m 2775 /run/cdi && find /run/cdi -mindepth 1 -delete' \
    sh "$GID5"

# ---------------------------------------------------------- API service --
start_service() {
    log "starting podman 5 service on $SOCK"
    # setsid + nohup: it outlives this script; stdin from /dev/null holds no pipe open.
    # shellcheck disable=SC2016 # expanded by the inner sh
    # From /: tests/podman5 starts in the caller's folder, and a CI clone removed later
    # leaves the service (and every conmon it forks) in a deleted folder, where conmon
    # fails ("Failed to get working directory").
    "$P5" sh -c 'cd / && mkdir -p "${1%/*}" && rm -f "$1" &&
        { setsid nohup podman system service --time=0 "unix://$1" >>"$2" 2>&1 </dev/null &
          echo $! >"$3"; }' sh "$SOCK" "$SERVICE_LOG" "$SERVICE_PIDFILE"
    wait_for "podman 5 service" "$(<"$SERVICE_PIDFILE")" ping5 "$SERVICE_LOG"
}
if ((CONFIG_CHANGED)) && p=$(service_pid); then
    # The service reads containers.conf only when it starts.
    log "config changed: restarting the podman 5 service"
    kill_pid "$p"
fi
# A service whose working folder is gone answers, but every container start fails.
if p=$(service_pid) && [[ $(readlink "/proc/$p/cwd" 2>/dev/null) == *" (deleted)" ]]; then
    log "the podman 5 service runs in a deleted folder: restarting it"
    kill_pid "$p"
fi
if ping5; then
    log "podman 5 service answers on $SOCK"
else
    if p=$(service_pid); then kill_pid "$p"; fi
    start_service
fi

# ------------------------------------------------------ rootful service --
# The tests of mlenv's rootful mode (tests/integration/rootful.rs) need a rootful service
# the user may use, as setup-host.sh gives 4.3.1. Here it is root's podman 5 inside the
# rootfs (storage in the rootfs's /var/lib/containers), its socket at the same path as
# 4.3.1's but on the holder's own /run, so only the tests inside see it. Its containers.conf
# adds netns = "host": the network namespace is the host's, and a rootful bridge network
# would put netavark's bridge and nftables rules there beside 4.3.1's CNI ones, on the same
# default subnet. The rootful tests need no network. Access to a rootful socket is
# root-equivalent: fine on a throwaway test machine, never on a real one.
ROOTFUL_DIR=/run/mlenv-test-rootful
ROOTFUL_SOCK=$ROOTFUL_DIR/podman.sock
ROOTFUL_STATE=/var/lib/mlenv-test-rootful
install -d -m 0755 "$ROOT$ROOTFUL_STATE"
rootful_pid() {
    local pid
    pid=$(cat "$ROOT$ROOTFUL_STATE/service.pid" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q "system service .*unix://$ROOTFUL_SOCK" || return 1
    [[ $(devino "/proc/$pid/root") == "$(devino "$ROOT")" ]] || return 1
    echo "$pid"
}
rootful_ping() {
    "$P5" --root curl -fsS -m 2 --unix-socket "$ROOTFUL_SOCK" http://d/v4.3.1/libpod/_ping >/dev/null 2>&1
}
if ((CONFIG_CHANGED || ROOTFUL_CONF_CHANGED)) && p=$(rootful_pid); then
    log "config changed: restarting the rootful podman 5 service"
    kill_pid "$p"
fi
# As the rootless one: a service left in a deleted folder fails every container start.
if p=$(rootful_pid) && [[ $(readlink "/proc/$p/cwd" 2>/dev/null) == *" (deleted)" ]]; then
    log "the rootful podman 5 service runs in a deleted folder: restarting it"
    kill_pid "$p"
fi
if rootful_ping; then
    log "rootful podman 5 service answers on $ROOTFUL_SOCK (inside)"
else
    if p=$(rootful_pid); then kill_pid "$p"; fi
    log "starting a rootful podman 5 service on $ROOTFUL_SOCK (inside)"
    # shellcheck disable=SC2016 # expanded by the inner sh
    "$P5" --root sh -c 'cd / && install -d -m 0750 -g "$4" "${1%/*}" && rm -f "$1" &&
        { CONTAINERS_CONF=$5 setsid nohup podman system service --time=0 "unix://$1" \
              >>"$2" 2>&1 </dev/null &
          echo $! >"$3"; }' sh "$ROOTFUL_SOCK" "$ROOTFUL_STATE/service.log" \
        "$ROOTFUL_STATE/service.pid" "$GID5" "$ROOTFUL_CONF"
    wait_for "rootful podman 5 service" "$(<"$ROOT$ROOTFUL_STATE/service.pid")" rootful_ping \
        "$ROOT$ROOTFUL_STATE/service.log"
fi
# shellcheck disable=SC2016 # expanded by the inner sh
"$P5" --root sh -c 'chgrp "$2" "$1" && chmod 0660 "$1"' sh "$ROOTFUL_SOCK" "$GID5"
rootful_podman() { "$P5" --root env CONTAINERS_CONF="$ROOTFUL_CONF" podman "$@"; }
if ! rootful_podman image exists "$BUSYBOX_IMAGE"; then
    log "importing $BUSYBOX_IMAGE into root's podman 5 storage"
    rootful_podman import --quiet --change 'CMD ["/bin/sh"]' --change "ENV PATH=$PATH_IN_IMAGE" \
        - "$BUSYBOX_IMAGE" <"$CACHE/busybox.tar" >/dev/null
fi

# ---------------------------------------------------------------- images --
# As setup-host.sh imports them: same tarballs, same --change args; fed on stdin.
import_image() {
    local name=$1 tarball=$2
    shift 2
    local args=() c
    for c in "$@"; do args+=(--change "$c"); done
    if "$P5" podman image exists "$name"; then
        log "$name present"
        return 0
    fi
    "$P5" podman import --quiet "${args[@]}" - "$name" <"$tarball" >/dev/null
    log "imported $name"
}
import_image "$BUSYBOX_IMAGE" "$CACHE/busybox.tar" 'CMD ["/bin/sh"]' "ENV PATH=$PATH_IN_IMAGE"
import_image "$PYTHON_IMAGE" "$CACHE/python-bookworm.tar" \
    'CMD ["/bin/bash"]' "ENV PATH=$PATH_IN_IMAGE" 'ENV LANG=C.UTF-8'
# The NGC-shaped image (tests/ngc-image.sh), re-imported when its files change.
. "$HERE/ngc-image.sh"
NGC_TAR=$(ngc_tarball "$CACHE/python-bookworm.tar")
if [[ $("$P5" podman image inspect --format '{{index .Labels "io.mlenv.test.digest"}}' "$NGC_IMAGE" 2>/dev/null) != "$(ngc_digest)" ]]; then
    "$P5" podman rmi -f "$NGC_IMAGE" >/dev/null 2>&1 || true
fi
import_image "$NGC_IMAGE" "$NGC_TAR" "${NGC_CHANGES[@]}" "LABEL io.mlenv.test.digest=$(ngc_digest)"
# The first keep-id start copies the image for the user's ID mapping; once, here.
"$P5" podman run --rm --network=none --userns=keep-id --entrypoint /bin/true "$NGC_IMAGE"

# ------------------------------------------------- test tools in the rootfs --
# kubernetes-validate for the `mlenv export kube` tests, in a venv of the rootfs's python
# (the host's venv would need the host's python). PyPI as the host reaches it.
if [[ $("$P5" --root "$KV/bin/kubernetes-validate" --version 2>/dev/null) == "$KV_VERSION" ]]; then
    log "kubernetes-validate $KV_VERSION present in the rootfs"
else
    log "installing kubernetes-validate $KV_VERSION into the rootfs's $KV"
    rm -rf "${ROOT:?}$KV"
    pip_env=(PIP_CERT=/etc/ssl/certs/mlenv-host-ca-certificates.crt PIP_DISABLE_PIP_VERSION_CHECK=1)
    for v in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST PIP_DEFAULT_TIMEOUT \
        HTTP_PROXY HTTPS_PROXY NO_PROXY http_proxy https_proxy no_proxy; do
        [[ -n ${!v:-} ]] && pip_env+=("$v=${!v}")
    done
    "$P5" --root /usr/bin/python3 -m venv "$KV"
    "$P5" --root env "${pip_env[@]}" "$KV/bin/pip" install --quiet "kubernetes-validate==$KV_VERSION" ||
        { rm -rf "${ROOT:?}$KV"; die "pip install kubernetes-validate==$KV_VERSION failed (in the rootfs)"; }
    chmod -R a+rX "$ROOT$KV"
fi
# The autostart tests run the quadlet generator from this path; here it is podman's own.
if [[ $(readlink "$ROOT/opt/mlenv-test/quadlet/quadlet" 2>/dev/null) != /usr/libexec/podman/quadlet ]]; then
    install -d "$ROOT/opt/mlenv-test/quadlet"
    ln -sfn /usr/libexec/podman/quadlet "$ROOT/opt/mlenv-test/quadlet/quadlet"
fi

# --------------------------------------------------------------- summary --
echo
echo "podman 5 test setup ready in $((SECONDS - T0))s"
echo "  user:    $USER5 (uid $UID5), XDG_RUNTIME_DIR=$RUNDIR, home $HOME5"
echo "  podman:  $("$P5" podman version --format '{{.Client.Version}}') ($("$P5" podman info --format '{{.Host.OCIRuntime.Name}}, {{.Store.GraphDriverName}}, cgroups {{.Host.CgroupsVersion}}, {{.Host.RootlessNetworkCmd}}'))"
echo "  rootfs:  $ROOT (holder pid $(holder_pid))"
echo "  socket:  unix://$SOCK (log $SERVICE_LOG)"
echo "  rootful: unix://$ROOTFUL_SOCK inside only (group $(getent group "$GID5" | cut -d: -f1), log $ROOT$ROOTFUL_STATE/service.log)"
echo "  images:"
"$P5" podman images --format '    {{.Repository}}:{{.Tag}}  {{.Size}}' | grep mlenv-test || true
echo "  run as the user: tests/podman5 podman ...   (as root inside: tests/podman5 --root ...)"
