"""Tensor: an ndarray, its gradient, and the Function that made it.

Operators and methods are written out one by one; each calls a Function from `ops`.
"""
from __future__ import annotations

import builtins
from typing import Any, Iterable, Sequence

import numpy as np

from tinygrad_rnn import autograd, ops

_DEFAULT_DTYPE = np.float32
_rng = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed the generator behind `randn`, `rand`, dropout and the default initialisations."""
    global _rng
    _rng = np.random.default_rng(seed)


def get_rng() -> np.random.Generator:
    """The generator used for random tensors, dropout masks and initialisation."""
    return _rng


def _unwrap(items: Any) -> Any:
    """A nested list with the arrays of any Tensors inside it, for np.asarray."""
    if isinstance(items, Tensor):
        return items.data
    if isinstance(items, (list, tuple)):
        return [_unwrap(i) for i in items]
    return items


def _as_array(data: Any, dtype: Any) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, np.ndarray):
        return data if dtype is None else data.astype(dtype, copy=False)
    if isinstance(data, np.generic):
        return np.asarray(data, dtype=dtype)
    if isinstance(data, (list, tuple)):
        data = _unwrap(data)
    if isinstance(data, (bool, int, float, list, tuple)):
        try:
            return np.asarray(data, dtype=_DEFAULT_DTYPE if dtype is None else dtype)
        except (ValueError, TypeError) as e:
            raise ValueError(f"Tensor data: cannot make an array from this nested list ({e}); "
                             "expected numbers in lists of equal lengths") from None
    raise TypeError(
        f"Tensor data must be an ndarray, a Python number or a nested list, got {type(data).__name__}"
    )


class Tensor:
    """An n-dimensional array that can record the operations applied to it.

    `data` is a NumPy array. Floating arrays keep their dtype; Python numbers and lists become
    float32. With `requires_grad=True`, results of operations on this tensor remember the
    Function that made them (`_ctx`) so that `backward()` can compute gradients.
    """

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "__weakref__")
    __array_ufunc__ = None  # ndarray (op) Tensor defers to Tensor's reflected operator

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None):
        self.data = _as_array(data, dtype)
        if self.data.dtype.kind not in "biuf":
            raise TypeError(f"Tensor data must be numeric (bool, integer or floating), got "
                            f"dtype {self.data.dtype}")
        if requires_grad and not np.issubdtype(self.data.dtype, np.floating):
            raise TypeError(
                f"only floating-point tensors can require grad, got dtype {self.data.dtype}"
            )
        self.requires_grad = bool(requires_grad)
        self.grad: Tensor | None = None
        self._ctx = None

    # ----- attributes -------------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user rather than by an op."""
        return self._ctx is None

    @property
    def T(self) -> "Tensor":
        """The transpose (all axes reversed)."""
        return self.transpose()

    def numpy(self) -> np.ndarray:
        """The underlying ndarray (not a copy)."""
        return self.data

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor of one element, got shape {self.shape}")
        return self.data.item()

    def detach(self) -> "Tensor":
        """The same data, cut from the graph (requires_grad=False)."""
        return Tensor(self.data)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        op = f", grad_fn={type(self._ctx).__name__}" if self._ctx is not None else ""
        rg = ", requires_grad=True" if self.requires_grad and self._ctx is None else ""
        body = np.array2string(self.data, precision=4, separator=", ", threshold=20)
        return f"tensor({body}, shape={self.shape}, dtype={self.dtype}{rg}{op})"

    __hash__ = object.__hash__

    # ----- autograd ---------------------------------------------------------------------
    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into `.grad` of every leaf that requires grad."""
        autograd.backward(self, grad, retain_graph=retain_graph)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Set requires_grad in place (leaves only) and return self."""
        if requires_grad and not np.issubdtype(self.dtype, np.floating):
            raise TypeError(f"only floating-point tensors can require grad, got dtype {self.dtype}")
        self.requires_grad = requires_grad
        return self

    def zero_grad(self) -> None:
        self.grad = None

    # ----- operands ---------------------------------------------------------------------
    def _operand(self, other: Any) -> "Tensor":
        """Python numbers take this tensor's floating dtype, as a weak scalar does in NumPy."""
        if isinstance(other, Tensor):
            return other
        floating = self.data.dtype.kind == "f"
        if isinstance(other, (int, float, bool)) and floating:
            return Tensor(np.asarray(other, dtype=self.dtype))
        other = other if isinstance(other, np.ndarray) else np.asarray(other)
        if floating and other.dtype.kind in "biu":
            other = other.astype(self.dtype)  # integers never widen a float tensor (as PyTorch)
        return Tensor(other)

    # ----- arithmetic -------------------------------------------------------------------
    def __add__(self, other: Any) -> "Tensor":
        return ops.Add.apply(self, other if other.__class__ is Tensor else self._operand(other))

    def __radd__(self, other: Any) -> "Tensor":
        return ops.Add.apply(self._operand(other), self)

    def __sub__(self, other: Any) -> "Tensor":
        return ops.Sub.apply(self, other if other.__class__ is Tensor else self._operand(other))

    def __rsub__(self, other: Any) -> "Tensor":
        return ops.Sub.apply(self._operand(other), self)

    def __mul__(self, other: Any) -> "Tensor":
        return ops.Mul.apply(self, other if other.__class__ is Tensor else self._operand(other))

    def __rmul__(self, other: Any) -> "Tensor":
        return ops.Mul.apply(self._operand(other), self)

    def __truediv__(self, other: Any) -> "Tensor":
        return ops.Div.apply(self, other if other.__class__ is Tensor else self._operand(other))

    def __rtruediv__(self, other: Any) -> "Tensor":
        return ops.Div.apply(self._operand(other), self)

    def __pow__(self, other: Any) -> "Tensor":
        return ops.Pow.apply(self, other if other.__class__ is Tensor else self._operand(other))

    def __rpow__(self, other: Any) -> "Tensor":
        return ops.Pow.apply(self._operand(other), self)

    def __matmul__(self, other: Any) -> "Tensor":
        return ops.MatMul.apply(self, other if other.__class__ is Tensor else self._operand(other))

    def __rmatmul__(self, other: Any) -> "Tensor":
        return ops.MatMul.apply(self._operand(other), self)

    def __neg__(self) -> "Tensor":
        return ops.Neg.apply(self)

    def __getitem__(self, index: Any) -> "Tensor":
        return ops.GetItem.apply(self, index=_index_arrays(index))

    # ----- comparisons: boolean results, outside the graph ------------------------------
    def _compare(self, other: Any, ufunc: np.ufunc) -> "Tensor":
        b = self._operand(other).data
        try:
            return Tensor(ufunc(self.data, b))
        except ValueError:
            raise ValueError(f"{ufunc.__name__}: shapes {self.shape} and {b.shape} do not "
                             f"broadcast together") from None

    def __abs__(self) -> "Tensor":
        return self.abs()

    def __pos__(self) -> "Tensor":
        return self

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """np.asarray(t) gives the data (outside the graph)."""
        return self.data if dtype is None else self.data.astype(dtype)

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError(f"the truth value of a tensor of shape {self.shape} is ambiguous: "
                               "only one-element tensors convert to bool (use .any() on .data "
                               "or compare .item())")
        return bool(self.data)

    def __lt__(self, other: Any) -> "Tensor":
        return self._compare(other, np.less)

    def __le__(self, other: Any) -> "Tensor":
        return self._compare(other, np.less_equal)

    def __gt__(self, other: Any) -> "Tensor":
        return self._compare(other, np.greater)

    def __ge__(self, other: Any) -> "Tensor":
        return self._compare(other, np.greater_equal)

    def __eq__(self, other: Any) -> "Tensor":  # type: ignore[override]
        return self._compare(other, np.equal)

    def __ne__(self, other: Any) -> "Tensor":  # type: ignore[override]
        return self._compare(other, np.not_equal)

    # ----- elementwise ------------------------------------------------------------------
    def exp(self) -> "Tensor":
        """e ** self."""
        return ops.Exp.apply(self)

    def log(self) -> "Tensor":
        """Natural logarithm."""
        return ops.Log.apply(self)

    def sqrt(self) -> "Tensor":
        """Square root."""
        return ops.Sqrt.apply(self)

    def abs(self) -> "Tensor":
        """Absolute value (gradient 0 at 0)."""
        return ops.Abs.apply(self)

    def tanh(self) -> "Tensor":
        """Hyperbolic tangent."""
        return ops.Tanh.apply(self)

    def sigmoid(self) -> "Tensor":
        """1 / (1 + exp(-self)), without overflow for any finite input."""
        return ops.Sigmoid.apply(self)

    def relu(self) -> "Tensor":
        """max(self, 0) (gradient 0 at 0)."""
        return ops.ReLU.apply(self)

    def clip(self, min: float | None = None, max: float | None = None) -> "Tensor":
        """Values limited to [min, max]; the gradient passes where min <= x <= max."""
        if min is None and max is None:
            raise ValueError("clip needs at least one of min and max")
        return ops.Clip.apply(self, min=min, max=max)

    def astype(self, dtype: Any) -> "Tensor":
        """A copy in another dtype; differentiable between floating dtypes."""
        return ops.AsType.apply(self, dtype=np.dtype(dtype))

    def double(self) -> "Tensor":
        return self.astype(np.float64)

    def float(self) -> "Tensor":
        return self.astype(np.float32)

    # ----- reductions -------------------------------------------------------------------
    def sum(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        """Sum over `axis` (all axes when None)."""
        return ops.Sum.apply(self, axis=_norm_axis(axis, self.ndim, "sum"), keepdims=keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        """Mean over `axis`: the sum divided by the number of elements reduced."""
        ax = _norm_axis(axis, self.ndim, "mean")
        n = int(np.prod([self.shape[a] for a in ax])) if ax is not None else self.size
        return ops.Sum.apply(self, axis=ax, keepdims=keepdims) * (1.0 / n if n else np.nan)

    def max(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        """Maximum over `axis`; the gradient goes to the arg-max, ties share it equally."""
        return ops.Max.apply(self, axis=_norm_axis(axis, self.ndim, "max"), keepdims=keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        """Minimum over `axis`; the gradient goes to the arg-min, ties share it equally."""
        return ops.Min.apply(self, axis=_norm_axis(axis, self.ndim, "min"), keepdims=keepdims)

    def logsumexp(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        """log(sum(exp(self), axis)), shifted by the max so it never overflows."""
        return ops.LogSumExp.apply(
            self, axis=_norm_axis(axis, self.ndim, "logsumexp"), keepdims=keepdims
        )

    def log_softmax(self, axis: int = -1) -> "Tensor":
        """self - logsumexp(self, axis, keepdims=True)."""
        if not isinstance(axis, (int, np.integer)):
            raise TypeError(f"log_softmax/softmax: axis must be one int, got {axis!r}")
        ax = _norm_axis(axis, self.ndim, "log_softmax")
        return ops.LogSoftmax.apply(self, axis=ax[0] if ax else None)  # None: a 0-d tensor

    def softmax(self, axis: int = -1) -> "Tensor":
        """exp(log_softmax(self, axis))."""
        return self.log_softmax(axis).exp()

    # ----- movement ---------------------------------------------------------------------
    def reshape(self, *shape: Any) -> "Tensor":
        """The same elements in a new shape (one axis may be -1)."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return ops.Reshape.apply(self, shape=shape)

    def transpose(self, *axes: Any) -> "Tensor":
        """Axes permuted (reversed when none are given), as numpy.transpose."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        if axes and sorted(a % builtins.max(self.ndim, 1) for a in axes) != list(range(self.ndim)):
            raise ValueError(f"transpose: axes {axes} are not a permutation of {self.ndim} axes")
        return ops.Transpose.apply(self, axes=axes or None)

    def matmul(self, other: Any) -> "Tensor":
        """Matrix product with NumPy's rules (1-D, batched, broadcast)."""
        return ops.MatMul.apply(self, other if other.__class__ is Tensor else self._operand(other))


def _index_arrays(index: Any) -> Any:
    """Replace Tensors inside an index by their arrays."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _norm_axis(axis: Any, ndim: int, op: str) -> tuple | None:
    """Axis (int, tuple or None) as a sorted tuple of non-negative ints, checked."""
    if axis is None:
        return None
    if isinstance(axis, (int, np.integer)):
        axes = (axis,)
    elif isinstance(axis, (tuple, list)) and all(isinstance(a, (int, np.integer)) for a in axis):
        axes = tuple(axis)
    else:
        raise TypeError(f"{op}: axis must be None, an int or a tuple of ints, got {axis!r}")
    out = []
    for a in axes:
        if not -builtins.max(ndim, 1) <= a < builtins.max(ndim, 1) or (ndim == 0 and a not in (0, -1)):
            raise ValueError(f"{op}: axis {a} is out of range for a tensor of {ndim} dimensions")
        out.append(int(a) % builtins.max(ndim, 1))
    if ndim == 0:
        return ()
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(out))


# ----- module functions ----------------------------------------------------------------
def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Same as Tensor(data, requires_grad, dtype)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def _shape(shape: Sequence) -> tuple:
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else tuple(shape)


def zeros(*shape: Any, dtype: Any = _DEFAULT_DTYPE, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(_shape(shape), dtype=dtype), requires_grad=requires_grad)


def ones(*shape: Any, dtype: Any = _DEFAULT_DTYPE, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(_shape(shape), dtype=dtype), requires_grad=requires_grad)


def randn(*shape: Any, dtype: Any = _DEFAULT_DTYPE, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from the generator seeded by `manual_seed`."""
    return Tensor(_rng.standard_normal(_shape(shape)).astype(dtype), requires_grad=requires_grad)


def rand(*shape: Any, dtype: Any = _DEFAULT_DTYPE, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) from the generator seeded by `manual_seed`."""
    return Tensor(_rng.random(_shape(shape)).astype(dtype), requires_grad=requires_grad)


def zeros_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(t.shape, dtype=dtype or t.dtype), requires_grad=requires_grad)


def ones_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(t.shape, dtype=dtype or t.dtype), requires_grad=requires_grad)


def arange(start: float, stop: float | None = None, step: float = 1, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:
    """Evenly spaced values as numpy.arange: int64 for integer arguments (as PyTorch),
    float32 otherwise, unless a dtype is given."""
    arr = np.arange(start, stop, step) if stop is not None else np.arange(start)
    if dtype is None:
        dtype = np.int64 if arr.dtype.kind in "iu" else _DEFAULT_DTYPE
    return Tensor(arr.astype(dtype), requires_grad=requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = _DEFAULT_DTYPE,
        requires_grad: bool = False) -> Tensor:
    return Tensor(np.eye(n, m, dtype=dtype), requires_grad=requires_grad)


def _tensors(tensors: Iterable[Any], op: str) -> list:
    ts = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not ts:
        raise ValueError(f"{op} needs at least one tensor")
    return ts


def concatenate(tensors: Iterable[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    ts = _tensors(tensors, "concatenate")
    return ops.Concatenate.apply(*ts, axis=axis)


def stack(tensors: Iterable[Any], axis: int = 0) -> Tensor:
    """Join tensors of one shape along a new axis."""
    ts = _tensors(tensors, "stack")
    return ops.Stack.apply(*ts, axis=axis)


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """a where cond is true, b elsewhere (broadcast); cond gets no gradient."""
    c = cond.data if isinstance(cond, Tensor) else np.asarray(cond)
    if isinstance(a, Tensor):  # a Python number on the other side takes the tensor's dtype
        b = a._operand(b)
    elif isinstance(b, Tensor):
        a = b._operand(a)
    return ops.Where.apply(Tensor(c.astype(bool)), a, b)


def broadcast_to(t: Tensor, shape: Sequence[int]) -> Tensor:
    """t repeated along broadcast axes to `shape`; the gradient sums back."""
    return ops.BroadcastTo.apply(t, shape=tuple(shape))


def exp(t: Tensor) -> Tensor:
    """Tensor.exp as a function."""
    return t.exp()


def log(t: Tensor) -> Tensor:
    """Tensor.log as a function."""
    return t.log()


def sqrt(t: Tensor) -> Tensor:
    """Tensor.sqrt as a function."""
    return t.sqrt()


def abs(t: Tensor) -> Tensor:
    """Tensor.abs as a function."""
    return t.abs()


def tanh(t: Tensor) -> Tensor:
    """Tensor.tanh as a function."""
    return t.tanh()


def sigmoid(t: Tensor) -> Tensor:
    """Tensor.sigmoid as a function."""
    return t.sigmoid()


def relu(t: Tensor) -> Tensor:
    """Tensor.relu as a function."""
    return t.relu()


def clip(t: Tensor, min: float | None = None, max: float | None = None) -> Tensor:
    """Tensor.clip as a function."""
    return t.clip(min, max)


def sum(t: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Tensor.sum as a function."""
    return t.sum(axis, keepdims)


def mean(t: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Tensor.mean as a function."""
    return t.mean(axis, keepdims)


def max(t: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Tensor.max as a function."""
    return t.max(axis, keepdims)


def min(t: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Tensor.min as a function."""
    return t.min(axis, keepdims)


def logsumexp(t: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Tensor.logsumexp as a function."""
    return t.logsumexp(axis, keepdims)


def softmax(t: Tensor, axis: int = -1) -> Tensor:
    """Tensor.softmax as a function."""
    return t.softmax(axis)


def log_softmax(t: Tensor, axis: int = -1) -> Tensor:
    """Tensor.log_softmax as a function."""
    return t.log_softmax(axis)


def reshape(t: Tensor, *shape: Any) -> Tensor:
    """Tensor.reshape as a function."""
    return t.reshape(*shape)


def transpose(t: Tensor, *axes: Any) -> Tensor:
    """Tensor.transpose as a function."""
    return t.transpose(*axes)


def matmul(a: Tensor, b: Any) -> Tensor:
    """Tensor.matmul as a function."""
    return (a if isinstance(a, Tensor) else Tensor(a)).matmul(b)
