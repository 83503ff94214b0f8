"""Stateless building blocks: activations, linear maps, embedding, dropout and losses.

Imported as `F`: `from tinygrad_rnn.nn import functional as F`. Classification losses take
logits with the class axis LAST, `(..., C)`, and integer targets of the leading shape `(...)`,
which is the natural layout of an RNN's `(T, B, C)` output.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_rnn import _validate, function, ops
from tinygrad_rnn.function import no_grad
from tinygrad_rnn.ops.nn_ops import check_rows
from tinygrad_rnn.methods.movement import stack
from tinygrad_rnn.profiler import section
from tinygrad_rnn.tensor import Tensor, get_rng, zeros_like

_REDUCTIONS = ("mean", "sum", "none")


# ----- activations ---------------------------------------------------------------------
def tanh(x: Tensor) -> Tensor:
    """tanh(x)."""
    return x.tanh()


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + exp(-x))."""
    return x.sigmoid()


def relu(x: Tensor) -> Tensor:
    """max(x, 0)."""
    return x.relu()


@_validate.torch_names
def softmax(x: Tensor, axis: int = -1, *, dtype: Any = None) -> Tensor:
    """exp(x) / sum(exp(x), axis), computed through log_softmax (x cast to `dtype` first
    where given, as in PyTorch)."""
    return x.softmax(axis, dtype=dtype)


@_validate.torch_names
def log_softmax(x: Tensor, axis: int = -1, *, dtype: Any = None) -> Tensor:
    """x - logsumexp(x, axis) (one stable node; x cast to `dtype` first where given)."""
    return x.log_softmax(axis, dtype=dtype)


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, linear (x) where beta x > threshold; never overflows."""
    return x.softplus(beta, threshold)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """x Phi(x), Phi the standard normal CDF; approximate="tanh" for the tanh form."""
    return x.gelu(approximate)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, negative_slope * x elsewhere."""
    return x.leaky_relu(negative_slope)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x where x > 0, alpha (exp(x) - 1) elsewhere."""
    return x.elu(alpha)


def silu(x: Tensor) -> Tensor:
    """x sigmoid(x)."""
    return x.silu()


def log_sigmoid(x: Tensor) -> Tensor:
    """log sigmoid(x), finite for every finite x."""
    return x.log_sigmoid()


logsigmoid = log_sigmoid  # PyTorch's spelling


@_validate.torch_names
def glu(x: Tensor, axis: int = -1) -> Tensor:
    """a * sigmoid(b), where a and b are the two halves of x along `axis` (its size even)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"glu: input must be a Tensor, got {type(x).__name__}")
    if x.ndim == 0:
        raise ValueError("glu: input must have at least one dimension, got a 0-d tensor")
    ax = _validate.one_axis(axis, x.ndim, "glu")
    n = x.shape[ax]
    if n % 2:
        raise ValueError(f"glu: axis {axis} of input shape {x.shape} has odd size {n}; "
                         f"it must be even to split in halves")
    a, b = x.chunk(2, ax)  # one Split node for both halves
    return a * b.sigmoid()


# ----- maps ----------------------------------------------------------------------------
def _float_tensor(x: Any, op: str, what: str = "input") -> Tensor:
    """x as a floating-point Tensor (an ndarray is wrapped), else a TypeError naming op."""
    if isinstance(x, np.ndarray):
        x = Tensor(x)
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {what} must be a Tensor (or an ndarray), got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: {what} must be floating-point, got dtype {x.dtype} "
                        f"(convert it with .astype(np.float32))")
    return x


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x @ weight.T + bias, for x (..., in), weight (out, in), bias (out,)."""
    x = _float_tensor(x, "linear")
    if x.dtype != weight.dtype:  # as PyTorch: no silent float64 run of float32 weights
        raise _validate.dtype_mismatch("linear", "input", x.dtype, weight.dtype, "weight")
    if bias is not None and bias.dtype != weight.dtype:
        raise _validate.dtype_mismatch("linear", "bias", bias.dtype, weight.dtype, "weight")
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out, in), got shape {weight.shape}")
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input of shape {x.shape} needs last dimension "
                         f"{weight.shape[1]} to match weight of shape {weight.shape}")
    return ops.Linear.apply(x, weight) if bias is None else ops.Linear.apply(x, weight, bias)


def padding_index(padding_idx: Any, num_embeddings: int, owner: str) -> int | None:
    """padding_idx in [-num_embeddings, num_embeddings) as a row number (negative counts from
    the end, as in PyTorch); None stays None."""
    if padding_idx is None:
        return None
    i = _validate.check_int(padding_idx, "padding_idx", owner)
    if not -num_embeddings <= i < num_embeddings:
        raise ValueError(f"{owner}: padding_idx must be within num_embeddings, in "
                         f"[-{num_embeddings}, {num_embeddings}), got {i}")
    return i % num_embeddings


def embedding(idx: Any, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of `weight` (num_embeddings, dim) picked by integer indices: idx.shape + (dim,).

    Row padding_idx (when given; negative counts from the end) gets no gradient, as in
    PyTorch; its value is whatever the weight holds (nn.Embedding starts it at zero). With
    max_norm, each picked row whose norm_type-norm exceeds it is first scaled, in place, to
    max_norm / (norm + 1e-7) times itself (PyTorch's embedding_renorm_); scale_grad_by_freq
    divides each row's gradient by how often idx picks it. Sparse gradients do not exist
    here (sparse=True is refused)."""
    arr = _index_array(idx, "embedding", "indices", kind="row numbers")
    options = embedding_options(max_norm, norm_type, scale_grad_by_freq, sparse, "embedding")
    if not isinstance(weight, Tensor) or weight.ndim != 2:
        raise ValueError(f"embedding: weight must be a 2-D Tensor (num_embeddings, "
                         f"embedding_dim), got {getattr(weight, 'shape', type(weight).__name__)}")
    kw = {"scale_grad_by_freq": True} if scale_grad_by_freq else {}
    if padding_idx is not None:
        kw["padding_idx"] = padding_index(padding_idx, weight.shape[0], "embedding")
    if options[0] is not None:
        _renorm_rows(weight, arr, options[0], options[1])
    return ops.Embedding.apply(weight, Tensor(arr), **kw)


def embedding_options(max_norm: Any, norm_type: Any, scale_grad_by_freq: Any, sparse: Any,
                      owner: str) -> tuple:
    """(max_norm or None, norm_type, scale_grad_by_freq) checked, as given (a module prints
    them so); sparse=True refused."""
    if _validate.check_bool(sparse, "sparse", owner):
        raise ValueError(f"{owner}: sparse gradients are not supported (every gradient is a "
                         f"dense array); leave sparse=False")
    if max_norm is not None:
        _validate.check_number(max_norm, "max_norm", owner, low=0)
    _validate.check_number(norm_type, "norm_type", owner)
    return (max_norm, norm_type,
            _validate.check_bool(scale_grad_by_freq, "scale_grad_by_freq", owner))


def _renorm_rows(weight: Tensor, idx: np.ndarray, max_norm: float, norm_type: float) -> None:
    """Scale the rows idx picks whose norm exceeds max_norm to max_norm / (norm + 1e-7)
    times themselves, in place and unrecorded (the bound in double, the product in the
    weight's dtype, as torch.embedding_renorm_)."""
    if function.observer is not None:  # (a step being recorded: not replayed, eager)
        function.observer.modify("embedding's max_norm renormalisation")
    check_rows(idx, weight.shape[0])
    _validate.require_writeable(weight.data, "embedding (max_norm renormalises in place)")
    rows = np.unique(idx)
    if not rows.size:
        return
    picked = weight.data[rows]
    norms = np.linalg.norm(picked, ord=norm_type, axis=1).astype(np.float64)
    over = norms > max_norm
    if over.any():
        scale = (max_norm / (norms[over] + 1e-7)).astype(weight.dtype)
        with no_grad():
            weight[rows[over]] = picked[over] * scale[:, None]


def _dropout_mask(shape: tuple, p: float, dtype: Any) -> np.ndarray:
    """Keep-mask scaled by 1 / (1 - p), so the expected output equals the input."""
    keep = get_rng().random(shape) >= p
    return (keep / (1.0 - p)).astype(dtype)


def _check_p(p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability p and scale the rest by 1 / (1 - p) (training only)."""
    _check_p(p)
    if not training or p == 0.0:
        return x
    if x.dtype.kind != "f":  # (an integer tensor cannot hold the kept values' 1 / (1 - p))
        raise TypeError(f"dropout: input must be a floating tensor in training, got dtype "
                        f"{x.dtype}, as in PyTorch; convert it first, e.g. x.float()")
    if p == 1.0:
        return x * 0.0
    with section("Dropout mask"):  # drawn outside the op: a row of a running profiler
        mask = _dropout_mask(x.shape, p, x.dtype)
    return ops.Dropout.apply(x, mask=mask)


# ----- shapes and encodings -----------------------------------------------------------
def one_hot(indices: Any, num_classes: int = -1) -> Tensor:
    """int64 one-hot rows: indices (...) in [0, num_classes) -> (..., num_classes); with
    num_classes=-1 the count is max(indices) + 1. Not differentiable (as in PyTorch)."""
    idx = _index_array(indices, "one_hot", "indices", kind="class indices")
    n = _validate.check_int(num_classes, "num_classes", "one_hot", minimum=-1)
    if n == -1:
        if idx.size == 0:
            raise ValueError("one_hot: cannot infer num_classes from empty indices; pass "
                             "num_classes")
        n = int(idx.max()) + 1
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise IndexError(f"one_hot: indices must be in [0, {n}) for num_classes={n}, got min "
                         f"{idx.min()}, max {idx.max()}")
    return Tensor((idx[..., None] == np.arange(n)).astype(np.int64))


def pad(x: Tensor, pad: Any, value: Any = 0.0, torch_value: Any = None, *,
        mode: str = "constant") -> Tensor:
    """x padded with `value`: pad = (last_before, last_after, second_last_before, ...) pairs
    from the last axis backwards, as torch.nn.functional.pad; negative widths crop (as there:
    replicate and circular pad what the crop left, reflect mirrors the whole axis, so it may
    reach into the cropped part). mode "reflect" mirrors x about
    its edge entries, "replicate" repeats them, "circular" wraps around (each a gather along
    the padded axes: the gradient adds back where each entry came from). PyTorch's
    positional order pad(x, pad, mode, value) works too, and value=None is 0."""
    if isinstance(value, str):  # pad(x, (1, 1), "reflect"): PyTorch's third argument
        mode, value = value, torch_value  # (and its fourth, the value)
    elif torch_value is not None:
        raise TypeError("pad: a fourth positional argument is the value after a mode, as "
                        "PyTorch's pad(x, pad, mode, value); pass mode= and value= by keyword")
    value = 0.0 if value is None else value
    _validate.check_choice(mode, "mode", "pad", ("constant", "reflect", "replicate", "circular"))
    x = x if isinstance(x, Tensor) else Tensor(x)
    if not isinstance(pad, (tuple, list)):
        raise TypeError(f"pad: pad must be a tuple of ints, got {type(pad).__name__}")
    widths = [_validate.check_int(w, "pad", "pad") for w in pad]
    if len(widths) % 2 or len(widths) > 2 * x.ndim:
        raise ValueError(f"pad: pad needs an even number of widths, at most 2 per axis "
                         f"({2 * x.ndim} for shape {x.shape}), got {len(widths)}: {tuple(pad)}")
    value = _validate.check_number(value, "value", "pad")
    pairs = [(0, 0)] * (x.ndim - len(widths) // 2) + [
        (widths[i], widths[i + 1]) for i in range(len(widths) - 2, -1, -2)]
    if mode == "constant":
        return ops.Pad.apply(x, widths=tuple(pairs), value=value)
    if value != 0.0:
        raise ValueError(f"pad: mode {mode!r} takes no value (it is for mode 'constant'), got "
                         f"{value}")
    for axis, (before, after) in enumerate(pairs):
        if before or after:
            x = x.index_select(axis, _pad_positions(mode, x.shape[axis], before, after, axis))
    return x


def _pad_positions(mode: str, n: int, before: int, after: int, axis: int) -> np.ndarray:
    """For pad's modes other than constant: the input position of each output position
    along one axis of n entries, padded by `before` and `after`."""
    if mode == "reflect":  # torch's: positions on the whole axis, a crop on one side may
        # reflect into what the other side's crop removed
        if n == 0 or max(before, after) > n - 1:
            raise ValueError(f"pad: mode 'reflect' pads axis {axis} of size {n} by at most "
                             f"{max(n - 1, 0)} on each side, got ({before}, {after})")
        i = np.arange(-before, n + after)
        return np.abs(i) if n == 1 else (n - 1) - np.abs((n - 1) - np.abs(i))
    start = max(-before, 0)  # negative widths crop first (as PyTorch), then what is left pads
    kept = n - start - max(-after, 0)
    before, after = max(before, 0), max(after, 0)
    limit = {"circular": kept, "replicate": None}[mode]
    if kept <= 0 or limit is not None and max(before, after) > limit:
        cropped = f" (after cropping: {max(kept, 0)})" if kept != n else ""
        raise ValueError(f"pad: mode {mode!r} pads axis {axis} of size {n}{cropped} by at most "
                         f"{max(limit or 0, 0) if kept > 0 else 0} on each side, got "
                         f"({before}, {after})")
    i = np.arange(-before, kept + after)
    i = np.clip(i, 0, kept - 1) if mode == "replicate" else i % kept
    return i + start


# ----- normalization -------------------------------------------------------------------
def _normalized_shape(normalized_shape: Any, owner: str) -> tuple:
    """normalized_shape (an int or a sequence of ints) as a non-empty tuple of ints."""
    if _validate._is_int(normalized_shape):
        shape = (int(normalized_shape),)
    elif isinstance(normalized_shape, (tuple, list)) and all(
            map(_validate._is_int, normalized_shape)):
        shape = tuple(int(n) for n in normalized_shape)
    else:
        raise TypeError(f"{owner}: normalized_shape must be an int or a tuple of ints, "
                        f"got {normalized_shape!r}")
    if not shape or min(shape) < 0:
        raise ValueError(f"{owner}: normalized_shape must hold at least one size and no "
                         f"negative one, got {shape}")
    return shape


def layer_norm(x: Tensor, normalized_shape: Any, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """(x - mean) / sqrt(var + eps) * weight + bias over the trailing axes `normalized_shape`.

    The variance is the biased one, as in PyTorch; weight and bias (each optional) have
    shape normalized_shape. One node with the closed-form backward.
    """
    shape = _normalized_shape(normalized_shape, "layer_norm")
    x = _float_tensor(x, "layer_norm")
    n = len(shape)
    if x.ndim < n or x.shape[x.ndim - n:] != shape:
        raise ValueError(f"layer_norm: normalized_shape={shape} expects input of shape "
                         f"(*, {', '.join(map(str, shape))}), got input of shape {x.shape}")
    affine = []
    for name, p in (("weight", weight), ("bias", bias)):
        if p is None:
            continue
        p = _float_tensor(p, "layer_norm", name)
        if p.shape != shape:
            raise ValueError(f"layer_norm: {name} must have shape normalized_shape={shape}, "
                             f"got {name} of shape {p.shape}")
        if p.dtype != x.dtype:  # as linear: no silent float64 run of float32 parameters
            raise _validate.dtype_mismatch("layer_norm", "input", x.dtype, p.dtype, name)
        affine.append(p)
    eps = _validate.check_number(eps, "eps", "layer_norm", low=0.0)
    if 0 in shape:  # empty rows: nothing to normalize (and no mean to take)
        return x * 0.0
    return ops.LayerNorm.apply(x, *affine, n_axes=n, has_weight=weight is not None,
                               has_bias=bias is not None, eps=eps)


@_validate.torch_names
def normalize(x: Tensor, p: float = 2.0, axis: Any = 1, eps: float = 1e-12) -> Tensor:
    """x / max(norm(x, p, axis, keepdims=True), eps), as PyTorch's F.normalize (dim= too).

    Vectors along `axis` are scaled to p-norm 1; a vector of norm below eps is divided by
    eps instead (a zero vector stays zero, with gradient 1 / eps).
    """
    x = _float_tensor(x, "normalize")
    eps = _validate.check_number(eps, "eps", "normalize", low=0.0)
    return x / x.norm(p, axis, keepdims=True).clip(min=eps)


# ----- losses --------------------------------------------------------------------------
def _check_reduction(reduction: str, op: str) -> None:
    if not isinstance(reduction, str):  # e.g. class weights given where PyTorch takes them
        raise TypeError(f"{op}: reduction must be 'mean', 'sum' or 'none', got "
                        f"{type(reduction).__name__}; class weights (which PyTorch takes "
                        f"in this place) go by keyword here: weight=...")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.mean()
    return loss


def _index_array(target: Any, op: str, what: str = "target",
                 kind: str = "class indices") -> np.ndarray:
    arr = target.data if isinstance(target, Tensor) else np.asarray(target)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{op}: {what} must hold integer {kind}, got dtype {arr.dtype} "
                        f"(build it with an integer array, e.g. np.array(..., dtype=np.int64))")
    return arr


def _class_targets(logits: Tensor, target: Any, op: str) -> np.ndarray:
    """Targets checked against logits (..., C): shape (...), integer dtype, values in [0, C)."""
    t, _ = _kept_targets(logits, target, op, None)
    return t


def _kept_targets(logits: Tensor, target: Any, op: str, ignore_index: int | None) -> tuple:
    """(t, ignored): targets checked as by _class_targets, where values equal to ignore_index
    may also lie outside [0, C); ignored is their boolean mask, None when there are none (the
    common case costs no extra pass over t)."""
    if logits.ndim == 0:
        raise ValueError(f"{op}: input must have a class axis (..., C), got a 0-d tensor")
    t = _index_array(target, op)
    lead, n_classes = logits.shape[:-1], logits.shape[-1]
    if t.shape != lead:
        raise ValueError(f"{op}: target shape {t.shape} must equal the input's shape without its "
                         f"last (class) axis: input {logits.shape} needs target {lead}")
    ignored = None
    if t.size and (t.min() < 0 or t.max() >= n_classes):
        bad = (t < 0) | (t >= n_classes)
        if ignore_index is not None:
            ignored = t == ignore_index
            bad &= ~ignored
        if bad.any():
            wrong = t[bad]
            also = "" if ignore_index is None else \
                f" (targets equal to ignore_index={ignore_index} are skipped)"
            raise IndexError(f"{op}: target values must be in [0, {n_classes}) for {n_classes} "
                             f"classes, got min {wrong.min()}, max {wrong.max()}{also}")
    elif ignore_index is not None and 0 <= ignore_index < n_classes:
        ignored = t == ignore_index
    return t, (ignored if ignored is not None and ignored.any() else None)


def _mean_over_kept(losses: Tensor, n_kept: float, nan_gradient: bool = False) -> Tensor:
    """The mean over the targets not ignored (n_kept of them, or their summed weight). At
    n_kept 0, NaN as in PyTorch (0 / 0 without NumPy's warning): with zero gradient when
    every target is ignored, with NaN gradients (nan_gradient) when targets are kept but
    their weights sum to 0."""
    if n_kept:
        return losses.sum() / n_kept
    return losses.sum() * float("nan") if nan_gradient else losses.sum() + float("nan")


def cross_entropy(logits: Tensor, target: Any, reduction: str = "mean",
                  ignore_index: int = -100, label_smoothing: float = 0.0,
                  weight: Any = None) -> Tensor:
    """-log softmax(logits)[target], classes on the last axis.

    logits (..., C) float, target (...) integer. One fused node (stable for logits of any size);
    reduction "none" keeps the shape (...). As in PyTorch: targets equal to ignore_index
    (which may lie outside [0, C)) give loss 0 and no gradient and are left out of the mean;
    label_smoothing e in [0, 1] mixes the target with the uniform distribution:
    (1 - e) (-log p[target]) + e mean_c(-log p[c]); weight (C,) (no gradient) scales each
    target's loss by its class's weight, w[t] (1 - e) (-log p[t]) + e/C sum_c w_c (-log p[c]),
    and the mean divides by the kept targets' summed w[t]. A floating target of the logits'
    shape holds class probabilities instead (PyTorch's second form): -sum_c w_c t_c log p_c
    per row, t smoothed as (1 - e) t + e / C, the mean over the rows; ignore_index does not
    apply, and a target that requires grad gets its gradient.
    """
    _check_reduction(reduction, "cross_entropy")
    logits = _float_tensor(logits, "cross_entropy", "logits")  # (integers: as PyTorch refuses)
    ignore_index = _validate.check_int(ignore_index, "ignore_index", "cross_entropy")
    e = _validate.check_number(label_smoothing, "label_smoothing", "cross_entropy", 0.0, 1.0)
    probs = target.data if isinstance(target, Tensor) else np.asarray(target)
    if probs.dtype.kind == "f":
        if probs.shape == logits.shape and logits.ndim:
            if ignore_index >= 0:  # (a negative one can never match a class: allowed)
                raise ValueError(f"cross_entropy: ignore_index ({ignore_index}) does not "
                                 f"apply to class-probability targets, as in PyTorch; leave "
                                 f"it out, or give a weight of 0 to the class")
            return _cross_entropy_of_probabilities(logits, target, e, weight, reduction)
        raise TypeError(f"cross_entropy: target must hold integer class indices of shape "
                        f"{logits.shape[:-1]}, or class probabilities of the logits' shape "
                        f"{logits.shape}; got a {probs.dtype} target of shape {probs.shape}")
    t, ignored = _kept_targets(logits, target, "cross_entropy", ignore_index)
    lead, n_classes = logits.shape[:-1], logits.shape[-1]
    x, flat = logits.reshape(-1, n_classes), Tensor(t.reshape(-1))
    if weight is not None:
        w = _class_weights(weight, n_classes, logits.dtype, "cross_entropy")
        out = _weighted_cross_entropy(x, t.reshape(-1), ignored, ignore_index, w, e, reduction)
        return out.reshape(lead) if reduction == "none" else out
    if ignored is None and not e:  # the common case: plain fused cross-entropy
        return _reduce(ops.CrossEntropy.apply(x, flat).reshape(lead), reduction)
    options = {} if ignored is None else {"ignore_index": ignore_index}
    losses = ops.CrossEntropy.apply(x, flat, label_smoothing=e, **options).reshape(lead)
    if reduction == "mean" and ignored is not None:
        return _mean_over_kept(losses, t.size - int(np.count_nonzero(ignored)))
    return _reduce(losses, reduction)


def _cross_entropy_of_probabilities(logits: Tensor, target: Any, e: float, weight: Any,
                                    reduction: str) -> Tensor:
    """cross_entropy with class-probability targets (..., C), as described there."""
    n_classes = logits.shape[-1]
    t = target if isinstance(target, Tensor) else Tensor(np.asarray(target))
    if t.dtype != logits.dtype:
        t = t.astype(logits.dtype)
    if e:
        t = t * (1 - e) + e / n_classes
    if weight is not None:
        t = t * Tensor(_class_weights(weight, n_classes, logits.dtype, "cross_entropy"))
    losses = -(t * logits.log_softmax(-1)).sum(-1)
    return _reduce(losses, reduction)


def _class_weights(weight: Any, n_classes: int, dtype: Any, op: str) -> np.ndarray:
    """weight (C,) as an array of the logits' dtype (see _weight_array)."""
    w = _weight_array(weight, dtype, op, "weight")
    if w.shape != (n_classes,):
        raise ValueError(f"{op}: weight must have one entry per class, shape ({n_classes},), "
                         f"got {w.shape}")
    return w


def _weighted_cross_entropy(x: Tensor, t: np.ndarray, ignored: np.ndarray | None,
                            ignore_index: int, w: np.ndarray, e: float,
                            reduction: str) -> Tensor:
    """cross_entropy's weight= on (N, C) logits and (N,) targets: per-row losses (reduction
    "none", the caller reshapes), their sum, or the sum over the kept rows' summed w[t]."""
    kept, safe, wt = _row_weights(t, ignored, w)
    if not e:
        options = {} if ignored is None else {"ignore_index": ignore_index}
        losses = ops.CrossEntropy.apply(x, Tensor(t), **options) * Tensor(wt)
    else:  # PyTorch's form: the smoothing term weights every class's -log p by its w
        lp = x.log_softmax(-1)
        nll = -lp[np.arange(t.size), safe]
        smooth = -(lp * Tensor(w)).sum(-1)
        losses = nll * Tensor((1 - e) * wt) + smooth * Tensor(
            np.where(kept, e / x.shape[-1], 0).astype(w.dtype))
    return _weighted_reduction(losses, wt, reduction, kept)


def _row_weights(t: np.ndarray, ignored: np.ndarray | None, w: np.ndarray) -> tuple:
    """(kept rows, targets with 0 where ignored, each row's weight w[t] with 0 where ignored)
    for (N,) targets and class weights w."""
    kept = np.ones(t.shape, bool) if ignored is None else ~ignored.reshape(-1)
    safe = np.where(kept, t, 0)
    return kept, safe, np.where(kept, w[safe], 0).astype(w.dtype)


def _weighted_reduction(losses: Tensor, wt: np.ndarray, reduction: str,
                        kept: np.ndarray) -> Tensor:
    """Weighted per-row losses as they are, summed, or averaged over the kept rows' summed
    weights (PyTorch's mean with class weights)."""
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    return _mean_over_kept(losses, float(wt.sum()), nan_gradient=bool(kept.any()))


def nll_loss(log_probs: Tensor, target: Any, reduction: str = "mean",
             ignore_index: int = -100, weight: Any = None) -> Tensor:
    """-log_probs[target], classes on the last axis: log_probs (..., C), target (...) integer.

    Targets equal to ignore_index (which may lie outside [0, C)) give loss 0 and no gradient
    and are left out of the mean, as in PyTorch; weight (C,) (no gradient) scales each
    target's loss by w[t], and the mean divides by the kept targets' summed w[t]."""
    _check_reduction(reduction, "nll_loss")
    log_probs = _float_tensor(log_probs, "nll_loss", "log_probs")  # (as PyTorch)
    ignore_index = _validate.check_int(ignore_index, "ignore_index", "nll_loss")
    t, ignored = _kept_targets(log_probs, target, "nll_loss", ignore_index)
    lead, n_classes = log_probs.shape[:-1], log_probs.shape[-1]
    flat = t.reshape(-1)
    rows = log_probs.reshape(-1, n_classes)
    if weight is not None:
        w = _class_weights(weight, n_classes, log_probs.dtype, "nll_loss")
        kept, safe, wt = _row_weights(flat, ignored, w)
        losses = -rows[np.arange(flat.size), safe] * Tensor(wt)
        out = _weighted_reduction(losses, wt, reduction, kept)
        return out.reshape(lead) if reduction == "none" else out
    if ignored is None:
        return _reduce(-rows[np.arange(flat.size), flat].reshape(lead), reduction)
    picked = rows[np.arange(flat.size), np.where(ignored.reshape(-1), 0, flat)].reshape(lead)
    losses = (-picked).masked_fill(ignored, 0.0)
    if reduction == "mean":
        return _mean_over_kept(losses, t.size - int(np.count_nonzero(ignored)))
    return _reduce(losses, reduction)


def _check_same_shape(input: Tensor, target: Any, op: str) -> Tensor:
    target = target if isinstance(target, Tensor) else Tensor(np.asarray(target, input.dtype))
    if target.shape != input.shape:
        raise ValueError(f"{op}: target shape {target.shape} must equal input shape {input.shape}")
    return target


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """(input - target)**2, averaged or summed over every element."""
    _check_reduction(reduction, "mse_loss")
    target = _check_same_shape(input, target, "mse_loss")
    diff = input - target
    return _reduce(diff * diff, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Any, weight: Any = None,
                                     reduction: str = "mean", pos_weight: Any = None) -> Tensor:
    """softplus(x) - x * t  =  -[t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))].

    softplus(x) = logsumexp([0, x]): stable for any finite x and smooth at 0 (its gradient
    is sigmoid(x) everywhere), unlike max(x, 0) + log1p(exp(-|x|)) built from kinked pieces.
    As in PyTorch, `weight` (broadcast to the input) scales each element's loss and
    `pos_weight` (broadcast along the last axis, one per class) the positive term:
    -w [p t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))] = w [(1 + (p - 1) t) softplus(x)
    - p t x]. Neither takes a gradient. (A string third argument is the reduction.)
    """
    owner = "binary_cross_entropy_with_logits"
    if isinstance(weight, str):  # (x, t, "sum"): the reduction, this function's old order
        weight, reduction = None, weight
    _check_reduction(reduction, owner)
    target = _check_same_shape(input, target, owner)
    softplus = stack([zeros_like(input), input], axis=-1).logsumexp(axis=-1)
    if pos_weight is None:
        loss = softplus - input * target
    else:
        p = _constant(pos_weight, input, owner, "pos_weight")
        loss = (1 + (p - 1) * target) * softplus - p * target * input
    if weight is not None:
        loss = loss * _constant(weight, input, owner, "weight")
    return _reduce(loss, reduction)


def _weight_array(value: Any, dtype: Any, owner: str, name: str) -> np.ndarray:
    """A loss's weights as an array of `dtype`; a Tensor that requires grad is refused
    (weights take no gradient here, as in PyTorch's losses)."""
    if isinstance(value, Tensor):
        if value.requires_grad:
            raise TypeError(f"{owner}: {name} requires grad, but it takes no gradient here; "
                            f"pass {name}.detach()")
        value = value.data
    return np.asarray(value, dtype=dtype)


def _constant(value: Any, like: Tensor, owner: str, name: str) -> Tensor:
    """A loss's weights (_weight_array) as a tensor that broadcasts with the input."""
    arr = _weight_array(value, like.dtype, owner, name)
    try:
        np.broadcast_shapes(arr.shape, like.shape)
    except ValueError:
        raise ValueError(f"{owner}: {name} of shape {arr.shape} does not broadcast with the "
                         f"input's shape {like.shape}") from None
    return Tensor(arr)


def l1_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """|input - target|, averaged or summed over every element (gradient 0 where equal)."""
    _check_reduction(reduction, "l1_loss")
    input = _float_tensor(input, "l1_loss")
    target = _check_same_shape(input, target, "l1_loss")
    return _reduce((input - target).abs(), reduction)


def smooth_l1_loss(input: Tensor, target: Any, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """0.5 d**2 / beta where |d| < beta, else |d| - 0.5 beta, for d = input - target.

    beta = 0 gives l1_loss, as in PyTorch. One node per element (then the reduction).
    """
    _check_reduction(reduction, "smooth_l1_loss")
    beta = _validate.check_number(beta, "beta", "smooth_l1_loss", low=0.0)
    input = _float_tensor(input, "smooth_l1_loss")
    target = _check_same_shape(input, target, "smooth_l1_loss")
    if beta == 0.0:
        return _reduce((input - target).abs(), reduction)
    return _reduce(ops.SmoothL1.apply(input, target, beta=beta), reduction)


def huber_loss(input: Tensor, target: Any, reduction: str = "mean",
               delta: float = 1.0) -> Tensor:
    """0.5 d**2 where |d| < delta, else delta (|d| - 0.5 delta), for d = input - target
    (delta > 0; equals delta * smooth_l1_loss with beta = delta)."""
    _check_reduction(reduction, "huber_loss")
    delta = _validate.check_number(delta, "delta", "huber_loss", low=0.0)
    if delta == 0.0:
        raise ValueError("huber_loss: delta must be positive, got 0.0")
    input = _float_tensor(input, "huber_loss")
    target = _check_same_shape(input, target, "huber_loss")
    return _reduce(ops.Huber.apply(input, target, delta=delta), reduction)


def _check_unit_interval(x: Tensor, op: str, what: str) -> None:
    a = x.data
    if a.size and not (a.min() >= 0 and a.max() <= 1):  # NaN fails both comparisons
        raise ValueError(f"{op}: all elements of {what} must be in [0, 1] (probabilities), "
                         f"got values from {a.min()} to {a.max()}")


def binary_cross_entropy(input: Tensor, target: Any, weight: Any = None,
                         reduction: str = "mean") -> Tensor:
    """-weight * (target log(input) + (1 - target) log(1 - input)), input probabilities.

    Each log is clamped at -100, as in PyTorch, so input 0 or 1 gives a finite loss; input
    and target must lie in [0, 1]; weight broadcasts to the input's shape. For logits use
    binary_cross_entropy_with_logits (stabler).
    """
    _check_reduction(reduction, "binary_cross_entropy")
    input = _float_tensor(input, "binary_cross_entropy")
    target = _check_same_shape(input, target, "binary_cross_entropy")
    _check_unit_interval(input, "binary_cross_entropy", "input")
    _check_unit_interval(target, "binary_cross_entropy", "target")
    loss = ops.BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        weight = weight if isinstance(weight, Tensor) else Tensor(np.asarray(weight, input.dtype))
        if weight.ndim > input.ndim or any(
                w not in (1, i) for w, i in zip(weight.shape[::-1], input.shape[::-1])):
            raise ValueError(f"binary_cross_entropy: weight of shape {weight.shape} must "
                             f"broadcast to the input's shape {input.shape}")
        loss = loss * weight
    return _reduce(loss, reduction)


_KL_REDUCTIONS = ("mean", "batchmean", "sum", "none")


def kl_div(input: Tensor, target: Any, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """target * (log(target) - input), 0 where target is 0: input log-probabilities, target
    probabilities (log-probabilities with log_target=True, then exp(target) * (target - input)).

    reduction "batchmean" divides the sum by input.shape[0] (the KL divergence per sample);
    "mean" divides by the number of elements, as PyTorch's (which warns that it is not KL).
    """
    _validate.check_choice(reduction, "reduction", "kl_div", _KL_REDUCTIONS)
    if not isinstance(log_target, (bool, np.bool_)):
        raise TypeError(f"kl_div: log_target must be a bool, got {type(log_target).__name__}")
    input = _float_tensor(input, "kl_div")
    target = _check_same_shape(input, target, "kl_div")
    loss = ops.KLDiv.apply(input, target, log_target=bool(log_target))
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.ndim else loss.sum()
    return _reduce(loss, reduction)
