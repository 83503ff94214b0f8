"""Feed-forward layers, activations and losses as Modules (thin wrappers over `functional`)."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_rnn._validate import (
    check_bool, check_choice, check_int, check_number, dtype_mismatch, torch_names,
)
from tinygrad_rnn.methods.elementwise import gelu_approximate, softplus_options
from tinygrad_rnn.methods.movement import flatten_names
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.nn import init
from tinygrad_rnn.nn.module import Module, Parameter
from tinygrad_rnn.tensor import Tensor


def _positive_int(value: Any, name: str, owner: str, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{owner}: {name} must be an int, got {type(value).__name__}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{owner}: {name} must be {'>= 0' if allow_zero else 'positive'}, "
                         f"got {value}")
    return int(value)


class Linear(Module):
    """y = x @ weight.T + bias;  x (..., in_features) -> y (..., out_features).

    weight (out_features, in_features) and bias (out_features,) start in U(-k, k) with
    k = 1 / sqrt(in_features), as in PyTorch.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.in_features = _positive_int(in_features, "in_features", "Linear", allow_zero=True)
        self.out_features = _positive_int(out_features, "out_features", "Linear", allow_zero=True)
        self.weight = Parameter(np.empty((out_features, in_features), dtype=np.float32))
        self.bias = Parameter(np.empty(out_features, dtype=np.float32)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        k = 1.0 / math.sqrt(self.in_features) if self.in_features else 0.0
        init.uniform_(self.weight, -k, k)
        if self.bias is not None:
            init.uniform_(self.bias, -k, k)

    def forward(self, x: Tensor) -> Tensor:
        w = self.weight
        if isinstance(x, (Tensor, np.ndarray)) and x.dtype != w.dtype and x.dtype.kind == "f":
            # F.linear checks too; this message names the module's own fix
            raise dtype_mismatch("Linear", "input", x.dtype, w.dtype, module=True)
        return F.linear(x, w, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Embedding(Module):
    """y = weight[idx]: integer indices of any shape -> vectors, shape idx.shape + (dim,).

    weight (num_embeddings, embedding_dim) starts as N(0, 1), as in PyTorch. Row
    padding_idx (when given; negative counts from the end, stored non-negative) starts at
    zero and gets no gradient, so a padding token keeps its vector. max_norm, norm_type and
    scale_grad_by_freq as F.embedding's (PyTorch's options; sparse=True is refused).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int,
                 padding_idx: int | None = None, max_norm: float | None = None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False):
        super().__init__()
        self.num_embeddings = _positive_int(num_embeddings, "num_embeddings", "Embedding")
        self.embedding_dim = _positive_int(embedding_dim, "embedding_dim", "Embedding")
        self.padding_idx = F.padding_index(padding_idx, self.num_embeddings, "Embedding")
        self.max_norm, self.norm_type, self.scale_grad_by_freq = F.embedding_options(
            max_norm, norm_type, scale_grad_by_freq, sparse, "Embedding")
        self.sparse = False
        self.weight = Parameter(np.empty((num_embeddings, embedding_dim), dtype=np.float32))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    @classmethod
    def from_pretrained(cls, embeddings: Any, freeze: bool = True,
                        padding_idx: int | None = None, max_norm: float | None = None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False) -> "Embedding":
        """An Embedding holding a copy of `embeddings` (num_embeddings, embedding_dim), not
        trained when freeze (PyTorch's default); the other options as in the constructor,
        the padding row kept as given."""
        data = np.array(embeddings.data if isinstance(embeddings, Tensor) else embeddings)
        if data.ndim != 2 or data.dtype.kind != "f":
            raise ValueError(f"Embedding.from_pretrained: embeddings must be a 2-D float array, "
                             f"got shape {data.shape} and dtype {data.dtype}")
        module = cls(data.shape[0], data.shape[1], padding_idx=padding_idx, max_norm=max_norm,
                     norm_type=norm_type, scale_grad_by_freq=scale_grad_by_freq,
                     sparse=sparse)
        module.weight = Parameter(data, requires_grad=not freeze)
        return module

    def forward(self, idx: Any) -> Tensor:
        return F.embedding(idx, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        return s


class Dropout(Module):
    """Zero elements with probability p in training mode; the identity in eval mode."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        F._check_p(p)
        self.p = float(p)

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Identity(Module):
    """y = x."""

    def forward(self, x: Any) -> Any:
        return x


class Tanh(Module):
    """y = tanh(x)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.tanh()


class Sigmoid(Module):
    """y = 1 / (1 + exp(-x))."""

    def forward(self, x: Tensor) -> Tensor:
        return x.sigmoid()


class ReLU(Module):
    """y = max(x, 0)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.relu()


class GELU(Module):
    """y = x Phi(x), Phi the standard normal CDF; approximate="tanh" for the tanh form."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = gelu_approximate(approximate, "GELU")

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class LeakyReLU(Module):
    """y = x where x > 0, negative_slope * x elsewhere."""

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = check_number(negative_slope, "negative_slope", "LeakyReLU")

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Softplus(Module):
    """y = log(1 + exp(beta x)) / beta, and x where beta x > threshold."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta, self.threshold = softplus_options(beta, threshold, "Softplus")

    def forward(self, x: Tensor) -> Tensor:
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class ELU(Module):
    """y = x where x > 0, alpha (exp(x) - 1) elsewhere."""

    def __init__(self, alpha: float = 1.0):
        super().__init__()
        self.alpha = check_number(alpha, "alpha", "ELU")

    def forward(self, x: Tensor) -> Tensor:
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class SiLU(Module):
    """y = x sigmoid(x)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.silu(x)


class Softmax(Module):
    """y = exp(x) / sum(exp(x), axis) (dim= accepted)."""

    @torch_names
    def __init__(self, axis: int = -1):
        super().__init__()
        self.axis = check_int(axis, "axis", "Softmax")

    def forward(self, x: Tensor) -> Tensor:
        return F.softmax(x, self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class LogSoftmax(Module):
    """y = x - logsumexp(x, axis) (dim= accepted)."""

    @torch_names
    def __init__(self, axis: int = -1):
        super().__init__()
        self.axis = check_int(axis, "axis", "LogSoftmax")

    def forward(self, x: Tensor) -> Tensor:
        return F.log_softmax(x, self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class Flatten(Module):
    """y = x.flatten(start_axis, end_axis): by default every axis but the batch axis 0 merged,
    as torch.nn.Flatten (start_dim=/end_dim= accepted)."""

    @flatten_names
    def __init__(self, start_axis: int = 1, end_axis: int = -1):
        super().__init__()
        self.start_axis = check_int(start_axis, "start_axis", "Flatten")
        self.end_axis = check_int(end_axis, "end_axis", "Flatten")

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_axis, self.end_axis)

    def extra_repr(self) -> str:
        return f"start_axis={self.start_axis}, end_axis={self.end_axis}"


class LayerNorm(Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the last len(normalized_shape) axes.

    weight (ones) and bias (zeros) have shape normalized_shape, as in PyTorch;
    elementwise_affine=False leaves both out, bias=False only the bias.
    """

    def __init__(self, normalized_shape: Any, eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True):
        super().__init__()
        self.normalized_shape = F._normalized_shape(normalized_shape, "LayerNorm")
        self.eps = check_number(eps, "eps", "LayerNorm", low=0.0)
        self.elementwise_affine = bool(elementwise_affine)
        if self.elementwise_affine:
            self.weight = Parameter(np.empty(self.normalized_shape, dtype=np.float32))
            self.register_parameter("bias", Parameter(
                np.empty(self.normalized_shape, dtype=np.float32)) if bias else None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, x: Tensor) -> Tensor:
        p = self.weight if self.weight is not None else self.bias
        if p is not None and isinstance(x, (Tensor, np.ndarray)) and x.dtype != p.dtype \
                and x.dtype.kind == "f":  # F.layer_norm checks too; this names the module's fix
            raise dtype_mismatch("LayerNorm", "input", x.dtype, p.dtype, module=True)
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


def _class_weight_buffer(weight: Any) -> Tensor | None:
    """A loss module's class weights as a Tensor (a buffer, in the state_dict as PyTorch's)."""
    return None if weight is None else Tensor(  # (a list: float32, as the constructor)
        weight.data if isinstance(weight, Tensor) else weight)


class _Loss(Module):
    def __init__(self, reduction: str = "mean"):
        super().__init__()
        F._check_reduction(reduction, type(self).__name__)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""


class MSELoss(_Loss):
    """mean (or sum) of (input - target)**2."""

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.mse_loss(input, target, self.reduction)


class CrossEntropyLoss(_Loss):
    """-log softmax(logits)[target]: logits (..., C), integer target (...); targets equal to
    ignore_index are left out, label_smoothing mixes in the uniform target, weight (C,) scales
    each class (F.cross_entropy); the weight is a buffer, in the state_dict as in PyTorch."""

    def __init__(self, reduction: str = "mean", ignore_index: int = -100,
                 label_smoothing: float = 0.0, weight: Any = None):
        super().__init__(reduction)
        self.ignore_index = check_int(ignore_index, "ignore_index", "CrossEntropyLoss")
        self.label_smoothing = check_number(label_smoothing, "label_smoothing",
                                            "CrossEntropyLoss", 0.0, 1.0)
        self.register_buffer("weight", _class_weight_buffer(weight))

    def forward(self, logits: Tensor, target: Any) -> Tensor:
        return F.cross_entropy(logits, target, self.reduction, self.ignore_index,
                               self.label_smoothing, weight=self.weight)

    def extra_repr(self) -> str:
        parts = [super().extra_repr()] + \
            ([f"ignore_index={self.ignore_index}"] if self.ignore_index != -100 else []) + \
            ([f"label_smoothing={self.label_smoothing}"] if self.label_smoothing else [])
        return ", ".join(p for p in parts if p)


class NLLLoss(_Loss):
    """-log_probs[target]: log_probs (..., C), integer target (...); targets equal to
    ignore_index are left out, weight (C,) scales each class (F.nll_loss; a buffer)."""

    def __init__(self, reduction: str = "mean", ignore_index: int = -100, weight: Any = None):
        super().__init__(reduction)
        self.ignore_index = check_int(ignore_index, "ignore_index", "NLLLoss")
        self.register_buffer("weight", _class_weight_buffer(weight))

    def forward(self, log_probs: Tensor, target: Any) -> Tensor:
        return F.nll_loss(log_probs, target, self.reduction, self.ignore_index,
                          weight=self.weight)

    def extra_repr(self) -> str:
        own = f"ignore_index={self.ignore_index}" if self.ignore_index != -100 else ""
        return ", ".join(p for p in (super().extra_repr(), own) if p)


class BCEWithLogitsLoss(_Loss):
    """softplus(x) - x * t, the binary cross-entropy of sigmoid(x) against t; `weight` and
    `pos_weight` as F.binary_cross_entropy_with_logits, kept as buffers (in the state_dict,
    as PyTorch's). A string first argument is the reduction."""

    def __init__(self, weight: Any = None, reduction: str = "mean", pos_weight: Any = None):
        if isinstance(weight, str):  # BCEWithLogitsLoss("sum"): the reduction, as before
            weight, reduction = None, weight
        super().__init__(reduction)
        self.register_buffer("weight", _class_weight_buffer(weight))
        self.register_buffer("pos_weight", _class_weight_buffer(pos_weight))

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, self.weight, self.reduction,
                                                  pos_weight=self.pos_weight)


class L1Loss(_Loss):
    """mean (or sum) of |input - target|."""

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.l1_loss(input, target, self.reduction)


class SmoothL1Loss(_Loss):
    """0.5 d**2 / beta where |d| < beta, else |d| - 0.5 beta, d = input - target."""

    def __init__(self, reduction: str = "mean", beta: float = 1.0):
        super().__init__(reduction)
        self.beta = check_number(beta, "beta", "SmoothL1Loss", low=0.0)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.smooth_l1_loss(input, target, self.reduction, self.beta)


class HuberLoss(_Loss):
    """0.5 d**2 where |d| < delta, else delta (|d| - 0.5 delta), d = input - target."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction)
        self.delta = check_number(delta, "delta", "HuberLoss", low=0.0)
        if self.delta == 0.0:
            raise ValueError("HuberLoss: delta must be positive, got 0.0")

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.huber_loss(input, target, self.reduction, self.delta)


class BCELoss(_Loss):
    """-weight * (t log x + (1 - t) log(1 - x)) for probabilities x, logs clamped at -100.

    weight (optional, broadcast to the input's shape) is a buffer, as in PyTorch.
    """

    def __init__(self, weight: Any = None, reduction: str = "mean"):
        super().__init__(reduction)
        self.register_buffer("weight", weight if weight is None or isinstance(weight, Tensor)
                             else Tensor(weight))

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.binary_cross_entropy(input, target, self.weight, self.reduction)


class KLDivLoss(_Loss):
    """target * (log(target) - input): input log-probabilities; reduction also "batchmean"."""

    def __init__(self, reduction: str = "mean", log_target: bool = False):
        Module.__init__(self)  # _Loss would refuse "batchmean"
        self.reduction = check_choice(reduction, "reduction", "KLDivLoss", F._KL_REDUCTIONS)
        self.log_target = check_bool(log_target, "log_target", "KLDivLoss")  # as F.kl_div

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.kl_div(input, target, self.reduction, self.log_target)
