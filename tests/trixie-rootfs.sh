#!/usr/bin/env bash
# A Debian trixie root filesystem with rootless podman 5 and systemd, for the tests that run
# the podman users run (Fedora/RHEL ship 5.x; this machine's Debian 12 has 4.3.1):
#
#     tests/trixie-rootfs.sh DEST
#
# DEST gets a fresh copy (an existing DEST is left alone: delete it to rebuild). The
# debootstrap itself runs once and is cached as a tarball under MLENV_TEST_CACHE; a change
# to the package list below makes a new one. Used by tests/setup-podman5.sh (rootless
# podman 5 in a private mount namespace) and tests/reboot.sh (a systemd machine under
# systemd-nspawn), each with its own copy. Run as root.
#
# The packages: podman 5 and what it runs rootless (runc: hybrid cgroups refuse crun;
# passt: podman 5's default network; slirp4netns, fuse-overlayfs, catatonit, netavark,
# aardvark-dns, nftables: `podman kube play` pod networks), the tools the integration tests
# call (python3, curl, chromium for the browser tests, jsonschema/yaml for the CDI checks),
# hyperfine for the benchmark, and systemd with a user session for the reboot machine.
set -euo pipefail

DEST=${1:?usage: tests/trixie-rootfs.sh DEST}
CACHE="${MLENV_TEST_CACHE:-/var/cache/mlenv-test}"
SUITE=trixie
PACKAGES=podman,runc,crun,conmon,uidmap,passt,slirp4netns,fuse-overlayfs,catatonit
PACKAGES+=,containers-storage,netavark,aardvark-dns,nftables,iptables,ca-certificates,curl
PACKAGES+=,iproute2,procps,busybox-static,util-linux,bash,python3,python3-venv,python3-pip
PACKAGES+=,python3-yaml,python3-jsonschema,chromium,fonts-dejavu-core
PACKAGES+=,systemd,systemd-sysv,dbus,dbus-user-session,libpam-systemd,systemd-container
PACKAGES+=,login,passwd,kmod,hyperfine

log() { printf '== %s\n' "$*"; }
die() { printf 'trixie-rootfs.sh: %s\n' "$*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "must run as root"

if [[ -e $DEST/usr/bin/podman ]]; then
    log "trixie rootfs present in $DEST"
    exit 0
fi

# The mirror this machine's apt uses (never a host written into the repo).
apt_mirror() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        awk '/^URIs:/ {print $2; exit}' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] || continue
        sed -E 's/\[[^]]*\]//' "$f" | awk '$1=="deb" {print $2; exit}'
    done
}
MIRROR="${MLENV_TEST_MIRROR:-$(apt_mirror | grep -v security | head -n1)}"
[[ -n $MIRROR ]] || die "no Debian mirror in the apt sources; set MLENV_TEST_MIRROR"

key=$(printf '%s %s' "$SUITE" "$PACKAGES" | sha256sum | cut -c1-12)
TARBALL=$CACHE/trixie-$key.tar
mkdir -p "$CACHE"
if [[ ! -f $TARBALL ]]; then
    tmp=$(mktemp -d "$CACHE/trixie-root.XXXXXX")
    log "debootstrap $SUITE from $MIRROR into a cache (1-3 minutes)"
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$tmp" "$MIRROR" \
        >"$CACHE/debootstrap-trixie.log" 2>&1 ||
        { tail -n 30 "$CACHE/debootstrap-trixie.log" >&2; rm -rf "$tmp"; die "debootstrap failed"; }
    rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/*
    # mktemp made it 0700, and the tarball's top entry carries that mode.
    chmod 0755 "$tmp"
    tar --numeric-owner --xattrs -C "$tmp" -cf "$TARBALL.tmp" .
    mv -f "$TARBALL.tmp" "$TARBALL"
    rm -rf "$tmp"
fi
log "unpacking the trixie rootfs into $DEST"
mkdir -p "$DEST"
tar --numeric-owner --xattrs -C "$DEST" -xf "$TARBALL"
chmod 0755 "$DEST"
# debootstrap writes no hosts file: without one, localhost:5000 pulls fail.
cp /etc/hosts "$DEST/etc/hosts"
cp -L /etc/resolv.conf "$DEST/etc/resolv.conf" 2>/dev/null || true
log "trixie rootfs ready: podman $(chroot "$DEST" dpkg-query -W -f='${Version}' podman)"
