"""Elementwise losses that are one node each (their compositions would be 5-10 nodes, or would
lose PyTorch's clamping): the caller reduces the per-element loss with sum or mean."""
from __future__ import annotations

import numpy as np

from tinygrad_rnn.function import Function, same_over_time


class SmoothL1(Function):
    """d = x - t;  y = 0.5 d**2 / beta if |d| < beta else |d| - 0.5 beta;  dx = g clip(d / beta, -1, 1) = -dt"""  # noqa: E501

    over_time = staticmethod(same_over_time)

    @staticmethod
    def forward(ctx, x, t, beta=1.0):
        d = x - t
        a = np.abs(d)
        ctx.save_for_backward(d)
        ctx.beta = beta
        return np.where(a < beta, 0.5 / beta * d * d, a - 0.5 * beta)

    @staticmethod
    def backward(ctx, g):
        (d,) = ctx.saved_arrays
        gx = g * np.clip(d / ctx.beta, -1, 1)
        return _pair(ctx, gx)


class Huber(Function):
    """d = x - t;  y = 0.5 d**2 if |d| < delta else delta (|d| - 0.5 delta);  dx = g clip(d, -delta, delta) = -dt"""  # noqa: E501

    over_time = staticmethod(same_over_time)

    @staticmethod
    def forward(ctx, x, t, delta=1.0):
        d = x - t
        a = np.abs(d)
        ctx.save_for_backward(d)
        ctx.delta = delta
        return np.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta))

    @staticmethod
    def backward(ctx, g):
        (d,) = ctx.saved_arrays
        return _pair(ctx, g * np.clip(d, -ctx.delta, ctx.delta))


def _pair(ctx, gx):
    """(dx, dt) for a loss of x - t."""
    need = ctx.needs_input_grad
    return (gx if need[0] else None), (-gx if need[1] else None)


class BinaryCrossEntropy(Function):
    """y = -(t log x + (1 - t) log(1 - x)), logs clamped at -100;  dx = g (x - t) / max(x (1 - x), 1e-12);  dt = g (log(1 - x) - log x) = -g logit(x), unclamped"""  # noqa: E501

    over_time = staticmethod(same_over_time)

    @staticmethod
    def forward(ctx, x, t):
        lx, l1x = _clamped_logs(x)
        ctx.save_for_backward(x, t)
        return -(t * lx + (1 - t) * l1x)

    @staticmethod
    def backward(ctx, g):
        x, t = ctx.saved_arrays
        need = ctx.needs_input_grad
        # PyTorch's gradient: the clamp of the logs is not differentiated, the 1e-12 floor
        # keeps x = 0 or 1 finite
        gx = g * (x - t) / np.maximum(x * (1 - x), 1e-12) if need[0] else None
        gt = None
        if need[1]:  # -logit(x), PyTorch's spelling: unclamped, so +-inf at x = 0 or 1
            with np.errstate(divide="ignore"):
                gt = g * -np.log(x / (1 - x))
        return gx, gt


def _clamped_logs(x):
    """log(x) and log(1 - x), each at least -100 (PyTorch's clamp: 0 * log 0 stays 0)."""
    with np.errstate(divide="ignore"):
        return np.maximum(np.log(x), -100), np.maximum(np.log1p(-x), -100)


class KLDiv(Function):
    """y = t (log t - x) (0 where t = 0), or exp(t) (t - x) with log_target;  dx = -g t or -g exp(t);  dt = g (log t + 1 - x) or g (y + exp(t))"""  # noqa: E501

    over_time = staticmethod(same_over_time)

    @staticmethod
    def forward(ctx, x, t, log_target=False):
        ctx.log_target = log_target
        if log_target:
            p = np.exp(t)
            y = p * (t - x)
            ctx.save_for_backward(p, y)
            return y
        ctx.save_for_backward(x, t)
        with np.errstate(divide="ignore", invalid="ignore"):  # 0 log 0 is taken as 0
            return np.where(t == 0, 0, t * (np.log(t) - x))

    @staticmethod
    def backward(ctx, g):
        need = ctx.needs_input_grad
        if ctx.log_target:
            p, y = ctx.saved_arrays
            return (-g * p if need[0] else None), (g * (y + p) if need[1] else None)
        x, t = ctx.saved_arrays
        gt = None
        if need[1]:
            with np.errstate(divide="ignore"):  # -inf at t = 0: the slope of t log t there
                gt = g * (np.log(t) + 1 - x)
        return (-g * t if need[0] else None), gt
