#!/usr/bin/env python3
"""Writes docs/performance.md and its plots from the benchmark tables of one run:
build/bench/kernels.tsv (bench_kernels --tsv) and build/bench/models.tsv (bench/models).
Standard library only; the plots are SVG written here.
usage: bench/report.py [--dir build/bench] [--out docs]"""
import argparse
import csv
import math
import os
import platform
import subprocess
import sys


def read_tsv(path, meta=None):
    """Rows of a TSV with a header line; lines starting with '#' are "# key<TAB>value" metadata."""
    if not os.path.exists(path):
        return None
    with open(path, newline="") as f:
        body = []
        for line in f:
            if line.startswith("#"):
                if meta is not None and "\t" in line:
                    k, v = line[1:].strip().split("\t", 1)
                    meta[k] = v
            else:
                body.append(line)
    return list(csv.DictReader(body, delimiter="\t"))


def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def fmt(x, digits=1):
    return "–" if x is None else f"{x:.{digits}f}"


# ------------------------------------------------------------------------------------------ SVG

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf", "#7f7f7f"]


def svg_plot(path, title, xlabel, ylabel, series, logx=False, logy=False, lines=True, roofs=()):
    """series: [(label, [(x, y), ...])]; roofs: [(label, [(x, y), ...])] drawn dashed."""
    W, H, L, R, T, B = 720, 440, 70, 190, 40, 50
    pts = [p for _, s in list(series) + list(roofs) for p in s if p[1] and p[1] > 0]
    if not pts:
        return False
    tx = (lambda v: math.log10(v)) if logx else (lambda v: v)
    ty = (lambda v: math.log10(v)) if logy else (lambda v: v)
    xs, ys = [tx(p[0]) for p in pts], [ty(p[1]) for p in pts]
    x0, x1 = min(xs), max(xs)
    y0, y1 = (min(ys), max(ys)) if logy else (0.0, max(ys))
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    if y1 == y0:
        y1 = y0 + 1
    pad = 0.05 * (y1 - y0)
    y0, y1 = (y0 - pad, y1 + pad) if logy else (y0, y1 + pad)

    def X(v):
        return L + (tx(v) - x0) / (x1 - x0) * (W - L - R)

    def Y(v):
        return H - B - (ty(v) - y0) / (y1 - y0) * (H - T - B)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="15">{title}</text>',
           f'<line x1="{L}" y1="{H - B}" x2="{W - R}" y2="{H - B}" stroke="black"/>',
           f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H - B}" stroke="black"/>',
           f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle">{xlabel}</text>',
           f'<text x="16" y="{(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 16 {(T + H - B) / 2})">{ylabel}</text>']
    # ticks: the data's x values (few) and 5 y levels
    xticks = sorted({p[0] for p in pts})
    if len(xticks) > 8:  # many distinct values: decades (log axis) or 6 even steps
        xticks = ([10.0 ** e for e in range(math.ceil(x0), math.floor(x1) + 1)] if logx
                  else [x0 + (x1 - x0) * k / 5 for k in range(6)])
    for xv in xticks:
        out.append(f'<text x="{X(xv):.1f}" y="{H - B + 16}" text-anchor="middle">{xv:g}</text>')
    for k in range(6):
        yt = y0 + (y1 - y0) * k / 5
        yv = 10 ** yt if logy else yt
        yp = H - B - (yt - y0) / (y1 - y0) * (H - T - B)
        out.append(f'<line x1="{L - 4}" y1="{yp:.1f}" x2="{W - R}" y2="{yp:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{L - 6}" y="{yp + 4:.1f}" text-anchor="end">{yv:.3g}</text>')
    legend = 0
    for i, (label, s) in enumerate(list(series) + list(roofs)):
        s = sorted(p for p in s if p[1] and p[1] > 0)
        if not s:
            continue
        c = COLORS[i % len(COLORS)]
        dash = ' stroke-dasharray="6 4"' if i >= len(series) else ""
        if lines or i >= len(series):
            d = " ".join(f"{'M' if j == 0 else 'L'}{X(x):.1f},{Y(y):.1f}" for j, (x, y) in enumerate(s))
            out.append(f'<path d="{d}" fill="none" stroke="{c}" stroke-width="2"{dash}/>')
        if i < len(series):
            for x, y in s:
                out.append(f'<circle cx="{X(x):.1f}" cy="{Y(y):.1f}" r="3.5" fill="{c}"/>')
        ly = T + 10 + 18 * legend
        out.append(f'<line x1="{W - R + 12}" y1="{ly}" x2="{W - R + 36}" y2="{ly}" stroke="{c}" stroke-width="2"{dash}/>')
        out.append(f'<text x="{W - R + 42}" y="{ly + 4}">{label}</text>')
        legend += 1
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    return True


# --------------------------------------------------------------------------------------- models

ENGINES = [("freeact-jit", "f32", "freeact f32"), ("freeact-jit", "w4a8", "freeact W4A8"),
           ("freeact-aot", "w4a8", "freeact W4A8 AOT"), ("freeact-jit", "w4a4", "freeact W4A4"),
           ("freeact-aot", "w4a4", "freeact W4A4 AOT"), ("ort", "f32", "ORT f32"),
           ("ort", "nbits4", "ORT MatMulNBits")]

MODEL_NAMES = {"llama": "generated Llama-style model (hidden 1024, MLP 2816, 8 blocks, vocab 8192)",
               "dllm": "example diffusion LM (examples/dllm)",
               "mllm": "example vision-language model (examples/mllm; 16 image tokens + the prompt)"}


def models_section(rows, out_dir, lines):
    by = {}
    for r in rows:
        by.setdefault(r["model"], []).append(r)
    plots = []
    for model, rs in by.items():
        get = {(r["engine"], r["quant"], int(r["prompt"])): r for r in rs}
        prompts = sorted({int(r["prompt"]) for r in rs})
        threads = rs[0]["threads"]
        lines += [f"### {MODEL_NAMES.get(model, model)}", "",
                  f"Tokens per second (batch 1, {threads} threads, median of the repeats; higher is better).", "",
                  "| prompt | " + " | ".join(e[2] for e in ENGINES) + " |",
                  "|---:|" + "---:|" * len(ENGINES)]
        for p in prompts:
            cells = [fmt(num(get.get((e, q, p), {}).get("tokens_per_s"))) for e, q, _ in ENGINES]
            lines.append(f"| {p} | " + " | ".join(cells) + " |")
        lines += ["", "Ratios (freeact W4A8 JIT tokens/s over the peer's):", "",
                  "| prompt | vs ORT f32 | vs ORT MatMulNBits | W4A4 vs ORT MatMulNBits | AOT / JIT (W4A8) |",
                  "|---:|---:|---:|---:|---:|"]
        for p in prompts:
            w48 = num(get.get(("freeact-jit", "w4a8", p), {}).get("tokens_per_s"))
            w44 = num(get.get(("freeact-jit", "w4a4", p), {}).get("tokens_per_s"))
            aot = num(get.get(("freeact-aot", "w4a8", p), {}).get("tokens_per_s"))
            of = num(get.get(("ort", "f32", p), {}).get("tokens_per_s"))
            on = num(get.get(("ort", "nbits4", p), {}).get("tokens_per_s"))
            ratio = lambda a, b: f"{a / b:.2f}x" if a and b else "–"  # noqa: E731
            lines.append(f"| {p} | {ratio(w48, of)} | {ratio(w48, on)} | {ratio(w44, on)} | {ratio(aot, w48)} |")
        lines += ["", "Costs: first run (plan, shape pass and kernel generation), JIT compile time, peak "
                  "resident memory, compile (calibration) time and the share of a run spent in routed "
                  "transforms (fused transform + quantize steps).", "",
                  "| engine | prompt | first run ms | JIT ms | peak MiB | compile s | transforms |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for e, q, label in ENGINES:
            for p in prompts:
                r = get.get((e, q, p))
                if not r:
                    continue
                share = num(r.get("transform_share"))
                lines.append(f"| {label} | {p} | {fmt(num(r['first_ms']))} | {fmt(num(r['jit_ms']))} | "
                             f"{fmt(num(r['peak_mib']))} | {fmt(num(r['compile_s']))} | "
                             f"{'–' if share is None or e != 'freeact-jit' or q == 'f32' else f'{100 * share:.1f}%'} |")
        lines.append("")
        series = []
        for e, q, label in ENGINES:
            s = [(p, num(get.get((e, q, p), {}).get("tokens_per_s"))) for p in prompts]
            if any(y for _, y in s):
                series.append((label, s))
        name = f"performance-{model}.svg"
        if svg_plot(os.path.join(out_dir, name), f"{model}: tokens/s vs prompt length", "prompt length (tokens)",
                    "tokens / s", series, logx=True, logy=True):
            lines += [f"![tokens/s vs prompt length, {model}]({name})", ""]
            plots.append(name)
    return by


def targets_section(models, kernels, lines):
    lines += ["## Targets (issue 8)", "", "| target | measured | met |", "|---|---|---|"]

    def ktps(model, e, q, p):
        for r in models.get(model, []):
            if r["engine"] == e and r["quant"] == q and int(r["prompt"]) == p:
                return num(r["tokens_per_s"]), num(r.get("transform_share"))
        return None, None

    for r in kernels or []:
        if r["threads"] != "1":
            continue
        shape = (r["kernel"], r["m"], r["n"], r["k"])
        if shape == ("W4A8", "512", "2048", "2048"):
            ratio, roof = num(r["vs_sgemm"]), num(r["roof_pct"])
            lines.append(f"| W4A8 GEMM M=512, N=K=2048 ≥ 2.5x OpenBLAS sgemm (1 thread) | {fmt(ratio, 2)}x | "
                         f"{'yes' if ratio and ratio >= 2.5 else 'no'} |")
            lines.append(f"| same, ≥ 50% of the measured int8 peak | {fmt(roof)}% | {'yes' if roof and roof >= 50 else 'no'} |")
        if shape == ("W4A8", "1", "4096", "4096"):
            roof = num(r["roof_pct"])
            lines.append(f"| W4A8 GEMV N=K=4096 ≥ 60% of the measured read bandwidth | {fmt(roof)}% | "
                         f"{'yes' if roof and roof >= 60 else 'no'} |")
    w512, share = ktps("llama", "freeact-jit", "w4a8", 512)
    f512, _ = ktps("llama", "ort", "f32", 512)
    n512, _ = ktps("llama", "ort", "nbits4", 512)
    w1, _ = ktps("llama", "freeact-jit", "w4a8", 1)
    n1, _ = ktps("llama", "ort", "nbits4", 1)
    chk = lambda a, b, t: (f"{a / b:.2f}x", "yes" if a / b >= t else "no") if a and b else ("–", "–")  # noqa: E731
    for label, (m, ok) in [("Llama prompt 512: W4A8 ≥ 2x ORT f32", chk(w512, f512, 2.0)),
                           ("Llama prompt 512: W4A8 ≥ 1.2x ORT MatMulNBits", chk(w512, n512, 1.2)),
                           ("Llama prompt 1: W4A8 ≥ 1x ORT MatMulNBits", chk(w1, n1, 1.0))]:
        lines.append(f"| {label} | {m} | {ok} |")
    if share is not None:
        lines.append(f"| routed transforms ≤ 15% of a run at prompt 512 (Llama W4A8) | {100 * share:.1f}% | "
                     f"{'yes' if share <= 0.15 else 'no'} |")
    lines.append("")


def kernels_section(rows, meta, out_dir, lines):
    if not rows:
        lines += ["No kernel table (build/bench/kernels.tsv) was found.", ""]
        return
    for k in ("cpu", "qgemm_path", "openblas"):
        if k in meta:
            lines.append(f"- {k}: {meta[k]}")
    lines.append("")
    for nt in sorted({r["threads"] for r in rows}, key=int):
        rs = [r for r in rows if r["threads"] == nt]
        roof = {r["kernel"]: num(r["gops"]) or num(r["gbs"]) for r in rs if r["roof"] == "-"}
        lines += [f"### {nt} thread{'s' if nt != '1' else ''}", "",
                  f"Roofs: read bandwidth {fmt(roof.get('read_bw'))} GB/s, int8 dot-product peak "
                  f"{fmt(roof.get('int8_peak'))} GOPS, f32 FMA peak {fmt(roof.get('f32_peak'))} GFLOPS.", "",
                  "| M | N | K | sgemm GFLOPS | W4A8 GOPS | W4A8 vs sgemm | W4A8 % roof | W8A8 vs sgemm | "
                  "W8A8 % roof | W4A4 vs sgemm | W4A4 % roof |",
                  "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        shapes = []
        for r in rs:
            key = (int(r["m"]), int(r["n"]), int(r["k"]))
            if r["roof"] != "-" and key not in shapes:
                shapes.append(key)
        for m, n, k in sorted(shapes):
            get = {r["kernel"]: r for r in rs if (int(r["m"]), int(r["n"]), int(r["k"])) == (m, n, k)}
            cell = lambda q, f: get[q][f] if q in get else "–"  # noqa: E731
            lines.append(f"| {m} | {n} | {k} | {cell('sgemm', 'gops')} | {cell('W4A8', 'gops')} | "
                         f"{cell('W4A8', 'vs_sgemm')}x | {cell('W4A8', 'roof_pct')}% | {cell('W8A8', 'vs_sgemm')}x | "
                         f"{cell('W8A8', 'roof_pct')}% | {cell('W4A4', 'vs_sgemm')}x | {cell('W4A4', 'roof_pct')}% |")
        lines += ["", "% roof: GEMV (M = 1, caches flushed before each call) against the read bandwidth, GEMM "
                  "against the int8 peak (sgemm: the f32 peak). A GEMV above 100% streams faster than the simple "
                  "read loop that measures the bandwidth.", ""]
        # roofline: performance against arithmetic intensity (ops per byte moved)
        series = []
        for q in ("W4A8", "W8A8", "W4A4", "sgemm"):
            pts = [(num(r["gops"]) / num(r["gbs"]), num(r["gops"])) for r in rs
                   if r["kernel"] == q and num(r["gbs"]) and num(r["gops"])]
            series.append((q + (" (f32)" if q == "sgemm" else ""), pts))
        bw, peak = roof.get("read_bw"), roof.get("int8_peak")
        roofs = []
        if bw and peak:
            xs = [p[0] for _, s in series for p in s]
            lo, hi = min(xs) / 2, max(xs) * 2
            knee = peak / bw
            roofs.append(("int8 roof", [(lo, bw * lo), (knee, peak), (hi, peak)] if lo < knee
                          else [(lo, peak), (hi, peak)]))
        name = f"roofline-{nt}t.svg"
        if svg_plot(os.path.join(out_dir, name), f"kernel roofline, {nt} thread(s)", "ops per byte read",
                    "GOPS", series, logx=True, logy=True, lines=False, roofs=roofs):
            lines += [f"![roofline, {nt} threads]({name})", ""]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", default="build/bench")
    ap.add_argument("--out", default="docs")
    a = ap.parse_args()
    models = read_tsv(os.path.join(a.dir, "models.tsv"))
    kmeta = {}
    kernels = read_tsv(os.path.join(a.dir, "kernels.tsv"), kmeta)
    if not models and not kernels:
        sys.exit(f"bench/report.py: no models.tsv or kernels.tsv in {a.dir} (run bench/performance)")
    cpu = "unknown CPU"
    try:
        cpu = subprocess.run(["build/bin/freeact", "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    lines = ["# Performance", "",
             "Generated by `bench/performance` (do not edit; rerun it). Every number below comes from one "
             "run on one machine; peers (OpenBLAS, ONNX Runtime) were measured in the same run. This "
             "machine is shared and noisy: compare ratios, not absolute figures.", "",
             f"Machine: {cpu.replace(chr(10), '; ')}; {os.cpu_count()} logical CPUs; {platform.platform()}.", "",
             "Where the time goes and what the figures mean: `performance-analysis.md` (written by hand).", ""]
    os.makedirs(a.out, exist_ok=True)
    kernel_lines, model_lines = [], []
    kernels_section(kernels, kmeta, a.out, kernel_lines)
    by = models_section(models, a.out, model_lines) if models else {}
    targets_section(by, kernels, lines)
    lines += ["## Kernels", "", "bench_kernels (bench/kernels.c): our quantized GEMM/GEMV against OpenBLAS on "
              "the same shapes, and each as a share of its roof (int8 dot-product peak for GEMM, read "
              "bandwidth for GEMV), all measured in the same process.", ""] + kernel_lines
    lines += ["## Whole models", ""] + model_lines
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "performance.md"), "w") as f:
        f.write("\n".join(lines))
    print(f"bench/report.py: wrote {os.path.join(a.out, 'performance.md')}")


if __name__ == "__main__":
    main()
