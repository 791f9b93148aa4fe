#!/usr/bin/env bash
# Builds a Debian package with dpkg-deb from a staged tree and checks it:
#
#     packaging/build-deb.sh        # -> target/packages/mlenv_VERSION-1_ARCH.deb
#
# The binary is this tree's release build (`cargo build --release --locked`, a no-op when
# tests/run has just built it for the benchmark), stripped; completions and man pages are the
# committed ones in packaging/ (tests/packaging.rs keeps them equal to what the binary
# generates). Depends: podman plus the libraries dpkg-shlibdeps finds the binary linked to.
# Checks: the file list, the control fields, and the binary extracted from the package runs
# and reports Cargo.toml's version.
#
# Needs: dpkg-dev (dpkg-shlibdeps), binutils (strip), cargo. tests/setup-host.sh installs them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
T0=$SECONDS
umask 022

die() { printf 'build-deb.sh: %s\n' "$*" >&2; exit 1; }
for tool in dpkg-deb dpkg-shlibdeps strip gzip cargo; do
    command -v "$tool" >/dev/null || die "$tool not found (Debian: apt-get install dpkg-dev binutils)"
done

id=$(cargo pkgid --offline -p mlenv)
version=${id##*[#@]}
# Debian sorts a pre-release before its release with '~'; -1: the first build of it.
deb_version=${version//-/\~}-1
arch=$(dpkg --print-architecture)
# Same package for the same tree: dpkg-deb clamps file times to this.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
target_dir=${CARGO_TARGET_DIR:-target}
out_dir=$target_dir/packages
mkdir -p "$out_dir"

echo "== release binary"
cargo build --release --locked -q -p mlenv
bin=$target_dir/release/mlenv

tmp=$(mktemp -d /tmp/mlenv-deb.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/mlenv_$deb_version
doc=$root/usr/share/doc/mlenv
install -d "$root/DEBIAN" "$root/usr/share/man/man1" "$doc"
install -D -m 0755 "$bin" "$root/usr/bin/mlenv"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/mlenv"
install -D -m 0644 packaging/completions/mlenv.bash "$root/usr/share/bash-completion/completions/mlenv"
install -D -m 0644 packaging/completions/_mlenv "$root/usr/share/zsh/vendor-completions/_mlenv"
install -D -m 0644 packaging/completions/mlenv.fish "$root/usr/share/fish/vendor_completions.d/mlenv.fish"
for page in packaging/man/*.1; do
    name=${page##*/}
    gzip -9n <"$page" >"$root/usr/share/man/man1/$name.gz"
done
chmod 0644 "$root"/usr/share/man/man1/*.gz
install -m 0644 README.md "$doc/README.md"
cat >"$doc/copyright" <<'EOF'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: mlenv

Files: *
Copyright: the mlenv developers
License: Apache-2.0
 On Debian systems, the full text of the Apache License, Version 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
EOF
chmod 0644 "$doc/copyright"

# dpkg-shlibdeps wants a debian/control beside it; a minimal one does.
mkdir -p "$tmp/shlibs/debian"
printf 'Source: mlenv\n\nPackage: mlenv\nArchitecture: any\n' >"$tmp/shlibs/debian/control"
shlibs=$(cd "$tmp/shlibs" && dpkg-shlibdeps -O "$root/usr/bin/mlenv")
shlibs=${shlibs#shlibs:Depends=}
[[ -n $shlibs ]] || die "dpkg-shlibdeps found no library dependencies"

# Recommends: rootless podman needs newuidmap (uidmap) and a network helper, which podman
# itself only recommends, so an install with --no-install-recommends lacks them.
cat >"$root/DEBIAN/control" <<EOF
Package: mlenv
Version: $deb_version
Architecture: $arch
Maintainer: mlenv developers <dev@mlenv.invalid>
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: $shlibs, podman
Recommends: uidmap, slirp4netns | passt
Section: devel
Priority: optional
Description: per-project GPU development containers on rootless Podman
 mlenv gives each machine-learning project its own development container on
 rootless Podman: GPUs through CDI, the project folder mounted, Python packages
 kept across re-creation, JupyterLab and TensorBoard on demand, and start at
 boot through systemd.
EOF

pkg=$out_dir/mlenv_${deb_version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$pkg" >/dev/null

echo "== checks: $pkg"
dpkg-deb -I "$pkg"
listing=$(dpkg-deb -c "$pkg")
echo "$listing"
want=(./usr/bin/mlenv
    ./usr/share/bash-completion/completions/mlenv
    ./usr/share/zsh/vendor-completions/_mlenv
    ./usr/share/fish/vendor_completions.d/mlenv.fish
    ./usr/share/doc/mlenv/copyright)
for page in packaging/man/*.1; do want+=("./usr/share/man/man1/$(basename "$page").gz"); done
for path in "${want[@]}"; do
    awk -v p="$path" '$NF == p { found = 1 } END { exit !found }' <<<"$listing" || die "$pkg lacks $path"
done
[[ $(awk '{ print $2 }' <<<"$listing" | sort -u) == root/root ]] || die "$pkg has files not owned by root"
[[ $(dpkg-deb -f "$pkg" Package) == mlenv ]] || die "Package field is not mlenv"
[[ $(dpkg-deb -f "$pkg" Version) == "$deb_version" ]] || die "Version field is not $deb_version"
[[ $(dpkg-deb -f "$pkg" Architecture) == "$arch" ]] || die "Architecture field is not $arch"
dpkg-deb -f "$pkg" Depends | tr ',' '\n' | grep -qx ' *podman' || die "$pkg does not depend on podman"

dpkg-deb -x "$pkg" "$tmp/extracted"
got=$("$tmp/extracted/usr/bin/mlenv" --version)
[[ $got == "mlenv $version" ]] || die "packaged binary says '$got', Cargo.toml says $version"
echo "packaged binary: $got"
echo "deb ok: $pkg ($(du -h "$pkg" | cut -f1), $((SECONDS - T0))s)"
