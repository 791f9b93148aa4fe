#!/usr/bin/env bash
# Warm-path benchmark: mlenv against the podman CLI doing the same job, side by side in one
# run, on one running container. Run as a user with a rootless podman service:
#
#     tests/bench.sh [PATH/TO/mlenv]      (tests/run runs it as the test user)
#
# The pairs (the goal in brackets: the first one's median / the second's). "A" is a busybox
# environment made with every flag (a CDI device, a port, memory, cpus, an env file); "T" one
# whose settings come from mlenv.toml and the user's config.toml; "P" a python one with a
# 50-line requirements file:
#   up        warm mlenv up, no flags (A)     vs  podman container exists + start     [<= 0.1]
#   up-flags  warm mlenv up, every flag again (A)                 vs  the same pair   [<= 0.1]
#   up-toml   warm mlenv up, settings from mlenv.toml + config.toml (T)  vs  the same [<= 0.1]
#   up-req    warm mlenv up with its requirements file (P)        vs  the same pair   [<= 0.1]
#   status    mlenv status (A)                vs  podman ps + podman inspect          [<= 0.1]
#   exec      mlenv exec -c true (A)          vs  podman exec NAME true               [<= 0.8]
#   cold      mlenv rm -f + mlenv up with A's flags
#             vs  podman rm -f + podman run -d with the same image, binds, keep-id,
#             device, port, limits and env file                                       [<= 1.1]
#   req       warm mlenv up with an unchanged 50-line requirements file (alternating runs,
#             timed from python: both sides carry the same spawn cost)
#             vs  warm mlenv up without one (P)                                       [<= 1.1]
#   reinst    rm + up with unchanged requirements (packages kept, no pip)
#             vs  rm + up with the packages gone (the first install)                  [report]
# The CDI device is the made-up vendor of tests/setup-host.sh (MLENV_BENCH_GPU overrides;
# `none` where a machine has no such spec).
set -euo pipefail

MLENV="${1:-mlenv}"
IMAGE="${MLENV_BENCH_IMAGE:-localhost/mlenv-test/busybox:latest}"
PY_IMAGE="${MLENV_BENCH_PY_IMAGE:-localhost/mlenv-test/python:latest}"
RUNS="${MLENV_BENCH_RUNS:-30}"
command -v hyperfine >/dev/null || { echo "bench.sh: hyperfine is not installed (apt-get install hyperfine)" >&2; exit 2; }

work=$(mktemp -d /tmp/mlenv-bench.XXXXXX)
# Not XDG_DATA_HOME: the podman CLI keeps its storage under it too.
export XDG_STATE_HOME="$work/state"
project="$work/bench project"
mkdir -p "$project"
cd "$project"
data_dirs=()
cleanups=()
cleanup() {
    "$MLENV" -q -C "$project" rm -f >/dev/null 2>&1 || true
    env XDG_CONFIG_HOME="$work/config" "$MLENV" -q -C "$work/toml-project" rm -f >/dev/null 2>&1 || true
    for c in ${cleanups[@]+"${cleanups[@]}"}; do $c >/dev/null 2>&1 || true; done
    "$MLENV" -q -C "$work/py-project" rm -f >/dev/null 2>&1 || true
    rm -rf "$work" ${data_dirs[@]+"${data_dirs[@]}"}
}
trap cleanup EXIT

# One side of a pair: hyperfine's runs of one command, into $work/LABEL.SIDE.json.
side() { # label, side, command
    hyperfine -N --warmup 3 --runs "$RUNS" --style none \
        --export-json "$work/$1.$2.json" -n "$2" "$3" >/dev/null 2>"$work/$1.$2.err"
}
# A pair, side by side in this run (hyperfine runs two commands one after the other too;
# one at a time, a failure says whose it is).
bench() { # label, mlenv command, podman command
    if ! side "$1" mlenv "$2"; then
        echo "bench.sh: mlenv fails in the $1 pair: $2" >&2
        tail -n 3 "$work/$1.mlenv.err" >&2
        sh -c "$2" >&2 || true
        exit 1
    fi
    # The baseline can fail on its own: podman 5.4's CLI `exec` once exited 255 after a
    # session its events show exiting 0 (we could not make it happen in 60 tries). One more
    # try, said aloud; a second failure fails the benchmark.
    if ! side "$1" podman "$3"; then
        echo "bench.sh: podman's side of the $1 pair failed once ($(tail -n 1 "$work/$1.podman.err")); again" >&2
        side "$1" podman "$3" || {
            echo "bench.sh: podman fails in the $1 pair: $3" >&2
            sh -c "$3" >&2 || true
            exit 1
        }
    fi
    python3 -c 'import json, sys
out, a, b = sys.argv[1:]
json.dump({"results": [json.load(open(f))["results"][0] for f in (a, b)]}, open(out, "w"))' \
        "$work/$1.json" "$work/$1.mlenv.json" "$work/$1.podman.json"
}
# A free TCP port on the loopback, for a forwarded port nothing else uses.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
name_of() { # project dir
    "$MLENV" -C "$1" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["name"])'
}
# What "podman start" has to beat on a warm environment: is it there, make it run.
cli_up() { echo "sh -c 'podman container exists $1 && podman start $1 >/dev/null'"; }

GPU="${MLENV_BENCH_GPU:-}"
if [[ -z $GPU ]]; then
    GPU=none
    for d in /etc/cdi /var/run/cdi; do [[ -e $d/mlenv-test.json ]] && GPU=mlenv.test/dev=zero; done
fi
device=()
[[ $GPU != none ]] && device=(--device "$GPU")

# A: every flag.
printf 'BENCH_TOKEN=s3cr3t\nBENCH_MODE=warm path\n' >"$project/.env"
port_a=$(free_port)
flags="--image $IMAGE --gpu $GPU --port $port_a:80 --memory 1g --cpus 1 --env-file .env"
# shellcheck disable=SC2086 # the flags are words
"$MLENV" -q up $flags
name=$(name_of "$project")
data_dirs+=("${XDG_DATA_HOME:-$HOME/.local/share}/mlenv/$name")

# T: the same kinds of settings from the two config files.
toml="$work/toml-project"
mkdir -p "$toml" "$work/config/mlenv"
printf 'BENCH_TOKEN=t0ml\n' >"$toml/.env"
port_t=$(free_port)
printf 'image = "%s"\ngpus = "%s"\nports = ["%s:80"]\nenv-file = ".env"\n' "$IMAGE" "$GPU" "$port_t" >"$toml/mlenv.toml"
printf 'memory = "1g"\ncpus = 1\n' >"$work/config/mlenv/config.toml"
mlenv_t="env XDG_CONFIG_HOME=$work/config $MLENV -C $toml"
$mlenv_t -q up
name_t=$(name_of "$toml")
data_dirs+=("${XDG_DATA_HOME:-$HOME/.local/share}/mlenv/$name_t")

bench up "$MLENV -q up" "$(cli_up "$name")"
bench up-flags "$MLENV -q up $flags" "$(cli_up "$name")"
bench up-toml "$mlenv_t -q up" "$(cli_up "$name_t")"
bench status "$MLENV status" "sh -c 'podman ps --filter name=$name >/dev/null && podman inspect $name >/dev/null'"
bench exec "$MLENV exec -c true" "podman exec $name true"

# Cold: the podman side makes what `up` makes (binds of the project, the package and pip
# folders and the profile snippet; keep-id; the device; the port; limits; the env file;
# the same keep-alive entrypoint) under a name of its own. Each side is a script run by sh.
cold="mlenv-bench-cold-$$"
mkdir -p "$work/cold/python" "$work/cold/pip"
: >"$work/cold/profile.sh"
port_c=$(free_port)
cleanups+=("podman rm -f -t 0 $cold")
{
    printf 'cd %q || exit 1\n' "$project"
    printf '%q -q rm -f && %q -q up %s\n' "$MLENV" "$MLENV" "$flags"
} >"$work/cold-mlenv.sh"
{
    printf 'podman rm -f -t 0 %q >/dev/null 2>&1\n' "$cold"
    printf 'exec podman run -d --name %q --userns keep-id --shm-size 2g -w %q' "$cold" "$project"
    printf ' -v %q -v %q -v %q' "$project:$project" "$work/cold/python:/opt/mlenv/python" \
        "$work/cold/pip:/opt/mlenv/pip-cache"
    printf ' -v %q %s -p %q' "$work/cold/profile.sh:/etc/profile.d/zz-mlenv.sh:ro" "${device[*]}" \
        "127.0.0.1:$port_c:80"
    printf ' --memory 1g --cpus 1 --env-file %q --entrypoint /bin/sh %q' "$project/.env" "$IMAGE"
    printf ' -c %q >/dev/null\n' "trap 'exit 0' TERM INT; while :; do sleep 86400 & wait \$!; done"
} >"$work/cold-podman.sh"
bench cold "sh $work/cold-mlenv.sh" "sh $work/cold-podman.sh"

# Requirements: a 50-line file of tiny local wheels (no index is reachable).
py="$work/py-project"
mkdir -p "$py/wheels"
python3 - "$py/wheels" "$py/requirements.txt" <<'PY'
import sys, zipfile
wheels, req = sys.argv[1], sys.argv[2]
lines = ["--no-index", f"--find-links {wheels}"]
for i in range(48):
    name, ver = f"benchpkg{i}", "1.0"
    info = f"{name}-{ver}.dist-info"
    files = {f"{name}/__init__.py": f"VERSION = '{ver}'\n",
             f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {ver}\n",
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    with zipfile.ZipFile(f"{wheels}/{name}-{ver}-py3-none-any.whl", "w") as z:
        for path, text in files.items():
            z.writestr(path, text)
        z.writestr(f"{info}/RECORD", "".join(f"{p},,\n" for p in files) + f"{info}/RECORD,,\n")
    lines.append(f"{name}=={ver}")
open(req, "w").write("\n".join(lines) + "\n")
PY
cd "$py"
"$MLENV" -q up --image "$PY_IMAGE"
pyname=$("$MLENV" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["name"])')
data="${XDG_DATA_HOME:-$HOME/.local/share}/mlenv/$pyname"
data_dirs+=("$data")
bench up-req "$MLENV -q up" "$(cli_up "$pyname")"
# The two sides differ by well under a millisecond, less than the drift between two
# hyperfine blocks run one after the other; so this pair alternates its runs instead.
python3 - "$work/req.json" "$((RUNS * 10))" "$MLENV" <<'PY'
import json, statistics, subprocess, sys, time
out, runs, mlenv = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with_req = [mlenv, "-q", "up", "--requirements", "requirements.txt"]
without = [mlenv, "-q", "up", "--requirements", "none"]
times = {0: [], 1: []}
for i in range(runs):
    order = [(0, with_req), (1, without)] if i % 2 == 0 else [(1, without), (0, with_req)]
    for side, cmd in order:
        start = time.perf_counter()
        subprocess.run(cmd, check=True)
        times[side].append(time.perf_counter() - start)
json.dump({"results": [{"median": statistics.median(times[s])} for s in (0, 1)]}, open(out, "w"))
PY
hyperfine -N --runs 5 --style none --export-json "$work/reinst.json" \
    --prepare "$MLENV -q rm -f" -n kept "$MLENV -q up --image $PY_IMAGE" \
    --prepare "sh -c '$MLENV -q rm -f; rm -rf \"$data\"'" -n fresh "$MLENV -q up --image $PY_IMAGE" >/dev/null

version=$(podman version --format '{{.Client.Version}}')
python3 - "$work" "$version" "${MLENV_BENCH_RESULTS:-}" <<'PY'
import json, sys
version, results = sys.argv[2], sys.argv[3]
rows = []
goals = {"up": 0.1, "up-flags": 0.1, "up-toml": 0.1, "up-req": 0.1, "status": 0.1,
         "exec": 0.8, "cold": 1.1, "req": 1.1, "reinst": None}
# Both sides of `req` take about 3 ms and differ by a hash of one small file; even with
# alternating runs, a loaded machine can tip the ratio past 1.1, so a miss there is
# reported, not failed.
soft = {"req"}
missed, warned = [], []
print(f"podman {version}")
print(f"{'pair':<10}{'first median':>14}{'second median':>15}{'ratio':>8}{'goal':>7}")
for pair, goal in goals.items():
    first, second = json.load(open(f"{sys.argv[1]}/{pair}.json"))["results"]
    m, p = first["median"], second["median"]
    ratio = m / p
    shown = "-" if goal is None else f"{goal:.2f}"
    print(f"{pair:<10}{m*1000:>12.1f}ms{p*1000:>13.1f}ms{ratio:>8.2f}{shown:>7}")
    rows.append(f"{version}\t{pair}\t{m*1000:.1f}\t{p*1000:.1f}\t{ratio:.2f}\t{shown}\n")
    if goal is not None and ratio > goal:
        (warned if pair in soft else missed).append(pair)
if results:
    with open(results, "a") as f:
        f.writelines(rows)
if warned:
    print("within noise, over the goal this run: " + ", ".join(warned))
if missed:
    print("goal missed for: " + ", ".join(missed))
    sys.exit(1)
print("all goals met")
PY
