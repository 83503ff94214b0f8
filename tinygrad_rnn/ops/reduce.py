"""Reductions over an axis tuple (None = all axes). Mean composes Sum in Tensor.mean."""
from __future__ import annotations

import numpy as np

from tinygrad_rnn.function import Function, axis_over_time
from tinygrad_rnn.ops.elementwise import sign


def _keep(g: np.ndarray, shape: tuple, axis, keepdims: bool) -> np.ndarray:
    """g reshaped so that it broadcasts against the unreduced input."""
    if keepdims or axis is None and g.ndim == len(shape):
        return g
    if axis is None:
        return g.reshape((1,) * len(shape))
    return np.expand_dims(g, axis)


class Sum(Function):
    """y = sum(x, axis);  dx = broadcast(g)"""

    over_time = axis_over_time("axis")

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        ctx.shape, ctx.axis, ctx.keepdims = x.shape, axis, keepdims
        return np.sum(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        return np.broadcast_to(_keep(g, ctx.shape, ctx.axis, ctx.keepdims), ctx.shape)


class Max(Function):
    """y = max(x, axis);  dx = g * (x == y) / count(x == y)  (ties share equally)

    Over all axes a NaN maximum sends its gradient to the NaNs (shared equally), as PyTorch's
    full reduction does; along an axis, as amax, a NaN row's gradient is NaN."""

    over_time = axis_over_time("axis")

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
        if ctx.axis is None and np.isnan(y).any():
            mask = np.isnan(x)
        count = mask.sum(axis=ctx.axis, keepdims=True)
        return mask * (_keep(g, x.shape, ctx.axis, ctx.keepdims) / count)


class Min(Max):
    """y = min(x, axis);  dx = g * (x == y) / count(x == y)  (ties share equally)"""

    _reduce = staticmethod(np.min)  # forward and backward are Max's, with min selecting


class LogSumExp(Function):
    """y = log(sum(exp(x - m))) + m,  m = max(x);  dx = g * exp(x - y)"""

    over_time = axis_over_time("axis")

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


class Var(Function):
    """y = sum((x - mean)**2) / max(N - c, 0);  dx = g * 2 * (x - mean) / max(N - c, 0)"""

    over_time = axis_over_time("axis")

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False, correction=1):
        d, dof, y = _moments(x, axis, correction)
        ctx.save_for_backward(d, dof)
        ctx.axis, ctx.keepdims = axis, keepdims
        return y if keepdims else _squeeze(y, axis)

    @staticmethod
    def backward(ctx, g):
        d, dof = ctx.saved_arrays
        with np.errstate(invalid="ignore", divide="ignore"):
            return _keep(g, d.shape, ctx.axis, ctx.keepdims) * (2 * d / dof)


class Std(Function):
    """y = sqrt(var(x));  dx = g * (x - mean) / (max(N - c, 0) * y), 0 where y = 0 (PyTorch's)"""

    over_time = axis_over_time("axis")

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False, correction=1):
        d, dof, v = _moments(x, axis, correction)
        y = np.sqrt(v)
        ctx.save_for_backward(d, dof, y)
        ctx.axis, ctx.keepdims = axis, keepdims
        return y if keepdims else _squeeze(y, axis)

    @staticmethod
    def backward(ctx, g):
        d, dof, y = ctx.saved_arrays
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.where(y == 0, 0, d / (dof * y))  # a constant input: gradient 0, not 0/0
        return _keep(g, d.shape, ctx.axis, ctx.keepdims) * r


def _moments(x: np.ndarray, axis, correction) -> tuple:
    """(x - mean, the divisor, the variance with kept axes), PyTorch's way: the divisor is
    max(N - correction, 0), so N <= correction gives 0/0 = nan (all equal) or m2/0 = inf."""
    n = _count(x.shape, axis)
    dof = x.dtype.type(max(n - correction, 0))
    with np.errstate(invalid="ignore", divide="ignore"):
        d = x - np.sum(x, axis=axis, keepdims=True) / x.dtype.type(n)  # two passes: stable
        return d, dof, np.sum(d * d, axis=axis, keepdims=True) / dof


class Prod(Function):
    """y = prod(x, axis);  dx_i = g * prod_{j != i} x_j  (no division: zeros are exact)"""

    over_time = axis_over_time("axis")

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        ctx.save_for_backward(x)
        ctx.axis, ctx.keepdims = axis, keepdims
        return np.prod(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_arrays
        return _keep(g, x.shape, ctx.axis, ctx.keepdims) * _others_product(x, ctx.axis)


def _others_product(x: np.ndarray, axis) -> np.ndarray:
    """For each element, the product of the other elements of its reduction group.

    Exclusive cumulative products from the left and from the right, multiplied: y / x would
    divide by zero (and lose the one-zero case, where the gradient is the others' product).
    """
    red = tuple(range(x.ndim)) if axis is None else tuple(axis)
    keep = [a for a in range(x.ndim) if a not in red]
    order = keep + list(red)
    xt = np.transpose(x, order)
    lead = xt.shape[: len(keep)]
    n = _count(x.shape, axis)
    if xt.size == 0:
        return np.zeros(x.shape, x.dtype)
    flat = xt.reshape(lead + (n,))
    one = np.ones(lead + (1,), x.dtype)
    left = np.cumprod(np.concatenate([one, flat[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([one, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    return np.transpose((left * right).reshape(xt.shape), np.argsort(order))


class Norm(Function):
    """y = (sum |x|**p)**(1/p);  dx = g * sign(x) * (|x| / y)**(p - 1), 0 where y = 0

    p = inf is max |x| and -inf min |x| (the gradient goes to the arg-max, ties share it);
    p = 0 counts the nonzeros (gradient 0).
    """

    over_time = axis_over_time("axis")

    @staticmethod
    def forward(ctx, x, p=2.0, axis=None, keepdims=False):
        a = np.abs(x)
        if p == 2:  # the common case: no rescaling pass
            y = np.sqrt(np.sum(a * a, axis=axis, keepdims=True))
        elif p == 1:
            y = np.sum(a, axis=axis, keepdims=True)
        elif p == 0:
            y = np.sum(a != 0, axis=axis, keepdims=True).astype(x.dtype)
        elif p == np.inf:
            y = np.max(a, axis=axis, keepdims=True, initial=0)
        elif p == -np.inf:
            y = np.min(a, axis=axis, keepdims=True, initial=np.inf)
        else:  # divide by the largest |x| first, so that |x|**p cannot overflow or underflow
            m = np.max(a, axis=axis, keepdims=True, initial=0)
            m = np.where((m > 0) & np.isfinite(m), m, 1).astype(x.dtype)  # an inf entry: the
            y = m * np.sum((a / m) ** p, axis=axis, keepdims=True) ** x.dtype.type(1 / p)  # norm inf
        y = y.astype(x.dtype, copy=False)
        ctx.save_for_backward(x, y)
        ctx.p, ctx.axis, ctx.keepdims = p, axis, keepdims
        return y if keepdims else _squeeze(y, axis)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_arrays
        p = ctx.p
        g = _keep(g, x.shape, ctx.axis, ctx.keepdims)
        if p == 0:
            return np.zeros(x.shape, g.dtype)
        if np.isinf(p):  # the gradient of max |x| (min |x|): the arg-max, ties share it; a
            mask = np.abs(x) == y  # NaN norm has no arg-max: gradient 0, as in PyTorch
            count = np.sum(mask, axis=ctx.axis, keepdims=True)
            share = np.divide(g, count, out=np.zeros(np.broadcast(g, count).shape, g.dtype),
                              where=count > 0)
            return sign(x) * mask * share
        # a zero vector gets gradient 0, as in PyTorch; a NaN norm passes NaN everywhere
        nonzero = y != 0
        safe = np.where(nonzero, y, 1)
        if p == 2:
            return g * x / safe * nonzero
        if p == 1:
            return g * sign(x)
        a = np.abs(x)
        with np.errstate(divide="ignore"):  # p < 1: 0**(p - 1) = inf, masked out below
            r = np.where((a != 0) | np.isnan(y), (a / safe) ** (p - 1), 0)  # (NaN: NaN)
        return g * sign(x) * r * nonzero


def _count(shape: tuple, axis) -> int:
    """How many elements each reduction over `axis` combines."""
    return int(np.prod(shape if axis is None else [shape[a] for a in axis], dtype=np.int64))


def _squeeze(y: np.ndarray, axis) -> np.ndarray:
    return y.reshape(()) if axis is None else np.squeeze(y, axis=axis)
