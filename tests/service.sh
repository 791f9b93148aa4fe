#!/usr/bin/env bash
# `mlenv service` for a user with no session, as after `ssh` to a login node or `su`: no
# XDG_RUNTIME_DIR, no /run/user/UID, no systemd user manager. A user of its own
# (mlenvtest-ssh) with the test user's podman configuration; the effects are checked with
# curl on the socket and with that user's podman CLI. Run as root, after tests/setup-host.sh:
#
#     tests/service.sh [PATH/TO/mlenv]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

MLENV_SRC=$(readlink -f "${1:-target/debug/mlenv}")
U="${MLENV_TEST_SSH_USER:-mlenvtest-ssh}"
BASE_USER="${MLENV_TEST_USER:-mlenvtest}"
CACHE="${MLENV_TEST_CACHE:-/var/cache/mlenv-test}"
BUSYBOX=localhost/mlenv-test/busybox:latest
[ "$(id -u)" -eq 0 ] || { echo "tests/service.sh: run as root" >&2; exit 2; }

passed=0
failed=0
ok() { echo "ok - $*"; passed=$((passed + 1)); }
fail() { echo "FAIL - $*"; failed=$((failed + 1)); }
check() { local d=$1; shift; if "$@"; then ok "$d"; else fail "$d"; fi; }

# ------------------------------------------------------------------ the user --
id "$U" >/dev/null 2>&1 || useradd -m -s /bin/bash "$U"
UID_U=$(id -u "$U")
HOME_U=$(getent passwd "$U" | cut -d: -f6)
for f in /etc/subuid /etc/subgid; do
    if ! grep -q "^$U:" "$f"; then
        start=$(awk -F: 'BEGIN{m=100000} {e=$2+$3; if (e>m) m=e} END{print m}' "$f")
        echo "$U:$start:65536" >>"$f"
    fi
done
BASE_HOME=$(getent passwd "$BASE_USER" | cut -d: -f6)
install -d -o "$U" -g "$U" "$HOME_U/.config" "$HOME_U/.config/containers"
for f in containers.conf storage.conf; do
    install -o "$U" -g "$U" -m 0644 "$BASE_HOME/.config/containers/$f" "$HOME_U/.config/containers/$f"
done
# No session: no runtime folder under /run/user.
rm -rf "/run/user/$UID_U"
BIN_DIR=$(mktemp -d /tmp/mlenv-service-test.XXXXXX)
trap 'rm -rf "$BIN_DIR"' EXIT
install -m 0755 "$MLENV_SRC" "$BIN_DIR/mlenv"
chmod 0755 "$BIN_DIR"

# The user's shell over ssh: HOME, USER, PATH, nothing else.
as_u() {
    (cd "$HOME_U" && runuser -u "$U" -- env -i HOME="$HOME_U" USER="$U" LOGNAME="$U" \
        PATH="$BIN_DIR:/usr/local/bin:/usr/bin:/bin" "$@")
}
SOCK=/tmp/podman-run-$UID_U/podman/podman.sock

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
out=$(cd "$PROJECT" && as_u sh -c "cd '$PROJECT' && mlenv status" 2>&1) && rc=0 || rc=$?
check "without a service, mlenv status exits 3 (got $rc)" test "$rc" -eq 3
check "the error names the socket where podman keeps it without a session ($SOCK)" grep -q "$SOCK" <<<"$out"
check "the error names mlenv service start" grep -q "mlenv service start" <<<"$out"

out=$(as_u mlenv service start 2>&1) && rc=0 || rc=$?
check "mlenv service start succeeds (rc $rc): $(tail -n 1 <<<"$out")" test "$rc" -eq 0
check "curl on $SOCK: _ping answers OK" test "$(curl -s --unix-socket "$SOCK" http://d/_ping)" = OK
pid=$(cat "$HOME_U/.local/state/mlenv/service/pid" 2>/dev/null || echo none)
check "the service (pid $pid) runs in a session of its own, so a logout's SIGHUP misses it" \
    test "$(ps -o sid= -p "$pid" 2>/dev/null | tr -d ' ')" = "$pid"
check "its log is in mlenv's state folder" test -s "$HOME_U/.local/state/mlenv/service/log"
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
fi

as_u podman rm -a -f -t 0 >/dev/null 2>&1 || true

# ------------------------------------------- storage on a network filesystem --
# A FUSE mount (fuse-overlayfs, as the user) stands in for NFS or Lustre under podman's
# storage (vfs: it works on any filesystem, so the service starts there).
NET=$HOME_U/netstore
as_u fusermount3 -u "$NET/mnt" >/dev/null 2>&1 || true
rm -rf "$NET"
as_u mkdir -p "$NET/lower" "$NET/upper" "$NET/work" "$NET/mnt"
as_u fuse-overlayfs -o "lowerdir=$NET/lower,upperdir=$NET/upper,workdir=$NET/work" "$NET/mnt"
# A first pull under the local storage records what podman's storage is (mlenv keeps it to
# spare the next cold start a /libpod/info); moving the storage must make that record stale.
as_u mlenv service start >/dev/null 2>&1 || true
as_u sh -c "cd '$PROJECT' && mlenv up --image 127.0.0.1:5000/mlenv-test/busybox:pull --gpu none" >/dev/null 2>&1 || true
check "mlenv kept podman's storage facts" test -s "$HOME_U/.local/state/mlenv/storage.json"
as_u mlenv service stop >/dev/null 2>&1 || true
as_u podman rm -a -f -t 0 >/dev/null 2>&1 || true
CONF=$HOME_U/.config/containers/storage.conf
cp "$CONF" "$CONF.orig"
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
mv -f "$CONF.orig" "$CONF"
as_u fusermount3 -u "$NET/mnt" || true
as_u podman unshare rm -rf "$NET" 2>/dev/null || rm -rf "$NET"

echo "$passed passed, $failed failed"
((failed == 0))
