#!/bin/bash
# docs/onnx-coverage.md must be what onnx-node-tests generates now: regenerate it into a scratch
# file and compare. usage: check-coverage-doc.sh ONNX_NODE_TESTS NODE_DIR XFAIL DOC
set -u
tool=$1 dir=$2 xfail=$3 doc=$4
tmp=$(mktemp --suffix=.md)
trap 'rm -f "$tmp"' EXIT
"$tool" "$dir" --xfail "$xfail" --coverage "$tmp" >/dev/null
if ! cmp -s "$tmp" "$doc"; then
    echo "$doc is out of date; regenerate it with:"
    echo "  build/bin/onnx-node-tests --xfail tests/onnx-node-xfail.txt --coverage docs/onnx-coverage.md"
    diff "$doc" "$tmp" | head -20
    exit 1
fi
echo "$doc is up to date"
