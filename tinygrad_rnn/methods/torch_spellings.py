"""PyTorch's spellings of what the other methods already do (t.clamp is t.clip, t.pow(2) is
t ** 2, t.swapaxes(0, 1) is torch.transpose(t, 0, 1), t.eq(u) is t == u), so code written
for torch runs; each one calls the method or operator it names, which holds the semantics
and the gradient."""
from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_rnn import ops
from tinygrad_rnn._validate import check_choice, norm_axis, one_axis, torch_names


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

    def div(self, other: Any, *, rounding_mode: str | None = None) -> "Tensor":
        """self / other; rounding_mode="trunc" rounds the quotient toward zero and "floor"
        down (self // other), keeping an integer dtype, as torch.div (gradient zero)."""
        if rounding_mode is None:
            return self / other
        check_choice(rounding_mode, "rounding_mode", "div", (None, "trunc", "floor"))
        if rounding_mode == "floor":
            return self // other
        return ops.TruncDiv.apply(*self._pair(other))

    divide = div

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

    # ----- comparisons (bool tensors, no gradient) --------------------------------------
    def eq(self, other: Any) -> "Tensor":
        """self == other."""
        return self == other

    def ne(self, other: Any) -> "Tensor":
        """self != other."""
        return self != other

    def lt(self, other: Any) -> "Tensor":
        """self < other."""
        return self < other

    def le(self, other: Any) -> "Tensor":
        """self <= other."""
        return self <= other

    def gt(self, other: Any) -> "Tensor":
        """self > other."""
        return self > other

    def ge(self, other: Any) -> "Tensor":
        """self >= other."""
        return self >= other

    greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne

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

    def t(self) -> "Tensor":
        """The transpose of a matrix; a tensor of 0 or 1 axes is itself (torch.t)."""
        if self.ndim > 2:
            raise ValueError(f"t() needs a tensor of at most 2 dimensions, got shape "
                             f"{self.shape}; for more use mT (each matrix) or swapaxes")
        return self.transpose() if self.ndim == 2 else self

    def view_as(self, other: Any) -> "Tensor":
        """self reshaped to other's shape (self.view(*other.shape))."""
        return self.view(_shape_of(other, "view_as"))

    def reshape_as(self, other: Any) -> "Tensor":
        """self reshaped to other's shape (self.reshape(*other.shape))."""
        return self.reshape(_shape_of(other, "reshape_as"))

    def type_as(self, other: Any) -> "Tensor":
        """self in other's dtype (itself when that is its own), differentiable between
        floating dtypes."""
        if not isinstance(other, (_tensor.Tensor, np.ndarray)):
            raise TypeError(f"type_as: other must be a Tensor, got {type(other).__name__}")
        return self.to(other.dtype)

    def long(self) -> "Tensor":
        return self.astype(np.int64)

    def int(self) -> "Tensor":
        return self.astype(np.int32)

    def bool(self) -> "Tensor":
        return self.astype(np.bool_)

    def half(self) -> "Tensor":
        return self.astype(np.float16)

    def short(self) -> "Tensor":
        return self.astype(np.int16)

    def char(self) -> "Tensor":
        return self.astype(np.int8)

    def byte(self) -> "Tensor":
        return self.astype(np.uint8)

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
        return self.expand(*_shape_of(other, "expand_as"))

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
        _tensor._read_into_python(fn.__name__ + "()")  # (a result made outside the graph)
        return _tensor.Tensor(np.asarray(fn(self.data, axis=ax, keepdims=keepdims)))


def _shape_of(other: Any, op: str) -> tuple:
    if not isinstance(other, (_tensor.Tensor, np.ndarray)):
        raise TypeError(f"{op}: other must be a Tensor, got {type(other).__name__}")
    return other.shape


def eq(t: Any, other: Any) -> "Tensor":
    """t == other (Tensor.eq as a function)."""
    return t == other


def ne(t: Any, other: Any) -> "Tensor":
    """t != other (Tensor.ne as a function)."""
    return t != other


def lt(t: Any, other: Any) -> "Tensor":
    """t < other (Tensor.lt as a function)."""
    return t < other


def le(t: Any, other: Any) -> "Tensor":
    """t <= other (Tensor.le as a function)."""
    return t <= other


def gt(t: Any, other: Any) -> "Tensor":
    """t > other (Tensor.gt as a function)."""
    return t > other


def ge(t: Any, other: Any) -> "Tensor":
    """t >= other (Tensor.ge as a function)."""
    return t >= other


greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def div(a: Any, b: Any, *, rounding_mode: str | None = None) -> "Tensor":
    """Tensor.div as a function (either side may be a number or an ndarray)."""
    Tensor = _tensor.Tensor
    if isinstance(a, Tensor):
        return a.div(b, rounding_mode=rounding_mode)
    if not isinstance(b, Tensor):
        raise TypeError(f"div: expected a Tensor on at least one side, got "
                        f"{type(a).__name__} and {type(b).__name__}")
    if rounding_mode is None:
        return a / b
    check_choice(rounding_mode, "rounding_mode", "div", (None, "trunc", "floor"))
    if rounding_mode == "floor":
        return a // b
    b, a = b._pair(a)
    return ops.TruncDiv.apply(a, b)


def t(x: "Tensor") -> "Tensor":
    """Tensor.t as a function."""
    return x.t()


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
