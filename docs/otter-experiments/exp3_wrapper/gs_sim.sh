#!/usr/bin/env bash
# Simulate Gradescope's layout without Docker: AG/{source,submission,results}, then run source/run_autograder.
set -eu
ZIP=$(realpath "$1"); SUB=$(realpath "$2"); OUT=$(realpath "$3")
AG=$(mktemp -d)/autograder
mkdir -p "$AG/source" "$AG/submission" "$AG/results"
echo '{}' > "$AG/submission_metadata.json"
(cd "$AG/source" && unzip -q "$ZIP")
cp "$SUB" "$AG/submission/"
AUTOGRADER_DIR="$AG" PYTHON="$(command -v python)" bash "$AG/source/run_autograder" > "$OUT/stdout.txt" 2>&1 || true
cp "$AG/results/results.json" "$OUT/"
rm -rf "$(dirname "$AG")"
