"""Ops that move elements around without arithmetic."""
from __future__ import annotations

import numpy as np

from tinygrad_rnn._validate import overlaps
from tinygrad_rnn.function import Function, IndexedGrad, axis_over_time


class Reshape(Function):
    """y = reshape(x, shape);  dx = reshape(g, x.shape)"""

    @staticmethod
    def over_time(kwargs, shapes, stacked):  # the step's shape, after a time axis
        return {"shape": (-1,) + np.empty(shapes[0], dtype=bool).reshape(kwargs["shape"]).shape}

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
    def over_time(kwargs, shapes, stacked):  # time stays first, the step's axes move by one
        axes = kwargs.get("axes")
        n = len(shapes[0])
        axes = tuple(range(n - 1, -1, -1)) if axes is None else tuple(a % n for a in axes)
        return {"axes": (0,) + tuple(a + 1 for a in axes)}

    @staticmethod
    def forward(ctx, x, axes=None):
        # negative axes normalised first: argsort of (-1, 0) is not the inverse of (1, 0)
        ctx.axes = None if axes is None else tuple(a % x.ndim for a in axes)
        return np.transpose(x, ctx.axes)

    @staticmethod
    def backward(ctx, g):
        return np.transpose(g, None if ctx.axes is None else np.argsort(ctx.axes))


def _has_array(index) -> bool:
    if index.__class__ is not tuple:
        return isinstance(index, (np.ndarray, list))
    for i in index:  # a loop, not any(...): this runs in every slice's backward
        if isinstance(i, (np.ndarray, list)):
            return True
    return False


class GetItem(Function):
    """y = x[index];  dx = zeros_like(x) with g scatter-added at index (repeats accumulate)"""

    @staticmethod
    def over_time(kwargs, shapes, stacked):  # every step's index, behind a full time slice
        index = kwargs["index"]
        items = index if isinstance(index, tuple) else (index,)
        arrays = [i for i, v in enumerate(items) if isinstance(v, (np.ndarray, list))]
        if arrays:  # beside an array an integer is an advanced index too (NumPy's rule)
            if any(v is None or v is Ellipsis or isinstance(v, (bool, np.bool_)) for v in items):
                return None  # (where the advanced axes land: left to the step loop)
            arrays = [i for i, v in enumerate(items) if isinstance(v, (np.ndarray, list)) or (
                isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)))]
        if arrays and arrays != list(range(arrays[0], arrays[0] + len(arrays))):
            return None  # split advanced indices move their axes to the front
        if any(v is None for v in items[:1]) or (arrays and arrays[0] == 0 and len(arrays) > 1):
            return None
        return {"index": (slice(None),) + items}

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

    over_time = axis_over_time("axis")

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

    over_time = axis_over_time("axis")

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
    """y = broadcast_to(x, shape);  dx = g summed back to x.shape (by the engine)

    A -1 in shape keeps x's size on that axis (x of as many axes as shape): over time, the
    leading axis is the stack's."""

    @staticmethod
    def over_time(kwargs, shapes, stacked):  # only when no axis is added in front
        if len(shapes[0]) != len(kwargs["shape"]):
            return None
        return {"shape": (-1,) + tuple(kwargs["shape"])}

    @staticmethod
    def forward(ctx, x, shape=()):
        if -1 in shape:
            if len(shape) != x.ndim:
                raise ValueError(f"broadcast_to: a -1 in shape {tuple(shape)} keeps an axis of "
                                 f"x, which needs {len(shape)} axes, got shape {x.shape}")
            shape = tuple(n if d == -1 else d for n, d in zip(x.shape, shape))
        try:
            y = np.broadcast_to(x, shape)
        except ValueError:
            raise ValueError(f"broadcast_to: shape {x.shape} cannot broadcast to {tuple(shape)}") from None
        if x.flags.writeable and not overlaps(y):  # (new size-1 axes, the same shape, no
            # elements): a view that may be written through, as PyTorch's expand
            y = np.lib.stride_tricks.as_strided(x, y.shape, y.strides, writeable=True)
        return y

    @staticmethod
    def backward(ctx, g):
        return g


class Flip(Function):
    """y = flip(x, axes);  dx = flip(g, axes)"""

    over_time = axis_over_time("axes")

    @staticmethod
    def forward(ctx, x, axes=()):
        ctx.axes = axes
        return np.flip(x, axes).copy()  # a copy, as torch.flip: later in-place ops stay local

    @staticmethod
    def backward(ctx, g):
        return np.flip(g, ctx.axes)


class Roll(Function):
    """y = roll(x, shifts, axes) (y[i + s mod n] = x[i]);  dx = roll(g, -shifts, axes)"""

    over_time = axis_over_time("axes")

    @staticmethod
    def forward(ctx, x, shifts=(), axes=()):
        ctx.shifts, ctx.axes = shifts, axes
        return np.roll(x, shifts, axes)

    @staticmethod
    def backward(ctx, g):
        return np.roll(g, tuple(-s for s in ctx.shifts), ctx.axes)


class Repeat(Function):
    """y = tile(x, reps);  dx = g viewed as (r0, n0, r1, n1, ...) summed over every r_i"""

    @staticmethod
    def over_time(kwargs, shapes, stacked):  # only when the repeats add no axis in front
        reps = tuple(kwargs["reps"])
        return None if len(reps) > len(shapes[0]) else {"reps": (1,) * (len(shapes[0]) + 1 - len(reps)) + reps}

    @staticmethod
    def forward(ctx, x, reps=()):
        # x takes leading 1s up to len(reps) axes, as np.tile and torch's repeat do
        ctx.in_shape = x.shape
        ctx.padded = (1,) * (len(reps) - x.ndim) + x.shape
        ctx.reps = reps
        return np.tile(x, reps)

    @staticmethod
    def backward(ctx, g):
        split = [d for pair in zip(ctx.reps, ctx.padded) for d in pair]
        dx = g.reshape(split).sum(axis=tuple(range(0, len(split), 2)))
        return dx.reshape(ctx.in_shape)


def _pad_slices(shape: tuple, widths: tuple) -> tuple:
    """Per axis, the slice of x that is kept and where it lands in the padded output."""
    src, dst = [], []
    for n, (before, after) in zip(shape, widths):
        start, stop = max(-before, 0), n - max(-after, 0)  # negative widths crop
        src.append(slice(start, stop))
        dst.append(slice(max(before, 0), max(before, 0) + stop - start))
    return tuple(src), tuple(dst)


class Pad(Function):
    """y = x padded with `value` by widths (negative widths crop);  dx = g at x's place"""

    @staticmethod
    def over_time(kwargs, shapes, stacked):  # a zero pair for the time axis
        return {**kwargs, "widths": ((0, 0),) + tuple(kwargs["widths"])}

    @staticmethod
    def forward(ctx, x, widths=(), value=0.0):
        for ax, (n, (before, after)) in enumerate(zip(x.shape, widths)):
            if n - max(-before, 0) - max(-after, 0) < 0:
                raise ValueError(f"pad: widths ({before}, {after}) on axis {ax} crop more than "
                                 f"its {n} elements (input shape {x.shape})")
        out_shape = tuple(n + b + a for n, (b, a) in zip(x.shape, widths))
        ctx.in_shape = x.shape
        ctx.src, ctx.dst = _pad_slices(x.shape, widths)
        y = np.full(out_shape, value, dtype=x.dtype)
        y[ctx.dst] = x[ctx.src]
        return y

    @staticmethod
    def backward(ctx, g):
        if all(s.start == 0 and s.stop == n for s, n in zip(ctx.src, ctx.in_shape)):
            return g[ctx.dst]  # nothing cropped: the gradient is a view of g
        dx = np.zeros(ctx.in_shape, dtype=g.dtype)
        dx[ctx.src] = g[ctx.dst]
        return dx


class Split(Function):
    """ys = split(x, sections, axis) (one node, several outputs);  dx = concatenate(gs, axis)"""

    over_time = axis_over_time("axis")

    @staticmethod
    def forward(ctx, x, sections=(), axis=0):
        ctx.axis = axis
        return tuple(np.split(x, np.cumsum(sections)[:-1], axis=axis))

    @staticmethod
    def backward(ctx, *gs):
        return np.concatenate(gs, axis=ctx.axis)
