#!/usr/bin/env bash
# Warm-path benchmark: mlenv against the podman CLI doing the same job, side by side in one
# run, on one running container. Run as a user with a rootless podman service:
#
#     tests/bench.sh [PATH/TO/mlenv]      (tests/run runs it as the test user)
#
# Pairs (the goal in brackets: mlenv's median / the CLI's):
#   up      mlenv up (already running)  vs  podman container exists + podman start   [<= 0.5]
#   status  mlenv status                vs  podman ps + podman inspect              [<= 0.5]
#   exec    mlenv exec -c true          vs  podman exec NAME true                   [<= 1.0]
# Prints a table of medians and ratios; exits 1 when a goal is missed.
set -euo pipefail

MLENV="${1:-mlenv}"
IMAGE="${MLENV_BENCH_IMAGE:-localhost/mlenv-test/busybox:latest}"
RUNS="${MLENV_BENCH_RUNS:-30}"
command -v hyperfine >/dev/null || { echo "bench.sh: hyperfine is not installed (apt-get install hyperfine)" >&2; exit 2; }

work=$(mktemp -d /tmp/mlenv-bench.XXXXXX)
export XDG_STATE_HOME="$work/state"
project="$work/bench project"
mkdir -p "$project"
cd "$project"
cleanup() { "$MLENV" -q rm -f >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

"$MLENV" -q up --image "$IMAGE"
name=$("$MLENV" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["name"])')

bench() { # label, mlenv command, podman command
    hyperfine -N --warmup 3 --runs "$RUNS" --style none \
        --export-json "$work/$1.json" -n mlenv "$2" -n podman "$3" >/dev/null
}
bench up "$MLENV -q up --image $IMAGE" "sh -c 'podman container exists $name && podman start $name'"
bench status "$MLENV status" "sh -c 'podman ps --filter name=$name >/dev/null && podman inspect $name >/dev/null'"
bench exec "$MLENV exec -c true" "podman exec $name true"

python3 - "$work" <<'PY'
import json, sys
goals = {"up": 0.5, "status": 0.5, "exec": 1.0}
missed = []
print(f"{'pair':<8}{'mlenv median':>14}{'podman median':>15}{'ratio':>8}{'goal':>7}")
for pair, goal in goals.items():
    r = {x["command"]: x for x in json.load(open(f"{sys.argv[1]}/{pair}.json"))["results"]}
    m, p = r["mlenv"]["median"], r["podman"]["median"]
    ratio = m / p
    print(f"{pair:<8}{m*1000:>12.1f}ms{p*1000:>13.1f}ms{ratio:>8.2f}{goal:>7.2f}")
    if ratio > goal:
        missed.append(pair)
if missed:
    print("goal missed for: " + ", ".join(missed))
    sys.exit(1)
print("all goals met")
PY
