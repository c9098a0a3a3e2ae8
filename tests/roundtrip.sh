#!/bin/bash
# Round trip: for every .fir file under tests/ (except the deliberately malformed ones in
# tests/parse-errors/), parse -> print -> parse -> print must give identical text, and the first
# print must parse. usage: roundtrip.sh FREEACT_BINARY TESTS_DIR
set -u
freeact=$1 root=$2
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
count=0 failed=0
while IFS= read -r -d '' f; do
    count=$((count + 1))
    if ! "$freeact" opt "$f" --split-input-file -o "$scratch/a.fir" 2>"$scratch/err"; then
        echo "round trip: $f does not parse:"; cat "$scratch/err"; failed=$((failed + 1)); continue
    fi
    # The printed copy is read from stdin inside the original's folder, so relative file<>
    # references still resolve.
    if ! (cd "$(dirname "$f")" && "$freeact" opt - --split-input-file -o "$scratch/b.fir" \
            <"$scratch/a.fir" 2>"$scratch/err"); then
        echo "round trip: printed form of $f does not parse:"; cat "$scratch/err"
        failed=$((failed + 1))
    elif ! cmp -s "$scratch/a.fir" "$scratch/b.fir"; then
        echo "round trip: $f prints differently the second time:"
        diff "$scratch/a.fir" "$scratch/b.fir" | head -20
        failed=$((failed + 1))
    fi
done < <(find "$root" -name '*.fir' -not -path '*/parse-errors/*' -print0 | sort -z)
echo "round trip: $count files, $failed failed"
[ "$count" -gt 0 ] && [ "$failed" -eq 0 ]
