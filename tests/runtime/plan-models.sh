#!/bin/sh
# Whole-model check of the planned runtime (tests/runtime/test_plan_models.c) on the example dllm:
#   plan-models.sh FREEACT TEST_PLAN_MODELS EXAMPLE_DIR float|quant [test options...]
# float: the ONNX model imported and optimized (canonicalize, cse, fuse-norms, fuse-linear,
# fuse-activations, fuse-rope, dce); quant: compiled with QuaRot w4a8 on 8 calibration samples.
# Models go to a temporary folder, removed on exit.
set -eu
freeact=$1 test_bin=$2 dir=$3 mode=$4
shift 4
tmp=$(mktemp -d "${TMPDIR:-/tmp}/plan-models.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
case $mode in
float)
    "$freeact" import "$dir/model.onnx" -o "$tmp/imported.fir"
    "$freeact" opt "$tmp/imported.fir" \
        --passes=canonicalize,cse,fuse-norms,fuse-linear,fuse-activations,fuse-rope,dce -o "$tmp/model.fir"
    ;;
quant)
    "$freeact" compile "$dir/model.onnx" --calib "input_ids=$dir/calib_input_ids.npy" \
        --calib-samples 8 --token-type input_ids==256 --method quarot --quant w4a8 \
        -o "$tmp/model.fir" --quiet
    ;;
*)
    echo "plan-models.sh: mode must be float or quant, not '$mode'" >&2
    exit 2
    ;;
esac
"$test_bin" "$tmp/model.fir" "$dir/eval_input_ids.npy" "$@"
