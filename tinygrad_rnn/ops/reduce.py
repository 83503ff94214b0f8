"""Reductions over an axis tuple (None = all axes). Mean composes Sum in Tensor.mean."""
from __future__ import annotations

import numpy as np

from tinygrad_rnn.function import Function


def _keep(g: np.ndarray, shape: tuple, axis, keepdims: bool) -> np.ndarray:
    """g reshaped so that it broadcasts against the unreduced input."""
    if keepdims or axis is None and g.ndim == len(shape):
        return g
    if axis is None:
        return g.reshape((1,) * len(shape))
    return np.expand_dims(g, axis)


class Sum(Function):
    """y = sum(x, axis);  dx = broadcast(g)"""

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        ctx.shape, ctx.axis, ctx.keepdims = x.shape, axis, keepdims
        return np.sum(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        return np.broadcast_to(_keep(g, ctx.shape, ctx.axis, ctx.keepdims), ctx.shape)


class Max(Function):
    """y = max(x, axis);  dx = g * (x == y) / count(x == y)  (ties share equally)"""

    _reduce = staticmethod(np.max)

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        y = ctx._reduce(x, axis=axis, keepdims=True)
        ctx.save_for_backward(x, y)
        ctx.axis, ctx.keepdims = axis, keepdims
        return y if keepdims else _squeeze(y, axis)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_arrays
        mask = x == y
        count = mask.sum(axis=ctx.axis, keepdims=True)
        return mask * (_keep(g, x.shape, ctx.axis, ctx.keepdims) / count)


class Min(Max):
    """y = min(x, axis);  dx = g * (x == y) / count(x == y)  (ties share equally)"""

    _reduce = staticmethod(np.min)  # forward and backward are Max's, with min selecting


class LogSumExp(Function):
    """y = log(sum(exp(x - m))) + m,  m = max(x);  dx = g * exp(x - y)"""

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        m = np.max(x, axis=axis, keepdims=True) if x.size else np.zeros((1,) * x.ndim, x.dtype)
        m = np.where(np.isfinite(m), m, 0)  # all -inf rows give -inf, not nan
        with np.errstate(divide="ignore"):
            y = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
        ctx.save_for_backward(x, y)
        ctx.axis, ctx.keepdims = axis, keepdims
        return y if keepdims else _squeeze(y, axis)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_arrays
        return _keep(g, x.shape, ctx.axis, ctx.keepdims) * np.exp(x - y)


def _squeeze(y: np.ndarray, axis) -> np.ndarray:
    return y.reshape(()) if axis is None else np.squeeze(y, axis=axis)
