# Makes the tiny model and data of the compile tests (run with /usr/bin/python3; numpy only).
# tiny.fir: ids [N,T] -> embedding (gather) -> rms_norm(gamma) -> q/k linears + an MLP, so
# the compiler sees a norm to fold, a two-linear site and single-linear sites; token type 1 is
# id 3 ("MASK"), whose embedding row has a different outlier channel.
import numpy as np

rng = np.random.default_rng(7)
V, D, H = 5, 8, 12
emb = rng.normal(size=(V, D)).astype(np.float32)
emb[:, 1] *= 6.0
emb[3, 1] = 0.1
emb[3, 5] = 9.0
gamma = (1.0 + 0.2 * rng.normal(size=D)).astype(np.float32)
wq = rng.normal(size=(D, D)).astype(np.float32) / np.sqrt(D)
wk = rng.normal(size=(D, D)).astype(np.float32) / np.sqrt(D)
w1 = rng.normal(size=(H, D)).astype(np.float32) / np.sqrt(D)
w2 = rng.normal(size=(D, H)).astype(np.float32) / np.sqrt(H)


def dense(a):
    return "dense<[" + ", ".join(repr(float(v)) for v in a.reshape(-1)) + "]>"


with open("tiny.fir", "w") as f:
    f.write("// A tiny model for the compile tests (make_data.py writes it).\n")
    f.write("graph @tiny(%ids: i64[N,T]) {\n")
    f.write(f"  const @emb = f32[{V},{D}] {dense(emb)}\n")
    f.write(f"  const @gamma = f32[{D}] {dense(gamma)}\n")
    f.write(f"  const @wq = f32[{D},{D}] {dense(wq)}\n")
    f.write(f"  const @wk = f32[{D},{D}] {dense(wk)}\n")
    f.write(f"  const @w1 = f32[{H},{D}] {dense(w1)}\n")
    f.write(f"  const @w2 = f32[{D},{H}] {dense(w2)}\n")
    f.write(f"  %x = gather(@emb, %ids) {{axis = 0}} : f32[N,T,{D}]\n")
    f.write(f"  %n = rms_norm(%x, @gamma) {{epsilon = 1e-06}} : f32[N,T,{D}]\n")
    f.write(f"  %q = linear(%n, @wq) : f32[N,T,{D}] loc(\"/blk/q_proj/MatMul\")\n")
    f.write(f"  %k = linear(%n, @wk) : f32[N,T,{D}] loc(\"/blk/k_proj/MatMul\")\n")
    f.write(f"  %h = linear(%q, @w1) : f32[N,T,{H}] loc(\"/blk/up/MatMul\")\n")
    f.write(f"  %r = relu(%h) : f32[N,T,{H}]\n")
    f.write(f"  %o = linear(%r, @w2) : f32[N,T,{D}] loc(\"/blk/down/MatMul\")\n")
    f.write(f"  %y = add(%o, %k) : f32[N,T,{D}]\n")
    f.write("  return %y\n}\n")

ids = rng.integers(0, V, size=(16, 6)).astype(np.int64)
np.save("calib_ids.npy", ids)
np.save("calib_ids_f32.npy", ids.astype(np.float32))
np.save("types.npy", (ids == 3).astype(np.int64))
np.save("types_bad.npy", np.full((16, 6), 9, dtype=np.int64))
np.save("ids_1d.npy", ids[:, 0].copy())
np.save("x.npy", ids[:2])
