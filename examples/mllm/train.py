#!/usr/bin/python3
"""Train, evaluate and export a small vision-language model on synthetic shape images.

Everything freeact's MLLM example ships is produced by this one script:

  model.onnx               opset 17; inputs `pixel_values` f32 [B,3,32,32] and `input_ids` int64 [B,T];
                           output `logits` f32 [B,16+T,259] (16 vision positions, then T text positions)
  calib_pixel_values.npy   f32 [64,3,32,32]  calibration images (training generator stream)
  calib_input_ids.npy      int64 [64,96]     their captions: BOS + bytes, PAD-padded
  eval_pixel_values.npy    f32 [N,3,32,32]   held-out images (a different seed)
  eval_input_ids.npy       int64 [N,96]      BOS + caption bytes, PAD-padded (teacher forcing)
  eval_targets.npy         int64 [N,112]     aligned with the logits' sequence axis: at 16+i the
                                             next caption token after input_ids[:, i] (bytes, EOS)
  eval_target_mask.npy     uint8 [N,112]     1 on the caption tokens scored (incl. EOS), 0 on the
                                             16 vision positions and on padding
  metrics.json             PyTorch's metrics on exactly those arrays, plus training figures

Model: ViT encoder (Conv2d 3->256, kernel = stride = 8 on 32x32 -> 16 patches, learned position
embedding, 2 pre-LayerNorm blocks of bidirectional MHA + GELU MLP 1024, with biases, final
LayerNorm) -> projector Linear(256,256)-GELU-Linear(256,256) -> 16 vision tokens PREFIXED to the
embedded caption -> causal Llama-style LM (4 blocks: RMSNorm, RoPE over the whole sequence
(positions 0..16+T-1), SwiGLU 704, no biases, hidden 256, 4 heads) -> RMSNorm -> LM head (259).
The causal mask covers the whole sequence: vision tokens attend to earlier vision tokens only.

Training: AdamW, peak lr 1.5e-3 with the vision tower and projector at 0.1x (--vision-lr-mult;
with one lr the vision features drift and the LM learns to ignore them), warmup + cosine over the
time budget; every held-out eval also reports the NLL with the images shuffled (the image gain).

Vocabulary: bytes 0..255, BOS 256, EOS 257, PAD 258 (V = 259).
Images: dark noisy background, one or two objects: shape {square, circle, triangle, cross,
diamond} x colour {red, green, blue, yellow, purple, cyan, white, orange} x size {small, large} at
one of 9 places {top left, top, top right, left, center, right, bottom left, bottom, bottom right};
two objects sit in cells two apart (no overlap) and are captioned in reading order, e.g.
"a large red circle at the top left and a small blue cross at the bottom".

Usage: nice -n 10 /usr/bin/python3 examples/mllm/train.py [--minutes 35] [--out DIR]
"""
import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

BOS, EOS, PAD = 256, 257, 258
VOCAB = 259
NPATCH = 16
TMAX = 96  # padded text length of the shipped arrays
VISION_PREFIXES = ("patch_embed", "pos_embed", "vit", "proj1", "proj2")

SHAPES = ["square", "circle", "triangle", "cross", "diamond"]
COLOURS = {"red": (1.0, 0.1, 0.1), "green": (0.1, 0.85, 0.1), "blue": (0.15, 0.25, 1.0),
           "yellow": (1.0, 1.0, 0.1), "purple": (0.65, 0.1, 0.85), "cyan": (0.1, 0.9, 0.9),
           "white": (1.0, 1.0, 1.0), "orange": (1.0, 0.55, 0.05)}
CNAMES = list(COLOURS)
PLACES = ["top left", "top", "top right", "left", "center", "right",
          "bottom left", "bottom", "bottom right"]


# ----------------------------------------------------------------------------- data
def draw_object(img, shape, colour, size, cell, rng):
    r0, c0 = divmod(cell, 3)
    cy = 7.0 + 9.0 * r0 + rng.uniform(-1.0, 1.0)
    cx = 7.0 + 9.0 * c0 + rng.uniform(-1.0, 1.0)
    r = (3.2 if size == "small" else 6.3) + rng.uniform(-0.4, 0.4)
    yy, xx = np.mgrid[0:32, 0:32] + 0.5
    dy, dx = yy - cy, xx - cx
    if shape == "square":
        m = np.maximum(np.abs(dx), np.abs(dy)) <= r * 0.85
    elif shape == "circle":
        m = dx * dx + dy * dy <= r * r
    elif shape == "triangle":
        m = (dy >= -r) & (dy <= r) & (np.abs(dx) <= (dy + r) / 2.0)
    elif shape == "cross":
        w = max(r / 3.0, 1.0)
        m = ((np.abs(dx) <= w) & (np.abs(dy) <= r)) | ((np.abs(dy) <= w) & (np.abs(dx) <= r))
    else:  # diamond
        m = np.abs(dx) + np.abs(dy) <= r
    col = np.clip(np.array(COLOURS[colour]) + rng.uniform(-0.08, 0.08, 3), 0.0, 1.0)
    img[:, m] = col[:, None]


def make_example(rng):
    img = rng.uniform(0.0, 0.25) + rng.normal(0.0, 0.07, (3, 32, 32))
    n = 1 if rng.random() < 0.5 else 2
    cells = [int(rng.integers(9))] if n == 1 else [int(rng.choice([0, 1, 2, 3, 5, 6, 7, 8]))]
    if n == 2:  # second cell two rows or two columns away: objects never overlap
        far = [c for c in range(9) if max(abs(c // 3 - cells[0] // 3), abs(c % 3 - cells[0] % 3)) >= 2]
        cells.append(int(rng.choice(far)))
    cells.sort()
    parts = []
    for cell in cells:
        shape = SHAPES[rng.integers(len(SHAPES))]
        colour = CNAMES[rng.integers(len(CNAMES))]
        size = "small" if rng.random() < 0.5 else "large"
        draw_object(img, shape, colour, size, cell, rng)
        parts.append(f"a {size} {colour} {shape} at the {PLACES[cell]}")
    img += rng.normal(0.0, 0.03, img.shape)  # a little noise on the objects too
    return img.astype(np.float32), " and ".join(parts)


def make_batch(rng, n, pad_to=None):
    imgs, caps = zip(*[make_example(rng) for _ in range(n)])
    toks = [list(c.encode("ascii")) for c in caps]
    T = pad_to or max(len(t) for t in toks) + 1
    ids = np.full((n, T), PAD, np.int64)
    tgt = np.full((n, T), PAD, np.int64)
    for i, t in enumerate(toks):
        ids[i, :len(t) + 1] = [BOS] + t
        tgt[i, :len(t) + 1] = t + [EOS]
    return np.stack(imgs), ids, tgt, list(caps)


def full_targets(tgt):
    """Targets aligned with the logits' sequence axis [N, 16+T] and the mask of scored positions."""
    n, T = tgt.shape
    full = np.zeros((n, NPATCH + T), np.int64)
    full[:, NPATCH:] = np.where(tgt == PAD, 0, tgt)
    mask = np.zeros((n, NPATCH + T), np.uint8)
    mask[:, NPATCH:] = tgt != PAD
    return full, mask


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
    def __init__(self, dim, heads, bias=False):
        super().__init__()
        self.heads, self.hd = heads, dim // heads
        self.q_proj = nn.Linear(dim, dim, bias=bias)
        self.k_proj = nn.Linear(dim, dim, bias=bias)
        self.v_proj = nn.Linear(dim, dim, bias=bias)
        self.o_proj = nn.Linear(dim, dim, bias=bias)

    def forward(self, x, cos=None, sin=None, mask=None):
        B, T, C = x.shape
        q = self.q_proj(x).view(B, T, self.heads, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.heads, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.heads, self.hd).transpose(1, 2)
        if cos is not None:
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
    """Llama block: RMSNorm, RoPE attention, SwiGLU, no biases."""

    def __init__(self, dim, heads, mlp):
        super().__init__()
        self.input_layernorm = RMSNorm(dim)
        self.self_attn = Attention(dim, heads)
        self.post_attention_layernorm = RMSNorm(dim)
        self.mlp = MLP(dim, mlp)

    def forward(self, x, cos, sin, mask=None):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class ViTBlock(nn.Module):
    """Pre-LayerNorm ViT block with biases: bidirectional MHA (no RoPE) + GELU MLP."""

    def __init__(self, dim, heads, mlp):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, bias=True)
        self.norm2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, mlp)
        self.fc2 = nn.Linear(mlp, dim)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


def rope_tables(max_len, head_dim, theta=10000.0):
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    pos = torch.arange(max_len, dtype=torch.float32)
    f = torch.outer(pos, inv)
    emb = torch.cat((f, f), dim=-1)  # half-split layout, matches rotate_half
    return emb.cos(), emb.sin()


class VLM(nn.Module):
    def __init__(self, dim=256, vit_layers=2, vit_mlp=1024, layers=4, heads=4, mlp=704, max_len=256):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, kernel_size=8, stride=8)
        self.pos_embed = nn.Parameter(torch.zeros(1, NPATCH, dim))
        self.vit = nn.ModuleList([ViTBlock(dim, heads, vit_mlp) for _ in range(vit_layers)])
        self.vit_norm = nn.LayerNorm(dim)
        self.proj1 = nn.Linear(dim, dim)
        self.proj2 = nn.Linear(dim, dim)
        self.embed_tokens = nn.Embedding(VOCAB, dim)
        self.layers = nn.ModuleList([Block(dim, heads, mlp) for _ in range(layers)])
        self.norm = RMSNorm(dim)
        self.lm_head = nn.Linear(dim, VOCAB, bias=False)
        cos, sin = rope_tables(max_len, dim // heads)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        causal = torch.full((max_len, max_len), -1e9).triu(1)  # additive mask, 0 on/below diagonal
        self.register_buffer("causal", causal, persistent=False)
        self.apply(self._init)
        nn.init.normal_(self.pos_embed, 0.0, 0.02)
        for n, p in self.named_parameters():
            if n.endswith("o_proj.weight") or n.endswith("down_proj.weight") or n.endswith("fc2.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * layers))

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)

    def forward(self, pixel_values, input_ids):
        v = self.patch_embed(pixel_values)                      # [B,256,4,4]
        v = v.flatten(2).transpose(1, 2) + self.pos_embed       # [B,16,256]
        for blk in self.vit:
            v = blk(v)
        v = self.proj2(F.gelu(self.proj1(self.vit_norm(v))))    # vision tokens
        x = torch.cat((v, self.embed_tokens(input_ids)), dim=1)  # [B,16+T,256]
        L = x.shape[1]
        cos, sin = self.rope_cos[:L], self.rope_sin[:L]
        mask = self.causal[:L, :L]
        for blk in self.layers:
            x = blk(x, cos, sin, mask)
        return self.lm_head(self.norm(x))                       # [B,16+T,259]


@torch.no_grad()
def evaluate(model, pix, ids, tgt, msk, bs=48):
    """Exactly what the C side computes: argmax accuracy and mean NLL (float32 log_softmax)."""
    model.eval()
    correct, nll, cnt = [], [], []
    for i in range(0, len(ids), bs):
        lg = model(torch.from_numpy(pix[i:i + bs]), torch.from_numpy(ids[i:i + bs])).float()
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


@torch.no_grad()
def greedy_captions(model, pix, max_len=TMAX):
    """Greedy decoding (no KV cache): the fraction of captions reproduced exactly."""
    model.eval()
    ids = torch.full((len(pix), 1), BOS, dtype=torch.long)
    done = torch.zeros(len(pix), dtype=torch.bool)
    px = torch.from_numpy(pix)
    for _ in range(max_len - 1):
        nxt = model(px, ids)[:, -1].argmax(-1)
        nxt = torch.where(done, torch.full_like(nxt, PAD), nxt)
        ids = torch.cat((ids, nxt[:, None]), 1)
        done |= nxt == EOS
        if done.all():
            break
    model.train()
    out = []
    for row in ids[:, 1:].tolist():
        out.append(bytes(t for t in row if t < 256).decode("ascii", "replace"))
    return out


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
    ap.add_argument("--minutes", type=float, default=35.0, help="training time budget")
    ap.add_argument("--steps", type=int, default=0,
                    help="fixed step count (schedule by steps); default: schedule by the time budget")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--mlp", type=int, default=704)
    ap.add_argument("--vit-layers", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--vision-lr-mult", type=float, default=0.1,
                    help="learning-rate multiplier for the vision tower and projector")
    ap.add_argument("--n-eval", type=int, default=96)
    ap.add_argument("--eval-every", type=float, default=150.0, help="seconds between held-out evals")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1 measured faster than 2 on the shared 2-core machine)")
    ap.add_argument("--ckpt", default="/tmp/freeact-mllm.pt")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    # held-out eval images come from their own generator seed; calibration from another one
    ev_pix, ev_ids, ev_t, ev_caps = make_batch(np.random.default_rng(1_000_003), a.n_eval, TMAX)
    ev_tgt, ev_msk = full_targets(ev_t)
    c_pix, c_ids, _, _ = make_batch(np.random.default_rng(2_000_003), 64, TMAX)
    train_rng = np.random.default_rng(a.seed)

    model = VLM(vit_layers=a.vit_layers, layers=a.layers, mlp=a.mlp)
    nparam = sum(p.numel() for p in model.parameters())
    print(f"model: {nparam} parameters")
    groups = {}
    for n, p in model.named_parameters():
        vis = n.startswith(VISION_PREFIXES)
        wd = 0.1 if p.ndim >= 2 and "pos_embed" not in n else 0.0
        groups.setdefault((vis, wd), []).append(p)
    opt = torch.optim.AdamW([{"params": ps, "weight_decay": wd,
                              "lr_mult": a.vision_lr_mult if vis else 1.0}
                             for (vis, wd), ps in groups.items()], lr=a.lr, betas=(0.9, 0.95))
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
            gp["lr"] = lr * gp["lr_mult"]
        pix, ids, tgt, _ = make_batch(train_rng, a.batch)
        logits = model(torch.from_numpy(pix), torch.from_numpy(ids))[:, NPATCH:]
        t = torch.from_numpy(tgt)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), t.reshape(-1), ignore_index=PAD)
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
            s = summarize(*evaluate(model, ev_pix, ev_ids, ev_tgt, ev_msk))
            sh = summarize(*evaluate(model, ev_pix[np.roll(np.arange(len(ev_pix)), 1)],
                                     ev_ids, ev_tgt, ev_msk))
            history.append({"step": step, "seconds": round(el), "train_loss_ema": ema,
                            "heldout_nll": s["mean_nll"], "heldout_acc": s["accuracy"],
                            "heldout_nll_shuffled_images": sh["mean_nll"]})
            print(f"  eval step {step}: held-out nll {s['mean_nll']:.4f} acc {s['accuracy']:.4f}"
                  f" (images shuffled: nll {sh['mean_nll']:.4f})", flush=True)
            torch.save(model.state_dict(), a.ckpt)
    train_s = time.time() - t0
    torch.save(model.state_dict(), a.ckpt)
    model.eval()

    metrics = {"all": summarize(*evaluate(model, ev_pix, ev_ids, ev_tgt, ev_msk))}
    gen = greedy_captions(model, ev_pix)
    exact = float(np.mean([g == c for g, c in zip(gen, ev_caps)]))
    print("final:", json.dumps(metrics), f"greedy exact-match {exact:.3f}")
    for g, c in list(zip(gen, ev_caps))[:5]:
        print(f"  ref: {c!r}\n  gen: {g!r}")

    path = os.path.join(a.out, "model.onnx")
    with torch.no_grad():
        torch.onnx.export(model, (torch.from_numpy(ev_pix[:2]), torch.from_numpy(ev_ids[:2])), path,
                          opset_version=17, input_names=["pixel_values", "input_ids"],
                          output_names=["logits"],
                          dynamic_axes={"pixel_values": {0: "batch"},
                                        "input_ids": {0: "batch", 1: "seq"},
                                        "logits": {0: "batch", 1: "seq_plus_16"}},
                          do_constant_folding=True)
    ops, err = check_onnx(path, model, {"pixel_values": ev_pix[:3].copy(),
                                        "input_ids": ev_ids[:3, :60].copy()})

    np.save(os.path.join(a.out, "eval_pixel_values.npy"), ev_pix)
    np.save(os.path.join(a.out, "eval_input_ids.npy"), ev_ids)
    np.save(os.path.join(a.out, "eval_targets.npy"), ev_tgt)
    np.save(os.path.join(a.out, "eval_target_mask.npy"), ev_msk)
    np.save(os.path.join(a.out, "calib_pixel_values.npy"), c_pix)
    np.save(os.path.join(a.out, "calib_input_ids.npy"), c_ids)
    info = {
        "metrics": metrics,
        "definition": "accuracy = mean over positions with eval_target_mask==1 of argmax(logits)==target; "
                      "mean_nll = mean over the same positions of -log_softmax(logits, float32)[target]; "
                      "logits cover 16 vision + T text positions, targets are aligned with them",
        "greedy_caption_exact_match": exact,
        "greedy_examples": [{"ref": c, "gen": g} for g, c in list(zip(gen, ev_caps))[:8]],
        "token_type_rule": "position < 16 (vision prefix) vs text",
        "seed": a.seed, "steps": step, "batch": a.batch,
        "train_seconds": round(train_s, 1), "minutes_budget": a.minutes,
        "final_train_loss_ema": ema, "final_heldout_nll": metrics["all"]["mean_nll"],
        "loss": "mean cross-entropy over caption tokens (bytes + EOS), PAD ignored",
        "parameters": nparam, "vit_layers": a.vit_layers, "layers": a.layers, "hidden": 256,
        "heads": 4, "mlp": a.mlp, "vit_mlp": 1024,
        "onnx_ops": ops, "onnx_numpy_max_abs_diff": err,
        "onnx_bytes": os.path.getsize(path), "history": history, "torch": torch.__version__,
    }
    with open(os.path.join(a.out, "metrics.json"), "w") as f:
        json.dump(info, f, indent=1)
    print(f"wrote {a.out}: model.onnx {os.path.getsize(path)/1e6:.1f} MB, {step} steps in {train_s:.0f}s")


if __name__ == "__main__":
    main()
