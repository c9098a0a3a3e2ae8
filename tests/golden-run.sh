#!/bin/bash
# Runs the RUN: lines of one golden test file (FileCheck style, as in MLIR/LLVM tests).
# Substitutions: %s = the test file, %S = its folder, %freeact = the freeact binary, %t = a
# scratch path unique to this test, %cc = the C compiler of this build with the link flags its
# archives need ($FA_TEST_CC, set by tests/CMakeLists.txt), %root = the source tree. FileCheck
# and not come from LLVM 19's tools.
# usage: golden-run.sh FREEACT_BINARY LLVM_TOOLS_DIR TEST_FILE
set -u
freeact=$1 tools=$2 file=$3
dir=$(cd "$(dirname "$file")" && pwd)
file="$dir/$(basename "$file")"
root=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export PATH="$tools:$PATH"
mapfile -t runs < <(sed -n 's@^// RUN: \(.*\)$@\1@p; s@^# RUN: \(.*\)$@\1@p' "$file")
if [ ${#runs[@]} -eq 0 ]; then
    echo "$file: no RUN: lines" >&2
    exit 1
fi
status=0
for run in "${runs[@]}"; do
    cmd=${run//%freeact/$freeact}
    cmd=${cmd//%cc/${FA_TEST_CC:-cc}}
    cmd=${cmd//%root/$root}
    cmd=${cmd//%s/$file}
    cmd=${cmd//%S/$dir}
    cmd=${cmd//%t/$scratch/t}
    if ! (cd "$scratch" && bash -o pipefail -c "$cmd"); then
        echo "FAILED: $cmd" >&2
        status=1
    fi
done
exit $status
