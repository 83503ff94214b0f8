"""Reductions over axes, and the softmax family. `dim=`/`keepdim=` are accepted as aliases."""
from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_rnn import ops
from tinygrad_rnn._validate import norm_axis, one_axis, torch_names


class ReduceMethods:
    __slots__ = ()

    @torch_names
    def sum(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        """Sum over `axis` (all axes when None)."""
        return ops.Sum.apply(self, axis=norm_axis(axis, self.ndim, "sum"), keepdims=keepdims)

    @torch_names
    def mean(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        """Mean over `axis`: the sum divided by the number of elements reduced."""
        ax = norm_axis(axis, self.ndim, "mean")
        n = int(np.prod([self.shape[a] for a in ax])) if ax is not None else self.size
        return ops.Sum.apply(self, axis=ax, keepdims=keepdims) * (1.0 / n if n else np.nan)

    @torch_names
    def max(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        """Maximum over `axis`; the gradient goes to the arg-max, ties share it equally."""
        return ops.Max.apply(self, axis=norm_axis(axis, self.ndim, "max"), keepdims=keepdims)

    @torch_names
    def min(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        """Minimum over `axis`; the gradient goes to the arg-min, ties share it equally."""
        return ops.Min.apply(self, axis=norm_axis(axis, self.ndim, "min"), keepdims=keepdims)

    @torch_names
    def logsumexp(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        """log(sum(exp(self), axis)), shifted by the max so it never overflows."""
        return ops.LogSumExp.apply(
            self, axis=norm_axis(axis, self.ndim, "logsumexp"), keepdims=keepdims
        )

    @torch_names
    def log_softmax(self, axis: int = -1) -> "Tensor":
        """self - logsumexp(self, axis, keepdims=True)."""
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"log_softmax/softmax: axis must be one int, got {axis!r}")
        ax = one_axis(axis, self.ndim, "log_softmax")
        return ops.LogSoftmax.apply(self, axis=ax if self.ndim else None)  # None: a 0-d tensor

    @torch_names
    def softmax(self, axis: int = -1) -> "Tensor":
        """exp(log_softmax(self, axis))."""
        return self.log_softmax(axis).exp()


# ----- module functions ----------------------------------------------------------------
@torch_names
def sum(t: "Tensor", axis: Any = None, keepdims: bool = False) -> "Tensor":
    """Tensor.sum as a function."""
    return t.sum(axis, keepdims)


@torch_names
def mean(t: "Tensor", axis: Any = None, keepdims: bool = False) -> "Tensor":
    """Tensor.mean as a function."""
    return t.mean(axis, keepdims)


@torch_names
def max(t: "Tensor", axis: Any = None, keepdims: bool = False) -> "Tensor":
    """Tensor.max as a function."""
    return t.max(axis, keepdims)


@torch_names
def min(t: "Tensor", axis: Any = None, keepdims: bool = False) -> "Tensor":
    """Tensor.min as a function."""
    return t.min(axis, keepdims)


@torch_names
def logsumexp(t: "Tensor", axis: Any = None, keepdims: bool = False) -> "Tensor":
    """Tensor.logsumexp as a function."""
    return t.logsumexp(axis, keepdims)


@torch_names
def softmax(t: "Tensor", axis: int = -1) -> "Tensor":
    """Tensor.softmax as a function."""
    return t.softmax(axis)


@torch_names
def log_softmax(t: "Tensor", axis: int = -1) -> "Tensor":
    """Tensor.log_softmax as a function."""
    return t.log_softmax(axis)
