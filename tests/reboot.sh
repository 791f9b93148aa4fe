#!/usr/bin/env bash
# A real reboot: `mlenv up` in a systemd machine, `systemctl reboot`, and the environment is
# back (or stays down) as mlenv promised. Run as root:
#
#     bash tests/reboot.sh target/debug/mlenv
#
# The machine is a Debian trixie rootfs (tests/trixie-rootfs.sh: podman 5.4.2, systemd 257)
# booted by its own systemd-nspawn, in a private mount namespace, in a loop that boots it
# again when it reboots (nspawn exits 133). It has a lingering user, mlenvboot, whose
# `systemd --user` starts at boot with podman.socket enabled: the setup of a typical
# workstation, where mlenv's quadlet unit (podman >= 4.4) or plain .service (podman < 4.4,
# or MLENV_AUTOSTART_FLAVOUR=service) should bring an environment back after a reboot.
# See /work/shared/notes/systemd-machine.md for why each knob below is there.
#
# Everything is checked from outside mlenv: the podman CLI and systemctl --user inside the
# machine (as the user, through the user's manager), files in the rootfs, and curl from this
# host to the forwarded port (the machine shares the host's network namespace).
#
# Scenarios (one line per check, `ok - ...` / `FAIL - ...`, then `N passed, M failed`):
#   a  up (path with a space and unicode, requirements from a local wheelhouse, .env secret,
#      a port, a CDI device, the python image), reboot: the same environment is back and
#      nothing is reinstalled
#   b  down, reboot: stays down
#   c  up --no-autostart, reboot: stays down
#   d  rm -f: no unit file left, and nothing comes back after a reboot
#   e  (a), smaller, with MLENV_AUTOSTART_FLAVOUR=service: the .service flavour of podman < 4.4
#
# Setup is idempotent: the rootfs is made once (in /var/lib/mlenv-test/machine/root) and
# reused; a rerun only rewrites what changed and reinstalls the mlenv binary. Needs the
# image tarballs and the CDI spec of tests/setup-host.sh. Leaves nothing running.
# Logs (console, every command's output) in /var/lib/mlenv-test/machine/log.
set -uo pipefail

BIN=${1:?usage: tests/reboot.sh MLENV_BINARY}
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${MLENV_TEST_CACHE:-/var/cache/mlenv-test}"
MDIR=/var/lib/mlenv-test/machine
ROOT=$MDIR/root
LOOP=$MDIR/loop          # the boot loop's files: boots (start/exit lines), console.log, stop
LOGDIR=$MDIR/log
MACHINE=mlenvboot        # machine (host) name
U=mlenvboot              # the user inside
UHOME=/home/$U
CG=mlenv-reboot-machine  # the launcher's own cgroups
if [[ -d /sys/fs/cgroup/unified ]]; then # hybrid, as on the test machines
    CG_DIRS=("/sys/fs/cgroup/unified/$CG" "/sys/fs/cgroup/systemd/$CG")
else
    CG_DIRS=("/sys/fs/cgroup/$CG")
fi
BUSYBOX=localhost/mlenv-test/busybox:latest
PYTHON=localhost/mlenv-test/python:latest
PATH_IN_IMAGE=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
HOST_PY=/usr/bin/python3 # root's PATH may lead to a pyenv python
SYSCTLS=(fs/file-max fs/nr_open kernel/pid_max vm/max_map_count)

T_START=$(date +%s.%N)
PASSED=0 FAILED=0 SCEN_FAILED=0
LAUNCHER_PID="" PID1="" BOOT_N=0 BOOT_T=""
TIMINGS=()

say() { printf '# %s\n' "$*"; }
die() { printf 'tests/reboot.sh: %s\n' "$*" >&2; exit 2; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
ok() { echo "ok - $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL - $*"; FAILED=$((FAILED + 1)); SCEN_FAILED=1; }
# check DESC CMD...: ok when CMD succeeds.
check() { local d=$1; shift; if "$@"; then ok "$d"; else fail "$d"; fi; }
# What the container's own process runs with: HOME, its passwd home, the stack and locked-memory
# limits, /dev/shm's size. The unit must give the same as `mlenv up` did.
run_shape() {
    urun podman exec "$1" sh -c 'echo "HOME=$HOME passwd=$(grep "^[^:]*:[^:]*:$(id -u):" /etc/passwd | cut -d: -f6)"
        grep -E "^Max (stack size|locked memory)" /proc/1/limits | tr -s " "
        echo "shm=$(df -k /dev/shm | tail -n 1 | tr -s " " | cut -d" " -f2)"' 2>&1
}
# same DESC GOT WANT
same() {
    if [[ $2 == "$3" ]]; then ok "$1"; else fail "$1 (got: ${2:0:300}; want: ${3:0:300})"; fi
}

[[ $(id -u) -eq 0 ]] || die "must run as root"
[[ -x $BIN ]] || die "$BIN is not an executable (build it: cargo build --locked -p mlenv)"
BIN=$(readlink -f "$BIN")
for f in "$CACHE/busybox.tar" "$CACHE/python-bookworm.tar" /etc/cdi/mlenv-test.json; do
    [[ -f $f ]] || die "$f is missing: run tests/setup-host.sh first"
done
[[ -c /dev/net/tun && -c /dev/fuse ]] || die "/dev/net/tun or /dev/fuse is missing"
# pasta (rootless networking) opens /dev/net/tun as the user; 0600 on these machines.
chmod 0666 /dev/net/tun

mkdir -p "$MDIR" "$LOOP" "$LOGDIR"
LOG=$LOGDIR/commands.log
: >"$LOG"

# --------------------------------------------------------------- host sysctls --
# With /proc/sys writable (needed for a container's fresh proc mount), the machine's PID 1
# raises fs.file-max and fs.nr_open on the host kernel; the early unit below and the cleanup
# put them back. The values are saved once, so a run that crashed cannot make its leak the
# new normal.
SYSCTL_SAVED=$MDIR/host-sysctl
if [[ ! -f $SYSCTL_SAVED ]]; then
    for s in "${SYSCTLS[@]}"; do echo "$s $(cat "/proc/sys/$s")"; done >"$SYSCTL_SAVED.tmp"
    mv "$SYSCTL_SAVED.tmp" "$SYSCTL_SAVED"
fi
restore_sysctls() {
    local s v
    while read -r s v; do
        [[ $(cat "/proc/sys/$s") == "$v" ]] || echo "$v" >"/proc/sys/$s" 2>/dev/null || true
    done <"$SYSCTL_SAVED"
}
restore_sysctls

# ------------------------------------------------------------------ cleanup --
# Stops the machine (poweroff, then signals to the processes this script started, by pid).
stop_machine() {
    [[ -n $LAUNCHER_PID ]] || return 0
    touch "$LOOP/stop"
    if [[ -n $PID1 && -d /proc/$PID1 ]]; then
        timeout 10 nsenter -t "$PID1" -m -u -i -p -C -- systemctl poweroff --no-block >/dev/null 2>&1
    fi
    local i npid t0
    t0=$(now)
    for i in $(seq 1 100); do kill -0 "$LAUNCHER_PID" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$LAUNCHER_PID" 2>/dev/null || TIMINGS+=("poweroff: $(secs "$t0" "$(now)") s")
    if kill -0 "$LAUNCHER_PID" 2>/dev/null; then
        npid=$(awk '$1 == "start" { p = $3 } END { print p }' "$LOOP/boots" 2>/dev/null)
        say "the machine did not power off in 20 s: stopping nspawn (pid $npid)"
        [[ -n $npid ]] && kill -TERM "$npid" 2>/dev/null
        for i in $(seq 1 50); do kill -0 "$LAUNCHER_PID" 2>/dev/null || break; sleep 0.2; done
        [[ -n $npid ]] && kill -KILL "$npid" 2>/dev/null
        [[ -n $PID1 ]] && kill -KILL "$PID1" 2>/dev/null # kills the whole pid namespace
        sleep 0.5
        local loop_sh
        loop_sh=$(cat /proc/"$LAUNCHER_PID"/task/*/children 2>/dev/null)
        kill -KILL $loop_sh "$LAUNCHER_PID" 2>/dev/null
    fi
    wait "$LAUNCHER_PID" 2>/dev/null
    LAUNCHER_PID=""
    PID1=""
}
# The processes still in the launcher's cgroups (the machine's are below them).
leftover_procs() {
    local d
    for d in "${CG_DIRS[@]}"; do
        [[ -d $d ]] && find "$d" -name cgroup.procs -exec cat {} +
    done 2>/dev/null | sort -u | tr '\n' ' '
}
remove_cgroups() {
    local d
    for d in "${CG_DIRS[@]}"; do
        [[ -d $d ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
    done
}
cleanup() {
    stop_machine
    remove_cgroups
    restore_sysctls
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A launcher left by a run that was killed: stop it first.
if [[ -f $LOOP/launcher.pid ]]; then
    old=$(cat "$LOOP/launcher.pid")
    if [[ -n $old ]] && kill -0 "$old" 2>/dev/null &&
        tr '\0' ' ' <"/proc/$old/cmdline" 2>/dev/null | grep -q "$LOOP/launcher.sh"; then
        say "stopping the machine left running by an earlier run (launcher pid $old)"
        LAUNCHER_PID=$old
        for p in $(cat /proc/"$old"/task/*/children 2>/dev/null); do
            for q in $(cat /proc/"$p"/task/*/children 2>/dev/null); do
                [[ $(cat "/proc/$q/comm" 2>/dev/null) == systemd-nspawn ]] &&
                    PID1=$(cat /proc/"$q"/task/*/children 2>/dev/null | awk '{print $1}')
            done
        done
        stop_machine
        TIMINGS=()
    fi
    rm -f "$LOOP/launcher.pid"
fi

# ==================================================================== setup ==
T_SETUP=$(now)
say "setup: rootfs $ROOT"
bash "$HERE/trixie-rootfs.sh" "$ROOT" 2>&1 | sed 's/^/# /' || die "tests/trixie-rootfs.sh $ROOT failed"
[[ -x $ROOT/usr/bin/systemd-nspawn && -x $ROOT/usr/bin/podman ]] || die "$ROOT is not a trixie rootfs with systemd-container and podman"
# The tarball's top directory keeps the 0700 of the mktemp dir it was made in: the user
# inside could not open a single file.
chmod 0755 "$ROOT"

# write_if_changed FILE MODE [OWNER] < content
write_if_changed() {
    local dest=$1 mode=$2 owner=${3:-0:0} tmp
    tmp=$(mktemp)
    cat >"$tmp"
    if [[ -f $dest ]] && cmp -s "$tmp" "$dest"; then rm -f "$tmp"; return 1; fi
    mkdir -p "$(dirname "$dest")"
    chown "$owner" "$tmp" && chmod "$mode" "$tmp" && mv -f "$tmp" "$dest"
}
link() { # TARGET LINK
    [[ $(readlink "$2" 2>/dev/null) == "$1" ]] && return 0
    mkdir -p "$(dirname "$2")"
    ln -sfn "$1" "$2"
}

# The user: created on the host too, so that its uid and subordinate ranges stay reserved.
if ! id "$U" >/dev/null 2>&1; then
    useradd --user-group --no-create-home --home-dir "$UHOME" --shell /usr/sbin/nologin "$U"
fi
UID_=$(id -u "$U")
GID_=$(id -g "$U")
for f in /etc/subuid /etc/subgid; do
    touch "$f"
    if ! grep -q "^$U:" "$f"; then
        start=$(awk -F: 'BEGIN{m=100000} {e=$2+$3; if (e>m) m=e} END{print m}' "$f")
        echo "$U:$start:65536" >>"$f"
    fi
done
# ... and the same user (uid, gid, home, ranges) inside.
if ! grep -q "^$U:" "$ROOT/etc/passwd"; then
    echo "$U:x:$UID_:$GID_::$UHOME:/bin/bash" >>"$ROOT/etc/passwd"
    echo "$U:x:$GID_:" >>"$ROOT/etc/group"
    echo "$U:!:20000:0:99999:7:::" >>"$ROOT/etc/shadow"
    echo "$U:!::" >>"$ROOT/etc/gshadow"
fi
# Reading the journal of the machine's boots as the user: the systemd-journal group.
grep -q "^systemd-journal:.*[:,]$U\(,\|$\)" "$ROOT/etc/group" ||
    sed -i "s/^\(systemd-journal:[^:]*:[^:]*:\)\(.*\)$/\1\2,$U/; s/^\(systemd-journal:[^:]*:[^:]*:\),/\1/" "$ROOT/etc/group"
for f in subuid subgid; do
    want=$(grep "^$U:" "/etc/$f")
    if [[ $(grep "^$U:" "$ROOT/etc/$f" 2>/dev/null) != "$want" ]]; then
        touch "$ROOT/etc/$f"
        sed -i "/^$U:/d" "$ROOT/etc/$f"
        echo "$want" >>"$ROOT/etc/$f"
    fi
done
install -d -o "$UID_" -g "$GID_" -m 0755 "$ROOT$UHOME"
[[ -s $ROOT/etc/machine-id && $(cat "$ROOT/etc/machine-id") != uninitialized ]] ||
    tr -d '-' </proc/sys/kernel/random/uuid >"$ROOT/etc/machine-id"
echo "$MACHINE" | write_if_changed "$ROOT/etc/hostname" 0644 || true

# systemd: linger (the user's manager starts at boot), podman's API socket, what a typical
# host pulls in (network-online.target: else units with default dependencies wait 90 s).
mkdir -p "$ROOT/var/lib/systemd/linger"
touch "$ROOT/var/lib/systemd/linger/$U"
install -d -o "$UID_" -g "$GID_" "$ROOT$UHOME/.config" "$ROOT$UHOME/.config/systemd" \
    "$ROOT$UHOME/.config/systemd/user" "$ROOT$UHOME/.config/systemd/user/sockets.target.wants"
link /usr/lib/systemd/user/podman.socket "$ROOT$UHOME/.config/systemd/user/sockets.target.wants/podman.socket"
chown -h "$UID_:$GID_" "$ROOT$UHOME/.config/systemd/user/sockets.target.wants/podman.socket"
link /usr/lib/systemd/system/network-online.target \
    "$ROOT/etc/systemd/system/multi-user.target.wants/network-online.target"
# What would change the host kernel's settings (/proc/sys is writable in the machine).
# Timers that would run apt or backups in the middle of a test are masked too.
for unit in systemd-sysctl.service procps.service systemd-binfmt.service \
    proc-sys-fs-binfmt_misc.automount proc-sys-fs-binfmt_misc.mount \
    apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer; do
    link /dev/null "$ROOT/etc/systemd/system/$unit"
done
printf '[Journal]\nSystemMaxUse=64M\n' |
    write_if_changed "$ROOT/etc/systemd/journald.conf.d/mlenv-test.conf" 0644 || true

# The early unit: nspawn's overmounts off (a container's fresh proc mount is refused while
# they are there), and the host's sysctls back.
{
    echo '#!/bin/sh'
    echo '# Written by mlenv tests/reboot.sh: see the unit of the same name.'
    echo 'umount /proc/sys/kernel/random/boot_id 2>/dev/null'
    echo 'umount /proc/kmsg 2>/dev/null'
    while read -r s v; do
        [[ $s == fs/file-max || $s == fs/nr_open ]] && echo "echo $v > /proc/sys/$s"
    done <"$SYSCTL_SAVED"
    echo 'exit 0'
} | write_if_changed "$ROOT/usr/local/sbin/mlenv-machine-fixup" 0755 || true
write_if_changed "$ROOT/etc/systemd/system/mlenv-machine-fixup.service" 0644 <<'EOF' || true
# Written by mlenv tests/reboot.sh.
[Unit]
Description=Undo systemd-nspawn's overmounts and put back the host's sysctls
DefaultDependencies=no
Before=sysinit.target systemd-journald.service
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/mlenv-machine-fixup
[Install]
WantedBy=sysinit.target
EOF
link /etc/systemd/system/mlenv-machine-fixup.service \
    "$ROOT/etc/systemd/system/sysinit.target.wants/mlenv-machine-fixup.service"

# Podman: the distribution's defaults (systemd cgroup manager, journald, pasta), with what
# this machine needs: no pids controller (the machine's cgroup2 has no controllers),
# ulimits within the hard limits (no CAP_SYS_RESOURCE), and runc where crun fails (decided
# once, at the first boot).
hard() { if [[ $1 == unlimited ]] || (($1 >= $2)); then echo "$2"; else echo "$1"; fi; }
NOFILE=$(hard "$(ulimit -Hn)" 20000)
NPROC=$(hard "$(ulimit -Hu)" 16384)
RUNTIME=$(cat "$MDIR/runtime" 2>/dev/null || echo crun)
write_containers_conf() {
    write_if_changed "$ROOT/etc/containers/containers.conf" 0644 <<EOF
# Written by mlenv tests/reboot.sh (see /work/shared/notes/systemd-machine.md).
[containers]
pids_limit = 0
default_ulimits = ["nofile=$NOFILE:$NOFILE", "nproc=$NPROC:$NPROC"]

[engine]
runtime = "$RUNTIME"
EOF
}
write_containers_conf || true
install -D -m 0644 /etc/cdi/mlenv-test.json "$ROOT/etc/cdi/mlenv-test.json"
cmp -s "$BIN" "$ROOT/usr/local/bin/mlenv" || install -D -m 0755 "$BIN" "$ROOT/usr/local/bin/mlenv"

# A clean slate for the user: no environment, unit or mlenv state of an earlier run (the
# containers of one go after the boot, with podman; images stay).
rm -rf "$ROOT$UHOME"/p-* "$ROOT$UHOME/.local/state/mlenv" "$ROOT$UHOME/.local/share/mlenv" \
    "$ROOT$UHOME"/.config/containers/systemd/mlenv-* "$ROOT$UHOME"/.config/systemd/user/mlenv-* \
    "$ROOT$UHOME"/.config/systemd/user/default.target.wants/mlenv-*

# The projects. A: a path with a space and unicode, requirements from a wheelhouse inside.
PA="$UHOME/p-a my prōject"
PE="$UHOME/p-e sërvice flavour"
PC="$UHOME/p-c-off"
PD="$UHOME/p-d-gone"
PF="$UHOME/p-f failed boot"
WHEEL_PY='
import json, os, sys, zipfile
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, ver in json.loads(sys.argv[2]):
    info = f"{name}-{ver}.dist-info"
    files = {f"{name}/__init__.py": f"VERSION = \"{ver}\"\n"}
    files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {ver}\n"
    files[f"{info}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: mlenv-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = "".join(f"{p},,\n" for p in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(os.path.join(out, f"{name}-{ver}-py3-none-any.whl"), "w") as z:
        for p, b in files.items():
            z.writestr(p, b)
        z.writestr(f"{info}/RECORD", record)
'
for p in "$PA" "$PE" "$PC" "$PD" "$PF"; do mkdir -p "$ROOT$p"; done
"$HOST_PY" -c "$WHEEL_PY" "$ROOT$PA/wheelhouse" '[["bootpkg", "1.0"]]' || die "cannot build the wheelhouse"
printf -- '--no-index\n--find-links "%s/wheelhouse"\nbootpkg==1.0\n' "$PA" >"$ROOT$PA/requirements.txt"
printf 'BOOT_SECRET="b00t-sëcret value"\n' >"$ROOT$PA/.env"
printf 'back after reboot\n' >"$ROOT$PA/index.html"
printf 'SVC_SECRET=s3rvice-value\n' >"$ROOT$PE/.env"
printf 'service flavour back\n' >"$ROOT$PE/index.html"
printf 'F_SECRET=f4iled-boot\n' >"$ROOT$PF/.env"
for p in "$PA" "$PE" "$PC" "$PD" "$PF"; do chown -R "$UID_:$GID_" "$ROOT$p"; done

# The launcher: a private mount namespace whose root is the rootfs (pivot_root), running the
# rootfs's own systemd-nspawn on the rootfs bound at /var/lib/machines/NAME, again after
# each reboot. Its own cgroups first: else nspawn 257 makes /payload at the top of the
# host's cgroup2.
cat >"$LOOP/launcher.sh" <<EOF
# Written by mlenv tests/reboot.sh; run in a private mount namespace.
set -u
for d in ${CG_DIRS[*]}; do
    mkdir -p \$d && echo \$\$ >\$d/cgroup.procs || exit 1
done
R=$ROOT
mount --bind \$R \$R
mkdir -p \$R/var/lib/machines/$MACHINE
mount --bind \$R \$R/var/lib/machines/$MACHINE   # the rootfs alone, none of the mounts below
mount -t proc proc \$R/proc
mount --rbind /sys \$R/sys
mount --rbind /dev \$R/dev
mount -t tmpfs -o mode=0755 tmpfs \$R/run
mount -t tmpfs -o mode=1777 tmpfs \$R/tmp
mkdir -p \$R/run/loop
mount --bind $LOOP \$R/run/loop
cd \$R && pivot_root . mnt && umount -l /mnt && cd / || exit 1
export SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 SYSTEMD_SECCOMP=0 SYSTEMD_NSPAWN_API_VFS_WRITABLE=1
n=0
while :; do
    n=\$((n + 1))
    t=\$(date +%s.%N)
    echo "== boot \$n" >>/run/loop/console.log
    systemd-nspawn --boot --directory=/var/lib/machines/$MACHINE --machine=$MACHINE \\
        --register=no --keep-unit --console=read-only --resolv-conf=off --timezone=off \\
        --link-journal=no --bind=/dev/net/tun --bind=/dev/fuse \\
        </dev/null >>/run/loop/console.log 2>&1 &
    pid=\$!
    echo "start \$n \$pid \$t" >>/run/loop/boots
    wait \$pid
    rc=\$?
    echo "exit \$n \$rc \$(date +%s.%N)" >>/run/loop/boots
    [ \$rc -eq 133 ] && [ ! -e /run/loop/stop ] || break
done
EOF
SETUP_SECS=$(secs "$T_SETUP" "$(now)")
say "setup done in ${SETUP_SECS} s"

# ============================================================ the machine ==
# Commands in the machine: as root (its namespaces), and as the user through the user's
# manager (a process the manager did not start lands in a cgroup it cannot adopt, and
# podman fails there). stdin, stdout and the exit status pass through.
in_machine() { nsenter -t "$PID1" -m -u -i -p -C -- "$@"; }
as_user() { # the user's process, outside the manager: systemctl --user, journalctl --user
    in_machine setpriv --reuid="$UID_" --regid="$GID_" --init-groups -- env -i \
        HOME="$UHOME" USER="$U" LOGNAME="$U" PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 \
        XDG_RUNTIME_DIR="/run/user/$UID_" DBUS_SESSION_BUS_ADDRESS="unix:path=/run/user/$UID_/bus" "$@"
}
# urun [-C DIR] [-E K=V]... CMD...: CMD as a transient unit of the user's manager.
urun() {
    local dir=$UHOME opts=()
    while (($#)); do
        case $1 in
        -C) dir=$2; shift 2 ;;
        -E) opts+=("--setenv=$2"); shift 2 ;;
        *) break ;;
        esac
    done
    as_user timeout 300 systemd-run --user --wait --pipe --collect --quiet --service-type=exec \
        --working-directory="$dir" "${opts[@]}" -- "$@"
}
# logged CMD...: output to the log, and in $OUT; the exit status.
logged() {
    local rc
    OUT=$("$@" 2>&1)
    rc=$?
    { printf '$ %s  (exit %d)\n' "$*" "$rc"; printf '%s\n' "$OUT"; } >>"$LOG"
    return "$rc"
}
# mlenv_in DIR [-E K=V] ARGS...: mlenv in the project DIR; output in $OUT.
mlenv_in() {
    local dir=$1; shift
    local envs=()
    while [[ ${1:-} == -E ]]; do envs+=(-E "$2"); shift 2; done
    logged urun -C "$dir" "${envs[@]}" mlenv "$@"
}
# serve UNIT CMD...: a long-running command as a transient unit that stays (a process left
# behind by a urun unit, like `podman exec -d`'s conmon, is killed when that unit ends).
serve() {
    local unit=$1; shift
    logged as_user systemd-run --user --quiet --collect --unit="$unit" -- "$@"
}

# wait_until SECONDS CMD...: polls CMD every 0.2 s.
wait_until() {
    local end t=$1; shift
    end=$(awk -v n="$(now)" -v t="$t" 'BEGIN { printf "%.0f", n + t }')
    while :; do
        "$@" && return 0
        (($(date +%s) >= end)) && return 1
        sleep 0.2
    done
}
boot_line() { awk -v n="$1" '$1 == "start" && $2 == n { print; f = 1 } END { exit !f }' "$LOOP/boots" 2>/dev/null; }
find_pid1() { # the machine's PID 1: the child of nspawn that is PID 1 of its pid namespace
    local npid=$1 c
    for c in $(cat /proc/"$npid"/task/*/children 2>/dev/null); do
        if awk '/^NSpid:/ { exit !(NF == 3 && $3 == 1) }' "/proc/$c/status" 2>/dev/null; then
            echo "$c"
            return 0
        fi
    done
    return 1
}
system_up() { [[ $(in_machine systemctl is-system-running 2>/dev/null) =~ ^(running|degraded)$ ]]; }
user_up() {
    [[ $(as_user systemctl --user is-system-running 2>/dev/null) =~ ^(running|degraded)$ ]]
}
# wait_boot N: waits for boot N to reach the user's manager; sets PID1, BOOT_T (its start).
wait_boot() {
    local n=$1 line npid t_sys t_user
    PID1=""
    if ! wait_until 60 boot_line "$n" >/dev/null; then
        tail -n 30 "$LOOP/console.log" | sed 's/^/# console: /'
        return 1
    fi
    line=$(boot_line "$n")
    npid=$(awk '{print $3}' <<<"$line")
    BOOT_T=$(awk '{print $4}' <<<"$line")
    BOOT_N=$n
    wait_until 30 find_pid1 "$npid" >/dev/null || { say "no PID 1 under nspawn pid $npid"; return 1; }
    PID1=$(find_pid1 "$npid")
    if ! wait_until 60 system_up; then
        say "boot $n: the system did not come up: $(in_machine systemctl is-system-running 2>&1)"
        in_machine systemctl --failed --no-pager 2>&1 | sed 's/^/# /'
        return 1
    fi
    t_sys=$(secs "$BOOT_T" "$(now)")
    if ! wait_until 60 user_up; then
        say "boot $n: the user's manager did not come up: $(as_user systemctl --user is-system-running 2>&1)"
        return 1
    fi
    t_user=$(secs "$BOOT_T" "$(now)")
    TIMINGS+=("boot $n: system running after ${t_sys} s, the user's manager after ${t_user} s")
    say "boot $n: system running after ${t_sys} s, the user's manager after ${t_user} s"
}
# reboot_machine: systemctl reboot, then waits for the next boot; sets T_REBOOT.
reboot_machine() {
    local n=$((BOOT_N + 1))
    T_REBOOT=$(now)
    T_REBOOT_MONO=$(awk '{print $1}' /proc/uptime) # the machine's monotonic clock is the host's
    in_machine systemctl reboot --no-block >/dev/null 2>&1
    wait_boot "$n" || { fail "the machine comes back after reboot $((n - 1))"; summary_and_exit; }
    local t
    t=$(secs "$T_REBOOT" "$(now)")
    ok "the machine comes back after reboot $((n - 1)) (${t} s until the user's manager runs)"
    TIMINGS+=("reboot $((n - 1)): the user's manager runs ${t} s after systemctl reboot")
}

summary_and_exit() {
    cleanup # first: what it says goes before the summary line
    echo
    say "setup: ${SETUP_SECS} s; whole run: $(secs "$T_START" "$(now)") s; logs in $LOGDIR"
    local t
    for t in "${TIMINGS[@]}"; do say "$t"; done
    echo "$PASSED passed, $FAILED failed"
    ((FAILED == 0))
    exit $?
}

# ---------------------------------------------------------- what we look at --
INSPECT_PY='
import json, sys
c = json.load(open(sys.argv[1]))[0]
hc, cfg = c.get("HostConfig") or {}, c.get("Config") or {}
f = {
    "image": [c.get("ImageName"), c.get("Image")],
    "mounts": sorted([m.get("Type"), m.get("Source"), m.get("Destination"), m.get("RW")]
                     for m in c.get("Mounts") or []),
    "ports": hc.get("PortBindings") or {},
    # Quadlet adds PODMAN_SYSTEMD_UNIT: not a setting of the environment.
    "labels": {k: v for k, v in (cfg.get("Labels") or {}).items() if k != "PODMAN_SYSTEMD_UNIT"},
    "devices": sorted([d.get("PathOnHost"), d.get("PathInContainer")] for d in hc.get("Devices") or []),
    "workdir": cfg.get("WorkingDir"),
    "running": (c.get("State") or {}).get("Running"),
}
print(json.dumps(f[sys.argv[2]], sort_keys=True, ensure_ascii=False))
'
# field FILE NAME
field() { "$HOST_PY" -c "$INSPECT_PY" "$1" "$2" 2>/dev/null; }
# inspect_to NAME FILE: podman inspect as the user.
inspect_to() { urun podman container inspect "$1" >"$2" 2>>"$LOG"; }
running() { [[ $(urun podman container inspect --format '{{.State.Running}}' "$1" 2>/dev/null) == true ]]; }
exists() { urun podman container exists "$1" 2>/dev/null; }
unit_state() { as_user systemctl --user show -p ActiveState --value "$1.service" 2>/dev/null; }
# last_error NAME: the unit's last error line in the journal since this boot.
last_error() {
    as_user journalctl --user --since "@${BOOT_T%.*}" --no-pager -o cat -u "$1.service" 2>/dev/null |
        grep -i -E 'error|not found|denied' | tail -n 1 | cut -c1-400
}
not_back() { # NAME: why NAME is not back, in one line
    local e
    e=$(last_error "$1")
    echo "unit: $(unit_state "$1"), container: $(exists "$1" && echo present || echo absent)${e:+; journal: $e}"
}
unit_active() { [[ $(unit_state "$1") == active ]]; }
name_of() { # the container of a project, by mlenv's project label
    urun podman ps -a --filter "label=io.mlenv.project=$1" --format '{{.Names}}' 2>/dev/null | head -n1
}
unit_files_of() { # NAME: the unit files and links mlenv may write, present
    local f
    for f in "$ROOT$UHOME/.config/containers/systemd/$1.container" \
        "$ROOT$UHOME/.config/systemd/user/$1.service" \
        "$ROOT$UHOME/.config/systemd/user/default.target.wants/$1.service"; do
        [[ -e $f || -L $f ]] && echo "${f#"$ROOT"}"
    done
}
http_has() { curl -fsS -m 2 "http://127.0.0.1:$1/index.html" 2>/dev/null | grep -q "$2"; }
free_port() {
    "$HOST_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# diag NAME: the unit, its status, and the user's journal since this boot.
diag() {
    local name=$1 f
    say "---- diagnostics for $name (boot $BOOT_N)"
    for f in $(unit_files_of "$name"); do
        [[ -L $ROOT$f ]] && { say "$f -> $(readlink "$ROOT$f")"; continue; }
        say "-- $f"
        sed 's/^/#   /' "$ROOT$f"
    done
    [[ -n $(unit_files_of "$name") ]] || say "(no unit file)"
    say "-- systemctl --user status $name.service"
    as_user systemctl --user status --no-pager -l -n 0 "$name.service" 2>&1 | sed 's/^/#   /'
    say "-- systemctl --user cat $name.service | grep ExecStart"
    as_user systemctl --user cat "$name.service" 2>&1 | grep -E '^(ExecStart|ExecCondition)' | cut -c1-600 | sed 's/^/#   /'
    say "-- journalctl --user --since @${BOOT_T%.*} -u $name.service (last 25)"
    as_user journalctl --user --since "@${BOOT_T%.*}" --no-pager -o short-precise -u "$name.service" 2>&1 |
        tail -n 25 | cut -c1-700 | sed 's/^/#   /'
    say "-- journalctl --user --since @${BOOT_T%.*}: errors, failures, quadlet (last 15)"
    as_user journalctl --user --since "@${BOOT_T%.*}" --no-pager -o short-precise 2>&1 |
        grep -v -E 'level=info|"(GET|POST|DELETE) /v|run-p[0-9]+-i[0-9]+\.service|mlenv-test-serve|memory.events' |
        grep -i -E 'error|fail|not found|quadlet' |
        tail -n 15 | cut -c1-700 | sed 's/^/#   /'
}
end_scenario() { # NAME...: diagnostics when the scenario failed
    local n
    if ((SCEN_FAILED)); then for n in "$@"; do [[ -n $n ]] && diag "$n"; done; fi
    SCEN_FAILED=0
}

# ================================================================== boot 1 ==
rm -f "$LOOP/boots" "$LOOP/stop"
: >"$LOOP/console.log"
setsid unshare --mount --propagation private --fork bash "$LOOP/launcher.sh" </dev/null >>"$LOOP/console.log" 2>&1 &
LAUNCHER_PID=$!
echo "$LAUNCHER_PID" >"$LOOP/launcher.pid"
if wait_boot 1; then
    ok "the machine boots (systemd $(in_machine systemctl --version | awk 'NR == 1 {print $2}'), a lingering user's manager runs)"
else
    fail "the machine boots"
    summary_and_exit
fi

# Images, in the user's storage inside (once; they stay in the rootfs).
import() { # NAME TARBALL CHANGE...
    local name=$1 tarball=$2 c args=()
    shift 2
    urun podman image exists "$name" && return 0
    for c in "$@"; do args+=(--change "$c"); done
    say "importing $name into $U's storage"
    logged urun podman import --quiet "${args[@]}" - "$name" <"$tarball"
}
T_IMG=$(now)
import "$BUSYBOX" "$CACHE/busybox.tar" 'CMD ["/bin/sh"]' "ENV PATH=$PATH_IN_IMAGE" ||
    { fail "busybox image imported: $OUT"; summary_and_exit; }
import "$PYTHON" "$CACHE/python-bookworm.tar" 'CMD ["/bin/bash"]' "ENV PATH=$PATH_IN_IMAGE" 'ENV LANG=C.UTF-8' ||
    { fail "python image imported: $OUT"; summary_and_exit; }
# Leftovers of an earlier run.
logged urun podman rm --all --force --time 0
# crun, or runc where crun fails (decided once).
if [[ ! -f $MDIR/runtime ]]; then
    for RUNTIME in crun runc; do
        logged urun podman run --rm --pull=never --runtime "$RUNTIME" "$BUSYBOX" true && break
        say "podman run with $RUNTIME failed: ${OUT:0:300}"
    done
    echo "$RUNTIME" >"$MDIR/runtime"
    if write_containers_conf; then as_user systemctl --user stop podman.service >/dev/null 2>&1; fi
fi
SETUP_SECS=$(awk -v a="$SETUP_SECS" -v b="$(secs "$T_IMG" "$(now)")" 'BEGIN { printf "%.1f", a + b }')
if logged urun podman run --rm --pull=never "$BUSYBOX" true; then
    ok "rootless podman $(urun podman version --format '{{.Client.Version}}') runs a container in the machine ($(urun podman info --format '{{.Host.OCIRuntime.Name}}, cgroups {{.Host.CgroupsVersion}}, {{.Host.CgroupManager}}, {{.Store.GraphDriverName}}'))"
else
    fail "rootless podman runs a container in the machine: $OUT"
    summary_and_exit
fi

# ------------------------------------------------------- the environments --
PORT_A=$(free_port)
PORT_E=$(free_port)
while [[ $PORT_E == "$PORT_A" ]]; do PORT_E=$(free_port); done
ARGS_A=(up --image "$PYTHON" --gpu mlenv.test/dev=zero --port "$PORT_A:8080" --env-file .env)
ARGS_E=(up --image "$BUSYBOX" --gpu mlenv.test/dev=full --port "$PORT_E:8081" --env-file .env)
FLAVOUR=(-E MLENV_AUTOSTART_FLAVOUR=service)

# a: up.
if mlenv_in "$PA" "${ARGS_A[@]}"; then
    ok "a: mlenv up (python image, requirements, .env, port $PORT_A, mlenv.test/dev=zero) in '$PA'"
else
    fail "a: mlenv up in '$PA': $(tail -n 5 <<<"$OUT")"
fi
NAME_A=$(name_of "$PA")
say "a: container ${NAME_A:-?}"
if [[ -n $NAME_A ]]; then
    check "a: the quadlet unit ~/.config/containers/systemd/$NAME_A.container is written" \
        test -f "$ROOT$UHOME/.config/containers/systemd/$NAME_A.container"
    inspect_to "$NAME_A" "$LOGDIR/a-before.json"
    SHAPE_A=$(run_shape "$NAME_A")
    check "a: HOME is the user's home, not the project; NVIDIA's 64 MiB stack ($(head -n 1 <<<"$SHAPE_A"))" \
        eval "grep -qx 'HOME=$UHOME passwd=$UHOME' <<<\"\$SHAPE_A\" && grep -q '^Max stack size 67108864 67108864' <<<\"\$SHAPE_A\""
    REC_A=$(ls "$ROOT$UHOME/.local/share/mlenv/$NAME_A"/python/*/.mlenv-requirements 2>/dev/null | head -n1)
    check "a: requirements installed (bootpkg imports; mlenv's record in ${REC_A#"$ROOT"})" \
        test -n "$REC_A" -a "$(urun podman exec "$NAME_A" python3 -c 'import bootpkg; print(bootpkg.VERSION)' 2>/dev/null)" = 1.0
    REC_A_SUM=$( [[ -n $REC_A ]] && stat -c '%Y %s' "$REC_A" && sha256sum <"$REC_A")
fi
end_scenario "$NAME_A"

# e: up with the .service flavour.
if mlenv_in "$PE" "${FLAVOUR[@]}" "${ARGS_E[@]}"; then
    ok "e: MLENV_AUTOSTART_FLAVOUR=service mlenv up (busybox, .env, port $PORT_E, mlenv.test/dev=full)"
else
    fail "e: MLENV_AUTOSTART_FLAVOUR=service mlenv up: $(tail -n 5 <<<"$OUT")"
fi
NAME_E=$(name_of "$PE")
if [[ -n $NAME_E ]]; then
    got=$(unit_files_of "$NAME_E" | tr '\n' ' ')
    same "e: MLENV_AUTOSTART_FLAVOUR=service writes the .service flavour, enabled" "${got% }" \
        "$UHOME/.config/systemd/user/$NAME_E.service $UHOME/.config/systemd/user/default.target.wants/$NAME_E.service"
    inspect_to "$NAME_E" "$LOGDIR/e-before.json"
    SHAPE_E=$(run_shape "$NAME_E")
fi
end_scenario "$NAME_E"

# c: up --no-autostart.
if mlenv_in "$PC" up --image "$BUSYBOX" --gpu none --no-autostart; then
    ok "c: mlenv up --no-autostart"
else
    fail "c: mlenv up --no-autostart: $(tail -n 5 <<<"$OUT")"
fi
NAME_C=$(name_of "$PC")
same "c: no unit file written" "$( [[ -n $NAME_C ]] && unit_files_of "$NAME_C")" ""
check "c: the container runs before the reboot" running "${NAME_C:-none}"
end_scenario "$NAME_C"

# d: an environment that will be removed in the next boot.
mlenv_in "$PD" up --image "$BUSYBOX" --gpu none || fail "d: mlenv up: $(tail -n 5 <<<"$OUT")"
NAME_D=$(name_of "$PD")
end_scenario "$NAME_D"

# ================================================================ reboot 1 ==
# T_REBOOT..active: how long after `systemctl reboot` each environment runs again.
back_or_given_up() {
    { unit_active "$1" && running "$1"; } ||
        (($(as_user systemctl --user show -p NRestarts --value "$1.service" 2>/dev/null || echo 0) >= 2))
}
wait_back() { # NAME: active and running, or it restarted twice, or 60 s
    wait_until 60 back_or_given_up "$1"
    unit_active "$1" && running "$1"
}
# since_reboot NAME: seconds from `systemctl reboot` until the unit became active.
since_reboot() {
    local m
    m=$(as_user systemctl --user show -p ActiveEnterTimestampMonotonic --value "$1.service" 2>/dev/null)
    awk -v m="${m:-0}" -v r="$T_REBOOT_MONO" 'BEGIN { printf "%.1f", m / 1e6 - r }'
}
reboot_machine

# a: the same environment is back.
if [[ -n $NAME_A ]]; then
    if wait_back "$NAME_A"; then
        t=$(since_reboot "$NAME_A")
        ok "a: $NAME_A.service is active and the container runs again, ${t} s after systemctl reboot"
        TIMINGS+=("reboot 1: a (quadlet) active ${t} s after systemctl reboot")
        BACK_A=1
    else
        fail "a: $NAME_A.service is active and the container runs again after the reboot ($(not_back "$NAME_A"))"
        BACK_A=0
    fi
    if ((BACK_A)); then
        inspect_to "$NAME_A" "$LOGDIR/a-after.json"
        for f in image mounts ports labels devices workdir; do
            same "a: same $f after the reboot" "$(field "$LOGDIR/a-after.json" $f)" "$(field "$LOGDIR/a-before.json" $f)"
        done
        same "a: the .env secret is in the container (podman exec printenv)" \
            "$(urun podman exec "$NAME_A" printenv BOOT_SECRET 2>&1)" "b00t-sëcret value"
        check "a: the CDI device is injected (MLENV_TEST_CDI=1 in /proc/1/environ, /dev/zero)" \
            eval "urun podman exec '$NAME_A' cat /proc/1/environ 2>/dev/null | tr '\\0' '\\n' | grep -qx MLENV_TEST_CDI=1"
        check "a: the CDI device node /dev/zero is in the container's devices" \
            eval "field '$LOGDIR/a-after.json' devices | grep -q '\"/dev/zero\"'"
        same "a: keep-id: the user's uid in the container" "$(urun podman exec "$NAME_A" id -u 2>&1)" "$UID_"
        same "a: the unit gives what mlenv up gave: HOME, passwd home, stack and memlock limits, /dev/shm size" \
            "$(run_shape "$NAME_A")" "$SHAPE_A"
        same "a: the requirements are still installed (bootpkg imports)" \
            "$(urun podman exec "$NAME_A" python3 -c 'import bootpkg; print(bootpkg.VERSION)' 2>&1)" 1.0
    else
        for f in "same image, mounts, ports, labels, devices, workdir" "the .env secret is in the container" \
            "the CDI device is injected" "keep-id" "the requirements are still installed"; do
            fail "a: $f (no container)"
        done
    fi
    same "a: mlenv's requirements record is unchanged (not reinstalled)" \
        "$( [[ -n $REC_A ]] && stat -c '%Y %s' "$REC_A" 2>/dev/null && sha256sum <"$REC_A" 2>/dev/null)" "$REC_A_SUM"
    if mlenv_in "$PA" status && grep -Eq '^State: +running' <<<"$OUT"; then
        ok "a: mlenv status says running"
    else
        fail "a: mlenv status says running: $(grep -E '^State:' <<<"$OUT" || tail -n 2 <<<"$OUT")"
    fi
    mlenv_in "$PA" exec -c 'echo ok'
    same "a: mlenv exec -c 'echo ok'" "$OUT" ok
    if ((BACK_A)); then
        serve mlenv-test-serve-a podman exec "$NAME_A" python3 -m http.server 8080 --directory "$PA"
        check "a: port $PORT_A serves from the host (curl 127.0.0.1:$PORT_A)" wait_until 15 http_has "$PORT_A" "back after reboot"
    else
        fail "a: port $PORT_A serves from the host (no container)"
    fi
    # mlenv agrees: no drift, nothing to install.
    mlenv_in "$PA" "${ARGS_A[@]}"
    if grep -q "is running" <<<"$OUT" && grep -q "requirements unchanged" <<<"$OUT"; then
        ok "a: mlenv up again: is running, requirements unchanged"
    else
        fail "a: mlenv up again: is running, requirements unchanged (got: $(tr '\n' ' ' <<<"$OUT" | cut -c1-300))"
    fi
    # restart: the quadlet unit runs the container (`podman run --rm`, conmon its main
    # process): a restart must not end the unit and take the container with it.
    if ((BACK_A)); then
        restarts() { as_user systemctl --user show -p NRestarts --value "$NAME_A.service" 2>/dev/null; }
        r0=$(restarts)
        mlenv_in "$PA" restart
        sleep 2
        got="mlenv: $(tail -n 1 <<<"$OUT"); container: $(running "$NAME_A" && echo running || echo "not running"); unit: $(unit_state "$NAME_A"), restarts $r0 -> $(restarts)"
        same "a: mlenv restart after the reboot: the container runs 2 s later, its unit untouched" "$got" \
            "mlenv: ✔ Restarted $NAME_A; container: running; unit: active, restarts $r0 -> $r0"
        # What comes next needs it back (the unit retries 10 s after a failure).
        wait_until 20 eval "unit_active '$NAME_A' && running '$NAME_A'" || true
    fi
    end_scenario "$NAME_A"
fi

# e: the .service flavour is back.
if [[ -n $NAME_E ]]; then
    if wait_back "$NAME_E"; then
        t=$(since_reboot "$NAME_E")
        ok "e: $NAME_E.service is active and the container runs again, ${t} s after systemctl reboot"
        TIMINGS+=("reboot 1: e (.service flavour) active ${t} s after systemctl reboot")
        inspect_to "$NAME_E" "$LOGDIR/e-after.json"
        for f in image mounts ports labels devices; do
            same "e: same $f after the reboot" "$(field "$LOGDIR/e-after.json" $f)" "$(field "$LOGDIR/e-before.json" $f)"
        done
        same "e: the .env secret is in the container" \
            "$(urun podman exec "$NAME_E" sh -c 'echo "$SVC_SECRET"' 2>&1)" s3rvice-value
        same "e: the .service unit gives what mlenv up gave: HOME, passwd home, limits, /dev/shm size" \
            "$(run_shape "$NAME_E")" "$SHAPE_E"
        check "e: the CDI device is injected (MLENV_TEST_DEV=full in /proc/1/environ)" \
            eval "urun podman exec '$NAME_E' cat /proc/1/environ 2>/dev/null | tr '\\0' '\\n' | grep -qx MLENV_TEST_DEV=full"
        serve mlenv-test-serve-e podman exec "$NAME_E" httpd -f -p 8081 -h "$PE"
        check "e: port $PORT_E serves from the host" wait_until 15 http_has "$PORT_E" "service flavour back"
    else
        fail "e: $NAME_E.service is active and the container runs again after the reboot ($(not_back "$NAME_E"))"
    fi
    mlenv_in "$PE" "${FLAVOUR[@]}" exec -c 'echo ok'
    same "e: mlenv exec -c 'echo ok'" "$OUT" ok
    end_scenario "$NAME_E"
fi

# c: stays down.
check "c: after the reboot the --no-autostart environment stays down (container not running)" \
    eval "! running '${NAME_C:-none}'"
same "c: no mlenv unit of it is loaded" "$(as_user systemctl --user list-units --all --plain --no-legend "${NAME_C:-none}*" 2>/dev/null)" ""
end_scenario "$NAME_C"

# ================================================================== boot 2 ==
# settled NAME: the unit is not about to start again (auto-restart) once the container stopped.
settled() {
    local sub
    sleep 1
    sub=$(as_user systemctl --user show -p SubState --value "$1.service" 2>/dev/null)
    [[ $sub != auto-restart && $sub != activating && $sub != running ]]
}
# b: up (the environment may not have come back), then down.
mlenv_in "$PA" "${ARGS_A[@]}" || fail "b: mlenv up before down: $(tail -n 3 <<<"$OUT")"
if mlenv_in "$PA" down; then ok "b: mlenv down"; else fail "b: mlenv down: $(tail -n 3 <<<"$OUT")"; fi
check "b: the container is stopped after mlenv down" eval "! running '$NAME_A'"
check "b: its unit does not start it again (not active, no auto-restart)" settled "$NAME_A"

# d: up, then rm -f (quadlet D, and the .service flavour E).
mlenv_in "$PD" up --image "$BUSYBOX" --gpu none || fail "d: mlenv up before rm: $(tail -n 3 <<<"$OUT")"
NAME_D=${NAME_D:-$(name_of "$PD")}
if mlenv_in "$PD" rm -f; then ok "d: mlenv rm -f"; else fail "d: mlenv rm -f: $(tail -n 3 <<<"$OUT")"; fi
same "d: no unit file or link left" "$(unit_files_of "${NAME_D:-none}")" ""
check "d: no container left, and its unit does not start one again" eval "! exists '${NAME_D:-none}' && settled '${NAME_D:-none}'"
if [[ -n $NAME_E ]]; then
    if mlenv_in "$PE" "${FLAVOUR[@]}" rm -f; then ok "d: mlenv rm -f (.service flavour)"; else fail "d: mlenv rm -f (.service flavour): $(tail -n 3 <<<"$OUT")"; fi
    same "d: no unit file or link left (.service flavour)" "$(unit_files_of "$NAME_E")" ""
fi
end_scenario "$NAME_A" "$NAME_D"

# f: an environment whose unit will fail at the next boot: its CDI spec is gone then (as
# after a driver upgrade that removed it). The failed `podman run --replace` must not lose
# the environment: status names the unit and why, and a plain `mlenv up` brings it back.
PORT_F=$(free_port)
ARGS_F=(up --image "$BUSYBOX" --gpu mlenv.test/dev=full --port "$PORT_F:8082" --env-file .env)
if mlenv_in "$PF" "${ARGS_F[@]}"; then ok "f: mlenv up (busybox, .env, port $PORT_F, mlenv.test/dev=full)"; else fail "f: mlenv up: $(tail -n 3 <<<"$OUT")"; fi
NAME_F=$(name_of "$PF")
[[ -n $NAME_F ]] && inspect_to "$NAME_F" "$LOGDIR/f-before.json"
mv "$ROOT/etc/cdi/mlenv-test.json" "$ROOT/etc/cdi-mlenv-test.json.aside"
end_scenario "$NAME_F"

# ================================================================ reboot 2 ==
reboot_machine
# Give anything that would come back the time it would take (the environments came back
# within a few seconds of the user's manager above).
sleep 5
check "b: after the reboot the environment stays down (container not running)" eval "! running '$NAME_A'"
check "b: its unit is not active" eval "[[ \$(unit_state '$NAME_A') != active ]]"
check "d: nothing came back (no container)" eval "! exists '${NAME_D:-none}'"
same "d: no unit of it is loaded" "$(as_user systemctl --user list-units --all --plain --no-legend "${NAME_D:-none}*" 2>/dev/null)" ""
if [[ -n $NAME_E ]]; then
    check "d: nothing came back (.service flavour: no container running)" eval "! running '$NAME_E'"
fi
end_scenario "$NAME_A" "$NAME_D"

# f: the unit failed (or is between tries); the environment is not lost.
if [[ -n $NAME_F ]]; then
    failed_or_retrying() {
        [[ $(as_user systemctl --user show -p ActiveState --value "$NAME_F.service") == failed ]] ||
            [[ $(as_user systemctl --user show -p SubState --value "$NAME_F.service") == auto-restart ]]
    }
    check "f: with its CDI spec gone, $NAME_F.service fails at boot" wait_until 30 failed_or_retrying
    mlenv_in "$PF" status
    if grep -q "$NAME_F.service" <<<"$OUT" && grep -qi 'cdi' <<<"$OUT"; then
        ok "f: mlenv status names the failed unit and why ($(grep -m1 "$NAME_F.service" <<<"$OUT" | cut -c1-200))"
    else
        fail "f: mlenv status names the failed unit and why (got: $(tr '\n' ' ' <<<"$OUT" | cut -c1-400))"
    fi
    mlenv_in "$PF" status --json
    same "f: status --json: autostart.failed.unit" \
        "$("$HOST_PY" -c 'import json,sys; print(json.load(sys.stdin)["autostart"]["failed"]["unit"])' <<<"$OUT" 2>&1)" \
        "$NAME_F.service"
    # The spec is back (the admin ran `mlenv gpu setup`): a plain `mlenv up`, no flags.
    mv "$ROOT/etc/cdi-mlenv-test.json.aside" "$ROOT/etc/cdi/mlenv-test.json"
    if mlenv_in "$PF" up; then ok "f: a plain mlenv up after the failed boot"; else fail "f: a plain mlenv up after the failed boot: $(tail -n 3 <<<"$OUT")"; fi
    check "f: the container runs again" wait_until 20 running "$NAME_F"
    inspect_to "$NAME_F" "$LOGDIR/f-after.json"
    for f in image mounts ports labels devices; do
        same "f: same $f as before the failed boot" "$(field "$LOGDIR/f-after.json" $f)" "$(field "$LOGDIR/f-before.json" $f)"
    done
    same "f: the .env secret is back" "$(urun podman exec "$NAME_F" sh -c 'echo "$F_SECRET"' 2>&1)" f4iled-boot
    mlenv_in "$PF" rm -f
    end_scenario "$NAME_F"
fi
[[ -f $ROOT/etc/cdi-mlenv-test.json.aside ]] && mv "$ROOT/etc/cdi-mlenv-test.json.aside" "$ROOT/etc/cdi/mlenv-test.json"

launcher=$LAUNCHER_PID
stop_machine
left=$(leftover_procs)
same "the machine shut down and left no process behind" "$(kill -0 "$launcher" 2>/dev/null && echo "launcher $launcher ")$left" ""
changed=""
while read -r s v; do
    [[ $(cat "/proc/sys/$s") == "$v" ]] || changed+="$s=$(cat "/proc/sys/$s") (was $v) "
done <"$SYSCTL_SAVED"
same "the host's ${SYSCTLS[*]} are as before" "$changed" ""
summary_and_exit
