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
echo "$passed passed, $failed failed"
((failed == 0))
