"""PyTorch's spellings of what the other methods already do (t.clamp is t.clip, t.pow(2) is
t ** 2, t.swapaxes(0, 1) is torch.transpose(t, 0, 1)), so code written for torch runs; each
one calls the method or operator it names, which holds the semantics and the gradient."""
from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_rnn import ops
from tinygrad_rnn._validate import norm_axis, one_axis, torch_names


class TorchSpellings:
    __slots__ = ()

    # ----- arithmetic -------------------------------------------------------------------
    def add(self, other: Any, alpha: float = 1) -> "Tensor":
        """self + alpha * other."""
        return self + (other if alpha == 1 else self._operand(other) * alpha)

    def sub(self, other: Any, alpha: float = 1) -> "Tensor":
        """self - alpha * other."""
        return self - (other if alpha == 1 else self._operand(other) * alpha)

    def mul(self, other: Any) -> "Tensor":
        return self * other

    def div(self, other: Any) -> "Tensor":
        return self / other

    def pow(self, exponent: Any) -> "Tensor":
        return self ** exponent

    def neg(self) -> "Tensor":
        return -self

    def remainder(self, other: Any) -> "Tensor":
        return self % other

    def floor_divide(self, other: Any) -> "Tensor":
        return self // other

    def clamp(self, min: float | None = None, max: float | None = None) -> "Tensor":
        """clip(min, max) under PyTorch's name."""
        return self.clip(min, max)

    # ----- shape, dtype, copies ---------------------------------------------------------
    def swapaxes(self, axis0: int, axis1: int) -> "Tensor":
        """The two axes exchanged (torch.transpose(t, a, b), numpy.swapaxes); transpose
        itself takes a whole permutation, as NumPy's."""
        a = one_axis(axis0, self.ndim, "swapaxes")
        b = one_axis(axis1, self.ndim, "swapaxes")
        if not self.ndim:  # (axis 0 or -1 of a 0-d tensor: itself, as in PyTorch)
            return self
        axes = list(range(self.ndim))
        axes[a], axes[b] = axes[b], axes[a]
        return self.permute(*axes)

    def clone(self) -> "Tensor":
        """A copy of the data that stays in the graph (the gradient passes through)."""
        return self.astype(self.dtype)

    def to(self, dtype: Any) -> "Tensor":
        """self as `dtype` (differentiable between floating dtypes); "cpu" is itself."""
        if isinstance(dtype, str) and dtype == "cpu" or np.dtype(dtype) == self.dtype:
            return self  # (as in PyTorch: no copy when nothing changes)
        return self.astype(dtype)

    def long(self) -> "Tensor":
        return self.astype(np.int64)

    def int(self) -> "Tensor":
        return self.astype(np.int32)

    def bool(self) -> "Tensor":
        return self.astype(np.bool_)

    def half(self) -> "Tensor":
        return self.astype(np.float16)

    @property
    def mT(self) -> "Tensor":
        """The last two axes exchanged (a stack of matrices, each transposed)."""
        if self.ndim < 2:
            raise ValueError(f"mT needs at least 2 axes, got a tensor of shape {self.shape}")
        return self.swapaxes(-2, -1)

    @property
    def H(self) -> "Tensor":
        """The conjugate transpose of a matrix: for real values its transpose (2-D only, as
        torch's; mT transposes each matrix of a stack)."""
        if self.ndim != 2:
            raise ValueError(f"H needs a matrix (a 2-D tensor), got a tensor of shape "
                             f"{self.shape}; for a stack of matrices use mT")
        return self.swapaxes(0, 1)

    def expand_as(self, other: Any) -> "Tensor":
        """self expanded to other's shape (self.expand(*other.shape))."""
        if not isinstance(other, (_tensor.Tensor, np.ndarray)):
            raise TypeError(f"expand_as: other must be a Tensor, got {type(other).__name__}")
        return self.expand(*other.shape)

    def moveaxis(self, source: Any, destination: Any) -> "Tensor":
        """movedim under NumPy's name (torch has both)."""
        return self.movedim(source, destination)

    def contiguous(self) -> "Tensor":
        """Itself where its data is C-contiguous, else a contiguous copy (in the graph)."""
        if self.data.flags.c_contiguous:
            return self
        return ops.AsType.apply(self, dtype=self.dtype, order="C")

    @torch_names
    def amax(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        """max over `axis` (ties share the gradient equally, as torch.amax; axis=() is every
        axis, as there). Every axis is named, never None: a NaN maximum then gives
        every element a NaN gradient, as torch.amax (max() over all axes sends it to the NaNs)."""
        if axis is None or axis == ():
            axis = tuple(range(self.ndim))
        return self.max(axis, keepdims)

    @torch_names
    def amin(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        """min over `axis` (ties share the gradient equally, as torch.amin; axis=() is every
        axis, as there). Every axis is named, never None: a NaN minimum then gives
        every element a NaN gradient, as torch.amin (min() over all axes sends it to the NaNs)."""
        if axis is None or axis == ():
            axis = tuple(range(self.ndim))
        return self.min(axis, keepdims)

    def numel(self) -> int:
        """The number of elements (the `size` attribute)."""
        return self.size

    def dim(self) -> int:
        """The number of axes (the `ndim` attribute)."""
        return self.ndim

    def tolist(self) -> Any:
        """The values as nested Python lists (outside the graph)."""
        return self.numpy().tolist()

    # ----- logical reductions (no gradient) ---------------------------------------------
    @torch_names
    def all(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        """Whether every element (along axis, an int or a tuple) is nonzero: a boolean
        tensor."""
        return self._truth(np.all, axis, keepdims)

    @torch_names
    def any(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        """Whether some element (along axis, an int or a tuple) is nonzero: a boolean
        tensor."""
        return self._truth(np.any, axis, keepdims)

    def _truth(self, fn: Any, axis: Any, keepdims: bool) -> "Tensor":
        ax = norm_axis(axis, self.ndim, fn.__name__)
        return _tensor.Tensor(np.asarray(fn(self.data, axis=ax, keepdims=keepdims)))


@torch_names
def amax(t: "Tensor", axis: Any = None, keepdims: bool = False) -> "Tensor":
    """Tensor.amax as a function."""
    return t.amax(axis, keepdims)


@torch_names
def amin(t: "Tensor", axis: Any = None, keepdims: bool = False) -> "Tensor":
    """Tensor.amin as a function."""
    return t.amin(axis, keepdims)


def moveaxis(t: "Tensor", source: Any, destination: Any) -> "Tensor":
    """Tensor.moveaxis as a function."""
    return t.moveaxis(source, destination)


from tinygrad_rnn import tensor as _tensor  # noqa: E402  (resolved at call time)
