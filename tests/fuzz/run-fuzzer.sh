#!/bin/bash
# Runs one libFuzzer target for a bounded time from a seed corpus of test files with extension
# EXT found under SEED_DIR. usage: run-fuzzer.sh BINARY SECONDS CORPUS_DIR SEED_DIR EXT
set -eu
bin=$1 seconds=$2 corpus=$3 seeds=$4 ext=$5
mkdir -p "$corpus"
find "$seeds" -name "*.$ext" -not -path '*/parse-errors/*' -exec cp {} "$corpus/" \;
find "$seeds" -path '*/parse-errors/*' -name "*.$ext" -exec cp {} "$corpus/" \;
artifacts=$(mktemp -d)
trap 'rm -rf "$artifacts"' EXIT
# -rss_limit_mb keeps a runaway allocation from taking the machine; crashes fail the test.
"$bin" "$corpus" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" 2>&1 | tail -15
