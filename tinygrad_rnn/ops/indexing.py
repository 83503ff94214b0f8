"""Ops that pick elements by integer indices; their gradients scatter-add back."""
from __future__ import annotations

import numpy as np

from tinygrad_rnn.function import Function, IndexedGrad, axis_over_time


def along_axis(index: np.ndarray, axis: int) -> tuple:
    """The advanced index that gathers `index` along `axis`: on every other axis d, the
    positions 0 .. index.shape[d] - 1 (broadcast), so x[...] has index's shape, as torch.gather."""
    nd = index.ndim
    return tuple(index if d == axis else
                 np.arange(n).reshape((1,) * d + (n,) + (1,) * (nd - d - 1))
                 for d, n in enumerate(index.shape))


class Gather(Function):
    """y = x[..., index, ...] along axis (torch.gather);  dx = zeros with g scatter-added there"""

    @staticmethod
    def over_time(kwargs, shapes, stacked):  # the index has the step's shape: not over time
        return None

    @staticmethod
    def forward(ctx, x, index=None, axis=0):
        ctx.in_shape = x.shape
        ctx.index = along_axis(index, axis)
        return x[ctx.index]

    @staticmethod
    def backward(ctx, g):
        # the engine adds it into one gradient buffer with np.add.at: repeats accumulate
        return IndexedGrad(ctx.index, g, ctx.in_shape, True)


class IndexSelect(Function):
    """y = take(x, index, axis);  dx = zeros with g scatter-added at index on axis"""

    over_time = axis_over_time("axis")

    @staticmethod
    def forward(ctx, x, index=None, axis=0):
        ctx.in_shape = x.shape
        ctx.index = (slice(None),) * axis + (index,)
        return np.take(x, index, axis=axis)

    @staticmethod
    def backward(ctx, g):
        return IndexedGrad(ctx.index, g, ctx.in_shape, True)
