"""Linear-algebra Tensor methods: matrix products, einsum, triangles and diagonals."""
from __future__ import annotations

from typing import Any

from tinygrad_rnn import _promotion, ops
from tinygrad_rnn._validate import check_int, one_axis, torch_aliases

_diagonal_names = torch_aliases(("dim1", "axis1"), ("dim2", "axis2"))


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

    def mm(self, other: Any) -> "Tensor":
        """Product of two matrices (n, m) @ (m, p), strictly 2-D, as torch.mm; matmul takes
        other ranks."""
        a, b = self._pair(other)
        if a.ndim != 2 or b.ndim != 2:
            raise ValueError(f"mm: both operands must be matrices (2-D), got shapes {a.shape} "
                             f"and {b.shape}")
        if a.shape[1] != b.shape[0]:
            raise ValueError(f"mm: shapes {a.shape} and {b.shape} cannot be multiplied "
                             f"({a.shape[1]} columns != {b.shape[0]} rows)")
        return ops.MatMul.apply(a, b)

    def dot(self, other: Any) -> "Tensor":
        """The inner product of two 1-D tensors of one length (a 0-d tensor), as torch.dot."""
        a, b = _vectors(self, other, "dot")
        if a.shape != b.shape:
            raise ValueError(f"dot: the vectors have {a.shape[0]} and {b.shape[0]} elements; "
                             f"expected the same number")
        return ops.MatMul.apply(a, b)

    def outer(self, other: Any) -> "Tensor":
        """The outer product of two 1-D tensors: out[i, j] = self[i] * other[j]."""
        a, b = _vectors(self, other, "outer")
        return a.reshape(a.shape[0], 1) * b

    def tril(self, diagonal: int = 0) -> "Tensor":
        """The lower triangle of the last two axes: zero above diagonal `diagonal` (0 the
        main one, > 0 above it, < 0 below), as torch.tril."""
        return ops.Tril.apply(self, diagonal=_triangle(self, diagonal, "tril"))

    def triu(self, diagonal: int = 0) -> "Tensor":
        """The upper triangle of the last two axes: zero below diagonal `diagonal`."""
        return ops.Triu.apply(self, diagonal=_triangle(self, diagonal, "triu"))

    @_diagonal_names
    def diagonal(self, offset: int = 0, axis1: int = 0, axis2: int = 1) -> "Tensor":
        """The diagonal `offset` (> 0 above the main one) of the matrices on axes axis1 and
        axis2, as a last axis (numpy.diagonal, torch.diagonal with dim1=, dim2=)."""
        if self.ndim < 2:
            raise ValueError(f"diagonal: needs a tensor of at least 2 dimensions, got shape "
                             f"{self.shape}")
        offset = check_int(offset, "offset", "diagonal")
        a1, a2 = (one_axis(a, self.ndim, "diagonal") for a in (axis1, axis2))
        if a1 == a2:
            raise ValueError(f"diagonal: axis1 and axis2 are both axis {a1} (got {axis1} and "
                             f"{axis2}); expected two different axes")
        return ops.Diagonal.apply(self, offset=offset, axis1=a1, axis2=a2)


def _vectors(a: "Tensor", b: Any, op: str) -> tuple:
    a, b = a._pair(b)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"{op}: both operands must be 1-D, got shapes {a.shape} and {b.shape}")
    return a, b


def _triangle(t: "Tensor", diagonal: Any, op: str) -> int:
    if t.ndim < 2:
        raise ValueError(f"{op}: needs a tensor of at least 2 dimensions, got shape {t.shape}")
    return check_int(diagonal, "diagonal", op)


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


def mm(a: Any, b: Any) -> "Tensor":
    """Tensor.mm as a function."""
    return _first(a, b).mm(b)


def dot(a: Any, b: Any) -> "Tensor":
    """Tensor.dot as a function."""
    return _first(a, b).dot(b)


def outer(a: Any, b: Any) -> "Tensor":
    """Tensor.outer as a function."""
    return _first(a, b).outer(b)


def _first(a: Any, b: Any) -> "Tensor":
    """a as a Tensor in b's dtype where a is an ndarray (or number) and b a Tensor."""
    if isinstance(a, _tensor.Tensor):
        return a
    if isinstance(b, _tensor.Tensor):
        return b._pair(a)[1]
    return _tensor.Tensor(a)


def tril(t: "Tensor", diagonal: int = 0) -> "Tensor":
    """Tensor.tril as a function."""
    return t.tril(diagonal)


def triu(t: "Tensor", diagonal: int = 0) -> "Tensor":
    """Tensor.triu as a function."""
    return t.triu(diagonal)


@_diagonal_names
def diagonal(t: "Tensor", offset: int = 0, axis1: int = 0, axis2: int = 1) -> "Tensor":
    """Tensor.diagonal as a function."""
    return t.diagonal(offset, axis1, axis2)


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
