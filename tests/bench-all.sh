#!/usr/bin/env bash
# The warm-path benchmark (tests/bench.sh) on every podman the tests run, as root:
#
#     tests/bench-all.sh PATH/TO/mlenv
#
# Podman 4.3.1 as the test user (tests/setup-host.sh), and podman 5 in its trixie rootfs as
# its own test user when tests/setup-podman5.sh has set it up. Each run compares mlenv with
# that podman's own CLI, side by side in one run; one table of ratios at the end. Exits 1
# when a goal is missed on any of them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
here=$PWD
MLENV=${1:?usage: tests/bench-all.sh PATH/TO/mlenv}
TEST_USER="${MLENV_TEST_USER:-mlenvtest}"

dir=$(mktemp -d /tmp/mlenv-bench-bin.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cp "$MLENV" "$dir/mlenv"
cp tests/bench.sh "$dir/"
results=$dir/results.tsv
: >"$results"
chmod -R a+rwX "$dir"
status=0

uid=$(id -u "$TEST_USER")
(cd "$dir" && runuser -u "$TEST_USER" -- env -i PATH=/usr/local/bin:/usr/bin:/bin \
    HOME="$(getent passwd "$TEST_USER" | cut -d: -f6)" XDG_RUNTIME_DIR="/run/user/$uid" \
    MLENV_BENCH_RESULTS="$results" bash "$dir/bench.sh" "$dir/mlenv") || status=1

if tests/podman5 true 2>/dev/null; then
    (cd "$dir" && "$here/tests/podman5" env MLENV_BENCH_RESULTS="$results" \
        bash "$dir/bench.sh" "$dir/mlenv") || status=1
else
    echo "bench-all.sh: no podman 5 sandbox (tests/setup-podman5.sh): podman 4 only"
fi

echo
echo "==== benchmark, every podman (medians in ms; ratio = mlenv / the other side)"
python3 - "$results" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
versions = list(dict.fromkeys(r[0] for r in rows))
pairs = list(dict.fromkeys(r[1] for r in rows))
by = {(r[0], r[1]): r for r in rows}
head = f"{'pair':<10}{'goal':>6}" + "".join(f"{'podman ' + v:>30}" for v in versions)
print(head)
for pair in pairs:
    goal = next(by[(v, pair)][5] for v in versions if (v, pair) in by)
    line = f"{pair:<10}{goal:>6}"
    for v in versions:
        r = by.get((v, pair))
        line += f"{(f'{r[2]} / {r[3]} = {r[4]}' if r else '-'):>30}"
    print(line)
PY
exit "$status"
