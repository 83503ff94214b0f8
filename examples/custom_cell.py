"""Write your own recurrent cell and run it as a multi-layer, bidirectional network.

The cell below is an LSTM with peephole connections (Gers and Schmidhuber, 2000): the gates
also look at the cell state. It is an ordinary Module with `hidden_size` and
`forward(x, state) -> state`, so `nn.Recurrent` runs it over time x layers x directions
exactly as `nn.LSTM` runs `nn.LSTMCell`. The script

1. gradchecks the cell and the 2-layer bidirectional network in float64;
2. trains the network on a task that needs both directions: at each step predict
   y_t = x_{t-1} - x_{t+1} (the neighbours before and after), printing the loss.

    python examples/custom_cell.py            # a few seconds
    python examples/custom_cell.py --quick    # fewer steps (also TINYGRAD_RNN_QUICK=1)
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from typing import Sequence

import numpy as np

import tinygrad_rnn
from tinygrad_rnn import Tensor, nn
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.nn.utils import functional_call


class PeepholeLSTMCell(nn.Module):
    """LSTM cell whose gates see the cell state through diagonal "peephole" weights.

        a = x @ weight_ih.T + h @ weight_hh.T + bias      (batch, 4 * hidden): [a_i, a_f, a_g, a_o]
        i = sigmoid(a_i + weight_ci * c)
        f = sigmoid(a_f + weight_cf * c)
        g = tanh(a_g)
        c' = f * c + i * g
        o = sigmoid(a_o + weight_co * c')                    the output gate peeks at the new c
        h' = o * tanh(c')

    x: (batch, input_size); h, c, h', c': (batch, hidden_size);
    weight_ih: (4 * hidden, input_size); weight_hh: (4 * hidden, hidden); bias: (4 * hidden,);
    weight_ci, weight_cf, weight_co: (hidden,). The state (h, c) defaults to zeros.
    """

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        k = 1.0 / math.sqrt(hidden_size)
        self.weight_ih = nn.Parameter(np.zeros((4 * hidden_size, input_size), np.float32))
        self.weight_hh = nn.Parameter(np.zeros((4 * hidden_size, hidden_size), np.float32))
        self.bias = nn.Parameter(np.zeros(4 * hidden_size, np.float32))
        self.weight_ci = nn.Parameter(np.zeros(hidden_size, np.float32))
        self.weight_cf = nn.Parameter(np.zeros(hidden_size, np.float32))
        self.weight_co = nn.Parameter(np.zeros(hidden_size, np.float32))
        for p in self.parameters():
            nn.init.uniform_(p, -k, k)

    def forward(self, x: Tensor, state: tuple | None = None) -> tuple:
        H = self.hidden_size
        if state is None:
            zeros = Tensor(np.zeros((x.shape[0], H), dtype=x.dtype))
            state = (zeros, zeros)
        h, c = state
        a = x @ self.weight_ih.T + h @ self.weight_hh.T + self.bias
        i = (a[:, 0 * H:1 * H] + self.weight_ci * c).sigmoid()
        f = (a[:, 1 * H:2 * H] + self.weight_cf * c).sigmoid()
        g = a[:, 2 * H:3 * H].tanh()
        c_new = f * c + i * g
        o = (a[:, 3 * H:4 * H] + self.weight_co * c_new).sigmoid()
        h_new = o * c_new.tanh()
        return h_new, c_new


class Tagger(nn.Module):
    """A bidirectional peephole-LSTM stack and a linear read-out at every step."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 2):
        super().__init__()
        self.rnn = nn.Recurrent(lambda n: PeepholeLSTMCell(n, hidden_size), num_layers=num_layers,
                                bidirectional=True, batch_first=True, input_size=input_size)
        self.head = nn.Linear(2 * hidden_size, 1)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.rnn(x)                       # (B, T, 2H)
        return self.head(out).reshape(x.shape[0], x.shape[1])


def gradcheck_all() -> None:
    """Finite differences agree with backprop for the cell and the whole 2-layer network."""
    tinygrad_rnn.manual_seed(1)
    rng = tinygrad_rnn.get_rng()
    cell = PeepholeLSTMCell(2, 3).double()
    x = Tensor(rng.standard_normal((2, 2)), requires_grad=True)
    h = Tensor(rng.standard_normal((2, 3)), requires_grad=True)
    c = Tensor(rng.standard_normal((2, 3)), requires_grad=True)
    names = [n for n, _ in cell.named_parameters()]

    def cell_fn(x, h, c, *params):
        h2, c2 = functional_call(cell, dict(zip(names, params)), x, (h, c))
        return tinygrad_rnn.concatenate([h2, c2], axis=1)

    tinygrad_rnn.gradcheck(cell_fn, [x, h, c, *cell.parameters()])

    net = nn.Recurrent(lambda n: PeepholeLSTMCell(n, 1), num_layers=2, bidirectional=True,
                       input_size=1).double()
    xs = Tensor(rng.standard_normal((2, 1, 1)), requires_grad=True)
    net_names = [n for n, _ in net.named_parameters()]

    weights = Tensor(rng.standard_normal(2 * 2 + 4 + 4))

    def net_fn(xs, *params):
        # one random combination of every output: one backward per input instead of twelve
        out, (h_n, c_n) = functional_call(net, dict(zip(net_names, params)), xs)
        flat = tinygrad_rnn.concatenate([out.reshape(-1), h_n.reshape(-1), c_n.reshape(-1)])
        return (flat * weights).sum()

    tinygrad_rnn.gradcheck(net_fn, [xs, *net.parameters()])
    print(f"gradcheck passed: cell ({len(names)} parameters) and 2-layer bidirectional "
          f"network ({len(net_names)} parameters)")


def make_batch(rng: np.random.Generator, batch: int, steps: int) -> tuple:
    x = rng.uniform(-1, 1, size=(batch, steps + 2))
    y = x[:, :-2] - x[:, 2:]                       # x_{t-1} - x_{t+1}
    return Tensor(x[:, 1:-1, None].astype(np.float32)), Tensor(y.astype(np.float32))


def train(steps: int, seed: int = 0) -> list:
    tinygrad_rnn.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = Tagger(1, 8)
    try:
        from tinygrad_rnn import optim
        opt = optim.Adam(model.parameters(), lr=0.02)
        update = opt.step
    except ImportError:  # the optimizers are a separate layer: fall back to plain SGD
        def update() -> None:
            for p in model.parameters():
                p.data -= 0.1 * p.grad.data
    losses = []
    for step in range(steps):
        x, y = make_batch(rng, 16, 10)
        loss = F.mse_loss(model(x), y)
        model.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        update()
        losses.append(loss.item())
        if step % max(1, steps // 10) == 0 or step == steps - 1:
            print(f"step {step:4d}  mse {loss.item():.4f}")
    return losses


def main(argv: Sequence[str] | None = None) -> list:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer training steps")
    parser.add_argument("--steps", type=int, default=None, help="training steps")
    args = parser.parse_args(argv)
    quick = args.quick or os.environ.get("TINYGRAD_RNN_QUICK") == "1"
    if args.steps is not None and args.steps < 1:
        parser.error(f"--steps must be a positive integer, got {args.steps}")
    steps = (30 if quick else 150) if args.steps is None else args.steps
    gradcheck_all()
    losses = train(steps)
    first, last = np.mean(losses[:5]), np.mean(losses[-5:])
    print(f"mean mse over the first 5 steps {first:.4f}, over the last 5 {last:.4f} "
          f"(predicting 0 scores about {2 / 3:.3f})")
    return losses


if __name__ == "__main__":
    main(sys.argv[1:])
