#!/usr/bin/env python3
"""Makes the generated Llama-style benchmark model (issue 8): hidden 1024, MLP 2816, 8 blocks,
16 heads, a 8192-token vocabulary, RoPE, random weights (seed 0), in three forms:

  OUT/llama.onnx        f32, opset 17, input_ids int64 [batch, seq] -> logits f32 [batch, seq, V]
  OUT/llama.nbits.onnx  every MatMul with a constant weight (the 7 linears of each block and the
                        LM head) rewritten to com.microsoft MatMulNBits: 4 bits, block 32,
                        symmetric (zero point 8), accuracy_level 4 (int8 activations), ONNX
                        Runtime's fastest CPU path for LLM linears
  OUT/ids_L.npy         prompts of length L = 1, 64, 512 (batch 1), OUT/calib_ids.npy [16, 128]

The block code is the example diffusion LM's (examples/dllm/train.py), with causal attention
left out: attention costs the same either way, and every engine runs the same graph. Not
committed; bench/models runs this into build/bench. Needs Debian's python3-torch, python3-onnx.
usage: /usr/bin/python3 bench/make_llama.py OUT_DIR
       /usr/bin/python3 bench/make_llama.py --nbits SRC.onnx DST.onnx   (the rewrite alone)"""
import os
import sys

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "dllm"))
from train import DiffusionLM  # noqa: E402  (the Llama block code)

VOCAB, DIM, LAYERS, HEADS, MLP, MAX_LEN = 8192, 1024, 8, 16, 2816, 1024
BLOCK = 32


def export(out):
    torch.manual_seed(0)
    model = DiffusionLM(vocab=VOCAB, dim=DIM, layers=LAYERS, heads=HEADS, mlp=MLP, max_len=MAX_LEN).eval()
    path = os.path.join(out, "llama.onnx")
    ids = torch.randint(0, VOCAB, (1, 16))
    with torch.no_grad():
        torch.onnx.export(model, (ids,), path, opset_version=17, input_names=["input_ids"],
                          output_names=["logits"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "seq"},
                                        "logits": {0: "batch", 1: "seq"}},
                          do_constant_folding=True)
    return path


def quantize_block32(w):
    """w f32 [K, N] (MatMul's B) -> (packed uint8 [N, K/32, 16], scales f32 [N * K/32])."""
    k, n = w.shape
    assert k % BLOCK == 0, "K must be a multiple of 32"
    blocks = w.T.reshape(n, k // BLOCK, BLOCK)                    # [N, nb, 32]
    scale = np.abs(blocks).max(axis=2) / 7.0
    scale[scale == 0] = 1.0
    q = np.clip(np.rint(blocks / scale[:, :, None]), -8, 7).astype(np.int32) + 8  # zero point 8
    packed = (q[:, :, 0::2] | (q[:, :, 1::2] << 4)).astype(np.uint8)  # low nibble first
    return packed, scale.astype(np.float32).reshape(-1)


def rewrite_nbits(src, dst):
    m = onnx.load(src)
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    nodes, used, converted = [], set(), 0
    for node in g.node:
        w = inits.get(node.input[1]) if node.op_type == "MatMul" and len(node.input) == 2 else None
        if w is None or len(w.dims) != 2 or w.dims[0] % BLOCK:
            nodes.append(node)
            continue
        arr = numpy_helper.to_array(w).astype(np.float32)
        k, n = arr.shape
        packed, scales = quantize_block32(arr)
        bq, sc = node.name + "_nbits_B", node.name + "_nbits_scales"
        g.initializer.extend([numpy_helper.from_array(packed, bq), numpy_helper.from_array(scales, sc)])
        nodes.append(helper.make_node("MatMulNBits", [node.input[0], bq, sc], list(node.output),
                                      name=node.name + "_nbits", domain="com.microsoft", K=k, N=n,
                                      bits=4, block_size=BLOCK, accuracy_level=4))
        used.add(node.input[1])
        converted += 1
    del g.node[:]
    g.node.extend(nodes)
    keep = [t for t in g.initializer if t.name not in used]
    del g.initializer[:]
    g.initializer.extend(keep)
    m.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(m, dst)
    return converted


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--nbits":
        n = rewrite_nbits(sys.argv[2], sys.argv[3])
        print(f"{sys.argv[3]}: {n} MatMuls -> MatMulNBits")
        return
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    path = export(out)
    converted = rewrite_nbits(path, os.path.join(out, "llama.nbits.onnx"))
    rng = np.random.default_rng(0)
    for length in (1, 64, 512):
        np.save(os.path.join(out, f"ids_{length}.npy"), rng.integers(0, VOCAB, (1, length), dtype=np.int64))
    np.save(os.path.join(out, "calib_ids.npy"), rng.integers(0, VOCAB, (16, 128), dtype=np.int64))
    print(f"{path}: {LAYERS} blocks, hidden {DIM}, MLP {MLP}, vocab {VOCAB}; "
          f"{converted} MatMuls -> MatMulNBits in llama.nbits.onnx")


if __name__ == "__main__":
    main()
