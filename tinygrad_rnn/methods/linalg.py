"""Linear-algebra Tensor methods: matrix products."""
from __future__ import annotations

from typing import Any

from tinygrad_rnn import ops


class LinalgMethods:
    __slots__ = ()

    def matmul(self, other: Any) -> "Tensor":
        """Matrix product with NumPy's rules (1-D, batched, broadcast)."""
        return ops.MatMul.apply(self, other if other.__class__ is self.__class__
                                else self._operand(other))


# ----- module functions ----------------------------------------------------------------
def matmul(a: Any, b: Any) -> "Tensor":
    """Tensor.matmul as a function."""
    return (a if isinstance(a, _tensor.Tensor) else _tensor.Tensor(a)).matmul(b)


from tinygrad_rnn import tensor as _tensor  # noqa: E402  (resolved at call time)
