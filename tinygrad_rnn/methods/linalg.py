"""Linear-algebra Tensor methods: matrix products and einsum."""
from __future__ import annotations

from typing import Any

from tinygrad_rnn import _validate, ops


class LinalgMethods:
    __slots__ = ()

    def matmul(self, other: Any) -> "Tensor":
        """Matrix product with NumPy's rules (1-D, batched, broadcast); two tensors must share
        one dtype (as in PyTorch), an ndarray or a number promotes as with the operators."""
        if isinstance(other, self.__class__):
            return ops.MatMul.apply(*same_dtype("matmul", self, other))
        return ops.MatMul.apply(*self._pair(other))

    def bmm(self, other: Any) -> "Tensor":
        """Batched matrix product (b, n, m) @ (b, m, p) -> (b, n, p), strictly 3-D with equal
        batch sizes (no broadcasting), as torch.bmm; matmul broadcasts."""
        if not isinstance(other, self.__class__):
            self, other = self._pair(other)
        a, b = self.shape, other.shape
        if len(a) != 3 or len(b) != 3:
            raise ValueError(f"bmm: both operands must be 3-D (batch, n, m) and (batch, m, p), "
                             f"got shapes {a} and {b}")
        if a[0] != b[0]:
            raise ValueError(f"bmm: batch sizes differ: shapes {a} and {b} (bmm does not "
                             f"broadcast; use matmul)")
        if a[2] != b[1]:
            raise ValueError(f"bmm: shapes {a} and {b} do not match: {a[2]} (last axis of the "
                             f"first) != {b[1]} (middle axis of the second)")
        return ops.MatMul.apply(*same_dtype("bmm", self, other))


def same_dtype(op: str, *tensors: Any) -> tuple:
    """The operands of a product, which must share one dtype, as in PyTorch (NumPy would
    promote, say float32 @ float64 to float64, and an int64 operand to float64)."""
    for k, t in enumerate(tensors[1:], 1):
        if t.dtype != tensors[0].dtype:
            raise _validate.dtype_mismatch(op, f"operand {k}", t.dtype, tensors[0].dtype,
                                           "operand 0 has")
    return tensors


# ----- module functions ----------------------------------------------------------------
def matmul(a: Any, b: Any) -> "Tensor":
    """Tensor.matmul as a function."""
    return (a if isinstance(a, _tensor.Tensor) else _tensor.Tensor(a)).matmul(b)


def bmm(a: Any, b: Any) -> "Tensor":
    """Tensor.bmm as a function."""
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
    return ops.Einsum.apply(*same_dtype("einsum", *tensors), subscripts=subscripts)


from tinygrad_rnn import tensor as _tensor  # noqa: E402  (resolved at call time)
