"""Stateless building blocks: activations, linear maps, embedding, dropout and losses.

Imported as `F`: `from tinygrad_rnn.nn import functional as F`. Classification losses take
logits with the class axis LAST, `(..., C)`, and integer targets of the leading shape `(...)`,
which is the natural layout of an RNN's `(T, B, C)` output.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_rnn import _validate, ops
from tinygrad_rnn.methods.movement import stack
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
def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """exp(x) / sum(exp(x), axis), computed through log_softmax."""
    return x.softmax(axis)


@_validate.torch_names
def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """x - logsumexp(x, axis) (one stable node)."""
    return x.log_softmax(axis)


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
    lead = (slice(None),) * ax
    a, b = x[lead + (slice(0, n // 2),)], x[lead + (slice(n // 2, n),)]
    return a * b.sigmoid()


# ----- maps ----------------------------------------------------------------------------
def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x @ weight.T + bias, for x (..., in), weight (out, in), bias (out,)."""
    if isinstance(x, np.ndarray):
        x = Tensor(x)
    if not isinstance(x, Tensor):
        raise TypeError(f"linear: input must be a Tensor (or an ndarray), got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"linear: input must be floating-point, got dtype {x.dtype} "
                        f"(convert it with .astype(np.float32))")
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


def embedding(idx: Any, weight: Tensor) -> Tensor:
    """Rows of `weight` (num_embeddings, dim) picked by integer indices: idx.shape + (dim,)."""
    arr = _index_array(idx, "embedding", "indices", kind="row numbers")
    return ops.Embedding.apply(weight, Tensor(arr))


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
    if p == 1.0:
        return x * 0.0
    return ops.Dropout.apply(x, mask=_dropout_mask(x.shape, p, x.dtype))


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


def pad(x: Tensor, pad: Any, value: float = 0.0, *, mode: str = "constant") -> Tensor:
    """x padded with `value`: pad = (last_before, last_after, second_last_before, ...) pairs
    from the last axis backwards, as torch.nn.functional.pad; negative widths crop."""
    _validate.check_choice(mode, "mode", "pad", ("constant",))
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
    return ops.Pad.apply(x, widths=tuple(pairs), value=value)


# ----- losses --------------------------------------------------------------------------
def _check_reduction(reduction: str, op: str) -> None:
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
    if logits.ndim == 0:
        raise ValueError(f"{op}: input must have a class axis (..., C), got a 0-d tensor")
    t = _index_array(target, op)
    lead, n_classes = logits.shape[:-1], logits.shape[-1]
    if t.shape != lead:
        raise ValueError(f"{op}: target shape {t.shape} must equal the input's shape without its "
                         f"last (class) axis: input {logits.shape} needs target {lead}")
    if t.size and (t.min() < 0 or t.max() >= n_classes):
        raise IndexError(f"{op}: target values must be in [0, {n_classes}) for {n_classes} "
                         f"classes, got min {t.min()}, max {t.max()}")
    return t


def cross_entropy(logits: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """-log softmax(logits)[target], classes on the last axis.

    logits (..., C) float, target (...) integer. One fused node (stable for logits of any size);
    reduction "none" keeps the shape (...).
    """
    _check_reduction(reduction, "cross_entropy")
    t = _class_targets(logits, target, "cross_entropy")
    lead, n_classes = logits.shape[:-1], logits.shape[-1]
    losses = ops.CrossEntropy.apply(logits.reshape(-1, n_classes), Tensor(t.reshape(-1)))
    return _reduce(losses.reshape(lead), reduction)


def nll_loss(log_probs: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """-log_probs[target], classes on the last axis: log_probs (..., C), target (...) integer."""
    _check_reduction(reduction, "nll_loss")
    t = _class_targets(log_probs, target, "nll_loss")
    lead, n_classes = log_probs.shape[:-1], log_probs.shape[-1]
    flat = t.reshape(-1)
    picked = log_probs.reshape(-1, n_classes)[np.arange(flat.size), flat]
    return _reduce(-picked.reshape(lead), reduction)


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


def binary_cross_entropy_with_logits(input: Tensor, target: Any,
                                     reduction: str = "mean") -> Tensor:
    """softplus(x) - x * t  =  -[t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))].

    softplus(x) = logsumexp([0, x]): stable for any finite x and smooth at 0 (its gradient
    is sigmoid(x) everywhere), unlike max(x, 0) + log1p(exp(-|x|)) built from kinked pieces.
    """
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    target = _check_same_shape(input, target, "binary_cross_entropy_with_logits")
    softplus = stack([zeros_like(input), input], axis=-1).logsumexp(axis=-1)
    return _reduce(softplus - input * target, reduction)
