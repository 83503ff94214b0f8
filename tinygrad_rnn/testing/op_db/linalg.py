"""Op table: matrix products, einsum, triangles and diagonals."""
from __future__ import annotations

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn.testing.opinfo import MAX_SIDE, SAME, OpInfo, matmul, shape, shuffled, unary

# each form names one feature of einsum's gradient
EINSUM_FORMS = (
    "ij,jk->ik", "bij,bjk->bik", "i,i->", "ij->ji", "ij->", "i,j->ij",
    "...ij,...jk->...ik",  # ellipsis, broadcast batch axes
    "...i,...i->...",
    "ii->i", "ii", "iij->j",  # a repeated index: the gradient lands on the diagonal
    "ij,jk",  # implicit output (the indices seen once, sorted)
    "ij,k->i", "ij->i",  # an index summed inside one operand only: its gradient broadcasts
    "ijk->kji", "bi,bi->b", "ij,ij,ij->i", "ij,j->i",
)


def _bmm(pick):
    b, n, m, p = (pick(range(1, MAX_SIDE + 1)) for _ in range(4))
    return [(b, n, m), (b, m, p)], {}


def _einsum(pick):
    """A form of EINSUM_FORMS with matching shapes: '...' a batch shape that each operand
    may cut at the front or hold as 1, and a shared index sometimes of size 1 in one operand
    (labelled axes broadcast too, as in NumPy and PyTorch)."""
    subs = pick(EINSUM_FORMS)
    size = {c: pick(range(1, MAX_SIDE + 1)) for c in sorted(set(subs) - set(".,->"))}
    batch = shape(pick, max_dims=2)
    shapes = []
    for term in subs.split("->")[0].split(","):
        pre, ell, post = term.partition("...")
        if ell:
            cut = batch[pick(range(len(batch) + 1)):]
            ell = tuple(1 if pick((False, True)) else d for d in cut)
        own = {c: 1 if term.count(c) == 1 and pick((False, False, True)) else size[c]
               for c in set(pre + post)}
        shapes.append(tuple(own[c] for c in pre) + tuple(ell) + tuple(own[c] for c in post))
    return shapes, {"subscripts": subs}


def _mm(pick):
    n, k, m = (pick(range(1, MAX_SIDE + 1)) for _ in range(3))
    return [(n, k), (k, m)], {}


def _vectors(same_length: bool):
    def sample(pick):
        n = pick(range(1, MAX_SIDE + 1))
        return [(n,), (n if same_length else pick(range(1, MAX_SIDE + 1)),)], {}
    return sample


def _triangle(pick, s):
    """A diagonal from below the first row to past the last column (all zeros, all kept)."""
    return {"diagonal": pick(range(-MAX_SIDE - 1, MAX_SIDE + 2))}


def _diagonal_args(pick, s):
    """Two distinct axes (either order, some negative) and an offset, past the ends too
    (an empty diagonal)."""
    nd = len(s)
    a1, a2 = shuffled(pick, range(nd))[:2]
    return {"offset": pick(range(-s[a1] - 1, s[a2] + 2)),
            "axis1": a1 - nd if pick((False, True)) else a1,
            "axis2": a2 - nd if pick((False, True)) else a2}


def _t_einsum(*xs, subscripts):
    import torch
    return torch.einsum(subscripts, *xs)


OPS: list = [
    OpInfo("matmul", lambda a, b: a @ b, np.matmul, matmul, ("MatMul",), torch=SAME),
    OpInfo("matmul method", lambda a, b: a.matmul(b), np.matmul, matmul, ("MatMul",),
           torch=SAME),
    OpInfo("ndarray @ tensor", lambda a, b: a @ b, np.matmul, matmul, ("MatMul",), torch=SAME,
           consts=(0,)),
    OpInfo("tensor @ ndarray", lambda a, b: a @ b, np.matmul, matmul, ("MatMul",), torch=SAME,
           consts=(1,)),
    OpInfo("bmm", lambda a, b: a.bmm(b), np.matmul, _bmm, ("MatMul",), torch=SAME,
           composed=True),
    OpInfo("mm", lambda a, b: a.mm(b), np.matmul, _mm, ("MatMul",), torch=SAME, composed=True),
    OpInfo("dot", lambda a, b: tg.dot(a, b), np.dot, _vectors(True), ("MatMul",),
           torch=lambda a, b: a.dot(b), composed=True),
    OpInfo("outer", lambda a, b: a.outer(b), np.outer, _vectors(False), ("Reshape", "Mul"),
           torch=SAME, composed=True),
    OpInfo("tril", lambda x, diagonal: x.tril(diagonal), lambda x, diagonal: np.tril(x, diagonal),
           unary(_triangle, min_dims=2), ("Tril",), torch=SAME),
    OpInfo("triu", lambda x, diagonal: tg.triu(x, diagonal),
           lambda x, diagonal: np.triu(x, diagonal), unary(_triangle, min_dims=2), ("Triu",),
           torch=lambda x, diagonal: x.triu(diagonal)),
    OpInfo("diagonal", lambda x, offset, axis1, axis2: x.diagonal(offset, axis1, axis2),
           np.diagonal, unary(_diagonal_args, min_dims=2), ("Diagonal",), torch=SAME),
    OpInfo("einsum", lambda *xs, subscripts: tg.einsum(subscripts, *xs),
           lambda *xs, subscripts: np.einsum(subscripts, *xs), _einsum, ("Einsum",),
           torch=_t_einsum),
]
