"""Linear-algebra Tensor methods: matrix products and einsum."""
from __future__ import annotations

from typing import Any

from tinygrad_rnn import _promotion, ops


class LinalgMethods:
    __slots__ = ()

    def matmul(self, other: Any) -> "Tensor":
        """Matrix product with NumPy's rules (1-D, batched, broadcast); operands of two dtypes
        promote as with the other operators (int64 @ float32 is float32, float32 @ float64
        float64; PyTorch would refuse both)."""
        return ops.MatMul.apply(*self._pair(other))

    def bmm(self, other: Any) -> "Tensor":
        """Batched matrix product (b, n, m) @ (b, m, p) -> (b, n, p), strictly 3-D with equal
        batch sizes (no broadcasting), as torch.bmm; matmul broadcasts."""
        a, b = self._pair(other)
        if a.ndim != 3 or b.ndim != 3:
            raise ValueError(f"bmm: both operands must be 3-D (batch, n, m) and (batch, m, p), "
                             f"got shapes {a.shape} and {b.shape}")
        if a.shape[0] != b.shape[0]:
            raise ValueError(f"bmm: batch sizes differ: shapes {a.shape} and {b.shape} (bmm "
                             f"does not broadcast; use matmul)")
        if a.shape[2] != b.shape[1]:
            raise ValueError(f"bmm: shapes {a.shape} and {b.shape} do not match: {a.shape[2]} "
                             f"(last axis of the first) != {b.shape[1]} (middle axis of the "
                             f"second)")
        return ops.MatMul.apply(a, b)


# ----- module functions ----------------------------------------------------------------
def matmul(a: Any, b: Any) -> "Tensor":
    """Tensor.matmul as a function (an ndarray on either side promotes as with `@`)."""
    if not isinstance(a, _tensor.Tensor) and isinstance(b, _tensor.Tensor):
        return b.__rmatmul__(a)
    return (a if isinstance(a, _tensor.Tensor) else _tensor.Tensor(a)).matmul(b)


def bmm(a: Any, b: Any) -> "Tensor":
    """Tensor.bmm as a function."""
    if not isinstance(a, _tensor.Tensor) and isinstance(b, _tensor.Tensor):
        b2, a2 = b._pair(a)
        return a2.bmm(b2)
    return (a if isinstance(a, _tensor.Tensor) else _tensor.Tensor(a)).bmm(b)


def einsum(subscripts: str, *tensors: Any) -> "Tensor":
    """Einstein summation over the operands, as numpy.einsum / torch.einsum, differentiable.

    Explicit ('ij,jk->ik') and implicit ('ij,jk': the indices seen once, sorted) outputs,
    '...' for broadcast leading axes, an index summed in only one operand ('ij->i'), and a
    repeated index inside one operand for its diagonal ('ii->i', 'ii' the trace). The
    operands may also come as one list, as in torch.einsum('ij,jk', [a, b]).
    """
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if not tensors:
        raise ValueError("einsum: needs at least one tensor after the subscripts")
    tensors = [t if isinstance(t, _tensor.Tensor) else _tensor.Tensor(t) for t in tensors]
    return ops.Einsum.apply(*_promotion.promoted(*tensors, zero_d_weak=False),
                            subscripts=subscripts)


from tinygrad_rnn import tensor as _tensor  # noqa: E402  (resolved at call time)
