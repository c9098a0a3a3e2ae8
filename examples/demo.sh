#!/bin/sh
# The freeact demo: import the example diffusion LLM, clean it up and fuse its linear layers and
# RMSNorms with the pass pipeline, evaluate it with the reference runtime against the metrics
# PyTorch measured at export time, then quantize it with FreeAct at W4A8 (masked and unmasked
# tokens get their own activation transforms), evaluate the quantized model with JIT-generated
# kernels, and compile it ahead of time into a shared library that a C program
# (examples/aot/run_model.c) links and evaluates.
set -eu
cd "$(dirname "$0")/.."
fa=build/bin/freeact
ex=examples/dllm
out=build/demo
mkdir -p "$out"

op_counts() { # the most frequent ops of a .fir file
    sed -n 's/^  %[^=]* = \([a-z_]*\)(.*/\1/p' "$1" | sort | uniq -c | sort -rn | head -"$2" |
        awk '{printf "%s %s", sep, $2 " " $1; sep = ","} END {print ""}'
}

echo "== 1. import $ex/model.onnx"
"$fa" import "$ex/model.onnx" -o "$out/dllm.fir"
echo "   $(grep -c '^  %' "$out/dllm.fir") nodes:$(op_counts "$out/dllm.fir" 8)"

echo "== 2. optimize: canonicalize, cse, fuse-norms, fuse-linear, dce"
"$fa" opt "$out/dllm.fir" --passes=canonicalize,cse,fuse-norms,fuse-linear,dce --verify-each -v \
    -o "$out/dllm.opt.fir" 2>&1 | sed 's/^/   /'
echo "   $(grep -c '^  %' "$out/dllm.opt.fir") nodes:$(op_counts "$out/dllm.opt.fir" 8)"

echo "== 3. evaluate the optimized graph with the reference runtime"
"$fa" eval "$out/dllm.opt.fir" --input input_ids=$ex/eval_input_ids.npy \
    --targets $ex/eval_targets.npy --target-mask $ex/eval_target_mask.npy \
    --group-by $ex/eval_ratio.npy | sed 's/^group /mask ratio /; s/^/   /'

echo "== PyTorch at export time ($ex/metrics.json)"
awk '/"(all|ratio_[0-9.]+)": \{/ {gsub(/[":{ ]/, ""); key = $0}
     key && /"accuracy"/ {gsub(/[",]/, ""); acc = $2}
     key && /"mean_nll"/ {gsub(/[",]/, ""); nll = $2}
     key && /"tokens"/ {gsub(/[",]/, ""); printf "   %-14s token_accuracy %.4f  nll %.4f  tokens %s\n", key ":", acc, nll, $2; key = ""}' \
    "$ex/metrics.json"

echo "== 4. compile with FreeAct at W4A8 (token types: input_ids == 256, the mask token)"
"$fa" compile $ex/model.onnx --calib input_ids=$ex/calib_input_ids.npy \
    --token-type 'input_ids==256' --method freeact --quant w4a8 --steps 60 \
    -o "$out/dllm.freeact-w4a8.fir" | tail -1 | sed 's/^/   /'
echo "   $(grep -c ' = qlinear(' "$out/dllm.freeact-w4a8.fir") qlinear, per-site errors: freeact report $out/dllm.freeact-w4a8.fir"

echo "== 5. evaluate the quantized model (planned runtime, JIT-generated integer kernels)"
"$fa" eval "$out/dllm.freeact-w4a8.fir" --input input_ids=$ex/eval_input_ids.npy \
    --targets $ex/eval_targets.npy --target-mask $ex/eval_target_mask.npy --batch 32 \
    --group-by $ex/eval_ratio.npy | sed 's/^group /mask ratio /; s/^/   /'

echo "== 6. compile it ahead of time into a shared library and run it from C"
"$fa" compile "$out/dllm.freeact-w4a8.fir" --method none -o "$out/dllm.so" -v 2>&1 | sed 's/^/   /'
cc -O2 -std=c11 -DMODEL=dllm -I"$out" -Iexamples/aot examples/aot/run_model.c "$out/dllm.so" \
    -Wl,-rpath,"$PWD/$out" -o "$out/run_dllm"
echo "   $out/run_dllm (examples/aot/run_model.c linked with $out/dllm.so, declared in $out/dllm.h):"
"$out/run_dllm" $ex/eval_input_ids.npy --batch 32 \
    --eval $ex/eval_targets.npy $ex/eval_target_mask.npy | sed 's/^/   all:           /'
