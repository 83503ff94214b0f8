"""Op table: the neural-network ops and nn.functional."""
from __future__ import annotations

import numpy as np

from tinygrad_rnn import ops
from tinygrad_rnn.nn import functional as F
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


def _ignored_targets(pick, n, c):
    """(targets, ignore_index): n targets in [0, c), some replaced by ignore_index (-100,
    outside the classes, or one of them), at least one kept so every mean is defined."""
    ignore = pick((-100,) + tuple(range(c))) if c > 1 else -100
    others = [k for k in range(c) if k != ignore]
    t = np.asarray([pick(others) for _ in range(n)], dtype=np.int64)
    drop = bools(pick, (n,))
    drop[pick(range(n))] = False
    return np.where(drop, ignore, t), ignore


def _cross_entropy_options(pick):
    n, c = pick(range(1, 5)), pick(range(1, 6))
    t, ignore = _ignored_targets(pick, n, c)
    return [(n, c), t], {"ignore_index": ignore, "label_smoothing": pick((0.0, 0.1, 0.5, 1.0))}


def _np_cross_entropy_options(x, t, ignore_index, label_smoothing):
    keep = t != ignore_index
    logp = x - np.log(np.sum(np.exp(x), axis=-1, keepdims=True))
    e = x.dtype.type(label_smoothing)
    picked = logp[np.arange(x.shape[0]), np.where(keep, t, 0)]
    loss = -(1 - e) * picked - e * np.mean(logp, axis=-1)
    return np.where(keep, loss, x.dtype.type(0))


def _class_loss(pick):
    """logits (..., C) with 1 or 2 leading axes, targets with some ignored, a reduction."""
    lead = shape(pick, min_dims=1, max_dims=2)
    c = pick(range(1, 5))
    t, ignore = _ignored_targets(pick, int(np.prod(lead)), c)
    return [lead + (c,), t.reshape(lead)], {"ignore_index": ignore,
                                            "reduction": pick(REDUCTIONS)}


def _np_class_loss(loss, keep, reduction):
    if reduction == "none":
        return loss
    total = np.sum(np.where(keep, loss, loss.dtype.type(0)))
    return total / loss.dtype.type(np.count_nonzero(keep)) if reduction == "mean" else total


def _np_nll_loss(x, t, ignore_index, reduction):
    keep = t != ignore_index
    picked = np.take_along_axis(x, np.where(keep, t, 0)[..., None], axis=-1)[..., 0]
    return _np_class_loss(np.where(keep, -picked, x.dtype.type(0)), keep, reduction)


def _np_cross_entropy_f(x, t, ignore_index, reduction, label_smoothing=0.0):
    shape_ = t.shape
    loss = _np_cross_entropy_options(x.reshape(-1, x.shape[-1]), t.reshape(-1), ignore_index,
                                     label_smoothing).reshape(shape_)
    return _np_class_loss(loss, t != ignore_index, reduction)


def _class_loss_smoothed(pick):
    inputs, params = _class_loss(pick)
    return inputs, dict(params, label_smoothing=pick((0.0, 0.2)))


def _t_class_loss(name):
    """PyTorch's loss with the class axis moved to 1, where it wants it."""
    def fn(x, t, **params):
        return getattr(_t_nnf(), name)(x.movedim(-1, 1), t, **params)
    return fn


def _embedding_padding(pick):
    """indices that hit the padding row (given either way round) and the mask of those hits:
    the line multiplies them out so finite differences see the row as constant, as the
    op's zero gradient for it says (tests/nn/test_losses_embedding.py checks the row alone)."""
    v, d = pick(range(1, 6)), pick(range(1, 5))
    idx = ints(pick, 0, v - 1, shape(pick, max_dims=2))
    row = pick(range(v))
    return [(v, d), idx, (idx != row)[..., None]], {"padding_idx": pick((row, row - v))}


def _t_dropout(x, mask):
    import torch
    return x * torch.from_numpy(mask)


# ----- layer_norm and the elementwise losses -----------------------------------------------
def _layer_norm(n_affine: int):
    """x with 1 or 2 trailing normalized axes (int or tuple spelling), n_affine params of
    that shape; size-1 normalized axes give a zero variance (y = bias)."""
    def sample(pick):
        k = pick((1, 2))
        s = shape(pick, min_dims=k)
        ns = s[len(s) - k:]
        spelled = ns[0] if k == 1 and pick((False, True)) else ns
        return [s] + [ns] * n_affine, {"normalized_shape": spelled, "eps": pick((1e-5, 1e-2))}
    return sample


def _np_layer_norm(x, weight=None, bias=None, normalized_shape=(), eps=1e-5):
    k = 1 if isinstance(normalized_shape, int) else len(normalized_shape)
    axes = tuple(range(x.ndim - k, x.ndim))
    y = (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(x.var(axis=axes, keepdims=True) + eps)
    y = y if weight is None else y * weight
    return y if bias is None else y + bias


def _t_layer_norm(x, weight=None, bias=None, normalized_shape=(), eps=1e-5):
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
    return _t_nnf().layer_norm(x, ns, weight, bias, eps)


def _normalize(pick):
    """x with p and one axis (maybe negative); values from "nonzero" keep every norm far
    above eps, away from the clip's kink."""
    s = shape(pick, min_dims=1)
    return [s], {"p": pick((1, 2, 3, 1.5)), "axis": pick(range(-len(s), len(s)))}


def _np_normalize(x, p, axis):
    n = np.sum(np.abs(x) ** p, axis=axis, keepdims=True) ** x.dtype.type(1 / p)
    return x / np.maximum(n, x.dtype.type(1e-12))


GRID = tuple(np.arange(-2.0, 2.01, 0.5))  # targets on the kink grid of "away_from_kinks"
REDUCTIONS = ("mean", "sum", "none")


def _regression(extra: str | None = None):
    """input from "away_from_kinks" and a target on its grid, so |input - target| stays 0.05
    from every multiple of 0.5: from 0 (l1) and from beta / delta (smooth_l1, huber)."""
    def sample(pick):
        s = shape(pick)
        n = int(np.prod(s, dtype=np.int64))
        t = np.asarray([pick(GRID) for _ in range(n)], dtype=np.float64).reshape(s)
        params = {"reduction": pick(REDUCTIONS)}
        if extra:
            params[extra] = pick((0.5, 1.0, 1.5))
        return [s, t], params
    return sample


def _np_reduce(loss, reduction):
    if reduction == "sum":
        return np.sum(loss)
    return np.mean(loss) if reduction == "mean" else loss


def _np_smooth_l1(x, t, reduction, beta):
    d = x - t
    return _np_reduce(np.where(np.abs(d) < beta, 0.5 * d * d / beta, np.abs(d) - 0.5 * beta),
                      reduction)


def _np_huber(x, t, reduction, delta):
    d = x - t
    return _np_reduce(np.where(np.abs(d) < delta, 0.5 * d * d, delta * (np.abs(d) - 0.5 * delta)),
                      reduction)


def _bce(weighted: bool):
    """input and target in (0, 1); a weight that broadcasts to the input's shape."""
    def sample(pick):
        s = shape(pick)
        shapes = [s, s]
        if weighted:
            tail = s[pick(range(len(s) + 1)):]
            shapes.append(tuple(1 if pick((False, True)) else d for d in tail))
        return shapes, {"reduction": pick(REDUCTIONS)}
    return sample


def _np_bce(x, t, weight=None, reduction="mean"):
    loss = -(t * np.log(x) + (1 - t) * np.log1p(-x))
    return _np_reduce(loss if weight is None else loss * weight.astype(x.dtype), reduction)


def _bce_logits(pick):
    """logits, targets in (0, 1), a weight that broadcasts to them and one pos_weight per
    class (the last axis)."""
    s = shape(pick, min_dims=1)
    tail = s[pick(range(len(s) + 1)):]
    return [s, s, tuple(1 if pick((False, True)) else d for d in tail), s[-1:]], \
        {"reduction": pick(REDUCTIONS)}


def _np_bce_logits(x, t, weight, pos_weight, reduction="mean"):
    log_sig, log_one_minus = -np.logaddexp(0, -x), -np.logaddexp(0, x)
    weight, pos_weight = weight.astype(x.dtype), pos_weight.astype(x.dtype)  # (the input's)
    loss = -weight * (pos_weight * t * log_sig + (1 - t) * log_one_minus)
    return _np_reduce(loss, reduction)


def _ce_probabilities(pick):
    """logits (..., C), class-probability targets of the same shape, class weights (C,)."""
    s = shape(pick, min_dims=1)
    return [s, s, s[-1:]], {"reduction": pick(REDUCTIONS),
                           "label_smoothing": pick((0.0, 0.2))}


def _np_ce_probabilities(x, t, w, reduction="mean", label_smoothing=0.0):
    t = t * (1 - label_smoothing) + label_smoothing / x.shape[-1]
    lp = x - np.log(np.sum(np.exp(x - x.max(-1, keepdims=True)), -1, keepdims=True)) \
        - x.max(-1, keepdims=True)
    return _np_reduce(-(t * w.astype(x.dtype) * lp).sum(-1), reduction)


def _kl_div(pick):
    s = shape(pick)
    return [s, s], {"reduction": pick(("mean", "batchmean", "sum", "none"))}


def _np_kl_div(x, t, reduction="mean", log_target=False):
    loss = np.exp(t) * (t - x) if log_target else t * (np.log(t) - x)
    if reduction == "batchmean":
        return np.sum(loss) / x.shape[0] if x.ndim else np.sum(loss)
    return _np_reduce(loss, reduction)


def _t_kl_div(x, t, **params):
    import warnings
    with warnings.catch_warnings():  # PyTorch's note that reduction="mean" is not the KL
        warnings.simplefilter("ignore", UserWarning)
        return _t_nnf().kl_div(x, t, **params)


def _t_loss(name):
    return lambda x, t, *rest, **params: getattr(_t_nnf(), name)(x, t, *rest, **params)


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
    OpInfo("cross_entropy ignore_index label_smoothing",
           lambda x, t, **p: ops.CrossEntropy.apply(x, t, **p), _np_cross_entropy_options,
           _cross_entropy_options, ("CrossEntropy",),
           torch=lambda x, t, **p: _t_nnf().cross_entropy(x, t, reduction="none", **p)),
    OpInfo("F.cross_entropy ignore_index", F.cross_entropy, _np_cross_entropy_f,
           _class_loss_smoothed, ("CrossEntropy", "Sum"),
           torch=_t_class_loss("cross_entropy"), composed=True),
    OpInfo("nll_loss", F.nll_loss, _np_nll_loss, _class_loss, ("GetItem", "Where", "Neg"),
           torch=_t_class_loss("nll_loss"), composed=True),
    OpInfo("embedding padding_idx",
           lambda w, idx, hit, padding_idx: F.embedding(idx, w, padding_idx) * hit,
           lambda w, idx, hit, padding_idx: w[idx] * hit, _embedding_padding, ("Embedding",),
           torch=lambda w, idx, hit, padding_idx:
           _t_nnf().embedding(idx, w, padding_idx=padding_idx) * hit),
    OpInfo("layer_norm", lambda x, w, b, **p: F.layer_norm(x, weight=w, bias=b, **p),
           _np_layer_norm, _layer_norm(2), ("LayerNorm",), torch=_t_layer_norm),
    OpInfo("layer_norm without affine", lambda x, **p: F.layer_norm(x, **p), _np_layer_norm,
           _layer_norm(0), ("LayerNorm",), torch=_t_layer_norm),
    OpInfo("layer_norm weight only", lambda x, w, **p: F.layer_norm(x, weight=w, **p),
           lambda x, w, **p: _np_layer_norm(x, weight=w, **p), _layer_norm(1), ("LayerNorm",),
           torch=lambda x, w, **p: _t_layer_norm(x, w, **p)),
    OpInfo("layer_norm bias only", lambda x, b, **p: F.layer_norm(x, bias=b, **p),
           lambda x, b, **p: _np_layer_norm(x, bias=b, **p), _layer_norm(1), ("LayerNorm",),
           torch=lambda x, b, **p: _t_layer_norm(x, bias=b, **p)),
    OpInfo("normalize", F.normalize, _np_normalize, _normalize, ("Norm", "Clip", "Div"),
           "nonzero", torch=lambda x, p, axis: _t_nnf().normalize(x, p, axis), composed=True),
    OpInfo("l1_loss", F.l1_loss, lambda x, t, reduction: _np_reduce(np.abs(x - t), reduction),
           _regression(), ("Sub", "Abs"), "away_from_kinks", torch=_t_loss("l1_loss"),
           composed=True),
    OpInfo("smooth_l1_loss", F.smooth_l1_loss, _np_smooth_l1, _regression("beta"),
           ("SmoothL1",), "away_from_kinks", torch=_t_loss("smooth_l1_loss")),
    OpInfo("huber_loss", F.huber_loss, _np_huber, _regression("delta"), ("Huber",),
           "away_from_kinks", torch=_t_loss("huber_loss")),
    OpInfo("binary_cross_entropy", F.binary_cross_entropy, _np_bce, _bce(weighted=False),
           ("BinaryCrossEntropy",), "probability", torch=_t_loss("binary_cross_entropy")),
    OpInfo("binary_cross_entropy weighted", F.binary_cross_entropy, _np_bce,
           _bce(weighted=True), ("BinaryCrossEntropy", "Mul"),
           ("probability", "probability", "positive"), torch=_t_loss("binary_cross_entropy"),
           consts=(2,)),  # PyTorch has no gradient for the weight
    OpInfo("binary_cross_entropy_with_logits weight pos_weight",
           lambda x, t, w, p, **k: F.binary_cross_entropy_with_logits(x, t, w, pos_weight=p, **k),
           _np_bce_logits, _bce_logits, ("LogSumExp", "Mul"),
           ("real", "probability", "positive", "positive"), consts=(2, 3), composed=True,
           torch=lambda x, t, w, p, **k: _t_nnf().binary_cross_entropy_with_logits(
               x, t, w, pos_weight=p, **k)),
    OpInfo("cross_entropy class probabilities",
           lambda x, t, w, **k: F.cross_entropy(x, t, weight=w, **k), _np_ce_probabilities,
           _ce_probabilities, ("LogSoftmax", "Mul"), ("real", "probability", "positive"),
           consts=(2,), composed=True,
           torch=lambda x, t, w, **k: _t_nnf().cross_entropy(  # (its class axis: 1)
               *((x, t) if x.ndim == 1 else (x.movedim(-1, 1), t.movedim(-1, 1))), weight=w,
               **k)),
    OpInfo("kl_div", F.kl_div, _np_kl_div, _kl_div, ("KLDiv",), ("negative", "probability"),
           torch=_t_kl_div),
    OpInfo("kl_div log_target", lambda x, t, **p: F.kl_div(x, t, log_target=True, **p),
           lambda x, t, **p: _np_kl_div(x, t, log_target=True, **p), _kl_div, ("KLDiv",),
           ("negative", "negative"),
           torch=lambda x, t, **p: _t_kl_div(x, t, log_target=True, **p)),
]
