#!/usr/bin/env bash
# The check to run on a machine with a real NVIDIA GPU (there is none in CI). In a few minutes:
#
#   1. what the host says: /proc/driver/nvidia/version, the device nodes, nvidia-smi -L;
#   2. `mlenv gpu setup --print`: driver discovery and spec generation, without nvidia-ctk;
#   3. the generated spec against the CDI JSON schema (python3 + jsonschema + yaml, if present)
#      and against mlenv's own reader (`mlenv gpu list` on a spec dir holding only it);
#   4. where podman is installed: the spec where podman reads it, then a container with
#      --device nvidia.com/gpu=0 running nvidia-smi, found through /usr/local/nvidia/lib64
#      as in NGC images.
#
#     tests/gpu-machine.sh              # report in ./gpu-machine-report, or in $OUT
#     MLENV=path/to/mlenv tests/gpu-machine.sh
#
# Each step prints PASS, FAIL or SKIP (with the reason); the exit code is the number of FAILs.
# GPU_ROOT=DIR runs steps 1-3 on a fixture tree instead of the host (how it is tried in CI).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

OUT=${OUT:-$PWD/gpu-machine-report}
ROOT=${GPU_ROOT:-/}
mkdir -p "$OUT"
fails=0
pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
skip() { echo "SKIP $*"; }
have() { command -v "$1" >/dev/null 2>&1; }

MLENV=${MLENV:-}
for candidate in target/release/mlenv target/debug/mlenv; do
    [ -z "$MLENV" ] && [ -x "$candidate" ] && MLENV=$PWD/$candidate
done
if [ -z "$MLENV" ] && have cargo; then
    cargo build --release -p mlenv >"$OUT/build.log" 2>&1 && MLENV=$PWD/target/release/mlenv
fi
[ -n "$MLENV" ] || { fail "no mlenv binary (build one, or set MLENV)"; exit 1; }
echo "mlenv: $MLENV ($("$MLENV" --version))"

echo "== 1. the host"
{
    cat "${ROOT%/}/proc/driver/nvidia/version" 2>&1
    ls -l "${ROOT%/}"/dev/nvidia* 2>&1
    [ "$ROOT" = / ] && have nvidia-smi && nvidia-smi -L 2>&1
} | tee "$OUT/host.txt"

echo "== 2. discovery and generation"
if "$MLENV" -v gpu setup --root "$ROOT" --print >"$OUT/nvidia.yaml" 2>"$OUT/setup.log"; then
    pass "mlenv gpu setup --print ($(grep -c 'name:' "$OUT/nvidia.yaml") devices)"
else
    fail "mlenv gpu setup --print: $(tail -3 "$OUT/setup.log")"
fi
cat "$OUT/setup.log"

echo "== 3. the spec against the CDI schema"
if python3 -c 'import jsonschema, yaml' 2>/dev/null; then
    if python3 - "$OUT/nvidia.yaml" cdi/tests/fixtures/upstream >"$OUT/schema.txt" 2>&1 <<'EOF'
import json, pathlib, sys
import jsonschema, yaml
spec = yaml.safe_load(open(sys.argv[1]))
base = pathlib.Path(sys.argv[2])
schema = json.loads((base / "schema.json").read_text())
defs = json.loads((base / "defs.json").read_text())
store = {"defs.json": defs, "schema.json": schema}
resolver = jsonschema.RefResolver(base_uri="", referrer=schema, store=store)
jsonschema.validate(spec, schema, resolver=resolver)
print("valid")
EOF
    then pass "schema"; else fail "schema: $(tail -3 "$OUT/schema.txt")"; fi
else
    skip "schema: python3 with jsonschema and yaml is not installed"
fi
solo=$(mktemp -d)
cp "$OUT/nvidia.yaml" "$solo/nvidia.yaml"
if MLENV_CDI_SPEC_DIRS="$solo" "$MLENV" gpu list >"$OUT/list.txt" 2>&1 \
    && grep -q 'nvidia.com/gpu=all' "$OUT/list.txt"; then
    pass "mlenv reads the spec back"
else
    fail "mlenv gpu list on the spec: $(tail -3 "$OUT/list.txt")"
fi
rm -rf "$solo"

echo "== 4. a container with --device nvidia.com/gpu=0"
if [ "$ROOT" != / ]; then
    skip "podman: a fixture root has no real GPU"
elif ! have podman; then
    skip "podman is not installed"
elif [ "$(id -u)" -ne 0 ] && [ ! -w /var/run/cdi ]; then
    skip "podman: writing to /var/run/cdi needs root"
else
    mkdir -p /var/run/cdi
    installed=/var/run/cdi/mlenv-gpu-check.yaml
    if ls /etc/cdi/*.yaml /etc/cdi/*.json /var/run/cdi/*.yaml /var/run/cdi/*.json 2>/dev/null \
        | xargs -r grep -l 'nvidia.com/gpu' 2>/dev/null | grep -q .; then
        echo "an NVIDIA spec is installed already; using it (mlenv's is in $OUT/nvidia.yaml)"
        installed=
    else
        cp "$OUT/nvidia.yaml" "$installed"
    fi
    # A minimal root file system: the shell and what nvidia-smi links against. nvidia-smi
    # itself and the driver libraries come from the spec's mounts.
    rootfs=$(mktemp -d)
    mkdir -p "$rootfs"/{bin,usr/bin,proc,sys,dev,tmp,etc}
    cp /bin/sh "$rootfs/bin/sh"
    for lib in $(ldd /bin/sh /usr/bin/nvidia-smi 2>/dev/null | grep -o '/[^ ]*\.so[^ ]*' | sort -u); do
        mkdir -p "$rootfs$(dirname "$lib")" && cp -L "$lib" "$rootfs$lib"
    done
    if timeout 120 podman run --rm --rootfs "$rootfs" --device nvidia.com/gpu=0 \
        -e LD_LIBRARY_PATH=/usr/local/nvidia/lib64 /usr/bin/nvidia-smi \
        >"$OUT/container.txt" 2>&1; then
        pass "nvidia-smi in a container"
    else
        fail "nvidia-smi in a container: $(tail -5 "$OUT/container.txt")"
    fi
    cat "$OUT/container.txt"
    [ -n "$installed" ] && rm -f "$installed"
    rm -rf "$rootfs"
fi

echo "== $fails failure(s); report in $OUT"
exit "$fails"
