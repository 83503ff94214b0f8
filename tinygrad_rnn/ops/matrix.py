"""Ops on a pair of axes: the triangles of the last two (attention masks) and a diagonal."""
from __future__ import annotations

import numpy as np

from tinygrad_rnn.function import Function, axis_over_time, same_over_time


class Tril(Function):
    """y = tril(x, k) (zero above diagonal k of the last two axes);  dx = tril(g, k)"""

    over_time = staticmethod(same_over_time)  # (the last two axes: a leading one is a batch)

    _part = staticmethod(np.tril)

    @staticmethod
    def forward(ctx, x, diagonal=0):
        ctx.k = diagonal
        return ctx._part(x, diagonal)

    @staticmethod
    def backward(ctx, g):
        return ctx._part(g, ctx.k)


class Triu(Tril):
    """y = triu(x, k) (zero below diagonal k of the last two axes);  dx = triu(g, k)"""

    _part = staticmethod(np.triu)  # forward and backward are Tril's


class Diagonal(Function):
    """y = diagonal(x, offset, axis1, axis2) (as a last axis);  dx = zeros with g written
    onto that diagonal"""

    over_time = axis_over_time("axis1", "axis2")

    @staticmethod
    def forward(ctx, x, offset=0, axis1=0, axis2=1):
        ctx.shape, ctx.axes, ctx.offset = x.shape, (axis1, axis2), offset
        return np.diagonal(x, offset, axis1, axis2).copy()  # (NumPy's is a read-only view)

    @staticmethod
    def backward(ctx, g):
        dx = np.zeros(ctx.shape, g.dtype)
        n, k = g.shape[-1], ctx.offset
        square = np.moveaxis(dx, ctx.axes, (-2, -1))  # (a view: writing it writes dx)
        square[..., np.arange(n) + max(-k, 0), np.arange(n) + max(k, 0)] = g
        return dx
