#!/usr/bin/env bash
# Runs MODEL with `freeact run` and with ONNX Runtime (bench/ort-run.js) on the same inputs and
# compares every graph output. See bench/README.md.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/compare-ort.sh [--max-abs X] [--keep DIR] MODEL.onnx NAME=FILE.npy ...

Runs MODEL with `freeact run` ($FREEACT, default build/bin/freeact) and with ONNX Runtime
(node bench/ort-run.js; $NODE, default node; $ORT_INTRA_OP_THREADS sets ORT's intra-op
threads) on the same inputs, then prints for each graph output: dtype, shape, max abs error,
max rel error |a-b|/max(|b|,1e-6) (a = freeact, b = ORT), and how many elements are beyond
ONNX's test tolerance |a-b| > 1e-7 + 1e-3*|b|.

options:
  --max-abs X   also fail when an output's max abs error is above X
  --keep DIR    keep the outputs: DIR/freeact/outI.npy and DIR/ort/outI.npy, I = line in
                DIR/names.txt minus 1 (default: a temp dir, removed)

Exit status: 0 when every output has the same dtype and shape in both (numerical differences
are reported, not judged); 1 on a dtype/shape mismatch, a NaN in one output only, a max abs
error above --max-abs, or when either run fails; 2 on a usage error.
EOF
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
freeact=${FREEACT:-$root/build/bin/freeact}
node=${NODE:-node}
ort_run=$here/ort-run.js

max_abs=()
keep=
model=
inputs=()
while [ $# -gt 0 ]; do
  case $1 in
    -h|--help) usage; exit 0 ;;
    --max-abs) [ $# -ge 2 ] || { echo "compare-ort: --max-abs needs a value" >&2; exit 2; }
               max_abs=(--max-abs "$2"); shift 2 ;;
    --keep)    [ $# -ge 2 ] || { echo "compare-ort: --keep needs a value" >&2; exit 2; }
               keep=$2; shift 2 ;;
    --*)       echo "compare-ort: unknown option $1" >&2; usage >&2; exit 2 ;;
    *)         if [ -z "$model" ]; then model=$1
               else
                 case $1 in
                   ?*=?*) inputs+=("$1") ;;
                   *) echo "compare-ort: input binding must be NAME=FILE.npy, got '$1'" >&2; exit 2 ;;
                 esac
               fi
               shift ;;
  esac
done
[ -n "$model" ] || { usage >&2; exit 2; }
[ -f "$model" ] || { echo "compare-ort: $model: no such file" >&2; exit 1; }
[ -x "$freeact" ] || { echo "compare-ort: freeact not found at $freeact (build it, or set FREEACT)" >&2; exit 1; }
command -v "$node" >/dev/null || { echo "compare-ort: node not found (set NODE)" >&2; exit 1; }
[ -d "$here/node_modules/onnxruntime-node" ] ||
  { echo "compare-ort: onnxruntime-node is not installed; run: cd bench && npm ci --ignore-scripts" >&2; exit 1; }

if [ -n "$keep" ]; then
  work=$keep
  mkdir -p "$work"
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/compare-ort.XXXXXX")
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work/freeact" "$work/ort"

# Output names, in graph order, as ONNX Runtime reports them (freeact uses the same names).
mapfile -t names < <("$node" "$ort_run" "$model" --list-outputs)
[ ${#names[@]} -gt 0 ] || { echo "compare-ort: could not list the outputs of $model" >&2; exit 1; }
printf '%s\n' "${names[@]}" > "$work/names.txt" # line i+1 names out$i.npy

fa_args=() ort_args=()
for b in "${inputs[@]}"; do
  fa_args+=(--input "$b")
  ort_args+=(--input "$b")
done
for i in "${!names[@]}"; do
  fa_args+=(--output "${names[$i]}=$work/freeact/out$i.npy")
  ort_args+=(--output "${names[$i]}=$work/ort/out$i.npy")
done

t0=$(date +%s.%N)
"$freeact" run "$model" "${fa_args[@]}" || { echo "compare-ort: freeact run failed" >&2; exit 1; }
t1=$(date +%s.%N)
"$node" "$ort_run" "$model" "${ort_args[@]}" || { echo "compare-ort: ONNX Runtime run failed" >&2; exit 1; }
t2=$(date +%s.%N)
awk -v m="$model" -v a="$t0" -v b="$t1" -v c="$t2" \
  'BEGIN { printf "model %s: freeact run %.2fs, ORT run %.2fs (both incl. process start and model load)\n", m, b - a, c - b }'

status=0
header=
for i in "${!names[@]}"; do
  "$node" "$ort_run" --compare "$work/freeact/out$i.npy" "$work/ort/out$i.npy" \
    --name "${names[$i]}" "${max_abs[@]}" $header || status=1
  header=--no-header
done
exit $status
