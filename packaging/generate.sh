#!/usr/bin/env bash
# Regenerates the shell completions, the man pages and the README's command reference from
# mlenv's clap definitions.
# tests/packaging.rs fails when the committed files are out of date.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --locked -q -p mlenv
bin=target/debug/mlenv
"$bin" completions bash > packaging/completions/mlenv.bash
"$bin" completions zsh > packaging/completions/_mlenv
"$bin" completions fish > packaging/completions/mlenv.fish
"$bin" man > packaging/man/mlenv.1
for sub in up down restart rm exec status logs list jupyter tensorboard unit init doctor clean export export-kube export-slurm gpu gpu-list gpu-setup completions; do
    "$bin" man "$sub" > "packaging/man/mlenv-$sub.1"
done
# The README's command reference, between its markers.
reference=$(mktemp)
trap 'rm -f "$reference"' EXIT
"$bin" man --markdown > "$reference"
awk -v ref="$reference" '
    /^<!-- reference:start -->$/ { print; while ((getline line < ref) > 0) print line; skip = 1; next }
    /^<!-- reference:end -->$/ { skip = 0 }
    !skip
' README.md > README.md.new
grep -q '^<!-- reference:end -->$' README.md.new || { echo "README.md lacks the reference markers" >&2; exit 1; }
mv README.md.new README.md
echo "regenerated packaging/completions, packaging/man and the README's command reference"
