#!/usr/bin/env bash
# `mlenv service` for a user with no session, as after `ssh` to a login node or `su`: no
# XDG_RUNTIME_DIR, no /run/user/UID, no systemd user manager. A user of its own with no
# session; the effects are checked with curl on the socket and with that user's podman CLI.
# Run as root, after tests/setup-host.sh (and tests/setup-podman5.sh for podman 5):
#
#     tests/service.sh [PATH/TO/mlenv]                     # podman 4.3.1, user mlenvtest-ssh
#     MLENV_TEST_PODMAN=5 tests/service.sh [PATH/TO/mlenv] # podman 5, user mlenvtest5-ssh
#
# On podman 5 the user lives in the trixie rootfs of setup-podman5.sh: its home is there (a
# path only the holder's mount namespace sees, so the host reads it under the rootfs), its
# commands run in the holder's namespace, and /tmp, where podman puts the socket without a
# session, is the host's: curl reaches it from here.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

MLENV_SRC=$(readlink -f "${1:-target/debug/mlenv}")
PODMAN_MAJOR="${MLENV_TEST_PODMAN:-4}"
CACHE="${MLENV_TEST_CACHE:-/var/cache/mlenv-test}"
BUSYBOX=localhost/mlenv-test/busybox:latest
[ "$(id -u)" -eq 0 ] || { echo "tests/service.sh: run as root" >&2; exit 2; }
# shellcheck source=support/rootfs-user.sh
. tests/support/rootfs-user.sh

passed=0
failed=0
ok() { echo "ok - $*"; passed=$((passed + 1)); }
fail() { echo "FAIL - $*"; failed=$((failed + 1)); }
check() { local d=$1; shift; if "$@"; then ok "$d"; else fail "$d"; fi; }

BIN_DIR=$(mktemp -d /tmp/mlenv-service-test.XXXXXX)
trap 'rm -rf "$BIN_DIR"' EXIT
install -m 0755 "$MLENV_SRC" "$BIN_DIR/mlenv"
chmod 0755 "$BIN_DIR"
# The user's shell over ssh: HOME, USER, PATH, nothing else.
user_env() { echo HOME="$HOME_U" USER="$U" LOGNAME="$U" PATH="$BIN_DIR:/usr/local/bin:/usr/bin:/bin"; }

# ------------------------------------------------------------------ the user --
case $PODMAN_MAJOR in
4)
    U="${MLENV_TEST_SSH_USER:-mlenvtest-ssh}"
    id "$U" >/dev/null 2>&1 || useradd -m -s /bin/bash "$U"
    add_subids "$U" >/dev/null
    HOME_U=$(getent passwd "$U" | cut -d: -f6)
    # Where the host sees the user's files: the same paths.
    HOST=""
    # The test user's podman configuration (its storage, registries, runtime).
    BASE_HOME=$(getent passwd "${MLENV_TEST_USER:-mlenvtest}" | cut -d: -f6)
    install -d -o "$U" -g "$U" "$HOME_U/.config" "$HOME_U/.config/containers"
    for f in containers.conf storage.conf registries.conf; do
        install -o "$U" -g "$U" -m 0644 "$BASE_HOME/.config/containers/$f" "$HOME_U/.config/containers/$f"
    done
    as_u() {
        # shellcheck disable=SC2046 # user_env's words, split on purpose
        (cd "$HOME_U" && runuser -u "$U" -- env -i $(user_env) "$@")
    }
    ;;
5)
    U="${MLENV_TEST5_SSH_USER:-mlenvtest5-ssh}"
    BASE5="${MLENV_TEST5_DIR:-/var/lib/mlenv-test/podman5}"
    HOST=$BASE5/root
    holder=$(cat "$BASE5/holder.pid" 2>/dev/null || true)
    [[ $holder =~ ^[0-9]+$ && -d /proc/$holder ]] ||
        { echo "tests/service.sh: no podman 5 holder: run tests/setup-podman5.sh first" >&2; exit 2; }
    # A home only the rootfs has (-M: none on the host), as a login node's home is its own.
    id "$U" >/dev/null 2>&1 || useradd -M -d "/home/$U" -s /bin/bash "$U"
    add_subids "$U" >/dev/null
    HOME_U=$(getent passwd "$U" | cut -d: -f6)
    sync_user "$HOST" "$U" >/dev/null
    install -d -m 0755 -o "$U" -g "$U" "$HOST$HOME_U"
    # The rootfs's storage.conf keeps each uid's rootless store under this folder.
    install -d -m 0700 -o "$U" -g "$U" "$HOST/var/lib/mlenv-podman5/$(id -u "$U")"
    as_u() {
        # shellcheck disable=SC2046 # user_env's words, split on purpose
        nsenter -t "$holder" -m --wdns="$HOME_U" -- /usr/bin/setpriv --reuid="$(id -u "$U")" \
            --regid="$(id -g "$U")" --init-groups -- /usr/bin/env -i $(user_env) \
            PODMAN_IGNORE_CGROUPSV1_WARNING=1 "$@"
    }
    ;;
*)
    echo "tests/service.sh: MLENV_TEST_PODMAN must be 4 or 5, not $PODMAN_MAJOR" >&2
    exit 2
    ;;
esac
UID_U=$(id -u "$U")
echo "# podman $(as_u podman --version | awk '{print $3}'), user $U (uid $UID_U)"
# No session: no runtime folder under /run/user (podman 5's holder has a /run of its own,
# where there is none for this user).
rm -rf "/run/user/$UID_U"
# Where this podman puts its socket without a session: /tmp/podman-run-UID for 4,
# /tmp/storage-run-UID for 5 (podman's own word, as `podman --remote` finds it).
SOCK=$(as_u podman info --format '{{.Host.RemoteSocket.Path}}' 2>/dev/null)
echo "# podman's socket without a session: $SOCK"

# A clean slate: a service of an earlier run, its containers, its state.
as_u mlenv service stop >/dev/null 2>&1 || true
as_u podman rm -a -f -t 0 >/dev/null 2>&1 || true
if ! as_u podman image exists "$BUSYBOX" 2>/dev/null; then
    as_u podman import --quiet --change 'CMD ["/bin/sh"]' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        - "$BUSYBOX" <"$CACHE/busybox.tar" >/dev/null
fi
PROJECT="$HOME_U/proj over ssh ü"
as_u mkdir -p "$PROJECT"

# ------------------------------------------------------------------ the checks --
out=$(as_u sh -c "cd '$PROJECT' && mlenv status" 2>&1) && rc=0 || rc=$?
check "without a service, mlenv status exits 3 (got $rc)" test "$rc" -eq 3
check "the error names the socket where podman keeps it without a session ($SOCK)" grep -q "$SOCK" <<<"$out"
check "the error names mlenv service start" grep -q "mlenv service start" <<<"$out"

out=$(as_u mlenv service start 2>&1) && rc=0 || rc=$?
check "mlenv service start succeeds (rc $rc): $(tail -n 1 <<<"$out")" test "$rc" -eq 0
check "curl on $SOCK: _ping answers OK" test "$(curl -s --unix-socket "$SOCK" http://d/_ping)" = OK
pid=$(cat "$HOST$HOME_U/.local/state/mlenv/service/pid" 2>/dev/null || echo none)
check "the service (pid $pid) runs in a session of its own, so a logout's SIGHUP misses it" \
    test "$(ps -o sid= -p "$pid" 2>/dev/null | tr -d ' ')" = "$pid"
check "its log is in mlenv's state folder" test -s "$HOST$HOME_U/.local/state/mlenv/service/log"
out=$(as_u mlenv service status 2>&1) && rc=0 || rc=$?
check "mlenv service status: running, started by mlenv (rc $rc)" grep -q "started by mlenv" <<<"$out"
out=$(as_u mlenv service start 2>&1) && rc=0 || rc=$?
check "a second start says it already answers (rc $rc)" grep -q "already answers" <<<"$out"

out=$(as_u sh -c "cd '$PROJECT' && mlenv up --image $BUSYBOX --gpu none" 2>&1) && rc=0 || rc=$?
check "mlenv up in '$PROJECT' (rc $rc): $(tail -n 1 <<<"$out")" test "$rc" -eq 0
name=$(as_u podman ps --filter "label=io.mlenv.project=$PROJECT" --format '{{.Names}}' 2>/dev/null)
check "the user's podman CLI sees the environment running (${name:-none})" test -n "$name"
check "mlenv exec -c works through the service" \
    test "$(as_u sh -c "cd '$PROJECT' && mlenv exec -c 'echo over-ssh'" 2>/dev/null)" = over-ssh

out=$(as_u mlenv service stop 2>&1) && rc=0 || rc=$?
check "mlenv service stop (rc $rc)" test "$rc" -eq 0
# Gone, or a zombie its new parent has not reaped yet (no cmdline either way).
check "the process is gone" eval "! grep -q . /proc/$pid/cmdline 2>/dev/null"
check "the socket no longer answers" eval "! curl -s -m 2 --unix-socket '$SOCK' http://d/_ping >/dev/null 2>&1"
out=$(as_u mlenv service status 2>&1) && rc=0 || rc=$?
check "mlenv service status exits 3 when stopped (rc $rc)" test "$rc" -eq 3
if [[ -n $name ]]; then
    check "the container outlives the service" \
        test "$(as_u podman inspect --format '{{.State.Running}}' "$name" 2>/dev/null)" = true
    # The service kept its runtime state (runc's) where the user's CLI looks: a shell's
    # podman stops what the service started (on podman 5 it could not, when the service ran
    # with a runtime folder of mlenv's choosing).
    out=$(as_u timeout 60 podman rm -f -t 0 "$name" 2>&1) && rc=0 || rc=$?
    check "the user's podman CLI removes it (rc $rc): $(tail -n 1 <<<"$out")" test "$rc" -eq 0
    check "and it is gone" eval "! as_u podman container exists '$name'"
fi
as_u podman rm -a -f -t 0 >/dev/null 2>&1 || true

# ------------------------------------------- storage on a network filesystem --
# A FUSE mount (fuse-overlayfs, as the user) stands in for NFS or Lustre under podman's
# storage (vfs: it works on any filesystem, so the service starts there).
NET=$HOME_U/netstore
as_u fusermount3 -u "$NET/mnt" >/dev/null 2>&1 || true
rm -rf "$HOST$NET"
as_u mkdir -p "$NET/lower" "$NET/upper" "$NET/work" "$NET/mnt"
as_u fuse-overlayfs -o "lowerdir=$NET/lower,upperdir=$NET/upper,workdir=$NET/work" "$NET/mnt"
# A first pull under the local storage records what podman's storage is (mlenv keeps it to
# spare the next cold start a /libpod/info); moving the storage must make that record stale.
as_u mlenv service start >/dev/null 2>&1 || true
as_u podman rmi -f 127.0.0.1:5000/mlenv-test/busybox:pull >/dev/null 2>&1 || true
rm -f "$HOST$HOME_U/.local/state/mlenv/storage.json"
out=$(as_u sh -c "cd '$PROJECT' && mlenv up --image 127.0.0.1:5000/mlenv-test/busybox:pull --gpu none" 2>&1) && rc=0 || rc=$?
check "a first pull onto local storage (rc $rc): $(tail -n 1 <<<"$out")" test "$rc" -eq 0
check "mlenv kept podman's storage facts" test -s "$HOST$HOME_U/.local/state/mlenv/storage.json"
as_u mlenv service stop >/dev/null 2>&1 || true
as_u podman rm -a -f -t 0 >/dev/null 2>&1 || true
# The user's own storage.conf (podman 5's user has none: the rootfs's applies), put back after.
CONF=$HOST$HOME_U/.config/containers/storage.conf
install -d -o "$U" -g "$U" "$HOST$HOME_U/.config" "$HOST$HOME_U/.config/containers"
rm -f "$CONF.orig"
[[ ! -f $CONF ]] || cp "$CONF" "$CONF.orig"
printf '[storage]\ndriver = "vfs"\ngraphroot = "%s"\n' "$NET/mnt/storage" >"$CONF"
chown "$U:$U" "$CONF"
out=$(as_u mlenv service start 2>&1) && rc=0 || rc=$?
check "a service with its storage on a FUSE mount starts (rc $rc): $(tail -n 1 <<<"$out")" test "$rc" -eq 0
check "podman itself says its storage is there" \
    test "$(curl -s --unix-socket "$SOCK" http://d/v4.0.0/libpod/info | python3 -c 'import json,sys; print(json.load(sys.stdin)["store"]["graphRoot"])')" = "$NET/mnt/storage"
out=$(as_u sh -c "cd '$PROJECT' && mlenv up --image 127.0.0.1:5000/mlenv-test/busybox:pull --gpu none" 2>&1) && rc=0 || rc=$?
check "mlenv up refuses the first pull onto it (rc $rc)" test "$rc" -ne 0
check "naming the filesystem and the storage.conf fix: $(tail -n 1 <<<"$out" | cut -c1-160)" \
    eval "grep -q 'is on a FUSE filesystem' <<<\"\$out\" && grep -q 'graphroot = ' <<<\"\$out\""
check "nothing was pulled or created" \
    test -z "$(curl -s --unix-socket "$SOCK" 'http://d/v4.0.0/libpod/containers/json?all=true' | python3 -c 'import json,sys; print("".join(c["Names"][0] for c in json.load(sys.stdin)))')"
out=$(as_u sh -c "cd '$PROJECT' && mlenv doctor" 2>&1) || true
check "doctor fails the storage's filesystem" grep -q "✖ filesystems: podman's storage $NET/mnt/storage is on a FUSE filesystem" <<<"$out"
as_u mlenv service stop >/dev/null 2>&1 || true
if [[ -f $CONF.orig ]]; then mv -f "$CONF.orig" "$CONF"; else rm -f "$CONF"; fi
as_u fusermount3 -u "$NET/mnt" || true
as_u podman unshare rm -rf "$NET" 2>/dev/null || rm -rf "$HOST$NET"

echo "$passed passed, $failed failed"
((failed == 0))
