#!/usr/bin/env bash
# Regenerates the shell completions and the man page from mlenv's clap definitions.
# tests/packaging.rs fails when the committed files are out of date.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --locked -q -p mlenv
bin=target/debug/mlenv
"$bin" completions bash > packaging/completions/mlenv.bash
"$bin" completions zsh > packaging/completions/_mlenv
"$bin" completions fish > packaging/completions/mlenv.fish
"$bin" man > packaging/man/mlenv.1
for sub in up down restart rm exec status logs list jupyter tensorboard unit gpu gpu-list gpu-setup completions; do
    "$bin" man "$sub" > "packaging/man/mlenv-$sub.1"
done
echo "regenerated packaging/completions and packaging/man"
