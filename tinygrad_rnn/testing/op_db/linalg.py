"""Op table: matrix products and einsum."""
from __future__ import annotations

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn.testing.opinfo import MAX_SIDE, SAME, OpInfo, matmul, shape

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
    OpInfo("einsum", lambda *xs, subscripts: tg.einsum(subscripts, *xs),
           lambda *xs, subscripts: np.einsum(subscripts, *xs), _einsum, ("Einsum",),
           torch=_t_einsum),
]
