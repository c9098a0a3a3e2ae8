#!/bin/bash
# The C runtime must reproduce the metrics PyTorch measured at export time: token accuracy within
# 0.1 points and mean NLL within 0.001, overall and per group ("ratio_R" keys of metrics.json
# match --group-by value R). usage: check-metrics.sh FREEACT METRICS_JSON MODEL EVAL_ARGS...
set -euo pipefail
freeact=$1 metrics=$2 model=$3
shift 3
if [ ! -f "$model" ]; then
    echo "$model is missing"; exit 1
fi
got=$("$freeact" eval "$model" "$@" --json)
echo "freeact: $got"
# Reference figures: one line "KEY ACC NLL TOKENS" per entry of the "metrics" object.
ref=$(awk '/"(all|ratio_[0-9.]+)": \{/ {gsub(/[":{ ]/, ""); key = $0}
           key && /"accuracy"/ {gsub(/[",]/, ""); acc = $2}
           key && /"mean_nll"/ {gsub(/[",]/, ""); nll = $2}
           key && /"tokens"/ {gsub(/[",]/, ""); print key, acc, nll, $2; key = ""}' "$metrics")
[ -n "$ref" ] || { echo "$metrics: no metrics found"; exit 1; }
status=0
while read -r key acc nll tokens; do
    if [ "$key" = all ]; then
        part=${got%%, \"groups\"*}
    else
        group=${key#ratio_}
        part=$(grep -o "\"$group\": {[^}]*}" <<<"$got" || true)
        [ -n "$part" ] || { echo "$key: freeact reported no group $group"; status=1; continue; }
    fi
    f_acc=$(sed 's/.*"token_accuracy": \([-0-9.e]*\).*/\1/' <<<"$part")
    f_nll=$(sed 's/.*"nll": \([-0-9.e]*\).*/\1/' <<<"$part")
    f_tok=$(sed 's/.*"tokens": \([0-9]*\).*/\1/' <<<"$part")
    verdict=$(awk -v a="$acc" -v b="$f_acc" -v n="$nll" -v m="$f_nll" -v t="$tokens" -v u="$f_tok" \
        'BEGIN { d = a - b; if (d < 0) d = -d; e = n - m; if (e < 0) e = -e;
                 ok = d <= 0.001 && e <= 0.001 && t == u;
                 printf "%s acc %.6f vs %.6f (diff %.2g points), nll %.6f vs %.6f, tokens %d vs %d",
                        ok ? "ok  " : "FAIL", a, b, 100 * d, n, m, t, u }')
    echo "$key: $verdict (PyTorch vs freeact)"
    [[ $verdict == ok* ]] || status=1
done <<<"$ref"
exit $status
