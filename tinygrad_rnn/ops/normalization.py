"""Normalization over trailing axes: LayerNorm as one node with its closed-form backward."""
from __future__ import annotations

import numpy as np

from tinygrad_rnn import _blas
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
        rows = x.size // n if n else 0
        # shift by one element of each row first: for 1e4 + noise in float32 the rounded mean
        # would carry an error of the input's ulp, while x - x0 is exact and its mean is small
        x2 = x.reshape(rows, n)
        xc = x2 - x2[:, :1]
        mu = _row_sums(xc)
        mu *= 1.0 / n
        xc -= mu[:, None]
        var = _row_dots(xc, xc)  # biased, as PyTorch; two-pass: >= 0
        var *= 1.0 / n
        var += eps
        rstd = np.divide(1.0, np.sqrt(var, out=var), out=var)
        xh = np.multiply(xc, rstd[:, None], out=xc).reshape(x.shape)  # in place
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
        n = int(np.prod([g.shape[a] for a in axes]))
        rows = g.size // n if n else 0
        g2, xh2 = g.reshape(rows, n), xh.reshape(rows, n)
        grads = [None]
        if need[0]:
            grads[0] = _input_grad(g2, xh2, rstd, None if w is None else w.reshape(n)) \
                .reshape(g.shape)
        shape = g.shape[g.ndim - len(axes):]  # weight and bias are shared over the rows
        if w is not None:
            # sum(g * xh) over rows in one pass, without a (rows, n) product (NumPy's loop)
            grads.append(np.einsum("ij,ij->j", g2, xh2).reshape(shape) if need[1] else None)
        if ctx.has_bias:
            grads.append(np.add.reduce(g2, axis=0).reshape(shape) if need[-1] else None)
        return tuple(grads)


BLOCK_BYTES = 1 << 20  # rows of dx are computed in blocks of about this size (see below)


def _input_grad(g2: np.ndarray, xh2: np.ndarray, rstd: np.ndarray,
                w: np.ndarray | None) -> np.ndarray:
    """dx = (gh - mean(gh) - xh * mean(gh * xh)) * rstd per row, gh = g * w, for (rows, n).

    Block after block of rows, so that gh and the row terms of a block stay in cache: on the
    (2048, 768) float32 rows of a layer norm hoisted over a whole sequence, one pass each over
    whole arrays streams ~30 MB through memory. Every row is the same sum in the same order
    either way (tests/test_ops compare blocks of one row with one block)."""
    rows, n = g2.shape
    block = max(1, BLOCK_BYTES // max(1, n * xh2.itemsize))
    if rows <= block:  # one block: no buffers, no slices
        return _block_grad(g2 if w is None else g2 * w, xh2, rstd, None)
    gh_dtype = g2.dtype if w is None else np.result_type(g2, w)
    dx = np.empty((rows, n), dtype=np.result_type(gh_dtype, xh2))
    buf = None if w is None else np.empty((block, n), dtype=gh_dtype)
    for i in range(0, rows, block):
        j = min(rows, i + block)
        gh = g2[i:j] if w is None else np.multiply(g2[i:j], w, out=buf[:j - i])
        _block_grad(gh, xh2[i:j], rstd[i:j], dx[i:j])
    return dx


def _block_grad(gh: np.ndarray, xh: np.ndarray, rstd: np.ndarray,
                out: np.ndarray | None) -> np.ndarray:
    """(gh - mean(gh) - xh * mean(gh * xh)) * rstd for rows of n, into out (new if None)."""
    n = gh.shape[1]
    m1 = _row_sums(gh)
    m1 *= 1.0 / n
    m2 = _row_dots(gh, xh)
    m2 *= 1.0 / n
    t = np.multiply(xh, m2[:, None], out=out)
    t += m1[:, None]
    np.subtract(gh, t, out=t)
    t *= rstd[:, None]
    return t


ROW_DOT_MAX = 8192  # rows up to this long are summed by BLAS dot, longer ones by einsum
# np.vecdot (NumPy 2) where NumPy's BLAS is OpenBLAS, whose dot runs on one thread below
# 10,000 elements; elsewhere (NumPy 1, other BLAS libraries) einsum
_VECDOT = getattr(np, "vecdot", None) if _blas.OPENBLAS else None


def _row_dots(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """sum(a * b, axis=1) for (rows, n) arrays, in one pass.

    np.vecdot (a BLAS dot per row: 2-3x faster than einsum on a step's (32, 768) rows) where
    a row is at most ROW_DOT_MAX long, as then the dot runs on one thread whatever the BLAS
    thread count: the numbers never depend on the thread count. Longer rows, and builds
    without it (see _VECDOT), take einsum, NumPy's own loop."""
    if _VECDOT is not None and a.shape[1] <= ROW_DOT_MAX:
        return _VECDOT(a, b)
    return np.einsum("ij,ij->i", a, b)


_ONES: dict = {}  # (n, dtype) -> a read-only row of ones


def _row_sums(a: np.ndarray) -> np.ndarray:
    """sum(a, axis=1) for a (rows, n) array: the row dots with a row of ones (see above)."""
    if _VECDOT is None or a.shape[1] > ROW_DOT_MAX:
        return np.add.reduce(a, axis=1)
    key = (a.shape[1], a.dtype)
    ones = _ONES.get(key)
    if ones is None:
        if len(_ONES) > 64:
            _ONES.clear()
        ones = _ONES[key] = np.ones(a.shape[1], a.dtype)
        ones.flags.writeable = False
    return _row_dots(a, ones)
