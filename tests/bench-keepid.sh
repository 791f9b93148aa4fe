#!/usr/bin/env bash
# The first keep-id start of a multi-GB image, on native overlay (podman copies and chowns
# the whole image for the user's ID mapping) against fuse-overlayfs as overlay's mount
# program (it maps IDs itself: no copy), and what fuse-overlayfs costs afterwards: an
# import-heavy Python start. Run as root on a machine tests/setup-host.sh set up:
#
#     tests/bench-keepid.sh            # a 2 GiB image; MLENV_KEEPID_GIB=N for another size
#     MLENV_TEST_PODMAN=5 tests/bench-keepid.sh   # podman 5 (after tests/setup-podman5.sh)
#
# Prints one table; `mlenv doctor` and the first `mlenv up` quote what it measures.
# Uses the podman CLI of the test user (podman 4.3.1 here) with two stores: the user's
# own (native overlay) and a throwaway one with mount_program=fuse-overlayfs.
set -euo pipefail
# A failed start inside $(measure ...) must end the run, not be timed.
shopt -s inherit_errexit
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PODMAN_MAJOR="${MLENV_TEST_PODMAN:-4}"
if [[ $PODMAN_MAJOR == 5 ]]; then
    TEST_USER="${MLENV_TEST5_USER:-mlenvtest5}"
else
    TEST_USER="${MLENV_TEST_USER:-mlenvtest}"
fi
GIB="${MLENV_KEEPID_GIB:-2}"
CACHE="${MLENV_TEST_CACHE:-/var/cache/mlenv-test}"
SUITE="${MLENV_TEST_SUITE:-bookworm}"
uid=$(id -u "$TEST_USER")
[ "$(id -u)" -eq 0 ] || { echo "bench-keepid.sh: run as root" >&2; exit 2; }
[ -f "$CACHE/python-$SUITE.tar" ] || { echo "bench-keepid.sh: run tests/setup-host.sh first" >&2; exit 2; }

if [[ $PODMAN_MAJOR == 5 ]]; then
    as_user() { "$PWD/tests/podman5" "$@"; }
else
    as_user() { runuser -u "$TEST_USER" -- env XDG_RUNTIME_DIR="/run/user/$uid" HOME="$(getent passwd "$TEST_USER" | cut -d: -f6)" "$@"; }
fi
now() { date +%s.%N; }
secs() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$2"; }
used() { as_user df -B1 --output=used "$1" | tail -1; }
gb() { python3 -c "import sys; print(f'{int(sys.argv[1]) / 2**30:.2f}')" "$1"; }

# fuse-overlayfs opens /dev/fuse as the user (mode 0600 on these machines, 0666 on most).
chmod 0666 /dev/fuse

# The image: the python test image plus GIB GiB of 1 MiB files (NGC images hold hundreds of
# thousands of files; the copy's cost is per byte and per file).
TAR="$CACHE/keepid-$GIB.tar"
if [[ ! -f $TAR ]]; then
    root=$(mktemp -d "$CACHE/keepid-root.XXXXXX")
    tar --numeric-owner -C "$root" -xf "$CACHE/python-$SUITE.tar"
    mkdir -p "$root/data"
    for i in $(seq 1 $((GIB * 1024))); do
        head -c 1048576 /dev/urandom >"$root/data/f$i"
    done
    tar --numeric-owner -C "$root" -cf "$TAR.tmp" .
    rm -rf "$root"
    mv "$TAR.tmp" "$TAR"
fi
IMAGE=localhost/mlenv-test/keepid-bench:latest
CMD='import time; t = time.perf_counter()
import asyncio, decimal, email.mime.multipart, http.server, json, logging.handlers, sqlite3
import unittest, xml.etree.ElementTree, urllib.request, multiprocessing, concurrent.futures
import argparse, csv, ssl, tarfile, zipfile, pydoc, difflib, statistics
print(f"{time.perf_counter() - t:.4f}")'

# One store: FLAGS... are the podman global flags that select it.
measure() {
    local label=$1
    shift
    local p=(podman "$@")
    as_user "${p[@]}" rmi -f "$IMAGE" >/dev/null 2>&1 || true
    as_user "${p[@]}" import --quiet - "$IMAGE" <"$TAR" >/dev/null
    local graph
    graph=$(as_user "${p[@]}" info --format '{{.Store.GraphRoot}}')
    local before t0 t1 t2 t3 after
    before=$(used "$graph")
    t0=$(now)
    as_user "${p[@]}" run --rm --network=none --userns=keep-id --entrypoint /bin/true "$IMAGE"
    t1=$(now)
    after=$(used "$graph")
    as_user "${p[@]}" run --rm --network=none --userns=keep-id --entrypoint /bin/true "$IMAGE"
    t2=$(now)
    as_user "${p[@]}" run --rm --network=none --entrypoint /bin/true "$IMAGE"
    t3=$(now)
    # Import-heavy starts: a fresh interpreter each time, in one container; the median of 9.
    local name="keepid-bench-$label"
    as_user "${p[@]}" rm -f "$name" >/dev/null 2>&1 || true
    as_user "${p[@]}" run -d --name "$name" --network=none --userns=keep-id --entrypoint /bin/sh "$IMAGE" -c 'sleep 600' >/dev/null
    for _ in $(seq 50); do as_user "${p[@]}" exec "$name" true 2>/dev/null && break; sleep 0.2; done
    local times=()
    for _ in $(seq 9); do
        times+=("$(as_user "${p[@]}" exec "$name" python3 -c "$CMD")")
    done
    as_user "${p[@]}" rm -f -t 0 "$name" >/dev/null
    local median
    median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 5p)
    printf '%s %s %s %s %s %s\n' "$label" "$(secs "$t0" "$t1")" "$(secs "$t1" "$t2")" "$(secs "$t2" "$t3")" "$(gb $((after - before)))" "$median"
    as_user "${p[@]}" rmi -f "$IMAGE" >/dev/null
}

# In /tmp, which podman 5's mount namespace shares with the host.
FUSE_ROOT=/tmp/mlenv-keepid-fuse-$uid
rm -rf "$FUSE_ROOT"
# 0755: the container's root (a subordinate uid) must traverse to the store's mounts.
install -d -o "$TEST_USER" -m 0755 "$FUSE_ROOT"
fuse=(--root "$FUSE_ROOT/root" --runroot "/run/user/$uid/keepid-fuse"
    --storage-driver overlay --storage-opt overlay.mount_program=/usr/bin/fuse-overlayfs)
shifting=$(as_user podman "${fuse[@]}" info --format '{{index .Store.GraphStatus "Supports shifting"}}' 2>/dev/null || true)

native_row=$(measure native)
fuse_row=$(measure fuse "${fuse[@]}")
# Removes the store: its overlay folder is still mounted in the user's rootless mount
# namespace, so from in there. Never `podman system reset`: it ends the user's pause process,
# and the running service then sees none of its containers' network namespaces.
as_user podman "${fuse[@]}" unshare sh -c "umount -l '$FUSE_ROOT/root/overlay' 2>/dev/null; rm -rf '$FUSE_ROOT/root'" || true
rm -rf "$FUSE_ROOT"

read -r _ n_first n_second n_plain n_disk n_import <<<"$native_row"
read -r _ f_first f_second f_plain f_disk f_import <<<"$fuse_row"
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$1" "$2"; }
echo
echo "keep-id on a $GIB GiB image, podman $(as_user podman version --format '{{.Client.Version}}'), one run (fuse-overlayfs store: Supports shifting=${shifting:-?})"
echo
echo "| | native overlay | fuse-overlayfs | fuse / native |"
echo "|---|---|---|---|"
echo "| first keep-id start (s) | $n_first | $f_first | $(ratio "$f_first" "$n_first") |"
echo "| second keep-id start (s) | $n_second | $f_second | $(ratio "$f_second" "$n_second") |"
echo "| start without keep-id (s) | $n_plain | $f_plain | $(ratio "$f_plain" "$n_plain") |"
echo "| disk added by the first keep-id start (GiB) | $n_disk | $f_disk | |"
echo "| import-heavy python start, median of 9 (s) | $n_import | $f_import | $(ratio "$f_import" "$n_import") |"
