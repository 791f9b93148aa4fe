#!/usr/bin/env bash
# Start/stop the rootless podman REST API service for the mlenv test user.
#
#   tests/podman-service.sh start|stop|restart|status
#
# Meant to run as the test user (default: mlenvtest). Run as root, it re-executes
# itself as that user (runuser), so tests running as root can call it directly.
#
# Why this exists: the test machines have no systemd (no `systemctl --user
# enable --now podman.socket`, no logind), so the service is started by hand,
# detached with setsid, and tracked through a pid file. The service reads
# containers.conf only when it starts, so tests that change that file must
# `restart`.
#
# Environment:
#   MLENV_TEST_USER      test user when run as root (default mlenvtest)
#   XDG_RUNTIME_DIR      default /run/user/$(id -u)
#   MLENV_PODMAN_WAIT    seconds to wait for the socket to answer (default 20)
set -euo pipefail

TEST_USER="${MLENV_TEST_USER:-mlenvtest}"

if [[ $(id -u) -eq 0 ]]; then
    # Re-exec as the test user with a clean environment: root's PATH (pyenv shims
    # etc.) and HOME must not leak into rootless podman; cwd must be readable.
    uid=$(id -u "$TEST_USER")
    home=$(getent passwd "$TEST_USER" | cut -d: -f6)
    self=$(readlink -f "$0")
    cd "$home"
    exec runuser -u "$TEST_USER" -- env -i \
        HOME="$home" USER="$TEST_USER" LOGNAME="$TEST_USER" SHELL=/bin/bash \
        PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
        XDG_RUNTIME_DIR="/run/user/$uid" \
        MLENV_PODMAN_WAIT="${MLENV_PODMAN_WAIT:-20}" \
        bash "$self" "$@"
fi

export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/run/user/$(id -u)}"
SOCK_DIR="$XDG_RUNTIME_DIR/podman"
SOCK="$SOCK_DIR/podman.sock"
PIDFILE="$SOCK_DIR/service.pid"
LOG="$XDG_RUNTIME_DIR/podman-service.log"
WAIT="${MLENV_PODMAN_WAIT:-20}"

ping() {
    # libpod accepts any /vX/ prefix; /_ping answers "OK" once the service is up.
    [[ -S $SOCK ]] &&
        [[ $(curl -s --max-time 2 --unix-socket "$SOCK" http://d/v4.3.1/libpod/_ping 2>/dev/null) == OK ]]
}

# The pid of the service we started, if it is still that process (the pid file
# may be stale after a crash; never signal a recycled pid).
service_pid() {
    local pid
    [[ -r $PIDFILE ]] || return 1
    pid=$(<"$PIDFILE")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/cmdline ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "system service .*unix://$SOCK" || return 1
    echo "$pid"
}

start() {
    if ping; then
        echo "podman service already answers on $SOCK"
        return 0
    fi
    [[ -d $XDG_RUNTIME_DIR ]] || {
        echo "XDG_RUNTIME_DIR $XDG_RUNTIME_DIR missing (run tests/setup-host.sh as root)" >&2
        exit 1
    }
    mkdir -p "$SOCK_DIR"
    # A socket file left by a killed service makes the new one fail to bind.
    rm -f "$SOCK"
    # setsid + nohup: the service must outlive this script and the caller's
    # session/terminal; stdin from /dev/null so it never holds a pipe open.
    setsid nohup podman system service --time=0 "unix://$SOCK" >>"$LOG" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    local i
    for ((i = 0; i < WAIT * 4; i++)); do
        if ping; then
            echo "podman service started (pid $(<"$PIDFILE")) on $SOCK"
            return 0
        fi
        if ! kill -0 "$(<"$PIDFILE")" 2>/dev/null; then
            echo "podman service exited; last log lines:" >&2
            tail -n 20 "$LOG" >&2 || true
            exit 1
        fi
        sleep 0.25
    done
    echo "podman service did not answer on $SOCK within ${WAIT}s; see $LOG" >&2
    exit 1
}

stop() {
    local pid i
    if ! pid=$(service_pid); then
        if ping; then
            echo "a podman service answers on $SOCK but was not started by this script (no pid file); not stopping it" >&2
            exit 1
        fi
        rm -f "$PIDFILE"
        echo "podman service not running"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 40; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.25
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$PIDFILE" "$SOCK"
    echo "podman service stopped"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
restart) stop && start ;;
status)
    if ping; then
        echo "running: $SOCK"
    else
        echo "not running: $SOCK"
        exit 3
    fi
    ;;
*)
    echo "usage: $0 start|stop|restart|status" >&2
    exit 2
    ;;
esac
