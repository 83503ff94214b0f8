"""Matrix product with NumPy's rules: 1-D operands, batched and broadcast stacks."""
from __future__ import annotations

import numpy as np

from tinygrad_rnn.function import Function


class MatMul(Function):
    """out = a @ b;  da = g @ b^T,  db = a^T @ g  (batch axes summed back by the engine)"""

    @staticmethod
    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul: both operands need at least 1 dimension, got shapes "
                             f"{a.shape} and {b.shape}")
        k_a = a.shape[-1]
        k_b = b.shape[-2] if b.ndim > 1 else b.shape[0]
        if k_a != k_b:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not match: "
                             f"{k_a} (last axis of a) != {k_b} (first matrix axis of b)")
        ctx.save_for_backward(a, b)
        if b.ndim == 2 and a.ndim >= 2:
            # a stack times one matrix is one GEMM over the folded rows; np.dot goes straight
            # to BLAS, where np.matmul is far slower for thin products
            return np.dot(a.reshape(-1, k_a), b).reshape(a.shape[:-1] + b.shape[-1:])
        return np.matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_arrays
        needs_a, needs_b = ctx.needs_input_grad
        da = db = None
        if b.ndim == 2 and a.ndim >= 2:
            g2 = g.reshape(-1, g.shape[-1])
            if needs_a:
                da = np.dot(g2, b.T).reshape(a.shape)
            if needs_b:
                db = np.dot(a.reshape(-1, a.shape[-1]).T, g2)
            return da, db
        # promote 1-D operands to matrices as numpy.matmul does, then undo it on the way out
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        # b's axis first: for a 1-D @ 1-D dot product g is 0-d and becomes (1, 1)
        if b.ndim == 1:
            g = g[..., None]
        if a.ndim == 1:
            g = g[..., None, :]
        if needs_a:
            da = np.matmul(g, np.swapaxes(b2, -1, -2))
            if a.ndim == 1:
                da = da[..., 0, :]
        if needs_b:
            db = np.matmul(np.swapaxes(a2, -1, -2), g)
            if b.ndim == 1:
                db = db[..., 0]
        return da, db
