#!/bin/bash
# Runs one libFuzzer target for a bounded time from a seed corpus of test files with extension
# EXT found under SEED_DIR. usage: run-fuzzer.sh BINARY SECONDS CORPUS_DIR SEED_DIR EXT
set -euo pipefail
bin=$1 seconds=$2 corpus=$3 seeds=$4 ext=$5
mkdir -p "$corpus"
find "$seeds" -name "*.$ext" -not -path '*/parse-errors/*' -exec cp {} "$corpus/" \;
find "$seeds" -path '*/parse-errors/*' -name "*.$ext" -exec cp {} "$corpus/" \;
artifacts=$(mktemp -d)
log="$artifacts/fuzz.log"
trap 'rm -rf "$artifacts"' EXIT
# -rss_limit_mb keeps a runaway allocation from taking the machine; crashes fail the test.
"$bin" "$corpus" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" >"$log" 2>&1 || {
    # A crash, leak or timeout: show the report and the input that caused it, then fail.
    cat "$log"
    for f in "$artifacts"/crash-* "$artifacts"/leak-* "$artifacts"/timeout-* "$artifacts"/oom-*; do
        [ -e "$f" ] && { echo "--- input $f (base64):"; base64 "$f"; }
    done
    exit 1
}
tail -8 "$log"
