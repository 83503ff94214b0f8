"""Indexing gradients are scattered into one buffer by the engine: correct in every mix, and
backprop through T per-step slices costs O(T)."""
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


class DenseRow(tg.Function):
    """out = x[t];  dx = zeros like x with row t = g (the O(T**2) way: a full array per step)."""

    @staticmethod
    def forward(ctx, x, t=0):
        ctx.shape, ctx.t = x.shape, t
        return x[t]

    @staticmethod
    def backward(ctx, g):
        dx = np.zeros(ctx.shape, g.dtype)
        dx[ctx.t] = g
        return dx


def _bptt_allocations(T: int, monkeypatch, row=lambda y, t: y[t]) -> tuple:
    """(buffers of the full (T, 128) shape, elements in all) that np.zeros / np.zeros_like
    allocate during the backward of T recurrent steps, each reading one row of y."""
    x = tg.Tensor(np.ones((T, 128)), requires_grad=True)
    w = tg.Tensor(np.full((128, 4), 0.01))
    y = x * 1.0  # an intermediate: its slices' gradients meet in one engine buffer
    h = tg.zeros(4, dtype=np.float64)
    for t in range(T):
        h = (row(y, t) @ w + h).tanh()
    sizes = []
    real_zeros, real_zeros_like = np.zeros, np.zeros_like

    def zeros(shape, *a, **k):
        out = real_zeros(shape, *a, **k)
        sizes.append(out.shape)
        return out

    def zeros_like(arr, *a, **k):
        out = real_zeros_like(arr, *a, **k)
        sizes.append(out.shape)
        return out

    with monkeypatch.context() as m:
        m.setattr(np, "zeros", zeros)
        m.setattr(np, "zeros_like", zeros_like)
        h.sum().backward()
    assert x.grad.shape == (T, 128) and np.all(x.grad.data != 0)  # every row got its share
    return sum(s == (T, 128) for s in sizes), sum(int(np.prod(s)) for s in sizes)


def test_backprop_through_slices_allocates_one_buffer(monkeypatch):
    # the T row gradients are scattered into one (T, 128) buffer, so the memory written (and
    # the time) is linear in T; a dense zeros-per-slice gradient would allocate T of them
    for T in (50, 100):
        full, elements = _bptt_allocations(T, monkeypatch)
        assert full == 1, f"{T} steps allocated {full} gradient buffers of shape ({T}, 128)"
        assert elements <= 2 * T * 128, elements
    # the count sees the quadratic pattern when there is one
    full, elements = _bptt_allocations(50, monkeypatch,
                                       row=lambda y, t: DenseRow.apply(y, t=t))
    assert full == 50 and elements >= 50 * 50 * 128
