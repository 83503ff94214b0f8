"""Training-step benchmarks: tinygrad_rnn against hand-written NumPy and PyTorch.

    python benchmarks/run.py [--quick] [--repeats N] [--json PATH] [--only A,C,overhead,...]
                             [--threads N] [--torch-threads 1,2] [--tg-threads 1,2]

Measures characters per second of full training steps (forward, backward, optimizer step)
for five configurations, every implementation interleaved block by block in one process
so that machine noise hits them alike; reports medians over the blocks and ratios:

  A  min-char-rnn: vanilla RNN, batch 1, hidden 100, seq 25, vocab 65, float64, Adagrad 0.1
  B  vanilla RNN, batch 32, hidden 256, seq 64, vocab 65, float32
  C  LSTM, same sizes;  D  GRU, same sizes
  E  2-layer bidirectional LSTM, same sizes (readout Linear(2H, V))

Implementations: NumPy reference (benchmarks/numpy_ref.py; none for E), tinygrad_rnn layer
(nn.RNN/LSTM/GRU + nn.Linear + F.cross_entropy + optim.Adagrad), tinygrad_rnn Python loop
over nn.RNNCell/LSTMCell/GRUCell (not for E), and, when installed, the PyTorch layer and
cell loop, each timed at 1 and at 2 threads in the same rounds; "vs torch" compares with the
faster of the two (--tg-threads 1,2 times our layer likewise at 1 and 2 engine threads of
tinygrad_rnn.parallel, rows "tg layer 1t" / "tg layer 2t"; the goals take the faster).
Also: per-op overhead (a chain of (4, 4) additions), peak memory and step
time of config C at seq 64/256/1024 (each in a fresh subprocess), linear scaling of config A
from seq 1,000 to 10,000, the GEMM floor (the time np.matmul alone needs for each step's
products) and the GEMM peak (np.dot on large square products, one BLAS thread) with the
fraction of it each implementation's step reaches.
One table on stdout; everything also goes to JSON (default benchmarks/results.json).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from typing import Any


def _early_threads(argv: list) -> None:
    """--threads N must reach the BLAS libraries before numpy (or torch) loads them."""
    for i, a in enumerate(argv):
        value = a.split("=", 1)[1] if a.startswith("--threads=") else (
            argv[i + 1] if a == "--threads" and i + 1 < len(argv) else None)
        if value is not None:
            for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
                os.environ[var] = value


_early_threads(sys.argv)

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import numpy_ref  # noqa: E402
import torch_ref  # noqa: E402

CONFIGS = {
    "A": dict(kind="rnn", batch=1, hidden=100, seq=25, vocab=65, dtype="float64", lr=0.1,
              reduction="sum", clip=5.0, title="min-char-rnn RNN b1 h100 s25 f64"),
    "B": dict(kind="rnn", batch=32, hidden=256, seq=64, vocab=65, dtype="float32", lr=0.01,
              reduction="mean", clip=None, title="RNN b32 h256 s64 f32"),
    "C": dict(kind="lstm", batch=32, hidden=256, seq=64, vocab=65, dtype="float32", lr=0.01,
              reduction="mean", clip=None, title="LSTM b32 h256 s64 f32"),
    "D": dict(kind="gru", batch=32, hidden=256, seq=64, vocab=65, dtype="float32", lr=0.01,
              reduction="mean", clip=None, title="GRU b32 h256 s64 f32"),
    "E": dict(kind="lstm", batch=32, hidden=256, seq=64, vocab=65, dtype="float32", lr=0.01,
              reduction="mean", clip=None, layers=2, bidirectional=True,
              title="LSTM 2L bidir b32 h256 s64 f32"),
}
# implementations with no version for a configuration, and why (shown as n/a rows)
SKIPPED = {"E": {"numpy": "no hand-written reference for stacked bidirectional layers",
                 "tg cells": "no cell loop for stacked bidirectional layers",
                 "torch cells": "no cell loop for stacked bidirectional layers"}}
PEAK_SHAPES = [(1024, 1024, 1024), (2048, 2048, 2048)]  # (m, k, n) of the GEMM peak
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
GOALS = {  # (config, implementation, reference implementation, minimum ratio)
    "A nn.RNN >= 1.5x torch nn.RNN": ("A", "tg layer", "torch layer", 1.5),
    "A nn.RNN >= 0.9x numpy": ("A", "tg layer", "numpy", 0.9),
    "A RNNCell loop >= 1.0x torch RNNCell loop": ("A", "tg cells", "torch cells", 1.0),
    "B nn.RNN >= 1.3x torch nn.RNN": ("B", "tg layer", "torch layer", 1.3),
    "B nn.RNN >= 0.9x numpy": ("B", "tg layer", "numpy", 0.9),
    "C nn.LSTM >= 1.2x torch nn.LSTM": ("C", "tg layer", "torch layer", 1.2),
    "C nn.LSTM >= 0.9x numpy": ("C", "tg layer", "numpy", 0.9),
    "D nn.GRU >= 1.3x torch nn.GRU": ("D", "tg layer", "torch layer", 1.3),
    "D nn.GRU >= 0.9x numpy": ("D", "tg layer", "numpy", 0.9),
    "E nn.LSTM 2L bidir >= 1.2x torch nn.LSTM": ("E", "tg layer", "torch layer", 1.2),
}


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


# ----- problem data ---------------------------------------------------------------------
def layout(cfg: dict) -> tuple:
    """(layers, directions) of a configuration: (1, 1) but for stacked/bidirectional ones."""
    return cfg.get("layers", 1), 2 if cfg.get("bidirectional") else 1


def make_weights(cfg: dict, seed: int = 0) -> dict:
    """PyTorch-layout weights from U(-1/sqrt(H), 1/sqrt(H)), shared by every implementation.

    Single-layer configurations use the plain names ("weight_ih", ...); stacked or
    bidirectional ones use the layer's state_dict names ("weight_ih_l1_reverse", ...).
    "weight_out" and "bias_out" are the readout's, over the D * H features of the output.
    """
    rng = np.random.default_rng(seed)
    V, H, G = cfg["vocab"], cfg["hidden"], GATES[cfg["kind"]]
    L, D = layout(cfg)
    k = 1 / np.sqrt(H)
    if (L, D) == (1, 1):
        shapes = {"weight_ih": (G * H, V), "weight_hh": (G * H, H), "bias_ih": (G * H,),
                  "bias_hh": (G * H,)}
    else:
        shapes = {}
        for layer in range(L):
            for sfx in ("", "_reverse")[:D]:
                tag = f"_l{layer}{sfx}"
                shapes.update({"weight_ih" + tag: (G * H, V if layer == 0 else D * H),
                               "weight_hh" + tag: (G * H, H), "bias_ih" + tag: (G * H,),
                               "bias_hh" + tag: (G * H,)})
    shapes.update(weight_out=(V, D * H), bias_out=(V,))
    return {n: rng.uniform(-k, k, s).astype(cfg["dtype"]) for n, s in shapes.items()}


def layer_state_dict(w: dict, cfg: dict) -> dict:
    """The recurrent layer's state_dict (PyTorch names) from make_weights' arrays."""
    if layout(cfg) == (1, 1):
        return {n + "_l0": w[n] for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    return {n: v for n, v in w.items() if n not in ("weight_out", "bias_out")}


def make_data(cfg: dict, seed: int = 1) -> tuple:
    rng = np.random.default_rng(seed)
    shape = (cfg["seq"], cfg["batch"])
    return rng.integers(0, cfg["vocab"], shape), rng.integers(0, cfg["vocab"], shape)


def one_hot(idx: np.ndarray, vocab: int, dtype) -> np.ndarray:
    x = np.zeros(idx.shape + (vocab,), dtype=dtype)
    np.put_along_axis(x, idx[..., None], 1, axis=-1)
    return x


# ----- implementations: each is make(...) -> step(x_idx, y_idx) -> loss ----------------
def make_numpy(cfg: dict, w: dict):
    if cfg["batch"] == 1 and cfg["kind"] == "rnn" and cfg["reduction"] == "sum":
        return numpy_ref.MinCharRNN(w, cfg["lr"], clip=cfg["clip"]).step
    ref = numpy_ref.REFERENCES[cfg["kind"]](w, cfg["lr"], cfg["batch"], cfg["reduction"],
                                            cfg["clip"])
    return ref.step


def make_tinygrad(cfg: dict, w: dict, path: str = "layer"):
    import tinygrad_rnn as tg
    from tinygrad_rnn import nn, optim
    from tinygrad_rnn.nn import functional as F

    kind, V, H, B = cfg["kind"], cfg["vocab"], cfg["hidden"], cfg["batch"]
    L, D = layout(cfg)
    dtype = np.dtype(cfg["dtype"])
    if path == "layer":
        rec = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind](
            V, H, num_layers=L, bidirectional=D == 2)
        sd = layer_state_dict(w, cfg)
    else:
        if (L, D) != (1, 1):
            raise ValueError("no cell loop for stacked or bidirectional layers")
        rec = {"rnn": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}[kind](V, H)
        sd = {n: w[n] for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    head = nn.Linear(D * H, V)
    rec.to(dtype)
    head.to(dtype)
    rec.load_state_dict(sd)
    head.load_state_dict({"weight": w["weight_out"], "bias": w["bias_out"]})
    params = list(rec.parameters()) + list(head.parameters())
    opt = optim.Adagrad(params, lr=cfg["lr"])
    zeros = np.zeros((L * D, B, H) if path == "layer" else (B, H), dtype=dtype)
    state = {"h": (tg.Tensor(zeros), tg.Tensor(zeros.copy())) if kind == "lstm"
             else tg.Tensor(zeros)}
    reduction, clip = cfg["reduction"], cfg["clip"]

    def step(x_idx: np.ndarray, y_idx: np.ndarray) -> float:
        x = tg.Tensor(one_hot(x_idx, V, dtype))
        hx = state["h"]
        if path == "layer":
            out, hx = rec(x, hx)
        else:
            outs = []
            for t in range(x.shape[0]):
                hx = rec(x[t], hx)
                outs.append(hx[0] if kind == "lstm" else hx)
            out = tg.stack(outs)
        loss = F.cross_entropy(head(out), y_idx, reduction=reduction)
        opt.zero_grad()
        loss.backward()
        if clip is not None:
            nn.utils.clip_grad_value_(params, clip)
        opt.step()
        state["h"] = tuple(s.detach() for s in hx) if kind == "lstm" else hx.detach()
        return loss.item()

    return step


def _on_threads(step, n: int):
    """step run with tinygrad_rnn computing on n engine threads (tinygrad_rnn.parallel)."""
    from tinygrad_rnn import parallel

    def run(x_idx: np.ndarray, y_idx: np.ndarray) -> float:
        with parallel.num_threads(n):
            return step(x_idx, y_idx)
    return run


def implementations(cfg: dict, torch, torch_threads: tuple = (1, 2),
                    skip: dict | None = None, tg_threads: tuple = ()) -> dict:
    """{name: step}; PyTorch once per thread count ("torch layer 1t", "torch layer 2t"), and
    our layer likewise for each of tg_threads (none: "tg layer" at the engine's default)."""
    skip = skip or {}
    w = make_weights(cfg)
    impls = {}
    if "numpy" not in skip:
        impls["numpy"] = make_numpy(cfg, w)
    for n in tg_threads:
        impls[f"tg layer {n}t"] = _on_threads(make_tinygrad(cfg, w, "layer"), n)
    if not tg_threads:
        impls["tg layer"] = make_tinygrad(cfg, w, "layer")
    if "tg cells" not in skip:
        impls["tg cells"] = make_tinygrad(cfg, w, "cells")
    if torch is not None:
        for path, name in (("layer", "torch layer"), ("cell", "torch cells")):
            if name in skip:
                continue
            for n in torch_threads:
                impls[f"{name} {n}t"] = torch_ref.make_step(torch, cfg["kind"], w, cfg, path,
                                                            threads=n)
    return impls


# ----- interleaved timing ---------------------------------------------------------------
def time_interleaved(impls: dict, batches: list, repeats: int, block_s: float) -> dict:
    """Median seconds per step of each implementation, measured in interleaved blocks.

    Every implementation walks the same cycle of batches, so they all train the same way
    (and their first losses, printed as a check, agree).
    """
    first_loss, steps, seen = {}, {}, {}
    for name, step in impls.items():  # warm up, check the losses agree, size the blocks
        first_loss[name] = step(*batches[0])
        t0 = time.perf_counter()
        step(*batches[1 % len(batches)])
        steps[name] = max(1, int(block_s / max(time.perf_counter() - t0, 1e-6)))
        seen[name] = 2
    samples: dict = {name: [] for name in impls}
    names = list(impls)
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            step, n, k = impls[name], steps[name], seen[name]
            todo = [batches[(k + i) % len(batches)] for i in range(n)]
            t0 = time.perf_counter()
            for x_idx, y_idx in todo:
                step(x_idx, y_idx)
            samples[name].append((time.perf_counter() - t0) / n)
            seen[name] = k + n
    return {name: {"step_s": statistics.median(s), "samples_s": s, "first_loss": first_loss[name]}
            for name, s in samples.items()}


# ----- per-op overhead ------------------------------------------------------------------
def add_chain_us(n_ops: int, repeats: int, torch) -> dict:
    """us per op of forward + backward through a chain of n_ops (4, 4) additions.

    The implementations take turns, one chain each per round, and each keeps its best
    round, so a burst of load from elsewhere cannot favour one of them.
    """
    import tinygrad_rnn as tg
    rng = np.random.default_rng(0)
    x = tg.Tensor(rng.standard_normal((4, 4)).astype(np.float32), requires_grad=True)
    c = tg.Tensor(rng.standard_normal((4, 4)).astype(np.float32))
    seed = np.ones((4, 4), dtype=np.float32)

    def ours():
        y = x
        for _ in range(n_ops):
            y = y + c
        y.backward(seed)
        x.grad = None

    a, b = c.data, x.data

    def numpy_add():
        for _ in range(n_ops):
            a + b

    chains = {"tinygrad_rnn": ours, "numpy add": numpy_add}
    if torch is not None:
        chains["torch"] = torch_ref.add_chain(torch, n_ops)
    best = dict.fromkeys(chains, float("inf"))
    for _ in range(repeats):
        for name, run in chains.items():
            t0 = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - t0)
    return {name: t / n_ops * 1e6 for name, t in best.items()}


# ----- GEMM floor -----------------------------------------------------------------------
def gemm_shapes(cfg: dict) -> list:
    """(count, m, k, n) of every matrix product in one training step of the layer path.

    Per layer and direction: the input projection of all steps, h_{t-1} @ W_hh^T per step,
    d pre-activation @ W_hh per step but the first (the initial state is a constant and takes
    no gradient), d W_hh and d W_ih over all steps and, above the first layer (whose input is
    one-hot), d input; then the readout, d W_out and d hidden.
    Equal shapes are merged (their counts added).
    """
    T, B, V, H = cfg["seq"], cfg["batch"], cfg["vocab"], cfg["hidden"]
    G = GATES[cfg["kind"]] * H
    L, D = layout(cfg)
    N = T * B
    shapes = []
    for layer in range(L):
        d_in = V if layer == 0 else D * H
        for _ in range(D):
            shapes += [(1, N, d_in, G), (T, B, H, G), (T - 1, B, G, H), (1, G, N, H),
                       (1, G, N, d_in)]
            if layer > 0:
                shapes.append((1, N, G, d_in))
    shapes += [(1, N, D * H, V), (1, V, N, D * H), (1, N, V, D * H)]
    merged: dict = {}
    for count, m, k, n in shapes:
        merged[(m, k, n)] = merged.get((m, k, n), 0) + count
    return [(count, m, k, n) for (m, k, n), count in merged.items()]


def _blas_threads(n: int | None) -> Any:
    """A context limiting numpy's BLAS to n threads (threadpoolctl); a no-op for None or
    without threadpoolctl."""
    import contextlib
    if n is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(n, user_api="blas")


def _time_product(m: int, k: int, n: int, dtype, repeats: int, threads: int | None,
                  rng) -> float:
    """Best seconds of one (m, k) @ (k, n) np.matmul over `repeats` batches of calls."""
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    out = np.empty((m, n), dtype=dtype)
    inner = max(1, min(200, int(2e8 / (2 * m * k * n + 1))))
    best = float("inf")
    with _blas_threads(threads):
        np.matmul(a, b, out=out)  # warm up (thread pool, caches)
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(inner):
                np.matmul(a, b, out=out)
            best = min(best, (time.perf_counter() - t0) / inner)
    return best


def gemm_floor(cfg: dict, repeats: int) -> dict:
    """np.matmul time of one step's products: at numpy's BLAS thread count and at one thread."""
    dtype = np.dtype(cfg["dtype"])
    rng = np.random.default_rng(0)
    floor_s = floor_1t_s = flops = 0.0
    detail = []
    for count, m, k, n in gemm_shapes(cfg):
        best = _time_product(m, k, n, dtype, repeats, None, rng)
        best_1t = _time_product(m, k, n, dtype, repeats, 1, rng)
        floor_s += count * best
        floor_1t_s += count * best_1t
        flops += count * 2.0 * m * k * n
        detail.append({"count": count, "shape": [m, k, n], "s": best,
                       "gflops": 2.0 * m * k * n / best / 1e9, "s_1t": best_1t,
                       "gflops_1t": 2.0 * m * k * n / best_1t / 1e9})
    return {"floor_s": floor_s, "gflop": flops / 1e9, "gflops": flops / floor_s / 1e9,
            "floor_1t_s": floor_1t_s, "gflops_1t": flops / floor_1t_s / 1e9,
            "products": detail}


def gemm_peak(dtypes: list, repeats: int) -> dict:
    """GFLOP/s of np.dot on large square products, one BLAS thread (and numpy's default).

    {dtype: {"gflops_1t": best over PEAK_SHAPES, "gflops": same at the default thread
    count, "shapes": [...]}}: the machine's GEMM peak that each configuration's fraction
    ("% peak") is taken of.
    """
    rng = np.random.default_rng(0)
    res = {}
    for name in dtypes:
        dtype = np.dtype(name)
        shapes = []
        for m, k, n in PEAK_SHAPES:
            a = rng.standard_normal((m, k)).astype(dtype)
            b = rng.standard_normal((k, n)).astype(dtype)
            row = {"shape": [m, k, n]}
            for key, threads in (("gflops_1t", 1), ("gflops", None)):
                with _blas_threads(threads):
                    np.dot(a, b)
                    best = float("inf")
                    for _ in range(repeats):
                        t0 = time.perf_counter()
                        np.dot(a, b)
                        best = min(best, time.perf_counter() - t0)
                row[key] = 2.0 * m * k * n / best / 1e9
            shapes.append(row)
        res[name] = {"gflops_1t": max(r["gflops_1t"] for r in shapes),
                     "gflops": max(r["gflops"] for r in shapes), "shapes": shapes}
    return res


# ----- memory and long sequences (fresh subprocesses) -----------------------------------
def make_step(impl: str, cfg: dict, torch) -> Any:
    """The training step of one implementation ("numpy", "tg layer", "torch cells"...)."""
    w = make_weights(cfg)
    if impl == "numpy":
        return make_numpy(cfg, w)
    if impl.startswith("tg"):
        return make_tinygrad(cfg, w, "layer" if impl == "tg layer" else "cells")
    return torch_ref.make_step(torch, cfg["kind"], w, cfg,
                               "layer" if impl == "torch layer" else "cell")


def _child_memory(impl: str, config: str, seq: int) -> dict:
    """Run in a fresh process: maxrss growth over one step, step time, traced peak."""
    cfg = dict(CONFIGS[config], seq=seq)
    torch = _torch() if impl.startswith("torch") else None
    step = make_step(impl, cfg, torch)
    data = make_data(cfg)
    step(*data)  # first step: one-time allocations (optimizer state, caches)
    traced = not impl.startswith("torch")  # tracemalloc does not see torch's allocator
    rss0 = _reset_peak_rss()
    if traced:
        tracemalloc.start()
    t0 = time.perf_counter()
    step(*data)
    step_s = time.perf_counter() - t0
    res = {"maxrss_delta_mb": (_peak_rss() - rss0) / 2**20, "step_s": step_s}
    if traced:
        res["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return res


def _status_bytes(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_peak_rss() -> int:
    """Current resident size in bytes, after resetting the recorded peak where Linux allows."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS
    except OSError:
        pass
    now = _status_bytes("VmRSS")
    return now if now is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _peak_rss() -> int:
    """Peak resident size in bytes since the last reset (ru_maxrss where /proc is absent)."""
    peak = _status_bytes("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def memory_runs(config: str, seqs: list, impls: list) -> dict:
    out: dict = {}
    for seq in seqs:
        for impl in impls:
            cmd = [sys.executable, os.path.abspath(__file__), "--child-memory", impl, config,
                   str(seq)]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            if proc.returncode != 0:
                out[f"{impl} seq {seq}"] = {"error": proc.stderr.strip().splitlines()[-1:]}
                continue
            out[f"{impl} seq {seq}"] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def seq_scaling(config: str, seqs: tuple, impls: list, torch, repeats: int) -> dict:
    """Seconds per step at each sequence length; linear cost gives a ratio near seq ratio."""
    res: dict = {}
    for impl in impls:
        row = {}
        for seq in seqs:
            cfg = dict(CONFIGS[config], seq=seq)
            step = make_step(impl, cfg, torch)
            data = make_data(cfg)
            step(*data)
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                step(*data)
                times.append(time.perf_counter() - t0)
            row[seq] = statistics.median(times)
        lo, hi = seqs
        row["ratio"] = row[hi] / row[lo]
        res[impl] = row
    return res


# ----- report ---------------------------------------------------------------------------
def _fmt_ratio(v) -> str:
    return "-" if v is None else f"{v:.2f}x"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer, shorter blocks (~1 minute)")
    ap.add_argument("--repeats", type=int, default=None, help="timed blocks per implementation")
    ap.add_argument("--json", default=os.path.join(HERE, "results.json"), help="output path")
    ap.add_argument("--only", default="", help="comma list of A,B,C,D,E,overhead,memory,"
                                                "scaling,gemm (default: all)")
    ap.add_argument("--threads", type=int, default=None,
                    help="BLAS/OpenMP threads for numpy and torch alike (default: each "
                         "library's own default)")
    ap.add_argument("--torch-threads", default=None,
                    help="torch thread counts timed side by side in the table, comma list "
                         "(default: 1,2; with --threads N: N)")
    ap.add_argument("--tg-threads", default="",
                    help="tinygrad_rnn engine thread counts timed side by side, comma list "
                         "(default: the engine's own choice, one row)")
    ap.add_argument("--child-memory", nargs=3, metavar=("IMPL", "CONFIG", "SEQ"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child_memory:
        impl, config, seq = args.child_memory
        print(json.dumps(_child_memory(impl, config, int(seq))))
        return 0

    parts = set(filter(None, args.only.split(","))) or {"A", "B", "C", "D", "E", "overhead",
                                                        "memory", "scaling", "gemm"}
    repeats = args.repeats or (3 if args.quick else 5)
    block_s = 0.12 if args.quick else 0.25
    torch = _torch()
    if torch is not None and args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads() if torch is not None else None
    if args.torch_threads:
        torch_threads = tuple(int(n) for n in args.torch_threads.split(",") if n)
    else:
        torch_threads = (args.threads,) if args.threads else (1, 2)
    results: dict = {"machine": {"python": platform.python_version(), "numpy": np.__version__,
                                 "torch": getattr(torch, "__version__", None),
                                 "torch_threads": threads,
                                 "torch_threads_timed": list(torch_threads),
                                 "cpus": os.cpu_count(),
                                 "blas_threads_env": os.environ.get("OPENBLAS_NUM_THREADS"),
                                 "load_average": os.getloadavg(),
                                 "platform": platform.platform()},
                     "repeats": repeats, "configs": {}}
    load = os.getloadavg()[0]
    print(f"numpy {np.__version__}, torch {results['machine']['torch']} "
          f"(threads {threads}; table at {', '.join(map(str, torch_threads))}), "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}, "
          f"{os.cpu_count()} cpus, load average {load:.1f}; {repeats} interleaved blocks of "
          f"~{block_s}s each, medians")
    if load > 0.5 * (os.cpu_count() or 1) and not args.threads:
        print("note: the machine is busy; multi-threaded BLAS suffers most from that "
              "(compare with --threads 1)")
    t_start = time.perf_counter()

    chosen = [name for name in CONFIGS if name in parts]
    if "gemm" in parts and chosen:
        dtypes = sorted({CONFIGS[name]["dtype"] for name in chosen})
        results["gemm_peak"] = gemm_peak(dtypes, 2 if args.quick else 4)
    for name in chosen:
        cfg = CONFIGS[name]
        skip = SKIPPED.get(name, {})
        try:
            impls = implementations(cfg, torch, torch_threads, skip, tuple(
                int(n) for n in args.tg_threads.split(",") if n))
            batches = [make_data(cfg, seed=s) for s in range(1, 9)]
            timing = time_interleaved(impls, batches, repeats, block_s)
        finally:
            if torch is not None:
                torch.set_num_threads(threads)
        chars = cfg["seq"] * cfg["batch"]
        for r in timing.values():
            r["chars_per_s"] = chars / r["step_s"]
        entry = {"config": {k: v for k, v in cfg.items()}, "impls": timing,
                 "skipped": dict(skip)}
        entry["torch_best"] = {base: _best(timing, base) for base in ("torch layer",
                                                                     "torch cells")
                               if _best(timing, base)}
        if "gemm" in parts:
            entry["gemm_floor"] = g = gemm_floor(cfg, 3 if args.quick else 5)
            peak = results["gemm_peak"][cfg["dtype"]]["gflops_1t"]
            g["fraction_of_peak_1t"] = g["gflops_1t"] / peak
            for r in timing.values():
                r["gemm_gflops"] = g["gflop"] / r["step_s"]
                r["fraction_of_peak"] = r["gemm_gflops"] / peak
        results["configs"][name] = entry
        print(f"  {name} done ({time.perf_counter() - t_start:.0f}s)", file=sys.stderr)

    if "overhead" in parts:
        results["per_op_us"] = add_chain_us(100, 20 if args.quick else 60, torch)
    if "scaling" in parts:
        impls = ["tg layer", "tg cells"] + (["torch layer"] if torch else [])
        results["scaling_A"] = seq_scaling("A", (1000, 10000), impls, torch,
                                           1 if args.quick else 2)
    if "memory" in parts:
        seqs = [64, 1024] if args.quick else [64, 256, 1024]
        impls = ["numpy", "tg layer"] + (["torch layer"] if torch else [])
        results["memory_C"] = memory_runs("C", seqs, impls)

    results["goals"] = evaluate_goals(results)
    print_table(results)
    results["elapsed_s"] = time.perf_counter() - t_start
    with open(args.json, "w") as f:
        json.dump(results, f, indent=1, default=float)
    print(f"\nwrote {args.json} ({results['elapsed_s']:.0f}s)")
    return 0


def _best(impls: dict, name: str) -> str | None:
    """name itself if timed, else the fastest of its thread-count variants ("torch layer 2t")."""
    if name in impls:
        return name
    variants = [k for k in impls if k.startswith(name + " ") and k.endswith("t")
                and k[len(name) + 1:-1].isdigit()]
    return max(variants, key=lambda k: impls[k]["chars_per_s"]) if variants else None


def _ratio(results: dict, config: str, a: str, b: str):
    """a's chars/s over b's; "torch layer" / "torch cells" mean the faster thread count."""
    c = results["configs"].get(config, {}).get("impls", {})
    a, b = _best(c, a), _best(c, b)
    if a is not None and b is not None:
        return c[a]["chars_per_s"] / c[b]["chars_per_s"]
    return None


def _variants(impls: dict, impl: str) -> list:
    """The thread-count variants of impl's family ("torch layer 1t", "torch layer 2t")."""
    base = impl.rsplit(" ", 1)[0] if impl.startswith("torch") else impl
    return [k for k in impls if k.rsplit(" ", 1)[0] == base] if base != impl else [impl]


def evaluate_goals(results: dict) -> dict:
    goals = {}
    for text, (config, a, b, minimum) in GOALS.items():
        r = _ratio(results, config, a, b)
        goals[text] = {"ratio": r, "met": None if r is None else r >= minimum}
    op = results.get("per_op_us", {})
    if "torch" in op:
        r = op["tinygrad_rnn"] / op["torch"]
        goals["per-op overhead <= 0.7x torch"] = {"ratio": r, "met": r <= 0.7}
    mem = results.get("memory_C", {})
    a, b = mem.get("tg layer seq 1024", {}), mem.get("torch layer seq 1024", {})
    if "maxrss_delta_mb" in a and "maxrss_delta_mb" in b:
        r = a["maxrss_delta_mb"] / max(b["maxrss_delta_mb"], 1e-9)
        goals["C seq 1024 peak memory <= torch"] = {"ratio": r, "met": r <= 1.0}
    return goals


def print_table(results: dict) -> None:
    print()
    peak = results.get("gemm_peak", {})
    if peak:
        print("GEMM peak, np.dot GFLOP/s at one BLAS thread (numpy's default thread count in "
              "brackets):")
        for dt, v in peak.items():
            print(f"  {dt}: " + ", ".join(
                f"{'x'.join(map(str, r['shape']))} {r['gflops_1t']:.1f} ({r['gflops']:.1f})"
                for r in v["shapes"]) + f"  ->  peak {v['gflops_1t']:.1f} GFLOP/s")
    head = f"{'config':<34} {'implementation':<15} {'chars/s':>10} {'ms/step':>9} " \
           f"{'vs torch':>9} {'vs numpy':>9} {'GEMM floor':>10} {'%peak 1t':>8} {'loss@1':>9}"
    print(head)
    print("-" * len(head))
    for name, entry in results["configs"].items():
        impls = entry["impls"]
        floor = entry.get("gemm_floor", {}).get("floor_s")
        best = set(entry.get("torch_best", {}).values())
        label = f"{name + ' ' + entry['config']['title']:<34}"
        for impl, r in impls.items():
            twin = {"tg layer": "torch layer", "tg cells": "torch cells"}.get(
                impl.rsplit(" ", 1)[0] if impl.startswith("tg layer ") else impl)
            vs_t = _ratio(results, name, impl, twin) if twin else None
            vs_n = _ratio(results, name, impl, "numpy") if impl != "numpy" else None
            fl = f"{floor / r['step_s']:.0%}" if floor else "-"
            fp = f"{r['fraction_of_peak']:.0%}" if "fraction_of_peak" in r else "-"
            shown = impl + ("*" if impl in best and len(_variants(impls, impl)) > 1 else "")
            print(f"{label} {shown:<15} "
                  f"{r['chars_per_s']:>10,.0f} {r['step_s'] * 1e3:>9.2f} {_fmt_ratio(vs_t):>9} "
                  f"{_fmt_ratio(vs_n):>9} {fl:>10} {fp:>8} {r['first_loss']:>9.4f}")
        for impl in entry.get("skipped", {}):
            print(f"{label} {impl:<15} {'n/a':>10} {'n/a':>9}")
        if floor:
            g = entry["gemm_floor"]
            extra = ""
            if "floor_1t_s" in g:
                per_step = max((p for p in g["products"] if p["count"] > 1),
                               key=lambda p: p["count"] * p["s_1t"], default=None)
                extra = (f"; 1 thread: {g['gflops_1t']:.1f} GFLOP/s, "
                         f"{g['fraction_of_peak_1t']:.0%} of peak")
                if per_step:
                    extra += (f", per-step {'x'.join(map(str, per_step['shape']))} "
                              f"{per_step['gflops_1t']:.1f}")
            print(f"{'':<34} {'GEMM floor':<15} {'':>10} {floor * 1e3:>9.2f}   "
                  f"({g['gflop']:.3f} GFLOP at {g['gflops']:.1f} GFLOP/s with np.matmul{extra})")
    if len(results.get("machine", {}).get("torch_threads_timed", [])) > 1 and any(
            e.get("torch_best") for e in results["configs"].values()):
        print("* the faster torch thread count: the reference of 'vs torch' and of the goals")
    if peak:
        print("%peak 1t: the step's matrix-product GFLOP over its time, as a fraction of the "
              "one-thread GEMM peak (above 100%: more than one core's worth)")
    op = results.get("per_op_us")
    if op:
        print("\nper-op overhead, forward+backward of one (4,4) add in a 100-add chain (us/add): "
              + ", ".join(f"{k} {v:.2f}" for k, v in op.items()))
    sc = results.get("scaling_A")
    if sc:
        print("config A step time at seq 1,000 -> 10,000 (linear cost gives ~10x): " + "; ".join(
            f"{k} {v[1000] * 1e3:.1f} -> {v[10000] * 1e3:.1f} ms ({v['ratio']:.1f}x)"
            for k, v in sc.items()))
    mem = results.get("memory_C")
    if mem:
        print("config C one training step, fresh process (maxrss growth / tracemalloc peak / "
              "step time):")
        for k, v in mem.items():
            if "error" in v:
                print(f"  {k:<22} error: {v['error']}")
                continue
            traced = f"{v['traced_peak_mb']:7.1f} MB" if "traced_peak_mb" in v else "      n/a"
            ms = v["step_s"] * 1e3
            print(f"  {k:<22} {v['maxrss_delta_mb']:7.1f} MB  {traced}  {ms:8.1f} ms")
    print("\ngoals:")
    for text, g in results["goals"].items():
        mark = {True: "met", False: "MISSED", None: "n/a"}[g["met"]]
        r = "-" if g["ratio"] is None else f"{g['ratio']:.2f}"
        print(f"  {text:<46} {r:>6}  {mark}")


if __name__ == "__main__":
    sys.exit(main())
