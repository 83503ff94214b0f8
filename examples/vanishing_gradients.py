"""Vanishing gradients, seen: a tanh RNN against an LSTM on a long-range task.

The task: a sequence of T random symbols (one-hot, T = 50 by default); at the last step,
say which symbol came FIRST. Only the first step holds the answer, so the loss, read at the
last step, must send its gradient back through all T steps to reach it. Both models (the
same width, `nn.RNN(nonlinearity="tanh")` and `nn.LSTM`, each with a linear read-out) train
for a few seconds; then, on a fresh batch, each layer's weights run as a plain cell loop
(RNNCell / LSTMCell) keeping every h_t, and `tinygrad_rnn.grad(loss, [h_0 .. h_{T-1}])`
gives dL/dh_t: the gradient that reaches step t from the loss. Its norm over t is the
picture: for the tanh RNN it falls by orders of magnitude going back in time (vanishing),
the LSTM's cell state carries it much further (its forget gates start near 1: the
chrono init, see `FirstSymbol.chrono_init`; `--default-init` keeps forget bias 0, where
f = 0.5 halves the cell state at every step and the LSTM forgets as fast as the RNN).
The script prints the ratio ||dL/dh_0|| / ||dL/dh_{T-1}|| for both and, with matplotlib,
plots the curves.

    python examples/vanishing_gradients.py                     # a few seconds
    python examples/vanishing_gradients.py --plot grad_flow.png
    python examples/vanishing_gradients.py --steps 0           # the untrained models
"""
from __future__ import annotations

import argparse
import sys
import time
from typing import Sequence

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import nn, optim
from tinygrad_rnn.nn import functional as F


def batch(rng: np.random.Generator, n: int, T: int, k: int) -> tuple:
    """x (T, n, k) one-hot random symbols; y (n,) the first symbol of each sequence."""
    s = rng.integers(0, k, size=(T, n))
    return np.eye(k, dtype=np.float32)[s], s[0]


class FirstSymbol(nn.Module):
    """h = RNN or LSTM over x (T, B, K);  logits = W h_{T-1} + b  (B, K)."""

    def __init__(self, kind: str, symbols: int, hidden: int):
        super().__init__()
        self.kind = kind
        layer = nn.LSTM if kind == "lstm" else nn.RNN
        self.rnn = layer(symbols, hidden)
        self.out = nn.Linear(hidden, symbols)

    def chrono_init(self, T: int, rng: np.random.Generator) -> None:
        """LSTM forget-gate biases b_f = log(U(1, T - 1)), input-gate biases -b_f (Tallec &
        Ollivier 2018): f = sigmoid(b_f) starts close to 1, so the cell state (and the
        gradient along it) lasts about T steps. With PyTorch's default b_f = 0 (f = 0.5 at
        the start) it halves at every step and the LSTM starts out as forgetful as the RNN."""
        H = self.rnn.hidden_size
        b_f = np.log(rng.uniform(1.0, T - 1.0, size=H)).astype(np.float32)
        b = self.rnn.bias_ih_l0.data  # gates i, f, g, o
        b[:H], b[H:2 * H] = -b_f, b_f
        self.rnn.bias_hh_l0.data[:2 * H] = 0.0

    def forward(self, x: tg.Tensor) -> tg.Tensor:
        seq, _ = self.rnn(x)
        return self.out(seq[-1])

    def cell(self) -> nn.Module:
        """The layer's weights in a cell (RNNCell or LSTMCell) for a step-by-step loop."""
        H, K = self.rnn.hidden_size, self.rnn.input_size
        cell = nn.LSTMCell(K, H) if self.kind == "lstm" else nn.RNNCell(K, H)
        cell.load_state_dict({name.removesuffix("_l0"): p.data
                              for name, p in self.rnn.named_parameters()})
        return cell


def train(model: FirstSymbol, steps: int, T: int, k: int, rng: np.random.Generator,
          lr: float = 1e-2) -> float:
    """Adam on fresh batches; returns the accuracy on a held-out batch."""
    opt = optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        x, y = batch(rng, 64, T, k)
        loss = F.cross_entropy(model(tg.Tensor(x)), y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    x, y = batch(rng, 512, T, k)
    with tg.no_grad():
        return float((model(tg.Tensor(x)).data.argmax(-1) == y).mean())


def grad_norms(model: FirstSymbol, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """||dL/dh_t|| for t = 0 .. T-1 (the norm of the whole batch's gradient at step t)."""
    cell = model.cell()
    state, hs = None, []
    for t in range(x.shape[0]):
        state = cell(tg.Tensor(x[t]), state)
        hs.append(state[0] if isinstance(state, tuple) else state)
    loss = F.cross_entropy(model.out(hs[-1]), y)
    grads = tg.grad(loss, hs)
    return np.array([np.linalg.norm(g.data) for g in grads])


def main(argv: Sequence[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=150, help="training steps per model")
    ap.add_argument("--length", type=int, default=50, help="sequence length T")
    ap.add_argument("--symbols", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--default-init", action="store_true",
                    help="keep PyTorch's LSTM init (forget bias 0) instead of the chrono init")
    ap.add_argument("--plot", default=None, help="write the curves to this PNG (matplotlib)")
    ap.add_argument("--quick", action="store_true", help="fewer training steps")
    args = ap.parse_args(argv)
    if args.quick:
        args.steps = min(args.steps, 30)
    for name in ("steps", "length", "symbols", "hidden"):
        if getattr(args, name) < 1:
            ap.error(f"--{name} must be a positive integer, got {getattr(args, name)}")
    tg.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    x, y = batch(np.random.default_rng(args.seed + 1), 256, args.length, args.symbols)
    norms, result = {}, {}
    for kind, name in (("rnn", "tanh RNN"), ("lstm", "LSTM")):
        model = FirstSymbol(kind, args.symbols, args.hidden)
        if kind == "lstm" and not args.default_init:
            model.chrono_init(args.length, rng)
        start = time.perf_counter()
        acc = train(model, args.steps, args.length, args.symbols, rng)
        n = grad_norms(model, x, y)
        norms[name] = n
        ratio = n[0] / n[-1]
        result[kind] = {"accuracy": acc, "ratio": ratio, "norms": n}
        print(f"{name:9s} trained {args.steps} steps in {time.perf_counter() - start:4.1f} s, "
              f"accuracy {acc:.2f} (chance {1 / args.symbols:.2f}); "
              f"||dL/dh_0|| / ||dL/dh_{args.length - 1}|| = {ratio:.2e}")
    if args.plot:
        try:
            from tinygrad_rnn.debug import plot_grad_flow
            plot_grad_flow(norms, args.plot, title=f"||dL/dh_t|| after {args.steps} steps: "
                           f"remember the first of {args.length} symbols")
            print(f"wrote {args.plot}")
        except ImportError as e:
            print(e, file=sys.stderr)
    return result


if __name__ == "__main__":
    main()
