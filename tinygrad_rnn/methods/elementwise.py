"""Elementwise Tensor methods: activations and other functions applied to every element."""
from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_rnn import ops


class ElementwiseMethods:
    __slots__ = ()

    def exp(self) -> "Tensor":
        """e ** self."""
        return ops.Exp.apply(self)

    def log(self) -> "Tensor":
        """Natural logarithm."""
        return ops.Log.apply(self)

    def sqrt(self) -> "Tensor":
        """Square root."""
        return ops.Sqrt.apply(self)

    def abs(self) -> "Tensor":
        """Absolute value (gradient 0 at 0)."""
        return ops.Abs.apply(self)

    def tanh(self) -> "Tensor":
        """Hyperbolic tangent."""
        return ops.Tanh.apply(self)

    def sigmoid(self) -> "Tensor":
        """1 / (1 + exp(-self)), without overflow for any finite input."""
        return ops.Sigmoid.apply(self)

    def relu(self) -> "Tensor":
        """max(self, 0) (gradient 0 at 0)."""
        return ops.ReLU.apply(self)

    def clip(self, min: float | None = None, max: float | None = None) -> "Tensor":
        """Values limited to [min, max]; the gradient passes where min <= x <= max."""
        if min is None and max is None:
            raise ValueError("clip needs at least one of min and max")
        return ops.Clip.apply(self, min=min, max=max)

    def astype(self, dtype: Any) -> "Tensor":
        """A copy in another dtype; differentiable between floating dtypes."""
        return ops.AsType.apply(self, dtype=np.dtype(dtype))

    def double(self) -> "Tensor":
        return self.astype(np.float64)

    def float(self) -> "Tensor":
        return self.astype(np.float32)


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


def clip(t: "Tensor", min: float | None = None, max: float | None = None) -> "Tensor":
    """Tensor.clip as a function."""
    return t.clip(min, max)


def where(cond: Any, a: Any, b: Any) -> "Tensor":
    """a where cond is true, b elsewhere (broadcast); cond gets no gradient."""
    Tensor = _tensor.Tensor
    c = cond.data if isinstance(cond, Tensor) else np.asarray(cond)
    if isinstance(a, Tensor):  # a Python number on the other side takes the tensor's dtype
        b = a._operand(b)
    elif isinstance(b, Tensor):
        a = b._operand(a)
    return ops.Where.apply(Tensor(c.astype(bool)), a, b)


from tinygrad_rnn import tensor as _tensor  # noqa: E402  (resolved at call time)
