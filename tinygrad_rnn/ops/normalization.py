"""Normalization over trailing axes: LayerNorm as one node with its closed-form backward."""
from __future__ import annotations

import numpy as np

from tinygrad_rnn.function import Function


class LayerNorm(Function):
    """y = xh * w + b, xh = (x - mean) / s, s = sqrt(var + eps);  dx = (gh - mean(gh) - xh * mean(gh * xh)) / s, gh = g * w;  dw = sum(g * xh);  db = sum(g)"""  # noqa: E501

    @staticmethod
    def over_time(kwargs, shapes, stacked):  # normalises trailing axes: rows are independent
        return kwargs if stacked[0] and not any(stacked[1:]) else None

    @staticmethod
    def forward(ctx, x, *affine, n_axes=1, has_weight=False, has_bias=False, eps=1e-5):
        axes = tuple(range(x.ndim - n_axes, x.ndim))
        n = int(np.prod(x.shape[x.ndim - n_axes:]))
        # shift by one element of each row first: for 1e4 + noise in float32 the rounded mean
        # would carry an error of the input's ulp, while x - x0 is exact and its mean is small
        xc = x - x[(Ellipsis,) + (slice(0, 1),) * n_axes]
        mu = np.add.reduce(xc, axis=axes, keepdims=True)
        mu *= 1.0 / n
        xc -= mu
        var = np.add.reduce(np.square(xc), axis=axes, keepdims=True)  # biased, as PyTorch;
        var *= 1.0 / n                                               # two-pass: >= 0
        rstd = 1.0 / np.sqrt(var + eps)
        xh = np.multiply(xc, rstd, out=xc)  # in place: fewer fresh arrays on the time loop
        w = affine[0] if has_weight else None
        y = xh if w is None else xh * w
        if has_bias:
            y = y + affine[-1] if y is xh else np.add(y, affine[-1], out=y)
        ctx.save_for_backward(xh, rstd, w)
        ctx.axes, ctx.has_bias = axes, has_bias
        return y

    @staticmethod
    def backward(ctx, g):
        xh, rstd, w = ctx.saved_arrays
        axes, need = ctx.axes, ctx.needs_input_grad
        lead = tuple(range(g.ndim - len(axes)))  # weight and bias are shared over these
        grads = [None]
        if need[0]:
            gh = g if w is None else g * w
            n = int(np.prod([g.shape[a] for a in axes]))
            m1 = np.add.reduce(gh, axis=axes, keepdims=True)
            m1 *= 1.0 / n
            t = gh * xh
            m2 = np.add.reduce(t, axis=axes, keepdims=True)
            m2 *= 1.0 / n
            np.multiply(xh, m2, out=t)
            t += m1
            dx = np.subtract(gh, t, out=t)
            dx *= rstd
            grads[0] = dx
        if w is not None:
            grads.append((g * xh).sum(axis=lead) if need[1] else None)
        if ctx.has_bias:
            grads.append(g.sum(axis=lead) if need[-1] else None)
        return tuple(grads)
