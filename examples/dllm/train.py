#!/usr/bin/python3
"""Train, evaluate and export a small LLaDA-style masked diffusion LM (byte level, KJV text).

Everything freeact's dLLM example ships is produced by this one script:

  model.onnx              opset 17, input `input_ids` int64 [B,T], output `logits` f32 [B,T,257]
  calib_input_ids.npy     int64 [64,128]  calibration sequences (training text, random mask ratios)
  calib_ratio.npy         float32 [64]    the mask ratio each calibration row was drawn with
  eval_input_ids.npy      int64 [3N,128]  held-out sequences with MASK (256) inserted
  eval_targets.npy        int64 [3N,128]  the original bytes
  eval_target_mask.npy    uint8 [3N,128]  1 where the input is MASK (the positions scored)
  eval_ratio.npy          float32 [3N]    0.15 / 0.5 / 0.9 (N rows each, in that order)
  metrics.json            PyTorch's metrics on exactly those arrays, plus training figures

Model (Llama-style, no biases anywhere): byte embedding (257 x 256) -> 4 blocks of
[RMSNorm -> bidirectional multi-head attention with RoPE -> residual; RMSNorm -> SwiGLU MLP ->
residual] -> final RMSNorm -> untied LM head (256 -> 257).

Data: `bible -f Gen1:1-Rev22:21` (Debian package bible-kjv) prints one verse per line as
"Ge1:1 In the beginning ..."; the reference is stripped and the verses are joined with "\\n".
The last 5% of the bytes are held out (never trained on); the eval set comes from them, the
calibration set from the training part.

Objective: masked diffusion (LLaDA): per sequence t ~ U(0,1) clamped to [1e-3, 1], every byte is
replaced by MASK (256) independently with probability t (at least one per sequence), and the loss
is the PLAIN MEAN cross-entropy over all masked positions of the batch (no 1/t weighting: it is
much less noisy for a short CPU run).

Usage: nice -n 10 /usr/bin/python3 examples/dllm/train.py [--minutes 45] [--out DIR]
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB = 257
MASK_ID = 256
BIBLE_CMD = ["bible", "-f", "Gen1:1-Rev22:21"]


# ----------------------------------------------------------------------------- model
class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        # written out so that it exports as Pow/ReduceMean/Add/Sqrt/Div/Mul
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads, self.hd = heads, dim // heads
        self.q_proj = nn.Linear(dim, dim, bias=False)
        self.k_proj = nn.Linear(dim, dim, bias=False)
        self.v_proj = nn.Linear(dim, dim, bias=False)
        self.o_proj = nn.Linear(dim, dim, bias=False)

    def forward(self, x, cos, sin, mask=None):
        B, T, C = x.shape
        q = self.q_proj(x).view(B, T, self.heads, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.heads, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.heads, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        s = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(self.hd))
        if mask is not None:
            s = s + mask
        p = torch.softmax(s, dim=-1)
        y = torch.matmul(p, v).transpose(1, 2).reshape(B, T, C)
        return self.o_proj(y)


class MLP(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.gate_proj = nn.Linear(dim, hidden, bias=False)
        self.up_proj = nn.Linear(dim, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, dim, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, dim, heads, mlp):
        super().__init__()
        self.input_layernorm = RMSNorm(dim)
        self.self_attn = Attention(dim, heads)
        self.post_attention_layernorm = RMSNorm(dim)
        self.mlp = MLP(dim, mlp)

    def forward(self, x, cos, sin, mask=None):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


def rope_tables(max_len, head_dim, theta=10000.0):
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    pos = torch.arange(max_len, dtype=torch.float32)
    f = torch.outer(pos, inv)
    emb = torch.cat((f, f), dim=-1)  # half-split layout, matches rotate_half
    return emb.cos(), emb.sin()


class DiffusionLM(nn.Module):
    def __init__(self, vocab=VOCAB, dim=256, layers=4, heads=4, mlp=704, max_len=512):
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab, dim)
        self.layers = nn.ModuleList([Block(dim, heads, mlp) for _ in range(layers)])
        self.norm = RMSNorm(dim)
        self.lm_head = nn.Linear(dim, vocab, bias=False)
        cos, sin = rope_tables(max_len, dim // heads)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.apply(self._init)
        for n, p in self.named_parameters():  # GPT-2 style scaled residual projections
            if n.endswith("o_proj.weight") or n.endswith("down_proj.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * layers))

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)

    def forward(self, input_ids):
        T = input_ids.shape[1]
        cos, sin = self.rope_cos[:T], self.rope_sin[:T]  # [T, hd], broadcast over [B,H,T,hd]
        x = self.embed_tokens(input_ids)
        for blk in self.layers:
            x = blk(x, cos, sin)  # bidirectional: no mask
        return self.lm_head(self.norm(x))


# ----------------------------------------------------------------------------- data
def load_text():
    out = subprocess.run(BIBLE_CMD, check=True, stdout=subprocess.PIPE).stdout.decode("ascii")
    verses = []
    for line in out.splitlines():
        line = line.strip()
        if not line:
            continue
        ref, _, body = line.partition(" ")
        verses.append(body.strip())
    data = np.frombuffer("\n".join(verses).encode("ascii"), dtype=np.uint8).astype(np.int64)
    return data, len(verses)


def windows(data, n, L, rng):
    off = rng.integers(0, len(data) - L, size=n)
    return np.stack([data[o:o + L] for o in off])


def mask_exact(x, ratio, rng):
    """Mask exactly round(ratio*L) random positions per row."""
    n, L = x.shape
    k = int(round(ratio * L))
    m = np.zeros((n, L), dtype=np.uint8)
    for i in range(n):
        m[i, rng.choice(L, size=k, replace=False)] = 1
    return np.where(m == 1, MASK_ID, x), m


def mask_random(x, gen, eps=1e-3):
    """Training corruption: t ~ U(eps,1) per row, Bernoulli(t) per token, >= 1 mask per row."""
    B, L = x.shape
    t = torch.rand(B, 1, generator=gen).clamp_(eps, 1.0)
    m = torch.rand(B, L, generator=gen) < t
    none = ~m.any(1)
    if none.any():
        idx = torch.randint(0, L, (int(none.sum()),), generator=gen)
        m[none.nonzero(as_tuple=True)[0], idx] = True
    return torch.where(m, torch.full_like(x, MASK_ID), x), m, t.squeeze(1)


@torch.no_grad()
def evaluate(model, ids, tgt, msk, bs=64):
    """Exactly what the C side computes: argmax accuracy and mean NLL (float32 log_softmax)."""
    model.eval()
    correct, nll, cnt = [], [], []
    for i in range(0, len(ids), bs):
        lg = model(torch.from_numpy(ids[i:i + bs])).float()
        t = torch.from_numpy(tgt[i:i + bs])
        m = torch.from_numpy(msk[i:i + bs]).bool()
        lp = torch.log_softmax(lg, dim=-1).gather(-1, t.unsqueeze(-1)).squeeze(-1)
        correct.append(((lg.argmax(-1) == t) & m).sum(1).numpy())
        nll.append((-lp * m).double().sum(1).numpy())
        cnt.append(m.sum(1).numpy())
    model.train()
    return np.concatenate(correct), np.concatenate(nll), np.concatenate(cnt)


def summarize(c, n, k):
    k_ = int(k.sum())
    return {"accuracy": float(c.sum() / k_), "mean_nll": float(n.sum() / k_), "tokens": k_}


# ----------------------------------------------------------------------------- ONNX check
def numpy_run_onnx(path, feeds):
    """Tiny NumPy interpreter for the ops this example exports (onnxruntime is not available).

    Used only to check that the exported graph computes what PyTorch computes."""
    import onnx
    from onnx import numpy_helper
    g = onnx.load(path).graph
    env = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    env.update(feeds)

    def attr(n, name, default=None):
        for a in n.attribute:
            if a.name == name:
                return onnx.helper.get_attribute_value(a)
        return default

    for n in g.node:
        x = [env[i] if i else None for i in n.input]
        op = n.op_type
        if op == "Constant":
            y = numpy_helper.to_array(attr(n, "value"))
        elif op == "Gather":
            y = np.take(x[0], x[1], axis=attr(n, "axis", 0))
        elif op == "Shape":
            y = np.array(x[0].shape, dtype=np.int64)
        elif op == "Unsqueeze":
            y = np.expand_dims(x[0], tuple(int(a) for a in x[1]))
        elif op == "Squeeze":
            y = np.squeeze(x[0], tuple(int(a) for a in x[1])) if len(x) > 1 else np.squeeze(x[0])
        elif op == "Concat":
            y = np.concatenate(x, axis=attr(n, "axis"))
        elif op == "Reshape":
            shp = [x[0].shape[i] if s == 0 else s for i, s in enumerate(x[1])]
            y = x[0].reshape(shp)
        elif op == "Transpose":
            y = np.transpose(x[0], attr(n, "perm"))
        elif op == "Slice":
            st, en = x[1], x[2]
            ax = x[3] if len(x) > 3 and x[3] is not None else range(len(st))
            sp = x[4] if len(x) > 4 and x[4] is not None else [1] * len(st)
            sl = [slice(None)] * x[0].ndim
            for s, e, a, p in zip(st, en, ax, sp):
                sl[int(a)] = slice(int(s), int(min(e, 2**62)) if e > -2**62 else None, int(p))
            y = x[0][tuple(sl)]
        elif op == "MatMul":
            y = np.matmul(x[0], x[1])
        elif op == "Gemm":
            a = x[0].T if attr(n, "transA", 0) else x[0]
            b = x[1].T if attr(n, "transB", 0) else x[1]
            y = attr(n, "alpha", 1.0) * (a @ b)
            if len(x) > 2:
                y = y + attr(n, "beta", 1.0) * x[2]
        elif op in ("Add", "Sub", "Mul", "Div", "Pow"):
            f = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide,
                 "Pow": np.power}[op]
            y = f(x[0], x[1]).astype(np.result_type(x[0]))
        elif op == "Neg":
            y = -x[0]
        elif op == "Sqrt":
            y = np.sqrt(x[0])
        elif op == "Reciprocal":
            y = (1.0 / x[0]).astype(x[0].dtype)
        elif op == "Erf":
            import math as _m
            y = np.vectorize(_m.erf, otypes=[x[0].dtype])(x[0])
        elif op == "Sigmoid":
            y = (1.0 / (1.0 + np.exp(-x[0]))).astype(x[0].dtype)
        elif op == "ReduceMean":
            y = x[0].mean(axis=tuple(attr(n, "axes")), keepdims=bool(attr(n, "keepdims", 1)))
        elif op == "Softmax":
            a = attr(n, "axis", -1)
            e = np.exp(x[0] - x[0].max(axis=a, keepdims=True))
            y = e / e.sum(axis=a, keepdims=True)
        elif op == "LayerNormalization":
            a = attr(n, "axis", -1)
            axes = tuple(range(a % x[0].ndim, x[0].ndim))
            mu = x[0].mean(axis=axes, keepdims=True)
            var = ((x[0] - mu) ** 2).mean(axis=axes, keepdims=True)
            y = (x[0] - mu) / np.sqrt(var + attr(n, "epsilon", 1e-5)) * x[1]
            if len(x) > 2 and x[2] is not None:
                y = y + x[2]
        elif op == "Conv":
            w = x[1]
            s = attr(n, "strides")
            k = w.shape[2]
            assert s == [k, k] and attr(n, "pads", [0, 0, 0, 0]) == [0, 0, 0, 0]
            B, C, H, W = x[0].shape
            p = x[0].reshape(B, C, H // k, k, W // k, k).transpose(0, 2, 4, 1, 3, 5)
            y = np.einsum("bhwcij,ocij->bohw", p, w)
            if len(x) > 2:
                y = y + x[2][None, :, None, None]
        elif op == "Cast":
            y = x[0].astype(onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[attr(n, "to")])
        elif op == "Expand":
            y = x[0] * np.ones(x[1], dtype=x[0].dtype)
        elif op == "Where":
            y = np.where(x[0], x[1], x[2])
        elif op == "Equal":
            y = np.equal(x[0], x[1])
        elif op == "Range":
            y = np.arange(x[0], x[1], x[2])
        else:
            raise NotImplementedError(op)
        env[n.output[0]] = np.asarray(y)
    return [env[o.name] for o in g.output]


def check_onnx(path, model, feeds_np):
    import onnx
    m = onnx.load(path)
    onnx.checker.check_model(m)
    ops = sorted({n.op_type for n in m.graph.node})
    with torch.no_grad():
        ref = model(*[torch.from_numpy(v) for v in feeds_np.values()]).numpy()
    got = numpy_run_onnx(path, feeds_np)[0]
    err = float(np.abs(got - ref).max())
    print(f"onnx: checker ok, {len(m.graph.node)} nodes, ops {ops}, numpy-vs-torch max|diff| {err:.3g}")
    return ops, err


# ----------------------------------------------------------------------------- main
def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=here)
    ap.add_argument("--minutes", type=float, default=45.0, help="training time budget")
    ap.add_argument("--steps", type=int, default=0,
                    help="fixed step count (schedule by steps); default: schedule by the time budget")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--mlp", type=int, default=704)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--eval-per-ratio", type=int, default=64)
    ap.add_argument("--eval-every", type=float, default=180.0, help="seconds between held-out evals")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1 measured faster than 2 on the shared 2-core machine)")
    ap.add_argument("--ckpt", default="/tmp/freeact-dllm.pt")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)

    data, nverses = load_text()
    split = int(len(data) * 0.95)
    train, held = data[:split], data[split:]
    print(f"text: {len(data)} bytes, {nverses} verses; train {len(train)}, held-out {len(held)}")

    # fixed eval set (held-out text) and calibration set (training text)
    erng = np.random.default_rng(1234)
    ratios = [0.15, 0.5, 0.9]
    ev_ids, ev_tgt, ev_msk, ev_r = [], [], [], []
    for r in ratios:
        x = windows(held, a.eval_per_ratio, a.seq, erng)
        xi, m = mask_exact(x, r, erng)
        ev_ids.append(xi); ev_tgt.append(x); ev_msk.append(m)
        ev_r.append(np.full(a.eval_per_ratio, r, np.float32))
    ev_ids, ev_tgt = np.concatenate(ev_ids).astype(np.int64), np.concatenate(ev_tgt).astype(np.int64)
    ev_msk, ev_r = np.concatenate(ev_msk).astype(np.uint8), np.concatenate(ev_r)
    crng = np.random.default_rng(4321)
    cx = windows(train, 64, a.seq, crng)
    c_r = crng.uniform(0.05, 0.95, size=64).astype(np.float32)
    cm = crng.random(cx.shape) < c_r[:, None]
    c_ids = np.where(cm, MASK_ID, cx).astype(np.int64)

    model = DiffusionLM(layers=a.layers, mlp=a.mlp)
    nparam = sum(p.numel() for p in model.parameters())
    print(f"model: {nparam} parameters")
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95))
    gen = torch.Generator().manual_seed(a.seed)
    train_t = torch.from_numpy(train)
    budget = a.minutes * 60.0
    t0 = time.time()
    step, last_eval, ema, history = 0, t0, None, []
    while True:
        el = time.time() - t0
        frac = step / a.steps if a.steps else el / budget
        if frac >= 1.0:
            break
        lr = a.lr * min(1.0, (step + 1) / a.warmup) * (0.1 + 0.45 * (1 + math.cos(math.pi * frac)))
        for gp in opt.param_groups:
            gp["lr"] = lr
        off = torch.randint(0, len(train_t) - a.seq, (a.batch,), generator=gen)
        x = torch.stack([train_t[o:o + a.seq] for o in off.tolist()])
        xi, m, _ = mask_random(x, gen)
        logits = model(xi)
        loss = F.cross_entropy(logits[m], x[m])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
        if step % 50 == 0:
            print(f"step {step} t={el:.0f}s lr={lr:.2e} loss={loss.item():.4f} ema={ema:.4f}", flush=True)
        if time.time() - last_eval > a.eval_every:
            last_eval = time.time()
            c, n, k = evaluate(model, ev_ids, ev_tgt, ev_msk)
            s = summarize(c, n, k)
            history.append({"step": step, "seconds": round(el), "train_loss_ema": ema,
                            "heldout_nll": s["mean_nll"], "heldout_acc": s["accuracy"]})
            print(f"  eval step {step}: held-out nll {s['mean_nll']:.4f} acc {s['accuracy']:.4f}", flush=True)
            torch.save(model.state_dict(), a.ckpt)
    train_s = time.time() - t0
    torch.save(model.state_dict(), a.ckpt)
    model.eval()

    # metrics on exactly the shipped arrays
    c, n, k = evaluate(model, ev_ids, ev_tgt, ev_msk)
    metrics = {"all": summarize(c, n, k)}
    for r in ratios:
        sel = ev_r == np.float32(r)
        metrics[f"ratio_{r}"] = summarize(c[sel], n[sel], k[sel])
    print("final:", json.dumps(metrics))

    # export
    path = os.path.join(a.out, "model.onnx")
    with torch.no_grad():
        torch.onnx.export(model, (torch.from_numpy(ev_ids[:2]),), path, opset_version=17,
                          input_names=["input_ids"], output_names=["logits"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "seq"},
                                        "logits": {0: "batch", 1: "seq"}},
                          do_constant_folding=True)
    ops, err = check_onnx(path, model, {"input_ids": ev_ids[:4, :100].copy()})

    np.save(os.path.join(a.out, "eval_input_ids.npy"), ev_ids)
    np.save(os.path.join(a.out, "eval_targets.npy"), ev_tgt)
    np.save(os.path.join(a.out, "eval_target_mask.npy"), ev_msk)
    np.save(os.path.join(a.out, "eval_ratio.npy"), ev_r)
    np.save(os.path.join(a.out, "calib_input_ids.npy"), c_ids)
    np.save(os.path.join(a.out, "calib_ratio.npy"), c_r)
    info = {
        "metrics": metrics,
        "definition": "accuracy = mean over positions with eval_target_mask==1 of argmax(logits)==target; "
                      "mean_nll = mean over the same positions of -log_softmax(logits, float32)[target]",
        "token_type_rule": "input_ids == 256 (MASK)",
        "seed": a.seed, "steps": step, "batch": a.batch, "seq": a.seq,
        "tokens_seen": step * a.batch * a.seq,
        "train_seconds": round(train_s, 1), "minutes_budget": a.minutes,
        "final_train_loss_ema": ema, "final_heldout_nll": metrics["all"]["mean_nll"],
        "loss": "plain mean cross-entropy over masked positions (no 1/t weight)",
        "parameters": nparam, "layers": a.layers, "hidden": 256, "heads": 4, "mlp": a.mlp,
        "onnx_ops": ops, "onnx_numpy_max_abs_diff": err,
        "onnx_bytes": os.path.getsize(path), "history": history,
        "torch": torch.__version__, "data_command": " ".join(BIBLE_CMD),
    }
    with open(os.path.join(a.out, "metrics.json"), "w") as f:
        json.dump(info, f, indent=1)
    print(f"wrote {a.out}: model.onnx {os.path.getsize(path)/1e6:.1f} MB, {step} steps in {train_s:.0f}s")


if __name__ == "__main__":
    main()
