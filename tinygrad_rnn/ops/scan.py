"""Scans along one axis: running sums, in linear and in log space."""
from __future__ import annotations

import numpy as np

from tinygrad_rnn.function import Function, axis_over_time


def _reverse_scan(ufunc: np.ufunc, a: np.ndarray, axis: int) -> np.ndarray:
    """ufunc accumulated from the end of `axis` backwards: out_j = a_j op a_{j+1} op ..."""
    return np.flip(ufunc.accumulate(np.flip(a, axis), axis=axis), axis)


class CumSum(Function):
    """y_i = sum_{j <= i} x_j;  dx_j = sum_{i >= j} g_i  (a reversed cumsum)"""

    over_time = axis_over_time("axis")

    @staticmethod
    def forward(ctx, x, axis=0):
        ctx.axis = axis
        return np.cumsum(x, axis=axis) if x.ndim else x.copy()

    @staticmethod
    def backward(ctx, g):
        return _reverse_scan(np.add, g, ctx.axis) if g.ndim else g


class CumProd(Function):
    """y_i = prod_{j <= i} x_j;  dx_j = P_j S_j, P_j = prod_{k < j} x_k (exclusive), and
    S_j = sum_{i >= j} g_i prod_{j < k <= i} x_k = g_j + x_{j+1} S_{j+1} (no division: exact
    where x holds zeros)"""

    over_time = axis_over_time("axis")

    @staticmethod
    def forward(ctx, x, axis=0):
        ctx.save_for_backward(x)
        ctx.axis = axis
        return np.cumprod(x, axis=axis) if x.ndim else x.copy()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_arrays
        if x.ndim == 0 or x.shape[ctx.axis] == 0:
            return g.copy()
        xs, gs = np.moveaxis(x, ctx.axis, 0), np.moveaxis(g, ctx.axis, 0)
        n = xs.shape[0]
        exclusive = np.ones_like(xs)
        np.cumprod(xs[:-1], axis=0, out=exclusive[1:])
        s = np.empty(gs.shape, dtype=np.result_type(gs, xs))
        s[n - 1] = gs[n - 1]
        for j in range(n - 2, -1, -1):  # the adjoint: a linear recurrence from the end
            row = s[j, ...]  # (a view, 0-d for a 1-D x)
            np.multiply(xs[j + 1], s[j + 1], out=row)
            row += gs[j]
        return np.moveaxis(exclusive * s, 0, ctx.axis)


class LogCumSumExp(Function):
    """y_i = log(sum_{j <= i} exp(x_j));  dx_j = sum_{i >= j} g_i * exp(x_j - y_i)"""

    over_time = axis_over_time("axis")

    @staticmethod
    def forward(ctx, x, axis=0):
        # y_i = logaddexp(y_{i-1}, x_i) = max + log1p(exp(-|difference|)): each step is
        # shifted by the running maximum, so inputs like 1e4 neither overflow nor underflow
        y = np.logaddexp.accumulate(x, axis=axis) if x.ndim else x.copy()
        ctx.save_for_backward(x, y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_arrays
        if x.ndim == 0:
            return g
        # sum_{i >= j} g_i exp(-y_i) in log space, the positive and negative parts of g apart;
        # exp(x_j - y_i) <= 1 for i >= j, so x_j + that log never overflows
        with np.errstate(divide="ignore"):
            log_pos = np.log(np.where(g > 0, g, 0)) - y
            log_neg = np.log(np.where(g < 0, -g, 0)) - y
        pos = _reverse_scan(np.logaddexp, log_pos, ctx.axis)
        neg = _reverse_scan(np.logaddexp, log_neg, ctx.axis)
        return np.exp(x + pos) - np.exp(x + neg)
