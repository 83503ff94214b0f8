"""Matrix product with NumPy's rules (1-D operands, batched and broadcast stacks), and einsum."""
from __future__ import annotations

import math
import string

import numpy as np

from tinygrad_rnn import _blas
from tinygrad_rnn.function import Function


class MatMul(Function):
    """out = a @ b;  da = g @ b^T,  db = a^T @ g  (batch axes summed back by the engine)"""

    saved_for = ((1,), (0,))  # a serves db only, b serves da only

    @staticmethod
    def over_time(kwargs, shapes, stacked):  # a stack of rows times one fixed matrix (a
        # stack of matrices would meet the time axis in the broadcast of the batch axes)
        return kwargs if stacked[0] and not stacked[1] and len(shapes[1]) <= 2 else None

    @staticmethod
    def prepare(kwargs, fixed):  # b used at every step (often a transposed weight view): a
        b = fixed.get(1)        # contiguous copy, and a wider one (_blas), for the forward
        if b is None or b.ndim != 2 or b.dtype != np.float32:  # GEMM; backward keeps b. Not
            return {}  # float64: another BLAS kernel than the eager view's, other last bits
        kw = {} if b.flags.c_contiguous else {"b_contiguous": np.ascontiguousarray(b)}
        wide = _blas.wide_rhs(b)
        if wide is not None:
            kw["b_wide"] = wide
        return kw

    @staticmethod
    def forward(ctx, a, b, b_contiguous=None, b_wide=None):
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
            a2 = _rows(a)
            if b_wide is not None and a2.shape[0] >= _blas.MIN_ROWS:  # b, zero columns added
                y = np.dot(a2, b_wide)[:, :b.shape[1]]
            elif b_contiguous is not None:
                y = np.dot(a2, b_contiguous)
            elif b.flags.f_contiguous and not b.flags.c_contiguous:  # a transposed view, W.T
                y = _blas.times_transposed(a2, b.T)
            else:
                y = np.dot(a2, b)
            return y.reshape(a.shape[:-1] + b.shape[-1:])
        return np.matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_arrays
        needs_a, needs_b = ctx.needs_input_grad
        da = db = None
        if b.ndim == 2 and a.ndim >= 2:
            g2 = _rows(g)
            if needs_a:
                da = np.dot(g2, b.T).reshape(a.shape)
            if needs_b:
                db = np.dot(_rows(a).T, g2)
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


def _rows(x: np.ndarray) -> np.ndarray:
    """x folded to a matrix (rows, last axis); the row count is explicit, as reshape(-1, 0)
    is ambiguous for an empty last axis."""
    return x.reshape(math.prod(x.shape[:-1]), x.shape[-1])


class Einsum(Function):
    """out = einsum(subscripts, *xs);  dx_k = einsum(g, the other xs -> x_k's indices)

    broadcast over an index that only x_k carries, written onto the diagonal of an index
    repeated in x_k.
    """

    @staticmethod
    def over_time(kwargs, shapes, stacked):  # subscripts name every axis: step by step
        return None

    @staticmethod
    def forward(ctx, *xs, subscripts=""):
        terms, out, sizes = _parse(subscripts, [x.shape for x in xs])
        # size-1 axes broadcast against their index's size, as in NumPy and PyTorch; the
        # engine sums the gradient back to the operand's own shape
        xs = [np.broadcast_to(x, [sizes[c] for c in t]) for x, t in zip(xs, terms)]
        ctx.save_for_backward(*xs)
        ctx.terms, ctx.out, ctx.sizes = terms, out, sizes
        y = _contract(terms, out, xs)
        if any(np.may_share_memory(y, x) for x in xs):
            y = y.copy()  # einsum may return a view ('ij->ji'); a result owns its data
        return y

    @staticmethod
    def backward(ctx, g):
        xs, terms = ctx.saved_arrays, ctx.terms
        return tuple(_operand_grad(k, g, xs, terms, ctx.out, ctx.sizes) if need else None
                     for k, need in enumerate(ctx.needs_input_grad))


def _contract(terms: list, out: str, xs: list) -> np.ndarray:
    # a contraction path (BLAS where it can) pays off from two operands on
    return np.einsum(",".join(terms) + "->" + out, *xs, optimize=len(xs) > 1)


def _operand_grad(k: int, g: np.ndarray, xs: tuple, terms: list, out: str,
                  sizes: dict) -> np.ndarray:
    t = terms[k]
    uniq = "".join(dict.fromkeys(t))  # x_k's indices, each once, in order
    others = [j for j in range(len(xs)) if j != k]
    seen = set(out).union(*(terms[j] for j in others))
    avail = "".join(c for c in uniq if c in seen)
    gk = _contract([out] + [terms[j] for j in others], avail, [g] + [xs[j] for j in others])
    # an index that only x_k carries is summed out of it: d sum / dx = 1, so gk broadcasts
    full = tuple(sizes[c] for c in uniq)
    gk = np.broadcast_to(np.reshape(gk, [sizes[c] if c in seen else 1 for c in uniq]), full)
    if len(uniq) == len(t):
        return gk
    # a repeated index ('ii') reads the diagonal: its gradient goes back onto the diagonal
    dx = np.zeros([sizes[c] for c in t], dtype=gk.dtype)
    strides = [sum(dx.strides[i] for i, c in enumerate(t) if c == u) for u in uniq]
    np.lib.stride_tricks.as_strided(dx, shape=full, strides=strides)[...] = gk
    return dx


_LETTERS = string.ascii_letters


def _parse(subscripts: str, shapes: list) -> tuple:
    """(one index string per operand, the output's, the size of each index), with '...'
    spelled out as unused letters (right-aligned across operands, as broadcasting), checked.

    Forms: explicit ('ij,jk->ik') or implicit output (the indices seen once, sorted, after
    the '...' axes); an index missing from the output is summed, '...' missing from it sums
    those axes (as PyTorch); a repeated index in one operand takes its diagonal.
    """
    if not isinstance(subscripts, str):
        raise TypeError(f"einsum: subscripts must be a string such as 'ij,jk->ik', got "
                        f"{type(subscripts).__name__} (the sublist form is not supported)")
    s = subscripts.replace(" ", "")
    bad = sorted(set(s) - set(_LETTERS + ".,->"))
    if bad:
        raise ValueError(f"einsum: invalid character {bad[0]!r} in subscripts {subscripts!r}: "
                         f"expected letters a-z A-Z, ',', '->' and '...'")
    if s.count("->") > 1 or s.replace("->", "").count("-") or s.replace("->", "").count(">"):
        raise ValueError(f"einsum: subscripts {subscripts!r} must contain '->' at most once")
    lhs, arrow, rhs = s.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: subscripts {subscripts!r} name {len(terms)} operand(s), got "
                         f"{len(shapes)} tensor(s)")
    for term in terms + [rhs]:
        if term.count("...") > 1 or term.replace("...", "").count("."):
            raise ValueError(f"einsum: '.' may appear only as one '...' per operand, got "
                             f"{term!r} in {subscripts!r}")
    n_ell = []
    for k, (term, shape) in enumerate(zip(terms, shapes)):
        named = len(term.replace("...", ""))
        if named > len(shape) or ("..." not in term and named != len(shape)):
            raise ValueError(f"einsum: operand {k} has shape {shape} ({len(shape)} dimensions) "
                             f"but its subscript {term!r} names {named}")
        n_ell.append(len(shape) - named)
    free = [c for c in _LETTERS if c not in s]
    n = max(n_ell, default=0)
    if n > len(free):
        raise ValueError(f"einsum: too many dimensions for the letters left in {subscripts!r}")
    ell = "".join(free[:n])
    terms = [term.replace("...", ell[n - m:]) for term, m in zip(terms, n_ell)]
    if arrow:
        out = rhs.replace("...", ell)
        if len(set(out)) != len(out):
            raise ValueError(f"einsum: output subscript {rhs!r} repeats an index")
        lost = [c for c in out if not any(c in term for term in terms)]
        if lost:
            raise ValueError(f"einsum: output index {lost[0]!r} appears in no operand of "
                             f"{subscripts!r}")
    else:
        joined = "".join(terms)
        out = ell + "".join(sorted(c for c in set(joined) if joined.count(c) == 1
                                   and c not in ell))

    def name(c: str) -> str:
        return "a dimension under '...'" if c in ell else f"index {c!r}"

    sizes: dict = {}
    for k, (term, shape) in enumerate(zip(terms, shapes)):
        own: dict = {}
        for c, d in zip(term, shape):
            if own.setdefault(c, d) != d:
                raise ValueError(f"einsum: {name(c)} is repeated in operand {k} (shape {shape}) "
                                 f"with different sizes {own[c]} and {d}")
        for c, d in own.items():
            m = sizes.setdefault(c, d)
            if m == 1:
                sizes[c] = d
            elif d != m and d != 1:
                raise ValueError(f"einsum: {name(c)} has size {m} in one operand and {d} in "
                                 f"operand {k} (shape {shape}): sizes must match or be 1")
    return terms, out, sizes
