"""Op table: the neural-network ops and nn.functional."""
from __future__ import annotations

import numpy as np

from tinygrad_rnn import ops
from tinygrad_rnn.testing.opinfo import MAX_SIDE, OpInfo, bools, ints, shape, unary


def _t_nnf():
    import torch.nn.functional as F
    return F


def _np_cross_entropy(x, t):
    logp = x - np.log(np.sum(np.exp(x), axis=-1, keepdims=True))
    return -logp[np.arange(x.shape[0]), t]


def _embedding(pick):
    v, d = pick(range(1, 6)), pick(range(1, 5))
    return [(v, d), ints(pick, 0, v - 1, shape(pick, max_dims=2))], {}


def _linear(bias: bool):
    def sample(pick):
        lead = shape(pick, max_dims=2)
        n_in, n_out = pick(range(1, MAX_SIDE + 1)), pick(range(1, MAX_SIDE + 1))
        return [lead + (n_in,), (n_out, n_in)] + ([(n_out,)] if bias else []), {}
    return sample


def _mask(pick, s):
    p = pick((0.25, 0.5))
    return {"mask": np.asarray(bools(pick, s).astype(np.float64) / (1 - p))}


def _cross_entropy(pick):
    n, c = pick(range(1, 5)), pick(range(1, 6))
    return [(n, c), ints(pick, 0, c - 1, (n,), repeat=False)], {}


def _t_dropout(x, mask):
    import torch
    return x * torch.from_numpy(mask)


OPS: list = [
    OpInfo("embedding", lambda w, idx: ops.Embedding.apply(w, idx), lambda w, idx: w[idx],
           _embedding, ("Embedding",), torch=lambda w, idx: _t_nnf().embedding(idx, w)),
    OpInfo("linear", lambda x, w, b: ops.Linear.apply(x, w, b), lambda x, w, b: x @ w.T + b,
           _linear(bias=True), ("Linear",), torch=lambda x, w, b: _t_nnf().linear(x, w, b)),
    OpInfo("linear without bias", lambda x, w: ops.Linear.apply(x, w), lambda x, w: x @ w.T,
           _linear(bias=False), ("Linear",), torch=lambda x, w: _t_nnf().linear(x, w)),
    OpInfo("dropout (fixed mask)", lambda x, mask: ops.Dropout.apply(x, mask=mask),
           lambda x, mask: x * mask.astype(x.dtype), unary(_mask), ("Dropout",),
           torch=_t_dropout),
    OpInfo("cross_entropy", lambda x, t: ops.CrossEntropy.apply(x, t), _np_cross_entropy,
           _cross_entropy, ("CrossEntropy",),
           torch=lambda x, t: _t_nnf().cross_entropy(x, t, reduction="none")),
]
