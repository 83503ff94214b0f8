"""Tensor methods that pick or place by an integer index or a mask: gather, index_select,
scatter_add, index_add, masked_fill (no gradient flows into an index).

`dim=` is accepted as an alias of `axis=`, as PyTorch spells it.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_rnn import function, ops
from tinygrad_rnn._validate import check_number, one_axis, torch_names
from tinygrad_rnn.methods.movement import fill_value


def _index_array(index: Any, op: str) -> np.ndarray:
    """An integer index (Tensor, ndarray or list) as an ndarray; no gradient flows into it."""
    arr = index.data if isinstance(index, _tensor.Tensor) else np.asarray(index)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{op}: index must hold integers, got dtype {arr.dtype} "
                        f"(build it with np.array(..., dtype=np.int64))")
    return arr


def _check_range(index: np.ndarray, n: int, axis: int, op: str) -> None:
    if index.size and (index.min() < -n or index.max() >= n):
        raise IndexError(f"{op}: index values must be in [-{n}, {n}) for axis {axis} of size "
                         f"{n}, got min {index.min()}, max {index.max()}")


def _scale(alpha: Any, dtype: np.dtype, op: str) -> Any:
    """alpha as a number for a tensor of dtype: an integer for an integer tensor."""
    alpha = check_number(alpha, "alpha", op)
    if dtype.kind in "biu":
        if not alpha.is_integer():
            raise TypeError(f"{op}: alpha must be an integer for a tensor of dtype {dtype}, "
                            f"got {alpha}")
        return int(alpha)
    return alpha


class IndexingMethods:
    __slots__ = ()

    @torch_names
    def gather(self, axis: int, index: Any) -> "Tensor":
        """out[i][j] = self[index[i][j]][j] for axis 0 (likewise for any axis), as torch.gather
        and np.take_along_axis: index has self's ndim and is no larger on other axes. The
        gradient scatter-adds, so repeated indices accumulate."""
        idx = _index_array(index, "gather")
        ax = one_axis(axis, self.ndim, "gather")
        if idx.ndim != self.ndim:
            raise ValueError(f"gather: index must have as many dimensions as the input, got "
                             f"index shape {idx.shape} for input shape {self.shape}")
        if any(i > n for d, (i, n) in enumerate(zip(idx.shape, self.shape)) if d != ax):
            raise ValueError(f"gather: index shape {idx.shape} must be no larger than input "
                             f"shape {self.shape} on every axis but {ax}")
        if self.ndim == 0:  # a 0-d tensor gathers as one of shape (1,)
            return self.reshape(1).gather(0, idx.reshape(1)).reshape(())
        _check_range(idx, self.shape[ax], ax, "gather")
        return ops.Gather.apply(self, index=idx, axis=ax)

    @torch_names
    def index_select(self, axis: int, index: Any) -> "Tensor":
        """The entries at a 1-D integer `index` along `axis` (repeats allowed; their gradients
        accumulate)."""
        idx = _index_array(index, "index_select")
        ax = one_axis(axis, self.ndim, "index_select")
        if idx.ndim > 1:
            raise ValueError(f"index_select: index must be 1-D, got shape {idx.shape}")
        if self.ndim == 0:  # as in PyTorch: one index value, a 0-d result
            if idx.size != 1:
                raise ValueError(f"index_select: a 0-d tensor takes one index value, got "
                                 f"{idx.size}")
            return self.reshape(1).index_select(0, idx.reshape(1)).reshape(())
        _check_range(idx, self.shape[ax], ax, "index_select")
        return ops.IndexSelect.apply(self, index=idx.reshape(-1), axis=ax)

    @torch_names
    def scatter_add(self, axis: int, index: Any, src: Any) -> "Tensor":
        """self with src[i][j] added at [index[i][j]][j] for axis 0 (likewise for any axis),
        out of place, as torch.scatter_add: index has self's ndim and is no larger than src
        on every axis, nor than self off `axis`; repeated indices accumulate. self's
        gradient passes through; src's is the result's, gathered at index."""
        idx = _index_array(index, "scatter_add")
        src = self._operand(src)
        ax = one_axis(axis, self.ndim, "scatter_add")
        if src.dtype != self.dtype:
            raise TypeError(f"scatter_add: src has dtype {src.dtype} but self {self.dtype} "
                            f"(they must be the same); convert src with .astype")
        if not idx.ndim == self.ndim == src.ndim:
            raise ValueError(f"scatter_add: index must have as many dimensions as self "
                             f"({self.ndim}) and src ({src.ndim}), got index shape {idx.shape}")
        if any(i > n for i, n in zip(idx.shape, src.shape)) or any(
                i > n for d, (i, n) in enumerate(zip(idx.shape, self.shape)) if d != ax):
            raise ValueError(f"scatter_add: index shape {idx.shape} must be no larger than "
                             f"src shape {src.shape} on every axis, and than self's shape "
                             f"{self.shape} on every axis but {ax}")
        if self.ndim == 0:  # as one of shape (1,)
            return self.reshape(1).scatter_add(0, idx.reshape(1), src.reshape(1)).reshape(())
        _check_range(idx, self.shape[ax], ax, "scatter_add")
        return ops.ScatterAdd.apply(self, src, index=idx, axis=ax)

    @torch_names
    def index_add(self, axis: int, index: Any, source: Any, alpha: float = 1) -> "Tensor":
        """self with alpha * source[i] added at entry index[i] along `axis` (repeats
        accumulate), out of place, as torch.index_add: source has self's shape but
        len(index) entries on `axis`. self's gradient passes through; source's is alpha
        times the result's at index."""
        idx = _index_array(index, "index_add")
        source = self._operand(source)
        ax = one_axis(axis, self.ndim, "index_add")
        if idx.ndim > 1:
            raise ValueError(f"index_add: index must be 0-d or 1-D, got shape {idx.shape}")
        idx = idx.reshape(-1)
        if self.ndim == 0:  # as one of shape (1,)
            return self.reshape(1).index_add(0, idx, source.reshape(-1), alpha).reshape(())
        want = self.shape[:ax] + (idx.size,) + self.shape[ax + 1:]
        if source.shape != want:
            raise ValueError(f"index_add: source shape {source.shape} must match self's shape "
                             f"{self.shape} on every axis but {ax}, and have {idx.size} "
                             f"entries (one per index) on it")
        alpha = _scale(alpha, self.dtype, "index_add")
        _check_range(idx, self.shape[ax], ax, "index_add")
        # scatter_add with the index repeated across the other axes: one op for both
        index = np.broadcast_to(idx.reshape([-1 if d == ax else 1 for d in range(self.ndim)]),
                                want)
        return self.scatter_add(ax, index, source if alpha == 1 else source * alpha)

    def masked_fill(self, mask: Any, value: Any) -> "Tensor":
        """`value` where the boolean `mask` (broadcast with self) is true, self elsewhere;
        value is a number or a 0-d Tensor (which then gets the masked part of the gradient),
        cast to self's dtype as in PyTorch (2.7 into an integer tensor is 2)."""
        Tensor = _tensor.Tensor
        m = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
        if m.dtype != bool:
            raise TypeError(f"masked_fill: mask must be boolean, got dtype {m.dtype}")
        try:
            np.broadcast_shapes(m.shape, self.shape)
        except ValueError:
            raise ValueError(f"masked_fill: mask shape {m.shape} does not broadcast with input "
                             f"shape {self.shape}") from None
        if isinstance(value, Tensor):
            if value.ndim != 0:
                raise ValueError(f"masked_fill: value must be a number or a 0-d tensor, got a "
                                 f"tensor of shape {value.shape}")
            if value.dtype != self.dtype:
                value = value.astype(self.dtype)
        elif not isinstance(value, (int, float, np.number, np.bool_)):
            raise TypeError(f"masked_fill: value must be a number or a 0-d tensor, got "
                            f"{type(value).__name__}")
        else:
            value = function.as_number(fill_value(value, self.dtype, "masked_fill"))
        return ops.Where.apply(mask if isinstance(mask, Tensor) else Tensor(m), value, self)


# ----- module functions ----------------------------------------------------------------
@torch_names
def gather(t: "Tensor", axis: int, index: Any) -> "Tensor":
    """Tensor.gather as a function."""
    return t.gather(axis, index)


@torch_names
def scatter_add(t: "Tensor", axis: int, index: Any, src: Any) -> "Tensor":
    """Tensor.scatter_add as a function."""
    return t.scatter_add(axis, index, src)


@torch_names
def index_add(t: "Tensor", axis: int, index: Any, source: Any, alpha: float = 1) -> "Tensor":
    """Tensor.index_add as a function."""
    return t.index_add(axis, index, source, alpha)


@torch_names
def index_select(t: "Tensor", axis: int, index: Any) -> "Tensor":
    """Tensor.index_select as a function."""
    return t.index_select(axis, index)


def masked_fill(t: "Tensor", mask: Any, value: Any) -> "Tensor":
    """Tensor.masked_fill as a function."""
    return t.masked_fill(mask, value)


from tinygrad_rnn import tensor as _tensor  # noqa: E402  (resolved at call time)
