"""Op table: reductions (axis and keepdims drawn with the shape) and the softmax family."""
from __future__ import annotations

import numpy as np

from tinygrad_rnn.testing.opinfo import OpInfo, axis_keepdims, one_axis, unary

R, S = unary(axis_keepdims), unary(one_axis)


def _np_logsumexp(x, axis=None, keepdims=False):
    return np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))


def _np_log_softmax(x, axis=-1):
    return x - np.log(np.sum(np.exp(x), axis=axis, keepdims=True))


def _np_softmax(x, axis=-1):
    e = np.exp(x)
    return e / np.sum(e, axis=axis, keepdims=True)


# torch spellings (axis -> dim; None means every axis)
def dims(x, axis):
    return tuple(range(x.ndim)) if axis is None else axis


def _t_logsumexp(x, axis=None, keepdims=False):
    import torch
    return torch.logsumexp(x, dim=dims(x, axis), keepdim=keepdims)


OPS: list = [
    OpInfo("sum", lambda x, axis, keepdims: x.sum(axis, keepdims),
           lambda x, axis, keepdims: np.sum(x, axis=axis, keepdims=keepdims), R, ("Sum",),
           torch=lambda x, axis, keepdims: x.sum(dim=dims(x, axis), keepdim=keepdims)),
    OpInfo("sum (dim=, keepdim=)", lambda x, axis, keepdims: x.sum(dim=axis, keepdim=keepdims),
           lambda x, axis, keepdims: np.sum(x, axis=axis, keepdims=keepdims), R, ("Sum",)),
    OpInfo("mean", lambda x, axis, keepdims: x.mean(axis, keepdims),
           lambda x, axis, keepdims: np.mean(x, axis=axis, keepdims=keepdims), R,
           ("Sum", "Mul"), composed=True,
           torch=lambda x, axis, keepdims: x.mean(dim=dims(x, axis), keepdim=keepdims)),
    OpInfo("max", lambda x, axis, keepdims: x.max(axis, keepdims),
           lambda x, axis, keepdims: np.max(x, axis=axis, keepdims=keepdims), R, ("Max",),
           "distinct", torch=lambda x, axis, keepdims: x.amax(dim=dims(x, axis), keepdim=keepdims)),
    OpInfo("min", lambda x, axis, keepdims: x.min(axis, keepdims),
           lambda x, axis, keepdims: np.min(x, axis=axis, keepdims=keepdims), R, ("Min",),
           "distinct", torch=lambda x, axis, keepdims: x.amin(dim=dims(x, axis), keepdim=keepdims)),
    OpInfo("logsumexp", lambda x, axis, keepdims: x.logsumexp(axis, keepdims), _np_logsumexp, R,
           ("LogSumExp",), torch=_t_logsumexp),
    OpInfo("softmax", lambda x, axis: x.softmax(axis), _np_softmax, S, ("LogSoftmax", "Exp"),
           composed=True, torch=lambda x, axis: x.softmax(axis)),
    OpInfo("log_softmax", lambda x, axis: x.log_softmax(axis), _np_log_softmax, S,
           ("LogSoftmax",), torch=lambda x, axis: x.log_softmax(axis)),
]
