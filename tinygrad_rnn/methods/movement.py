"""Movement Tensor methods: shapes, axes, joining and splitting, without arithmetic."""
from __future__ import annotations

import builtins
from typing import Any, Iterable, Sequence

from tinygrad_rnn import ops


def _shape_args(shape: Sequence) -> tuple:
    """reshape(2, 3) and reshape((2, 3)) alike."""
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) \
        else tuple(shape)


class MovementMethods:
    __slots__ = ()

    @property
    def T(self) -> "Tensor":
        """The transpose (all axes reversed)."""
        return self.transpose()

    def reshape(self, *shape: Any) -> "Tensor":
        """The same elements in a new shape (one axis may be -1)."""
        return ops.Reshape.apply(self, shape=_shape_args(shape))

    def transpose(self, *axes: Any) -> "Tensor":
        """Axes permuted (reversed when none are given), as numpy.transpose."""
        axes = _shape_args(axes)
        if axes and sorted(a % builtins.max(self.ndim, 1) for a in axes) != list(range(self.ndim)):
            raise ValueError(f"transpose: axes {axes} are not a permutation of {self.ndim} axes")
        return ops.Transpose.apply(self, axes=axes or None)


# ----- module functions ----------------------------------------------------------------
def _tensors(tensors: Iterable[Any], op: str) -> list:
    Tensor = _tensor.Tensor
    ts = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not ts:
        raise ValueError(f"{op} needs at least one tensor")
    return ts


def reshape(t: "Tensor", *shape: Any) -> "Tensor":
    """Tensor.reshape as a function."""
    return t.reshape(*shape)


def transpose(t: "Tensor", *axes: Any) -> "Tensor":
    """Tensor.transpose as a function."""
    return t.transpose(*axes)


def concatenate(tensors: Iterable[Any], axis: int = 0) -> "Tensor":
    """Join tensors along an existing axis."""
    return ops.Concatenate.apply(*_tensors(tensors, "concatenate"), axis=axis)


def stack(tensors: Iterable[Any], axis: int = 0) -> "Tensor":
    """Join tensors of one shape along a new axis."""
    return ops.Stack.apply(*_tensors(tensors, "stack"), axis=axis)


def broadcast_to(t: "Tensor", shape: Sequence[int]) -> "Tensor":
    """t repeated along broadcast axes to `shape`; the gradient sums back."""
    return ops.BroadcastTo.apply(t, shape=tuple(shape))


from tinygrad_rnn import tensor as _tensor  # noqa: E402  (resolved at call time)
