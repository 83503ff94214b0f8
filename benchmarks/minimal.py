"""Cells without a matrix product in the time loop: a training step of nn.MinGRU (and
nn.MinLSTM, nn.IndRNN) against nn.LSTM of the same width.

    python benchmarks/minimal.py [--quick] [--repeats N] [--json PATH]

The step (issue 14's goal config: batch 32, 64 steps, hidden 256, float32, 65 symbols):
one-hot input, the layer, a linear readout, cross-entropy over every position, backward,
Adagrad, the final state carried (detached) into the next batch. Timed interleaved with
benchmarks/run.py's helper, one BLAS thread (threadpoolctl). Goal: nn.MinGRU(65, 256) at
least 4x the chars/s of nn.LSTM(65, 256).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import run  # noqa: E402  (benchmarks/run.py: data, interleaved timing, one-hot)

CFG = dict(run.CONFIGS["C"], lr=0.01)
GOAL = 4.0


def make_step(layer_cls: type, cfg: dict, seed: int = 0):
    import tinygrad_rnn as tg
    from tinygrad_rnn import nn, optim
    from tinygrad_rnn.nn import functional as F

    tg.manual_seed(seed)
    V, H = cfg["vocab"], cfg["hidden"]
    dtype = np.dtype(cfg["dtype"])
    rec, head = layer_cls(V, H).to(dtype), nn.Linear(H, V).to(dtype)
    opt = optim.Adagrad(list(rec.parameters()) + list(head.parameters()), lr=cfg["lr"])
    state = {"h": None}

    def step(x_idx: np.ndarray, y_idx: np.ndarray) -> float:
        x = tg.Tensor(run.one_hot(x_idx, V, dtype))
        out, h_n = rec(x, state["h"])
        loss = F.cross_entropy(head(out).reshape(-1, V), y_idx.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        state["h"] = tuple(s.detach() for s in h_n) if isinstance(h_n, tuple) \
            else h_n.detach()
        return loss.item()

    return step


def main(argv: list | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short blocks (~15 s)")
    ap.add_argument("--repeats", type=int, default=None, help="timed blocks per implementation")
    ap.add_argument("--json", default=os.path.join(HERE, "results_minimal.json"))
    args = ap.parse_args(argv)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        def threadpool_limits(*args, **kwargs):
            return contextlib.nullcontext()
        print("threadpoolctl is not installed: NumPy's BLAS threads are not limited")
    from tinygrad_rnn import nn

    impls = {name: make_step(cls, CFG) for name, cls in (
        ("nn.LSTM", nn.LSTM), ("nn.MinGRU", nn.MinGRU), ("nn.MinLSTM", nn.MinLSTM),
        ("nn.IndRNN", nn.IndRNN))}
    batches = [run.make_data(CFG, seed=10 + i) for i in range(4)]
    repeats = args.repeats or (3 if args.quick else 9)
    t0 = time.perf_counter()
    with threadpool_limits(1, user_api="blas"):
        res = run.time_interleaved(impls, batches, repeats, 0.12 if args.quick else 0.25)
    B, T = CFG["batch"], CFG["seq"]
    lstm = res["nn.LSTM"]["step_s"]
    print(f"training step, batch {B}, {T} steps, hidden {CFG['hidden']}, float32, one BLAS "
          f"thread, {repeats} interleaved blocks, medians\n")
    print(f"{'layer':12s} {'ms/step':>8s} {'chars/s':>10s} {'vs LSTM':>8s}")
    for name, r in res.items():
        print(f"{name:12s} {r['step_s'] * 1e3:8.2f} {B * T / r['step_s']:10,.0f} "
              f"{lstm / r['step_s']:7.2f}x")
    ratio = lstm / res["nn.MinGRU"]["step_s"]
    print(f"\ngoal: nn.MinGRU >= {GOAL}x nn.LSTM chars/s: {ratio:.2f}x, "
          f"{'met' if ratio >= GOAL else 'not met'}  ({time.perf_counter() - t0:.0f} s)")
    with open(args.json, "w") as f:
        json.dump({"config": {k: v for k, v in CFG.items() if k != "title"},
                   "results": {k: {"step_s": v["step_s"], "chars_per_s": B * T / v["step_s"],
                                   "first_loss": v["first_loss"]} for k, v in res.items()},
                   "minGRU_over_LSTM": ratio}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
