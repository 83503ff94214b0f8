"""Variable-length batches: what `lengths=` costs on config C (LSTM, batch 32, hidden 256,
64 steps, float32), and the same step with PyTorch's packed sequences.

    python benchmarks/lengths.py [--quick] [--repeats N] [--json PATH]

Each batch gets random lengths in [32, 64] (fixed per batch, the same for every
implementation). Implementations, timed interleaved with run.py's helper, one BLAS / torch
thread each: our nn.LSTM without and with lengths (the kernel and the compiled path
(fused=False)), and torch.nn.LSTM without lengths and with pack_padded_sequence(...,
enforce_sorted=False) / pad_packed_sequence. The step: one-hot input, the layer, a linear
readout, cross-entropy over every position, backward, Adagrad. Goals (issue 10): with
lengths at most 1.15x the time without, and no slower than torch's packed step.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import run  # noqa: E402  (benchmarks/run.py: data, weights, interleaved timing)

CFG = dict(run.CONFIGS["C"], lr=0.01)
LOW, HIGH = 32, 64


def batches_with_lengths(cfg: dict, n: int, seed: int = 3) -> tuple:
    rng = np.random.default_rng(seed)
    batches, lengths = [], {}
    for i in range(n):
        x, y = run.make_data(cfg, seed=10 + i)
        batches.append((x, y))
        lengths[id(x)] = np.sort(rng.integers(LOW, HIGH + 1, cfg["batch"]))[::-1].copy()
        rng.shuffle(lengths[id(x)])  # unsorted: nobody may rely on sorted batches
    return batches, lengths


def make_ours(cfg: dict, w: dict, lengths: dict | None, fused: bool = True):
    import tinygrad_rnn as tg
    from tinygrad_rnn import nn, optim
    from tinygrad_rnn.nn import functional as F

    V, H = cfg["vocab"], cfg["hidden"]
    dtype = np.dtype(cfg["dtype"])
    rec, head = nn.LSTM(V, H, fused=fused).to(dtype), nn.Linear(H, V).to(dtype)
    rec.load_state_dict({n + "_l0": w[n] for n in ("weight_ih", "weight_hh", "bias_ih",
                                                    "bias_hh")})
    head.load_state_dict({"weight": w["weight_out"], "bias": w["bias_out"]})
    opt = optim.Adagrad(list(rec.parameters()) + list(head.parameters()), lr=cfg["lr"])

    def step(x_idx: np.ndarray, y_idx: np.ndarray) -> float:
        x = tg.Tensor(run.one_hot(x_idx, V, dtype))
        out, _ = rec(x, lengths=None if lengths is None else lengths[id(x_idx)])
        loss = F.cross_entropy(head(out), y_idx)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()
    return step


def make_torch(torch, cfg: dict, w: dict, lengths: dict | None):
    nn, F = torch.nn, torch.nn.functional
    V, H = cfg["vocab"], cfg["hidden"]
    rec, head = nn.LSTM(V, H), nn.Linear(H, V)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(rec, name + "_l0").copy_(torch.from_numpy(w[name]))
        head.weight.copy_(torch.from_numpy(w["weight_out"]))
        head.bias.copy_(torch.from_numpy(w["bias_out"]))
    opt = torch.optim.Adagrad(list(rec.parameters()) + list(head.parameters()), lr=cfg["lr"])
    pack, unpack = nn.utils.rnn.pack_padded_sequence, nn.utils.rnn.pad_packed_sequence

    def step(x_idx: np.ndarray, y_idx: np.ndarray) -> float:
        x = F.one_hot(torch.from_numpy(x_idx), V).float()
        if lengths is None:
            out, _ = rec(x)
        else:
            packed = pack(x, torch.from_numpy(lengths[id(x_idx)]), enforce_sorted=False)
            out, _ = unpack(rec(packed)[0], total_length=x.shape[0])
        loss = F.cross_entropy(head(out).reshape(-1, V), torch.from_numpy(y_idx).reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()
    return step


def main(argv: list | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short blocks (~20 s)")
    ap.add_argument("--repeats", type=int, default=None, help="timed blocks per implementation")
    ap.add_argument("--json", default=os.path.join(HERE, "results_lengths.json"))
    args = ap.parse_args(argv)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # then BLAS keeps its own thread count (the header says so)
        import contextlib

        def threadpool_limits(*args, **kwargs):
            return contextlib.nullcontext()
        print("threadpoolctl is not installed: NumPy's BLAS threads are not limited")
    torch = run._torch()
    w = run.make_weights(CFG)
    batches, lengths = batches_with_lengths(CFG, 4)
    impls = {"tg nn.LSTM": make_ours(CFG, w, None),
             "tg nn.LSTM lengths": make_ours(CFG, w, lengths),
             "tg nn.LSTM lengths (compiled)": make_ours(CFG, w, lengths, fused=False)}
    if torch is not None:
        torch.set_num_threads(1)
        impls["torch nn.LSTM"] = make_torch(torch, CFG, w, None)
        impls["torch nn.LSTM packed"] = make_torch(torch, CFG, w, lengths)
    repeats = args.repeats or (3 if args.quick else 9)
    t0 = time.perf_counter()
    with threadpool_limits(1, user_api="blas"):
        res = run.time_interleaved(impls, batches, repeats, 0.12 if args.quick else 0.25)
    B, T = CFG["batch"], CFG["seq"]
    print(f"config C, lengths in [{LOW}, {HIGH}], one thread each, {repeats} interleaved "
          f"blocks, medians\n")
    print(f"{'implementation':32s} {'ms/step':>8s} {'chars/s':>9s}   loss@1")
    for name, r in res.items():
        print(f"{name:32s} {r['step_s'] * 1e3:8.2f} {B * T / r['step_s']:9,.0f}   "
              f"{r['first_loss']:.5f}")
    ours, base = res["tg nn.LSTM lengths"]["step_s"], res["tg nn.LSTM"]["step_s"]
    goals = {"lengths <= 1.15x without (tg nn.LSTM)": (ours / base, ours / base <= 1.15)}
    if torch is not None:
        packed = res["torch nn.LSTM packed"]["step_s"]
        goals["lengths <= torch packed (time ratio)"] = (ours / packed, ours <= packed)
    print("\ngoals:")
    for name, (ratio, met) in goals.items():
        print(f"  {name:44s} {ratio:5.2f}  {'met' if met else 'not met'}")
    with open(args.json, "w") as f:
        json.dump({"results": {k: {"step_s": v["step_s"], "first_loss": v["first_loss"]}
                               for k, v in res.items()},
                   "goals": {k: {"ratio": r, "met": m} for k, (r, m) in goals.items()}}, f,
                  indent=1)
    print(f"\nwrote {args.json} ({time.perf_counter() - t0:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
