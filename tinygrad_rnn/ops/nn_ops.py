"""Ops on the neural-network hot path that are single nodes for speed and stability."""
from __future__ import annotations

import numpy as np

from tinygrad_rnn import _blas
from tinygrad_rnn.function import Function, axis_over_time


class LogSoftmax(Function):
    """y = x - logsumexp(x, axis);  dx = g - exp(y) * sum(g, axis)"""

    over_time = axis_over_time("axis")

    @staticmethod
    def forward(ctx, x, axis=-1):
        m = np.max(x, axis=axis, keepdims=True, initial=-np.inf)  # (an empty axis: empty y)
        z = x - m
        with np.errstate(divide="ignore"):  # log(0) only for an empty axis
            y = z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))
        ctx.save_for_backward(y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_arrays
        return g - np.exp(y) * np.sum(g, axis=ctx.axis, keepdims=True)


class Linear(Function):
    """y = x @ w^T + b;  dx = g @ w,  dw = g^T @ x,  db = sum of g over all but the last axis

    x: (..., in), w: (out, in), b: (out,) or absent. One node (and one GEMM each way over the
    folded leading axes) for the affine map at the heart of every cell and readout.
    """

    saved_for = ((1,), (0,))  # x serves dw only, w serves dx only

    @staticmethod
    def over_time(kwargs, shapes, stacked):  # x gains leading rows; the weights may not
        return kwargs if stacked[0] and not any(stacked[1:]) else None

    @staticmethod
    def prepare(kwargs, fixed):  # a weight used at every step: its transpose, contiguous,
        w = fixed.get(1)        # makes the forward GEMM ~30% faster (backward keeps w); a
        if w is None or w.ndim != 2 or w.dtype != np.float32:  # wider copy too where faster
            return {}  # still (_blas). float32 only: in float64 the eager view's kernel gives
        # other last bits than a contiguous copy's, and float64 keeps the eager loop's bits
        kw = {"weight_t": np.ascontiguousarray(w.T)}
        wide = _blas.wide_rhs(w.T)
        if wide is not None:
            kw["weight_wide"] = wide
        return kw

    @staticmethod
    def forward(ctx, x, w, b=None, weight_t=None, weight_wide=None):
        if x.ndim == 0 or w.ndim != 2 or x.shape[-1] != w.shape[1]:
            raise ValueError(f"linear: input of shape {x.shape} does not fit weight of shape "
                             f"{w.shape} (expected input (..., {w.shape[-1]}) and 2-D weight)")
        if b is not None and b.shape != w.shape[:1]:
            raise ValueError(f"linear: bias has shape {b.shape}, expected ({w.shape[0]},)")
        ctx.save_for_backward(x, w)
        # the row count is explicit: reshape(-1, 0) is ambiguous when in_features is 0
        x2 = x if x.ndim == 2 else x.reshape(int(np.prod(x.shape[:-1])), x.shape[-1])
        if weight_wide is not None and x2.shape[0] >= _blas.MIN_ROWS:  # zero columns added
            y = np.dot(x2, weight_wide)[:, :w.shape[0]]
        elif weight_t is None:
            y = _blas.times_transposed(x2, w)
        else:
            y = np.dot(x2, weight_t)
        if x.ndim != 2:
            y = y.reshape(x.shape[:-1] + w.shape[:1])
        if b is not None:
            y += b
        return y

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_arrays
        needs = ctx.needs_input_grad
        rows = int(np.prod(x.shape[:-1]))  # explicit, as in forward
        x2 = x if x.ndim == 2 else x.reshape(rows, x.shape[-1])
        g2 = g if g.ndim == 2 else g.reshape(rows, w.shape[0])
        dx = np.dot(g2, w) if needs[0] else None
        dw = np.dot(g2.T, x2) if needs[1] else None
        if dx is not None and x.ndim != 2:
            dx = dx.reshape(x.shape)
        if len(needs) == 2:
            return dx, dw
        return dx, dw, (g2.sum(axis=0) if needs[2] else None)


class Embedding(Function):
    """y = weight[idx];  dweight = g scatter-added at rows idx (padding_idx: 0; / its count)

    (the division by each row's count in idx with scale_grad_by_freq only)"""

    @staticmethod
    def over_time(kwargs, shapes, stacked):  # indices are per step: run it step by step
        return None

    @staticmethod
    def forward(ctx, weight, idx, padding_idx=None, scale_grad_by_freq=False):
        check_rows(idx, weight.shape[0])
        ctx.save_for_backward(idx)
        ctx.weight_shape, ctx.padding_idx = weight.shape, padding_idx
        ctx.scale_grad_by_freq = scale_grad_by_freq
        return weight[idx]

    @staticmethod
    def backward(ctx, g):
        (idx,) = ctx.saved_arrays
        dw = np.zeros(ctx.weight_shape, dtype=g.dtype)
        np.add.at(dw, idx.reshape(-1), g.reshape(-1, ctx.weight_shape[1]))
        if ctx.scale_grad_by_freq:  # (PyTorch's option: a frequent row learns no faster)
            counts = np.bincount(idx.reshape(-1), minlength=ctx.weight_shape[0])
            dw /= np.maximum(counts, 1).astype(dw.dtype)[:, None]
        if ctx.padding_idx is not None:  # the padding row is a constant, as in PyTorch
            dw[ctx.padding_idx] = 0
        return dw, None


def check_rows(idx: np.ndarray, n: int) -> None:
    """Integer indices within [0, n), the rows of an embedding table of n rows."""
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise IndexError(f"embedding: index out of range [0, {n}): "
                         f"got min {idx.min()}, max {idx.max()}")


class Dropout(Function):
    """y = x * mask;  dx = g * mask  (mask holds 0 or 1 / (1 - p), drawn by the caller)"""

    @staticmethod
    def forward(ctx, x, mask=None):
        mask = np.asarray(mask).astype(x.dtype, copy=False)  # a float64 mask must not upcast x
        ctx.save_for_backward(mask)
        return x * mask

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_arrays
        return g * mask


class CrossEntropy(Function):
    """loss = m ((1-e) (lse - x[t]) + e mean_c (lse - x_c));  dx = g m (p - (1-e) onehot(t) - e/C)

    x: (N, C) logits, t: (N,) integer targets; returns the (N,) per-row losses; lse and
    p = softmax(x) per row, e is label_smoothing, m = 0 where t == ignore_index (that row
    adds nothing and its target may lie outside [0, C)), else 1. Without either option it
    is plain cross-entropy: loss = lse - x[t], dx = g (p - onehot(t)).
    """

    @staticmethod
    def over_time(kwargs, shapes, stacked):  # (N, C) rows with per-step targets: by step
        return None

    @staticmethod
    def forward(ctx, x, t, ignore_index=None, label_smoothing=0.0):
        # z = x - max, lse = log sum exp z: the loss needs lse - z[t] only (no whole
        # log-softmax), and backward takes p = exp(z) / sum from what is kept here
        z = x - np.max(x, axis=-1, keepdims=True)
        ez = np.exp(z)
        total = np.add.reduce(ez, axis=-1)
        lse = np.log(total)
        rows = np.arange(x.shape[0])
        keep = None
        if ignore_index is not None:
            keep = t != ignore_index
            t = np.where(keep, t, 0)  # any valid class: the row is zeroed below
        ctx.save_for_backward(ez, total, t, keep)
        ctx.smoothing = label_smoothing
        loss = lse - z[rows, t]
        if label_smoothing:  # mean_c (lse - z_c) = lse - mean_c z_c
            e = x.dtype.type(label_smoothing)
            loss = (1 - e) * loss + e * (lse - np.mean(z, axis=-1))
        return loss if keep is None else np.where(keep, loss, 0).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        ez, total, t, keep = ctx.saved_arrays
        if keep is not None:
            g = np.where(keep, g, 0).astype(g.dtype, copy=False)
        dx = ez * (g / total)[:, None]  # g p, a new array (ez may serve another backward)
        rows = np.arange(dx.shape[0])
        e = ctx.smoothing
        if e:
            e = dx.dtype.type(e)
            dx -= (e / dx.shape[-1]) * g[:, None]
            dx[rows, t] -= (1 - e) * g
        else:
            dx[rows, t] -= g
        return dx, None
