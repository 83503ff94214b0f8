"""Adding an op: Softplus as a Function, checked, property-tested, then trained with.

    python examples/custom_op.py [--steps N] [--examples N] [--seed N]

1. The op: a `Function` subclass with static `forward` / `backward` on plain ndarrays.
   Forward is written so it never overflows; backward reuses the saved *output*, since
   softplus'(x) = sigmoid(x) = 1 - exp(-softplus(x)).
2. `gradcheck` compares the backward with central finite differences in float64.
3. The strategies in `tinygrad_rnn.testing` (needs Hypothesis, the `[dev]` extra) drive a
   property test over generated shapes and values with `check_op`.
4. A tiny network using the op fits a curve with hand-written SGD.
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import Function, Tensor


class Softplus(Function):
    """y = log(1 + exp(x));  dx = g * (1 - exp(-y))"""

    @staticmethod
    def forward(ctx, x):
        # max(x, 0) + log1p(exp(-|x|)): exp never sees a positive argument
        y = np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_arrays
        return g * -np.expm1(-y)  # 1 - exp(-y) without cancellation for small y


def softplus(x: Tensor) -> Tensor:
    """log(1 + exp(x)), elementwise."""
    return Softplus.apply(x)


def np_softplus(x: np.ndarray) -> np.ndarray:
    """The NumPy reference (fine for the moderate values the strategies draw)."""
    return np.log1p(np.exp(x))


def check_gradients() -> None:
    x = Tensor(np.array([-30.0, -2.0, -1e-3, 0.0, 0.7, 3.0, 30.0]), requires_grad=True)
    assert tg.gradcheck(lambda t: softplus(t), [x])
    w = Tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    assert tg.gradcheck(lambda w: softplus(w @ w.T).sum(), [w])
    with np.errstate(over="raise", invalid="raise"):
        big = softplus(Tensor(np.array([-1e4, 1e4])))
    assert np.allclose(big.data, [0.0, 1e4])
    print("gradcheck: ok")


def property_test(max_examples: int = 30) -> None:
    try:
        from hypothesis import given, settings
        from hypothesis import strategies as st

        from tinygrad_rnn import testing as tt
    except ImportError:
        print("property test: skipped (install the [dev] extra for Hypothesis)")
        return

    @settings(max_examples=max_examples, deadline=None, derandomize=True)
    @given(tt.shapes(max_dims=3).flatmap(lambda s: tt.arrays(s, domain="real")),
           st.floats(-3.0, 3.0))
    def softplus_matches_numpy(x, shift):
        tt.check_op(lambda t: softplus(t + shift), lambda a: np_softplus(a + shift), x)

    softplus_matches_numpy()
    print(f"property test: {max_examples} generated cases ok")


def train(steps: int = 300, lr: float = 0.1, seed: int = 0) -> tuple:
    """Fit y = |x| - 0.5 on [-2, 2] with a 1-16-1 softplus network; returns (first, last) loss."""
    rng = np.random.default_rng(seed)
    x = Tensor(np.linspace(-2, 2, 64).reshape(-1, 1))
    y = Tensor(np.abs(x.data) - 0.5)
    w1 = Tensor(rng.standard_normal((1, 16)), requires_grad=True)
    b1 = Tensor(np.zeros(16), requires_grad=True)
    w2 = Tensor(rng.standard_normal((16, 1)) * 0.25, requires_grad=True)
    b2 = Tensor(np.zeros(1), requires_grad=True)
    params = [w1, b1, w2, b2]
    losses = []
    for step in range(steps):
        pred = softplus(x @ w1 + b1) @ w2 + b2
        loss = ((pred - y) ** 2).mean()
        for p in params:
            p.grad = None
        loss.backward()
        for p in params:  # plain SGD, outside the graph
            p.data -= lr * p.grad.data
        losses.append(loss.item())
        if step % 100 == 0 or step == steps - 1:
            print(f"step {step:4d}  loss {losses[-1]:.5f}")
    return losses[0], losses[-1]


STEPS = 300  # what the default run trains (and then fits the curve)


def main(argv: Sequence[str] | None = None) -> tuple:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=STEPS,
                        help=f"SGD steps of the curve fit (default {STEPS})")
    parser.add_argument("--examples", type=int, default=30,
                        help="generated cases of the property test (default 30)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the network's weights")
    parser.add_argument("--quick", action="store_true", help="fewer steps and generated cases")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.examples = min(args.steps, 60), min(args.examples, 10)
    for name in ("steps", "examples"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be a positive integer, got {getattr(args, name)}")
    check_gradients()
    property_test(args.examples)
    first, last = train(args.steps, seed=args.seed)
    if args.steps >= STEPS:
        assert last < 0.2 * first, f"training did not converge: {first:.4f} -> {last:.4f}"
    return first, last


if __name__ == "__main__":
    main(sys.argv[1:])
