#!/usr/bin/python3
"""Writes the golden-test model tests/stats/model.fir and its inputs under tests/stats/data/.

A toy masked-LM block over 8 channels: embedding (id 4 = MASK, with an outlier in channel 3),
q/k/v (one site), o, an up projection as Gemm on [N,d], a down projection, and one transposed
matmul that is not token-aligned. Deterministic; rerun to regenerate.
"""
import math
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def mat(rows, cols, seed):
    """Small values with two decimals, from a sine, so the .fir stays short and exact."""
    return [[round(math.sin(seed + 0.7 * r + 1.3 * c) / 2, 2) for c in range(cols)]
            for r in range(rows)]


def dense(m):
    return ", ".join(f"{v:.2f}" for row in m for v in row)


def main():
    embed = mat(5, 8, 1)
    embed[4][3] = 6.0  # the MASK embedding has an outlier channel
    consts = {
        "embed": embed, "wq": mat(8, 8, 2), "wk": mat(8, 8, 3), "wv": mat(8, 8, 4),
        "wo": mat(8, 8, 5), "wu": mat(4, 8, 6), "wd": mat(4, 8, 7), "wt": mat(6, 2, 8),
    }
    lines = ["// A toy block for freeact stats (written by make_data.py).",
             "graph @mini(%input_ids: i64[B,6]) {"]
    for name, m in consts.items():
        lines.append(f"  const @{name} = f32[{len(m)},{len(m[0])}] dense<[{dense(m)}]>")
    lines += [
        "  const @flat = i64[2] dense<[-1, 8]>",
        "  %h = gather(@embed, %input_ids) {axis = 0} : f32[B,6,8]",
        '  %q = matmul(%h, @wq) : f32[B,6,8] loc("blk0/q_proj")',
        '  %k = matmul(%h, @wk) : f32[B,6,8] loc("blk0/k_proj")',
        '  %v = matmul(%h, @wv) : f32[B,6,8] loc("blk0/v_proj")',
        "  %qk = mul(%q, %k) : f32[B,6,8]",
        "  %a = add(%qk, %v) : f32[B,6,8]",
        '  %o = matmul(%a, @wo) : f32[B,6,8] loc("blk0/o_proj")',
        "  %r = add(%h, %o) : f32[B,6,8]",
        "  %n = reshape(%r, @flat) : f32[?,8]",
        '  %u = gemm(%n, @wu) {transB = 1} : f32[?,4] loc("blk0/up_proj")',
        "  %g = relu(%u) : f32[?,4]",
        "  %d = matmul(%g, @wd) : f32[?,8]",
        "  %ht = transpose(%h) {perm = [0, 2, 1]} : f32[B,8,6]",
        '  %t = matmul(%ht, @wt) : f32[B,8,2] loc("mix_tokens")',
        "  return %d as \"out\", %t as \"mixed\"",
        "}",
    ]
    with open(os.path.join(HERE, "model.fir"), "w") as f:
        f.write("\n".join(lines) + "\n")

    rng = np.random.default_rng(7)
    ids = rng.integers(0, 4, size=(5, 6)).astype(np.int64)
    mask = rng.random((5, 6)) < 0.4
    mask[0, 0] = True
    ids[mask] = 4
    np.save(os.path.join(HERE, "data", "input_ids.npy"), ids)
    # types by position parity (0 even, 1 odd) plus type 2 on MASK: an input:NAME example
    types = (np.arange(6)[None, :] % 2).repeat(5, axis=0).astype(np.uint8)
    types[mask] = 2
    np.save(os.path.join(HERE, "data", "types.npy"), types)
    np.save(os.path.join(HERE, "data", "ids_f32.npy"), ids.astype(np.float32))
    np.save(os.path.join(HERE, "data", "types_bad.npy"), np.full((5, 6), 9, np.uint8))


if __name__ == "__main__":
    main()
