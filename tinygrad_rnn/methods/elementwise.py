"""Elementwise Tensor methods: activations and other functions applied to every element."""
from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_rnn import function, ops
from tinygrad_rnn._validate import check_choice, check_number


class ElementwiseMethods:
    __slots__ = ()

    def logical_not(self) -> "Tensor":
        return logical_not(self)

    def logical_and(self, other: Any) -> "Tensor":
        return logical_and(self, other)

    def logical_or(self, other: Any) -> "Tensor":
        return logical_or(self, other)

    def logical_xor(self, other: Any) -> "Tensor":
        return logical_xor(self, other)

    def isnan(self) -> "Tensor":
        """Whether each element is NaN: a bool tensor (no gradient)."""
        return _tensor.logical(np.isnan, self)

    def isinf(self) -> "Tensor":
        """Whether each element is +inf or -inf: a bool tensor (no gradient)."""
        return _tensor.logical(np.isinf, self)

    def isfinite(self) -> "Tensor":
        """Whether each element is neither NaN nor infinite: a bool tensor (no gradient)."""
        return _tensor.logical(np.isfinite, self)

    def exp(self) -> "Tensor":
        """e ** self."""
        return ops.Exp.apply(floating(self))

    def log(self) -> "Tensor":
        """Natural logarithm."""
        return ops.Log.apply(floating(self))

    def sqrt(self) -> "Tensor":
        """Square root."""
        return ops.Sqrt.apply(floating(self))

    def abs(self) -> "Tensor":
        """Absolute value (gradient 0 at 0)."""
        return ops.Abs.apply(self)

    def tanh(self) -> "Tensor":
        """Hyperbolic tangent."""
        return ops.Tanh.apply(floating(self))

    def sigmoid(self) -> "Tensor":
        """1 / (1 + exp(-self)), without overflow for any finite input."""
        return ops.Sigmoid.apply(floating(self))

    def relu(self) -> "Tensor":
        """max(self, 0) (gradient 0 at 0)."""
        return ops.ReLU.apply(self)

    def log1p(self) -> "Tensor":
        """log(1 + self), accurate for small self."""
        return ops.Log1p.apply(floating(self))

    def expm1(self) -> "Tensor":
        """exp(self) - 1, accurate for small self."""
        return ops.Expm1.apply(floating(self))

    def sin(self) -> "Tensor":
        """Sine (radians)."""
        return ops.Sin.apply(floating(self))

    def cos(self) -> "Tensor":
        """Cosine (radians)."""
        return ops.Cos.apply(floating(self))

    def square(self) -> "Tensor":
        """self * self (of a bool tensor: int64, as PyTorch's self ** 2)."""
        return ops.Square.apply(self if self.data.dtype.kind != "b" else self.astype(np.int64))

    def rsqrt(self) -> "Tensor":
        """1 / sqrt(self)."""
        return ops.Rsqrt.apply(floating(self))

    def sign(self) -> "Tensor":
        """-1, 0 or 1 by the sign of each element; its gradient is zero everywhere."""
        return ops.Sign.apply(self)

    def maximum(self, other: Any) -> "Tensor":
        """Elementwise max(self, other), broadcast; on a tie each side gets half the gradient."""
        return ops.Maximum.apply(*self._pair(other))

    def minimum(self, other: Any) -> "Tensor":
        """Elementwise min(self, other), broadcast; on a tie each side gets half the gradient."""
        return ops.Minimum.apply(*self._pair(other))

    def fmod(self, other: Any) -> "Tensor":
        """The remainder of self / other with self's sign (C's fmod, torch.fmod), broadcast;
        `%` (remainder) takes the divisor's sign."""
        return ops.Fmod.apply(*self._pair(other))

    # ----- activations ------------------------------------------------------------------
    def softplus(self, beta: float = 1.0, threshold: float = 20.0) -> "Tensor":
        """log(1 + exp(beta * self)) / beta, and self itself where beta * self > threshold
        (as PyTorch); never overflows."""
        beta, threshold = softplus_options(beta, threshold, "softplus")
        return ops.Softplus.apply(floating(self), beta=beta, threshold=threshold)

    def gelu(self, approximate: str = "none") -> "Tensor":
        """self * Phi(self) with Phi the standard normal CDF (exact, through erf), or its
        tanh approximation with approximate="tanh"."""
        approximate = gelu_approximate(approximate, "gelu")
        return (ops.GELU if approximate == "none" else ops.GELUTanh).apply(floating(self))

    def leaky_relu(self, negative_slope: float = 0.01) -> "Tensor":
        """self where self > 0, negative_slope * self elsewhere."""
        slope = check_number(negative_slope, "negative_slope", "leaky_relu")
        return ops.LeakyReLU.apply(floating(self), negative_slope=slope)

    def elu(self, alpha: float = 1.0) -> "Tensor":
        """self where self > 0, alpha * (exp(self) - 1) elsewhere."""
        return ops.ELU.apply(floating(self), alpha=check_number(alpha, "alpha", "elu"))

    def silu(self) -> "Tensor":
        """self * sigmoid(self) (also called swish)."""
        return ops.SiLU.apply(floating(self))

    def log_sigmoid(self) -> "Tensor":
        """log(sigmoid(self)) = -softplus(-self), finite for every finite input."""
        return ops.LogSigmoid.apply(floating(self))

    def clip(self, min: float | None = None, max: float | None = None) -> "Tensor":
        """Values limited to [min, max]; the gradient passes where min <= x <= max. An
        integer tensor with a float bound is clipped as float32, as in PyTorch."""
        if min is None and max is None:
            raise ValueError("clip needs at least one of min and max")
        min, max = (_bound(v, "min") for v in (min, max))
        x = self
        if any(isinstance(v, (float, np.floating)) for v in (min, max)):
            x = floating(self)
        return ops.Clip.apply(x, min=min, max=max)

    def astype(self, dtype: Any) -> "Tensor":
        """A copy in another dtype; differentiable between floating dtypes."""
        return ops.AsType.apply(self, dtype=np.dtype(dtype))

    def double(self) -> "Tensor":
        return self.astype(np.float64)

    def float(self) -> "Tensor":
        return self.astype(np.float32)


def _bound(v: Any, name: str) -> Any:
    """A clip bound: a number, or a 0-d tensor's value as a number of its kind."""
    if isinstance(v, _tensor.Tensor):
        if v.ndim:
            raise TypeError(f"clip: {name} must be a number or a 0-d tensor, got a tensor of "
                            f"shape {v.shape}; for elementwise bounds use maximum / minimum")
        return v.item()  # (a value read into Python: a recorded step is not static)
    return v


def floating(t: "Tensor") -> "Tensor":
    """t if it is floating, else t as the default float dtype: a float-valued function of an
    integer or bool tensor computes in float32, as in PyTorch (NumPy would give float64)."""
    return t if t.data.dtype.kind in "fc" else t.astype(_tensor._DEFAULT_DTYPE)


def softplus_options(beta: Any, threshold: Any, owner: str) -> tuple:
    """(beta, threshold) checked: numbers, beta nonzero (Tensor.softplus and nn.Softplus)."""
    beta = check_number(beta, "beta", owner)
    if beta == 0:
        raise ValueError(f"{owner}: beta must be nonzero, got 0")
    return beta, check_number(threshold, "threshold", owner)


def gelu_approximate(approximate: Any, owner: str) -> str:
    """gelu's approximate= checked: the str "none" or "tanh" (Tensor.gelu and nn.GELU)."""
    if not isinstance(approximate, str):
        raise TypeError(f"{owner}: approximate must be a str, 'none' or 'tanh', got "
                        f"{type(approximate).__name__} {approximate!r}")
    return check_choice(approximate, "approximate", owner, ("none", "tanh"))


# ----- module functions ----------------------------------------------------------------
def exp(t: "Tensor") -> "Tensor":
    """Tensor.exp as a function."""
    return t.exp()


def log(t: "Tensor") -> "Tensor":
    """Tensor.log as a function."""
    return t.log()


def sqrt(t: "Tensor") -> "Tensor":
    """Tensor.sqrt as a function."""
    return t.sqrt()


def abs(t: "Tensor") -> "Tensor":
    """Tensor.abs as a function."""
    return t.abs()


def tanh(t: "Tensor") -> "Tensor":
    """Tensor.tanh as a function."""
    return t.tanh()


def sigmoid(t: "Tensor") -> "Tensor":
    """Tensor.sigmoid as a function."""
    return t.sigmoid()


def relu(t: "Tensor") -> "Tensor":
    """Tensor.relu as a function."""
    return t.relu()


def log1p(t: "Tensor") -> "Tensor":
    """Tensor.log1p as a function."""
    return t.log1p()


def expm1(t: "Tensor") -> "Tensor":
    """Tensor.expm1 as a function."""
    return t.expm1()


def sin(t: "Tensor") -> "Tensor":
    """Tensor.sin as a function."""
    return t.sin()


def cos(t: "Tensor") -> "Tensor":
    """Tensor.cos as a function."""
    return t.cos()


def square(t: "Tensor") -> "Tensor":
    """Tensor.square as a function."""
    return t.square()


def rsqrt(t: "Tensor") -> "Tensor":
    """Tensor.rsqrt as a function."""
    return t.rsqrt()


def sign(t: "Tensor") -> "Tensor":
    """Tensor.sign as a function."""
    return t.sign()


def maximum(a: Any, b: Any) -> "Tensor":
    """Elementwise max(a, b), broadcast (either may be a number or an ndarray)."""
    return _either_side(ops.Maximum, "maximum", a, b)


def minimum(a: Any, b: Any) -> "Tensor":
    """Elementwise min(a, b), broadcast (either may be a number or an ndarray)."""
    return _either_side(ops.Minimum, "minimum", a, b)


def fmod(a: Any, b: Any) -> "Tensor":
    """Tensor.fmod as a function (either side may be a number or an ndarray)."""
    return _either_side(ops.Fmod, "fmod", a, b)


def _either_side(op: Any, name: str, a: Any, b: Any) -> "Tensor":
    """op(a, b) where a Tensor on either side takes the other (a number, an ndarray) in."""
    Tensor = _tensor.Tensor
    if isinstance(a, Tensor):
        return op.apply(*a._pair(b))
    if isinstance(b, Tensor):
        b, a = b._pair(a)
        return op.apply(a, b)
    raise TypeError(f"{name}: expected a Tensor on at least one side, got "
                    f"{type(a).__name__} and {type(b).__name__}")


def softplus(t: "Tensor", beta: float = 1.0, threshold: float = 20.0) -> "Tensor":
    """Tensor.softplus as a function."""
    return t.softplus(beta, threshold)


def gelu(t: "Tensor", approximate: str = "none") -> "Tensor":
    """Tensor.gelu as a function."""
    return t.gelu(approximate)


def leaky_relu(t: "Tensor", negative_slope: float = 0.01) -> "Tensor":
    """Tensor.leaky_relu as a function."""
    return t.leaky_relu(negative_slope)


def elu(t: "Tensor", alpha: float = 1.0) -> "Tensor":
    """Tensor.elu as a function."""
    return t.elu(alpha)


def silu(t: "Tensor") -> "Tensor":
    """Tensor.silu as a function."""
    return t.silu()


def log_sigmoid(t: "Tensor") -> "Tensor":
    """Tensor.log_sigmoid as a function."""
    return t.log_sigmoid()


def clip(t: "Tensor", min: float | None = None, max: float | None = None) -> "Tensor":
    """Tensor.clip as a function."""
    return t.clip(min, max)


def _truth(x: Any) -> Any:
    """x as a bool tensor: a bool Tensor as it is, another Tensor through x != 0 (an op, so
    that a step using it still compiles), anything else as an array of bools."""
    Tensor = _tensor.Tensor
    if isinstance(x, Tensor):
        return x if x.dtype == bool else _tensor.logical(np.not_equal, x, function.as_number(
            0, x.dtype))
    return np.asarray(x).astype(bool, copy=False)


def _logical(ufunc: np.ufunc, *xs: Any) -> "Tensor":
    truths = [t if isinstance(t, _tensor.Tensor) else _tensor.Tensor(t)
              for t in (_truth(x) for x in xs)]
    try:
        return _tensor.logical(ufunc, *truths)
    except ValueError:
        raise ValueError(f"{ufunc.__name__}: shapes {' and '.join(str(t.shape) for t in truths)}"
                         f" do not broadcast together") from None


def isnan(t: "Tensor") -> "Tensor":
    """Tensor.isnan as a function."""
    return t.isnan()


def isinf(t: "Tensor") -> "Tensor":
    """Tensor.isinf as a function."""
    return t.isinf()


def isfinite(t: "Tensor") -> "Tensor":
    """Tensor.isfinite as a function."""
    return t.isfinite()


def logical_not(t: Any) -> "Tensor":
    """not t, elementwise, as a bool tensor (any dtype: nonzero is true); no gradient."""
    return _logical(np.logical_not, t)


def logical_and(a: Any, b: Any) -> "Tensor":
    """a and b, elementwise (broadcast), as a bool tensor; no gradient."""
    return _logical(np.logical_and, a, b)


def logical_or(a: Any, b: Any) -> "Tensor":
    """a or b, elementwise (broadcast), as a bool tensor; no gradient."""
    return _logical(np.logical_or, a, b)


def logical_xor(a: Any, b: Any) -> "Tensor":
    """a xor b, elementwise (broadcast), as a bool tensor; no gradient."""
    return _logical(np.logical_xor, a, b)


def where(cond: Any, a: Any, b: Any) -> "Tensor":
    """a where cond is true, b elsewhere (broadcast); cond gets no gradient."""
    Tensor = _tensor.Tensor
    c = cond.data if isinstance(cond, Tensor) else np.asarray(cond)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):  # (a number or an array
        a = _value_tensor(a)  # on both sides: the array, or the first number, leads)
        if not isinstance(b, (np.ndarray, list, tuple)):
            b = _value_tensor(b)
    if isinstance(a, Tensor):  # in the dtype they compute in (a Python number on the
        a, b = a._pair(b)      # other side takes the tensor's)
    else:
        b, a = b._pair(a)
    # a Tensor through _truth (a mask made by an op inside a recurrent step stays on the tape)
    mask = _truth(cond) if isinstance(cond, Tensor) else Tensor(c.astype(bool))
    return ops.Where.apply(mask, a, b)


def _value_tensor(v: Any) -> "Tensor":
    """A number or array given as a value (where's): PyTorch's dtype for a Python number
    (float: the default float, int: int64, bool: bool), an array's own, a list's as the
    constructor makes it."""
    Tensor = _tensor.Tensor
    if isinstance(v, bool):
        return Tensor(np.asarray(v))
    if isinstance(v, int):
        return Tensor(np.asarray(v, dtype=np.int64))
    return Tensor(v)


from tinygrad_rnn import tensor as _tensor  # noqa: E402  (resolved at call time)
