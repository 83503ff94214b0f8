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


class ScatterAdd(Function):
    """y = x with src[i][j] added at [index[i][j]][j] along axis 0 (likewise for any axis;
    repeats accumulate);  dx = g,  dsrc = g[index[i][j]][j] where index reaches, 0 beyond"""

    @staticmethod
    def over_time(kwargs, shapes, stacked):  # the index has the step's shape: not over time
        return None

    @staticmethod
    def forward(ctx, x, src, index=None, axis=0):
        ctx.src_shape = src.shape
        ctx.index = along_axis(index, axis)
        ctx.reach = tuple(slice(0, n) for n in index.shape)  # the part of src that is added
        out = x.copy()
        np.add.at(out, ctx.index, src[ctx.reach])
        return out

    @staticmethod
    def backward(ctx, g):
        needs_x, needs_src = ctx.needs_input_grad
        dsrc = None
        if needs_src:
            dsrc = np.zeros(ctx.src_shape, g.dtype)
            dsrc[ctx.reach] = g[ctx.index]
        return (g if needs_x else None), dsrc
