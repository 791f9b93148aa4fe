#!/usr/bin/env bash
# Builds the RPM from packaging/mlenv.spec the way a Fedora/RHEL build would, from two source
# tarballs and no network during the build, then checks the package:
#
#     packaging/build-rpm.sh        # -> target/packages/mlenv-VERSION-1.ARCH.rpm
#
#  - Source0: the tracked and untracked-but-not-ignored files (`git ls-files`) of this working
#    tree. Not `git archive HEAD`: in CI (a fresh clone) the two are the same, but a local run
#    then packages what is being tested, uncommitted edits included.
#  - Source1: `cargo vendor --locked` of the workspace's crates (the one step that needs
#    crates.io). The RPM's own build is `cargo build --frozen --offline` against it.
#  - rpmbuild --nodeps: on Debian, cargo and rustc come from rustup, not from rpm packages.
#  - Checks: the file list (binary, completions, every man page), `Requires: podman`, and the
#    binary from the package's payload runs and reports Cargo.toml's version.
#
# Needs: rpm (rpmbuild, rpm2cpio), cpio, git, xz, cargo. tests/setup-host.sh installs them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
T0=$SECONDS

die() { printf 'build-rpm.sh: %s\n' "$*" >&2; exit 1; }
for tool in rpmbuild rpm rpm2cpio cpio git xz cargo; do
    command -v "$tool" >/dev/null || die "$tool not found (Debian: apt-get install rpm cpio git xz-utils)"
done

id=$(cargo pkgid --offline -p mlenv)
version=${id##*[#@]}
# RPM versions may not contain '-'; a pre-release sorts before its release with '~'.
rpm_version=${version//-/\~}
out_dir=${CARGO_TARGET_DIR:-target}/packages
mkdir -p "$out_dir"
out_dir=$(cd "$out_dir" && pwd)

tmp=$(mktemp -d /tmp/mlenv-rpm.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
top=$tmp/rpmbuild
mkdir -p "$top/SOURCES" "$tmp/src"
# Same tarballs for the same tree: file times and order come from the last commit.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
tar_flags=(--sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner)

echo "== Source0: the source tree ($version)"
tree=$tmp/src/mlenv-$rpm_version
mkdir -p "$tree"
# Deleted-but-tracked files are listed by ls-files too: only copy those that exist.
git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [[ -e $f || -L $f ]] && printf '%s\0' "$f"; done |
    tar --null -T - -cf - | tar -xf - -C "$tree"
tar "${tar_flags[@]}" -C "$tmp/src" -czf "$top/SOURCES/mlenv-$rpm_version.tar.gz" "mlenv-$rpm_version"

echo "== Source1: cargo vendor --locked"
# From the unpacked tree, so the vendored crates are exactly what its Cargo.lock names. Its
# config snippet on stdout is not needed: the spec's %prep writes the same.
(cd "$tree" && cargo vendor --locked --quiet vendor >/dev/null)
tar "${tar_flags[@]}" -C "$tree" -cf - vendor |
    xz -T0 -6 >"$top/SOURCES/mlenv-$rpm_version-vendor.tar.xz"
ls -l "$top/SOURCES"

echo "== rpmbuild -bb (offline release build)"
# The build dir is under $tmp: none of this touches the working tree's target/.
env -u CARGO_TARGET_DIR rpmbuild -bb --nodeps \
    --define "_topdir $top" \
    --define "mlenv_version $rpm_version" \
    packaging/mlenv.spec
rpms=("$top"/RPMS/*/mlenv-"$rpm_version"-*.rpm)
[[ ${#rpms[@]} -eq 1 && -f ${rpms[0]} ]] || die "expected one mlenv rpm, found: ${rpms[*]}"
pkg=$out_dir/$(basename "${rpms[0]}")
cp "${rpms[0]}" "$pkg"

echo "== checks: $pkg"
rpm -qip "$pkg"
files=$(rpm -qlp "$pkg")
echo "$files"
want=(/usr/bin/mlenv
    /usr/share/bash-completion/completions/mlenv
    /usr/share/zsh/site-functions/_mlenv
    /usr/share/fish/vendor_completions.d/mlenv.fish)
# The pages in Source0, which is what was packaged (the working tree may have moved on since).
for page in "$tree"/packaging/man/*.1; do want+=("/usr/share/man/man1/$(basename "$page")"); done
for path in "${want[@]}"; do
    # Man pages may be compressed by rpm's brp-compress (.gz, .xz, ... by distribution).
    grep -qxE "$(printf '%s' "$path" | sed 's/[.]/[.]/g')(\.(gz|bz2|xz|zst))?" <<<"$files" ||
        die "$pkg lacks $path"
done
# %license lands in /usr/share/licenses/mlenv/ (Fedora) or a versioned folder (other rpm builds).
grep -qxE '/usr/share/licenses/mlenv(-[0-9][^/]*)?/LICENSE' <<<"$files" || die "$pkg lacks its LICENSE"
rpm -qp --requires "$pkg" | grep -qx podman || die "$pkg does not require podman"
echo "requires: $(rpm -qp --requires "$pkg" | grep -v '^rpmlib(' | paste -sd, -)"

payload=$tmp/payload
mkdir -p "$payload"
(cd "$payload" && rpm2cpio "$pkg" | cpio -idm --quiet)
got=$("$payload/usr/bin/mlenv" --version)
[[ $got == "mlenv $version" ]] || die "packaged binary says '$got', Cargo.toml says $version"
echo "packaged binary: $got"
echo "rpm ok: $pkg ($(du -h "$pkg" | cut -f1), $((SECONDS - T0))s)"
