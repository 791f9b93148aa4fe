#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for the tests of `mlenv export slurm`:
# munged, slurmctld and slurmd (Debian 12's slurm-wlm 22.05), one node named after
# `hostname -s` in one default partition `debug`. Run as root (tests/setup-host.sh
# calls it):
#
#     sudo tests/setup-slurm.sh
#
# Idempotent: a rerun skips apt, keeps the munge key, rewrites slurm.conf only when it
# changed (and then restarts the daemons), starts only the daemons that are not
# running, and resumes the node if it is down or drained. Rerun it after a reboot.
#
# Quirks of the test machines that shape this script:
#  - No systemd (PID 1 is not systemd) and a policy-rc.d that forbids starting
#    services from apt: the daemons are started here, by hand, in the background,
#    logging under /var/log/slurm (and munged under /var/log/munge).
#  - Hybrid cgroups v1+v2: no cgroup plugin at all (proctrack/linuxproc, task/none,
#    jobacct_gather/none), so Slurm enforces no memory or CPU limit here.
#  - No GPU: no GresTypes/Gres. With no gres configured, `sbatch --gres=gpu:N` (N >= 1,
#    and plain `--gres=gpu`, and `--gpus=N`) is refused at submission, exit 1, "sbatch:
#    error: Invalid generic resource (gres) specification"; `--gres=gpu:0` and `--gpus=0`
#    are accepted and the job runs. So a test omits --gres (or asks for gpu:0) here.
#  - EnforcePartLimits=ALL: a job asking for more than the node has (`-c 4` on 2 CPUs)
#    is refused at submission ("More processors requested than permitted") instead of
#    pending forever with Reason=PartitionConfig; `--mem` above RealMemory is refused
#    ("Memory specification can not be satisfied") either way.
#  - Proctrack/linuxproc does not follow conmon (it daemonizes): `scancel` kills the
#    `podman run` client of a job but leaves its container running, unless the batch
#    script traps TERM and stops the container itself.
#  - select/cons_tres with CR_Core: several test jobs may share the node (the tests
#    run in parallel, one core each by default); memory is not a consumable resource.
#
# Environment overrides:
#   MLENV_TEST_USER  the test user whose jobs are checked at the end (default mlenvtest)
set -euo pipefail

TEST_USER="${MLENV_TEST_USER:-mlenvtest}"
CONF=/etc/slurm/slurm.conf
LOGDIR=/var/log/slurm
NODE=$(hostname -s)

log() { printf '== %s\n' "$*"; }
die() { printf 'setup-slurm.sh: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root"
T0=$SECONDS

# ---------------------------------------------------------------- packages --
PACKAGES=(slurmctld slurmd slurm-client munge)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # The packages' postinst scripts start their daemons through invoke-rc.d (init.d
    # scripts, no systemd here). Forbid that for this install, as the test machines'
    # own policy-rc.d does, so that the daemons are only ever started below.
    own_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 0755 /usr/sbin/policy-rc.d
        own_policy=1
    fi
    rc=0
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null; } || rc=$?
    if ((own_policy)); then rm -f /usr/sbin/policy-rc.d; fi
    ((rc == 0)) || die "apt-get install ${PACKAGES[*]} failed"
else
    log "slurm and munge already installed"
fi

# ------------------------------------------------------------------- munge --
# The package's postinst makes a key; make one if it did not (or it was removed).
if [[ ! -s /etc/munge/munge.key ]]; then
    log "creating the munge key"
    install -d -o munge -g munge -m 0700 /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge

munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }
if munge_ok; then
    log "munged answers"
else
    log "starting munged"
    rm -f /run/munge/munged.pid /run/munge/munge.socket.2*
    # munged daemonizes itself; run it as munge, like munge.service does.
    (cd / && runuser -u munge -- /usr/sbin/munged </dev/null >>/var/log/munge/munged.out 2>&1)
    for _ in $(seq 1 50); do munge_ok && break; sleep 0.1; done
    munge_ok || die "munged does not answer; see /var/log/munge/munged.log"
fi

# -------------------------------------------------------------- slurm.conf --
CPUS=$(nproc)
MEM_MB=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
# A bit below MemTotal: slurmd drains a node whose RealMemory is above what it finds.
REAL_MB=$((MEM_MB - MEM_MB / 20))
SLURM_CONF="# Written by mlenv tests/setup-slurm.sh - see the header there for why.
ClusterName=mlenvtest
SlurmctldHost=$NODE
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
SlurmUser=slurm
SlurmdUser=root
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOGDIR/slurmctld.log
SlurmdLogFile=$LOGDIR/slurmd.log
# No cgroups (hybrid v1+v2, no systemd): nothing is confined or accounted.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
# Refuse at submission a job the node can never run (e.g. -c above its CPUs) instead of
# leaving it pending forever (Reason=PartitionConfig).
EnforcePartLimits=ALL
# No mail on this machine; the default /bin/mail is absent.
MailProg=/bin/true
# Quick turnaround for tests.
SchedulerParameters=sched_interval=1
MessageTimeout=20
InactiveLimit=0
# Slurm's default: what a cancelled job's trap gets before every process of it is killed
# (5 s was too short for podman's stop and removal on a loaded machine).
KillWait=30
MinJobAge=300
SlurmctldTimeout=30
SlurmdTimeout=60
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$REAL_MB State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP"

CONF_CHANGED=0
if [[ ! -f $CONF ]] || [[ "$(cat "$CONF")" != "$SLURM_CONF" ]]; then
    install -d -m 0755 /etc/slurm
    printf '%s\n' "$SLURM_CONF" >"$CONF.tmp.$$"
    chmod 0644 "$CONF.tmp.$$"
    mv -f "$CONF.tmp.$$" "$CONF"
    log "wrote $CONF"
    CONF_CHANGED=1
fi
install -d -o slurm -g slurm -m 0755 "$LOGDIR" /var/lib/slurm/slurmctld
install -d -o root -g root -m 0755 /var/lib/slurm/slurmd

# ----------------------------------------------------------------- daemons --
# running PIDFILE: the pid in PIDFILE is alive.
running() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
stop() {
    local pidfile=$1 pid
    running "$pidfile" || return 0
    pid=$(cat "$pidfile")
    kill "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    die "$(basename "$pidfile" .pid) (pid $pid) did not stop"
}
if ((CONF_CHANGED)); then
    stop /run/slurmd.pid
    stop /run/slurmctld.pid
fi

# -D: stay in the foreground (of setsid, so that it outlives this script and holds
# none of its file descriptors); logs go to the log files of slurm.conf.
if running /run/slurmctld.pid; then
    log "slurmctld running"
else
    log "starting slurmctld"
    (cd / && exec setsid /usr/sbin/slurmctld -D >>"$LOGDIR/slurmctld.out" 2>&1 </dev/null) &
fi
for _ in $(seq 1 100); do scontrol ping 2>/dev/null | grep -q 'is UP' && break; sleep 0.2; done
scontrol ping | grep -q 'is UP' || die "slurmctld does not answer; see $LOGDIR/slurmctld.log"

if running /run/slurmd.pid; then
    log "slurmd running"
else
    log "starting slurmd"
    (cd / && exec setsid /usr/sbin/slurmd -D >>"$LOGDIR/slurmd.out" 2>&1 </dev/null) &
fi

# ------------------------------------------------------------- node state --
node_state() { sinfo -h -N -n "$NODE" -o '%T' 2>/dev/null | head -n 1; }
state=""
for i in $(seq 1 150); do
    state=$(node_state)
    case $state in
    idle | mixed | allocated | completing) break ;;
    down* | drain* | fail*)
        # Left down by an earlier run (e.g. the daemons died at a reboot).
        if ((i % 10 == 1)); then scontrol update NodeName="$NODE" State=RESUME 2>/dev/null || true; fi ;;
    esac
    sleep 0.2
done
case $state in
idle | mixed | allocated | completing) log "node $NODE is $state" ;;
*) die "node $NODE is '${state:-unknown}', not idle; see $LOGDIR/slurmd.log and $LOGDIR/slurmctld.log
$(scontrol show node "$NODE" 2>&1 | grep -E 'State|Reason')" ;;
esac

# ------------------------------------------------------------------- check --
# A trivial job as the test user, through the whole path (sbatch, slurmctld, slurmd,
# munge, the step running as the user). Polled with scontrol: `sbatch --wait` works too
# but polls with a growing interval, which makes a 1 s job take up to 10 s.
if id "$TEST_USER" >/dev/null 2>&1; then
    out=$(runuser -u "$TEST_USER" -- mktemp /tmp/mlenv-slurm-check.XXXXXX)
    # shellcheck disable=SC2016 # $(id -un) runs in the job
    job=$(cd / && runuser -u "$TEST_USER" -- sbatch --parsable --output="$out" \
        --job-name=mlenv-setup-check --time=1 --wrap 'echo "slurm ok as $(id -un)"') ||
        die "sbatch as $TEST_USER failed"
    state=""
    for _ in $(seq 1 300); do
        state=$(scontrol show job -o "$job" 2>/dev/null | grep -o 'JobState=[A-Z_]*' || true)
        case ${state#JobState=} in
        PENDING | CONFIGURING | RUNNING | COMPLETING | "") sleep 0.2 ;;
        *) break ;;
        esac
    done
    [[ $state == JobState=COMPLETED ]] ||
        die "the check job $job of $TEST_USER: ${state:-no state}; output: $(cat "$out" 2>/dev/null)"
    grep -q "slurm ok as $TEST_USER" "$out" || die "unexpected output of the check job: $(cat "$out")"
    rm -f "$out"
    log "a job of $TEST_USER ran"
fi

echo "slurm ready in $((SECONDS - T0))s: node $NODE ($CPUS CPUs, ${REAL_MB} MB), partition debug, logs in $LOGDIR"
