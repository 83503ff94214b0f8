"""Ops that move elements around without arithmetic."""
from __future__ import annotations

import numpy as np

from tinygrad_rnn.function import Function, IndexedGrad


class Reshape(Function):
    """y = reshape(x, shape);  dx = reshape(g, x.shape)"""

    @staticmethod
    def forward(ctx, x, shape=()):
        ctx.in_shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} "
                             f"({x.size} elements) into shape {tuple(shape)}") from None

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape)


class Transpose(Function):
    """y = transpose(x, axes);  dx = transpose(g, argsort(axes))"""

    @staticmethod
    def forward(ctx, x, axes=None):
        # negative axes normalised first: argsort of (-1, 0) is not the inverse of (1, 0)
        ctx.axes = None if axes is None else tuple(a % x.ndim for a in axes)
        return np.transpose(x, ctx.axes)

    @staticmethod
    def backward(ctx, g):
        return np.transpose(g, None if ctx.axes is None else np.argsort(ctx.axes))


def _has_array(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, (np.ndarray, list)) for i in items)


class GetItem(Function):
    """y = x[index];  dx = zeros_like(x) with g scatter-added at index (repeats accumulate)"""

    @staticmethod
    def forward(ctx, x, index=None):
        ctx.in_shape, ctx.in_dtype, ctx.index = x.shape, x.dtype, index
        try:
            return x[index]
        except IndexError as e:
            raise IndexError(f"getitem: index {index!r} is invalid for shape {x.shape}: {e}") from None

    @staticmethod
    def backward(ctx, g):
        # handed to the engine unexpanded: it scatters into one buffer per input, in place
        return IndexedGrad(ctx.index, g, ctx.in_shape, _has_array(ctx.index))


class Concatenate(Function):
    """y = concatenate(xs, axis);  dx_i = g sliced back to x_i's extent on axis"""

    @staticmethod
    def forward(ctx, *xs, axis=0):
        try:
            y = np.concatenate(xs, axis=axis)
        except (ValueError, np.exceptions.AxisError):
            raise ValueError(f"concatenate: shapes {[x.shape for x in xs]} cannot be joined "
                             f"on axis {axis} (all other axes must match)") from None
        ctx.axis = axis % y.ndim
        ctx.bounds = np.cumsum([x.shape[ctx.axis] for x in xs])[:-1]
        return y

    @staticmethod
    def backward(ctx, g):
        return tuple(np.split(g, ctx.bounds, axis=ctx.axis))


class Stack(Function):
    """y = stack(xs, axis);  dx_i = take(g, i, axis)"""

    @staticmethod
    def forward(ctx, *xs, axis=0):
        if len({x.shape for x in xs}) > 1:
            raise ValueError(f"stack: all tensors need one shape, got {[x.shape for x in xs]}")
        y = np.stack(xs, axis=axis)
        ctx.axis = axis % y.ndim
        return y

    @staticmethod
    def backward(ctx, g):
        return tuple(np.moveaxis(g, ctx.axis, 0))


class BroadcastTo(Function):
    """y = broadcast_to(x, shape);  dx = g summed back to x.shape (by the engine)"""

    @staticmethod
    def forward(ctx, x, shape=()):
        try:
            return np.broadcast_to(x, shape)
        except ValueError:
            raise ValueError(f"broadcast_to: shape {x.shape} cannot broadcast to {tuple(shape)}") from None

    @staticmethod
    def backward(ctx, g):
        return g
