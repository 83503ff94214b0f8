"""Indexing gradients are scattered into one buffer by the engine: correct in every mix, and
backprop through T per-step slices costs O(T)."""
import time

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn.function import IndexedGrad


def _x(shape=(4, 3, 2)):
    return tg.Tensor(np.random.default_rng(1).standard_normal(shape), requires_grad=True)


@pytest.mark.parametrize("fn", [
    # dense gradient arrives first (a read-only broadcast view from sum), then slices
    lambda x: (x.exp() * 1).sum() + (x.exp() * 1)[1].sum() * 3,
    # slices first, then a dense use of the same intermediate
    lambda x: ((y := x * 2)[0] * y[0]).sum() + (y * y).sum(),
    # repeated advanced indices and basic slices into one intermediate
    lambda x: ((y := x.tanh())[np.array([0, 0, 3])].sum(0) * y[1:3].sum(0)).sum(),
    # the per-step pattern of a recurrent loop
    lambda x: tg.stack([(y := x.sigmoid())[t] * y[t - 1] for t in range(1, 4)]).sum(),
])
def test_mixed_indexed_and_dense_gradients(fn):
    assert tg.gradcheck(fn, [_x()])


def test_dense_gradient_of_indexed_grad():
    g = IndexedGrad(np.array([1, 1, 0]), np.ones((3, 2)), (3, 2), advanced=True)
    np.testing.assert_array_equal(g.dense(), [[1, 1], [2, 2], [0, 0]])


def test_leaf_and_grad_api_receive_dense_arrays():
    x = _x((5, 2))
    x[1:3].sum().backward()
    x[np.array([4, 4])].sum().backward()
    expected = np.zeros((5, 2))
    expected[1:3] = 1
    expected[4] = 2
    np.testing.assert_array_equal(x.grad.data, expected)
    (gx,) = tg.grad(x[0].sum() * 2, [x])
    assert gx.data[0].tolist() == [2, 2] and not gx.data[1:].any()


def _bptt_backward_seconds(T: int) -> float:
    x = tg.Tensor(np.ones((T, 128)), requires_grad=True)
    w = tg.Tensor(np.full((128, 4), 0.01))
    y = x * 1.0  # an intermediate: its slices' gradients meet in one engine buffer
    h = tg.zeros(4, dtype=np.float64)
    for t in range(T):
        h = (y[t] @ w + h).tanh()  # each step reads one row of 128 from a (T, 128) tensor
    start = time.perf_counter()
    h.sum().backward()
    return time.perf_counter() - start


def test_backprop_through_slices_is_linear_in_length():
    _bptt_backward_seconds(200)  # warm up
    short = min(_bptt_backward_seconds(500) for _ in range(3))
    long = min(_bptt_backward_seconds(2500) for _ in range(3))
    # 5x the steps: linear cost gives ~5x; a dense zeros-per-slice gradient gives ~25x
    assert long / short < 12, f"500 steps: {short:.3f}s, 2500 steps: {long:.3f}s"
