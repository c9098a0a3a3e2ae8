#!/bin/sh
# Runs `freeact import` on bad ONNX models (tests/frontend/bad/) and on truncated and corrupted
# copies of a good one. Each must fail cleanly: exit status 1 (>= 128 is a crash), one line on
# stderr "freeact: error: FILE...: message" naming the file (and node where there is one), and no
# output file left behind when -o is given.
# usage: run-bad-input.sh PATH/TO/freeact
set -u
FREEACT=${1:?usage: run-bad-input.sh PATH/TO/freeact}
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0
count=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# expect_error MODEL EXPECTED_SUBSTRING: runs the import with -o and checks the failure.
expect_error() {
    model=$1
    want=$2
    count=$((count + 1))
    rm -f "$TMP"/out.fir*
    "$FREEACT" import "$model" -o "$TMP/out.fir" >"$TMP/stdout" 2>"$TMP/stderr"
    rc=$?
    if [ "$rc" -ge 128 ]; then
        fail "$model: crashed (status $rc)"
        return
    fi
    [ "$rc" -eq 1 ] || fail "$model: exit status $rc, expected 1"
    lines=$(wc -l <"$TMP/stderr")
    [ "$lines" -eq 1 ] || fail "$model: $lines lines on stderr, expected 1: $(cat "$TMP/stderr")"
    msg=$(head -n 1 "$TMP/stderr")
    case "$msg" in
    "freeact: error: $model"*) ;;
    *) fail "$model: message does not start with 'freeact: error: $model': $msg" ;;
    esac
    case "$msg" in
    *"$want"*) ;;
    *) fail "$model: message lacks '$want': $msg" ;;
    esac
    [ -s "$TMP/stdout" ] && fail "$model: wrote to stdout"
    for f in "$TMP"/out.fir*; do
        [ -e "$f" ] && fail "$model: left $f behind"
    done
}

B=$HERE/bad
expect_error "$B/unknown_op.onnx" "node 'mystery' (FooBar): unsupported op"
expect_error "$B/unsupported_attr.onnx" "node 'act' (Relu): unsupported attribute 'alpha'"
expect_error "$B/attr_wrong_type.onnx" "node 'sm' (Softmax): unsupported attribute 'axis'"
expect_error "$B/cast_to_string.onnx" "node 'cast' (Cast): attribute 'to': cast to dtype STRING"
expect_error "$B/opset_18.onnx" "opset 18"
expect_error "$B/ext_dotdot.onnx" "initializer 'W': external data location '../x.bin' refused"
expect_error "$B/ext_absolute.onnx" "initializer 'W': external data location '/etc/passwd' refused"
expect_error "$B/ext_missing.onnx" "initializer 'W': external data file 'missing.bin'"
expect_error "$B/ext_out_of_range.onnx" "initializer 'W': external data file 'short.bin' has 128"
expect_error "$B/ext_length_mismatch.onnx" "initializer 'W': external data length 64"
expect_error "$B/overflow_shape.onnx" "initializer 'W': tensor of dtype f32: shape element count"
expect_error "$B/raw_data_size.onnx" "initializer 'W': raw_data has 3 bytes"
expect_error "$B/float_data_count.onnx" "initializer 'W': float_data has 3 entries"
expect_error "$B/string_tensor.onnx" "initializer 'W': tensor dtype STRING is not supported"
expect_error "$B/undefined_input.onnx" "node 'add' (Add): input 'nope' is not defined"
expect_error "$B/value_info_conflict.onnx" "node 'act' (Relu): output 'y' is declared f32[3]"
expect_error "$B/broadcast_conflict.onnx" "node 'add' (Add): cannot broadcast"
expect_error "$B/missing_output.onnx" "output 'w' is not produced"
expect_error "$B/too_many_inputs.onnx" "node 'act' (Relu): has 2 inputs, expected 1"
expect_error "$B/unknown_ms_op.onnx" \
    "node 'gelu' (FusedGelu): unsupported op (domain 'com.microsoft')"
expect_error "$B/sequence_input.onnx" "input 'x': 'x' is not a tensor"
expect_error "$TMP/no-such-model.onnx" "cannot open"

# External data through a symlink that leaves the model's folder.
mkdir "$TMP/linkdir"
cp "$B/ext_symlink.onnx" "$TMP/linkdir/"
ln -s "$B/short.bin" "$TMP/linkdir/link.bin"
expect_error "$TMP/linkdir/ext_symlink.onnx" "resolves outside the model's folder"

# Truncations of a good model (every length up to 64 bytes, then every 7th) must fail with a
# message, never crash.
GOOD=$HERE/mlp.onnx
size=$(wc -c <"$GOOD")
n=0
while [ "$n" -lt "$size" ]; do
    head -c "$n" "$GOOD" >"$TMP/trunc.onnx"
    expect_error "$TMP/trunc.onnx" ""
    if [ "$n" -lt 64 ]; then n=$((n + 1)); else n=$((n + 7)); fi
done

# Corrupted copies: any outcome but a crash or a stray output file.
i=0
while [ "$i" -lt 64 ]; do
    off=$(( (i * 7919) % size ))
    cp "$GOOD" "$TMP/flip.onnx"
    printf '\377' | dd of="$TMP/flip.onnx" bs=1 seek="$off" conv=notrunc 2>/dev/null
    count=$((count + 1))
    rm -f "$TMP"/out.fir*
    "$FREEACT" import "$TMP/flip.onnx" -o "$TMP/out.fir" >/dev/null 2>"$TMP/stderr"
    rc=$?
    case "$rc" in
    0) [ -s "$TMP/out.fir" ] || fail "flip at $off: succeeded but wrote nothing" ;;
    1) [ "$(wc -l <"$TMP/stderr")" -eq 1 ] || fail "flip at $off: stderr is not one line" ;;
    *) fail "flip at $off: exit status $rc" ;;
    esac
    i=$((i + 1))
done

# Usage errors exit with 2; good models import.
"$FREEACT" import >/dev/null 2>&1
[ $? -eq 2 ] || fail "no model: exit status is not 2"
"$FREEACT" import "$GOOD" --bogus >/dev/null 2>&1
[ $? -eq 2 ] || fail "unknown option: exit status is not 2"
"$FREEACT" import "$GOOD" -o >/dev/null 2>&1
[ $? -eq 2 ] || fail "-o without a value: exit status is not 2"
mkdir "$TMP/ext"
cp "$HERE/ext_data.onnx" "$HERE/ext_data.bin" "$TMP/ext/"
for m in "$HERE/mlp" "$HERE/symbolic" "$HERE/opset11" "$HERE/matmul_nbits" "$TMP/ext/ext_data"; do
    out=$TMP/ext/$(basename "$m").fir
    "$FREEACT" import "$m.onnx" -o "$out" 2>"$TMP/stderr" ||
        fail "$m.onnx: import failed: $(cat "$TMP/stderr")"
    [ -s "$out" ] || fail "$m.onnx: no output written"
done
# External data are referenced relative to the model's folder: -o elsewhere is refused.
expect_error "$HERE/ext_data.onnx" "write the .fir into that folder"

echo "run-bad-input: $count cases, $failures failures"
[ "$failures" -eq 0 ]
