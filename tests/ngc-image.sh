# Sourced by tests/setup-host.sh and tests/setup-podman5.sh: the NGC-shaped test image,
# built offline from the Debian python test image's tarball and the files of
# tests/ngc-image/. Shaped as NVIDIA's NGC PyTorch images are where mlenv meets them:
#  - ENTRYPOINT /opt/nvidia/nvidia_entrypoint.sh (a banner on stdout, then the setup);
#  - ENV=/etc/shinit_v2 (sh's setup: exports NGC_SHELL_SETUP=done and puts the "compat
#    libraries" first on LD_LIBRARY_PATH) and BASH_ENV=/etc/bash.bashrc (sources it);
#  - PIP_CONSTRAINT=/etc/pip/constraint.txt pinning ngcpinned==1.0, as NGC pins torch;
#  - WORKDIR /workspace, the root user, CUDA_VERSION, CUDA_DRIVER_VERSION and
#    NVIDIA_REQUIRE_CUDA as NGC 24.10 (CUDA 12.6.2) sets them.
# Needs: CACHE, PATH_IN_IMAGE; the python tarball built.

NGC_IMAGE=localhost/mlenv-test/ngc:latest
NGC_TREE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/ngc-image"

NGC_CHANGES=(
    'ENTRYPOINT ["/opt/nvidia/nvidia_entrypoint.sh"]'
    'CMD ["/bin/bash"]'
    'WORKDIR /workspace'
    'USER root'
    "ENV PATH=$PATH_IN_IMAGE"
    'ENV LANG=C.UTF-8'
    'ENV ENV=/etc/shinit_v2'
    'ENV BASH_ENV=/etc/bash.bashrc'
    'ENV PIP_CONSTRAINT=/etc/pip/constraint.txt'
    'ENV NVIDIA_PRODUCT_NAME=PyTorch'
    'ENV CUDA_VERSION=12.6.2.004'
    'ENV CUDA_DRIVER_VERSION=560.35.03'
    'ENV NVIDIA_REQUIRE_CUDA="cuda>=12.6 brand=tesla,driver>=470,driver<471 brand=tesla,driver>=525,driver<526 brand=tesla,driver>=535,driver<536 brand=tesla,driver>=550,driver<551"'
)

# A digest of the tree and the changes: the image is rebuilt when either changes.
ngc_digest() {
    {
        (cd "$NGC_TREE" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
        printf '%s\n' "${NGC_CHANGES[@]}"
    } | sha256sum | cut -c1-12
}

# Prints the tarball's path, building it from the python tarball ($1) when missing.
ngc_tarball() {
    local python_tar=$1 digest out
    digest=$(ngc_digest)
    out="$CACHE/ngc-$digest.tar"
    if [[ ! -f $out ]]; then
        # One tree, the python image's files overlaid: an image layer may not hold a path
        # twice, so appending to the tarball will not do.
        local root
        root=$(mktemp -d "$CACHE/ngc-root.XXXXXX")
        tar --numeric-owner -C "$root" -xf "$python_tar"
        cp -a --no-preserve=ownership "$NGC_TREE/." "$root/"
        tar --numeric-owner -C "$root" -cf "$out.tmp" .
        rm -rf "$root"
        mv -f "$out.tmp" "$out"
    fi
    echo "$out"
}
