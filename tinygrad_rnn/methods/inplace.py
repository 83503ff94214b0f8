"""In-place Tensor methods: `add_ sub_ mul_ div_ zero_ fill_ copy_ clamp_ masked_fill_`,
`+= -= *= /=` and `t[index] = value`.

They change `.data` in place (the tensor keeps its identity) and are not recorded in the
graph. As in PyTorch, a tensor that requires grad may be changed in place only inside
`no_grad()` (`with no_grad(): p -= lr * p.grad`). Each change bumps the tensor's version, so
a later backward through an op that saved the old values raises instead of silently using
the new ones.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_rnn import function
from tinygrad_rnn._validate import require_writeable
from tinygrad_rnn.methods.movement import fill_value


class InplaceMethods:
    __slots__ = ()

    def _check_inplace(self, op: str, other: Any = None) -> None:
        if function.observer is not None:  # e.g. a step being recorded: it cannot be
            function.observer.modify(op)   # replayed, and must not change anything yet
        if not self.data.flags.writeable:
            require_writeable(self.data, op)
        if not function.is_grad_enabled():
            return
        if self.requires_grad:
            what = "a leaf tensor" if self._ctx is None else "a tensor"
            raise RuntimeError(
                f"{op}: {what} that requires grad (shape {self.shape}) cannot be changed in "
                f"place while the graph is recorded; do it inside `with no_grad():` (as an "
                f"optimizer step does), or compute a new tensor (x = x + y)")
        if isinstance(other, _tensor.Tensor) and other.requires_grad:
            raise RuntimeError(
                f"{op}: the operand requires grad, but an in-place op is not recorded in the "
                f"graph, so no gradient would reach it; compute a new tensor instead "
                f"(x = x + y)")

    def _update(self, op: str, ufunc: Any, other: Any) -> "Tensor":
        self._check_inplace(op, other)
        b = self._operand(other).data  # a number as the operators take it (ints wrap)
        try:
            ufunc(self.data, b, out=self.data)
        except ValueError:
            raise ValueError(f"{op}: an operand of shape {np.shape(b)} does not broadcast to "
                             f"this tensor's shape {self.shape}") from None
        except TypeError:  # numpy's casting error: e.g. a float into an integer tensor
            raise TypeError(f"{op}: cannot store the result (dtype "
                            f"{ufunc(self.data.flat[:1], np.asarray(b).flat[:1]).dtype}) in "
                            f"this tensor of dtype {self.dtype} in place; compute a new tensor "
                            f"(e.g. t = t / 2) or convert first (t.float())") from None
        function.mark_modified(self)
        return self

    def add_(self, other: Any, alpha: float = 1) -> "Tensor":
        """self += alpha * other, in place."""
        return self._update("add_", np.add, other if alpha == 1 else _scaled(other, alpha))

    def sub_(self, other: Any, alpha: float = 1) -> "Tensor":
        """self -= alpha * other, in place."""
        return self._update("sub_", np.subtract, other if alpha == 1 else _scaled(other, alpha))

    def mul_(self, other: Any) -> "Tensor":
        """self *= other, in place."""
        return self._update("mul_", np.multiply, other)

    def div_(self, other: Any) -> "Tensor":
        """self /= other, in place."""
        return self._update("div_", np.divide, other)

    def clamp_(self, min: float | None = None, max: float | None = None) -> "Tensor":
        """self limited to [min, max], in place."""
        if min is None and max is None:
            raise ValueError("clamp_ needs at least one of min and max")
        self._check_inplace("clamp_")
        lo, hi = (b.data if isinstance(b, _tensor.Tensor) else b for b in (min, max))
        try:
            np.clip(self.data, lo, hi, out=self.data)
        except TypeError:  # numpy's casting error: float bounds on an integer tensor
            raise TypeError(f"clamp_: bounds {min!r}, {max!r} give a result that this tensor "
                            f"of dtype {self.dtype} cannot hold in place; clamp a float copy "
                            f"(t.float().clamp_(...)) or use integer bounds") from None
        except ValueError:
            raise ValueError(f"clamp_: bounds of shapes {np.shape(lo)}, {np.shape(hi)} do "
                             f"not broadcast to this tensor's shape {self.shape}") from None
        function.mark_modified(self)
        return self

    def fill_(self, value: Any) -> "Tensor":
        """Every element set to value (a number or a 0-d tensor), in place; a value the
        dtype cannot hold (1e300 into float32) is refused, as in masked_fill_."""
        self._check_inplace("fill_", value)
        v = value.data if isinstance(value, _tensor.Tensor) else np.asarray(value)
        if v.ndim:
            raise ValueError(f"fill_: value must be a number or a 0-d tensor, got shape "
                             f"{v.shape}; to copy values in, use copy_")
        self.data[...] = fill_value(v, self.dtype, "fill_")
        function.mark_modified(self)
        return self

    def masked_fill_(self, mask: Any, value: Any) -> "Tensor":
        """`value` written where the boolean `mask` (broadcast to this shape) is true, in
        place; the value is cast to this tensor's dtype, as masked_fill does."""
        self._check_inplace("masked_fill_", value)
        m = mask.data if isinstance(mask, _tensor.Tensor) else np.asarray(mask)
        if m.dtype != bool:
            raise TypeError(f"masked_fill_: mask must be boolean, got dtype {m.dtype}")
        v = value.data if isinstance(value, _tensor.Tensor) else np.asarray(value)
        if v.ndim:
            raise ValueError(f"masked_fill_: value must be a number or a 0-d tensor, got shape "
                             f"{v.shape}")
        v = fill_value(v, self.dtype, "masked_fill_")
        try:
            np.copyto(self.data, v, where=np.broadcast_to(m, self.shape))
        except ValueError:
            raise ValueError(f"masked_fill_: mask shape {m.shape} does not broadcast to this "
                             f"tensor's shape {self.shape}") from None
        function.mark_modified(self)
        return self

    def zero_(self) -> "Tensor":
        """Every element set to 0, in place."""
        return self.fill_(0)

    def copy_(self, src: Any) -> "Tensor":
        """src's values (broadcast to this shape, cast to this dtype) copied in, in place."""
        self._check_inplace("copy_", src)
        b = src.data if isinstance(src, _tensor.Tensor) else np.asarray(src)
        try:
            np.copyto(self.data, b, casting="unsafe")
        except ValueError:
            raise ValueError(f"copy_: source of shape {b.shape} does not broadcast to this "
                             f"tensor's shape {self.shape}") from None
        function.mark_modified(self)
        return self

    def __iadd__(self, other: Any) -> "Tensor":
        return self._update("+=", np.add, other)

    def __isub__(self, other: Any) -> "Tensor":
        return self._update("-=", np.subtract, other)

    def __imul__(self, other: Any) -> "Tensor":
        return self._update("*=", np.multiply, other)

    def __itruediv__(self, other: Any) -> "Tensor":
        return self._update("/=", np.divide, other)

    def __setitem__(self, index: Any, value: Any) -> None:
        """t[index] = value, in place, on a tensor that does not require grad (or inside
        no_grad()). To build a new value differentiably use where / masked_fill."""
        if self.requires_grad and function.is_grad_enabled():
            raise RuntimeError(
                f"t[index] = value is not supported on a tensor that requires grad (shape "
                f"{self.shape}): it would not be recorded in the graph. Build the new tensor "
                f"with where(mask, value, t) or masked_fill, or assign inside no_grad()")
        self._check_inplace("setitem", value)
        v = value.data if isinstance(value, _tensor.Tensor) else value
        index = _tensor._index_arrays(index)
        split = _tensor.integers_first(index)  # (PyTorch's layout, as t[index] reads it)
        target = self.data if split is None else self.data[split[0]]  # (a view)
        try:
            target[index if split is None else split[1]] = v
        except IndexError as e:
            raise IndexError(f"setitem: index {index!r} is invalid for shape {self.shape}: "
                             f"{e}") from None
        except ValueError as e:
            raise ValueError(f"setitem: value of shape {np.shape(v)} does not fit the "
                             f"selection of a tensor of shape {self.shape}: {e}") from None
        function.mark_modified(self)


def _scaled(other: Any, alpha: float) -> Any:
    return (other.data if isinstance(other, _tensor.Tensor) else np.asarray(other)) * alpha


from tinygrad_rnn import tensor as _tensor  # noqa: E402  (resolved at call time)
