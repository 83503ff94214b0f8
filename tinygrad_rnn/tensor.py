"""Tensor: an ndarray, its gradient, and the Function that made it.

Operators and methods are written out one by one; each calls a Function from `ops`.
"""
from __future__ import annotations

import builtins
from typing import Any, Iterable, Sequence

import numpy as np

from tinygrad_rnn import _promotion, autograd, function, ops
from tinygrad_rnn._validate import check_number
from tinygrad_rnn.methods.elementwise import ElementwiseMethods
from tinygrad_rnn.methods.inplace import InplaceMethods
from tinygrad_rnn.methods.linalg import LinalgMethods
from tinygrad_rnn.methods.indexing import IndexingMethods
from tinygrad_rnn.methods.movement import MovementMethods, fill_value
from tinygrad_rnn.methods.reduce import ReduceMethods
from tinygrad_rnn.methods.torch_spellings import TorchSpellings

_DEFAULT_DTYPE = np.float32
# the operators' fast path: bound applies, one lookup fewer per op
_ADD, _SUB, _MUL, _DIV = ops.Add.apply, ops.Sub.apply, ops.Mul.apply, ops.Div.apply
_rng = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed the generator behind `randn`, `rand`, dropout and the default initialisations."""
    global _rng
    _rng = np.random.default_rng(seed)


def get_rng() -> np.random.Generator:
    """The generator used for random tensors, dropout masks and initialisation."""
    return _rng


def _unwrap(items: Any) -> Any:
    """A nested list with the arrays of any Tensors inside it, for np.asarray; a Tensor that
    requires grad is an error (the new tensor would silently cut its gradient)."""
    if isinstance(items, Tensor):
        if items.requires_grad and function.is_grad_enabled():
            raise TypeError(f"Tensor data: a list holds a tensor of shape {items.shape} that "
                            f"requires grad, and a tensor made from it would pass no gradient "
                            f"back; join tensors with tg.stack([...]) or tg.cat([...]) (or "
                            f".detach() them to mean constants)")
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


class Tensor(ElementwiseMethods, ReduceMethods, MovementMethods, IndexingMethods, LinalgMethods,
             InplaceMethods, TorchSpellings):
    """An n-dimensional array that can record the operations applied to it.

    `data` is a NumPy array. Floating arrays keep their dtype; Python numbers and lists become
    float32. With `requires_grad=True`, results of operations on this tensor remember the
    Function that made them (`_ctx`) so that `backward()` can compute gradients.
    """

    __slots__ = ("data", "_grad", "requires_grad", "_ctx", "__weakref__")
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
        self._grad: Tensor | None = None
        self._ctx = None

    # ----- attributes -------------------------------------------------------------------
    @property
    def grad(self) -> "Tensor | None":
        """The gradient a backward accumulated (a Tensor of this shape), or None."""
        return self._grad

    @grad.setter
    def grad(self, value: "Tensor | None") -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"grad must be a Tensor or None, got {type(value).__name__} "
                                f"(wrap an array as Tensor(array))")
            if value.shape != self.shape:
                raise ValueError(f"grad of shape {value.shape} does not fit this tensor of "
                                 f"shape {self.shape}")
        self._grad = value

    @grad.deleter
    def grad(self) -> None:
        self._grad = None

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

    def numpy(self) -> np.ndarray:
        """The underlying ndarray (not a copy)."""
        _read_into_python("numpy()")
        return self.data

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        _read_into_python("item()")
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor of one element, got shape {self.shape}")
        return self.data.item()

    def detach(self) -> "Tensor":
        """The same data, cut from the graph (requires_grad=False)."""
        if function.observer is None:  # nothing records ops: no node to make either way
            return Tensor(self.data)
        return ops.Detach.apply(self)

    @staticmethod
    def from_numpy(array: np.ndarray) -> "Tensor":
        """A tensor sharing memory with `array` (changes to one show in the other)."""
        if not isinstance(array, np.ndarray):
            raise TypeError(f"from_numpy: expected an ndarray, got {type(array).__name__}")
        return Tensor(array)

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
    def backward(self, grad: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs: Any = None, *,
                 gradient: Any = None) -> None:
        """Accumulate d(self)/d(leaf) into `.grad` of every leaf that requires grad (with
        `inputs`: of those tensors only). PyTorch's keyword `gradient=` names `grad`."""
        if gradient is not None:
            if grad is not None:
                raise TypeError("backward() got the gradient twice (positionally and as "
                                "gradient=); pass one")
            grad = gradient
        autograd.backward(self, grad, retain_graph, create_graph, inputs)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Set requires_grad in place (leaves only) and return self."""
        if requires_grad and not np.issubdtype(self.dtype, np.floating):
            raise TypeError(f"only floating-point tensors can require grad, got dtype {self.dtype}")
        self.requires_grad = requires_grad
        return self

    def zero_grad(self) -> None:
        self.grad = None

    def register_hook(self, fn: Any) -> Any:
        """fn(grad) -> Tensor | None runs when the gradient with respect to this tensor has
        been fully accumulated, before it flows further; a returned Tensor replaces it.
        Returns a handle with remove()."""
        return autograd.register_hook(self, fn)

    def retain_grad(self) -> None:
        """Keep .grad on this tensor although an op made it (leaves always keep theirs)."""
        autograd.retain_grad(self)

    # ----- operands ---------------------------------------------------------------------
    def _operand(self, other: Any, wrap_ints: bool = True) -> "Tensor":
        """Python numbers take this tensor's floating dtype, as a weak scalar does in NumPy;
        an integer with an integer tensor its dtype (wrapping, as in PyTorch) unless
        wrap_ints=False (a division, which takes the number's own value); lists become
        arrays as the Tensor constructor makes them (floats as float32)."""
        if isinstance(other, Tensor):
            return other
        floating = self.data.dtype.kind == "f"
        if isinstance(other, (int, float, bool, np.generic)):  # a number or NumPy scalar
            if floating:
                return function.as_number(other, self.dtype)
            if isinstance(other, (float, np.floating)):  # with an integer or bool tensor:
                return function.as_number(other, _DEFAULT_DTYPE)  # the default float
            if wrap_ints and self.data.dtype.kind in "iu" and not isinstance(
                    other, (bool, np.bool_)):
                return function.as_number(np.asarray(other).astype(self.dtype))
            return function.as_number(other)
        if isinstance(other, (list, tuple)) and any(isinstance(o, Tensor) for o in other):
            raise TypeError(f"an operand is a {type(other).__name__} of tensors; join them "
                            f"into one first (tg.stack(...) or tg.cat(...)), or take the "
                            f"element you meant")
        if not isinstance(other, np.ndarray):  # a list: its floats as float32 (the
            other = np.asarray(other)              # constructor's rule), its ints as ints
            if other.dtype == np.float64:
                other = other.astype(_DEFAULT_DTYPE)
        if floating and other.dtype.kind in "biu":
            other = other.astype(self.dtype)  # integers never widen a float tensor (as PyTorch)
        return Tensor(other)

    def _pair(self, other: Any) -> tuple:
        """(self, other as a Tensor), both in the dtype the operator computes in (an integer
        tensor with a Python float: float32, as in PyTorch, not float64)."""
        if isinstance(other, np.ndarray):  # an array, 0-d or not, promotes as one with
            return _promotion.promoted(self, self._operand(other), zero_d_weak=False)  # dims
        return _promoted(self, self._operand(other))

    # ----- arithmetic -------------------------------------------------------------------
    def __add__(self, other: Any) -> "Tensor":
        if other.__class__ is Tensor:
            if self.data.dtype is not other.data.dtype:  # (the fast path skips the call)
                return _ADD(*_promoted(self, other))
            return _ADD(self, other)
        return ops.Add.apply(*self._pair(other))

    def __radd__(self, other: Any) -> "Tensor":
        a, b = self._pair(other)
        return ops.Add.apply(b, a)

    def __sub__(self, other: Any) -> "Tensor":
        if other.__class__ is Tensor:
            if self.data.dtype is not other.data.dtype:  # (the fast path skips the call)
                return _SUB(*_promoted(self, other))
            return _SUB(self, other)
        return ops.Sub.apply(*self._pair(other))

    def __rsub__(self, other: Any) -> "Tensor":
        a, b = self._pair(other)
        return ops.Sub.apply(b, a)

    def __mul__(self, other: Any) -> "Tensor":
        if other.__class__ is Tensor:
            if self.data.dtype is not other.data.dtype:  # (the fast path skips the call)
                return _MUL(*_promoted(self, other))
            return _MUL(self, other)
        return ops.Mul.apply(*self._pair(other))

    def __rmul__(self, other: Any) -> "Tensor":
        a, b = self._pair(other)
        return ops.Mul.apply(b, a)

    def __truediv__(self, other: Any) -> "Tensor":
        if other.__class__ is Tensor:
            return _DIV(*_divided(self, other))
        return ops.Div.apply(*_divided(self, self._operand(other, wrap_ints=False),
                                       not isinstance(other, np.ndarray)))

    def __rtruediv__(self, other: Any) -> "Tensor":
        return ops.Div.apply(*_divided(self._operand(other, wrap_ints=False), self,
                                       not isinstance(other, np.ndarray)))

    def __floordiv__(self, other: Any) -> "Tensor":
        return ops.FloorDiv.apply(*self._pair(other))

    def __rfloordiv__(self, other: Any) -> "Tensor":
        a, b = self._pair(other)
        return ops.FloorDiv.apply(b, a)

    def __mod__(self, other: Any) -> "Tensor":
        return ops.Remainder.apply(*self._pair(other))

    def __rmod__(self, other: Any) -> "Tensor":
        a, b = self._pair(other)
        return ops.Remainder.apply(b, a)

    def __divmod__(self, other: Any) -> tuple:
        return self // other, self % other

    def __rdivmod__(self, other: Any) -> tuple:
        return other // self, other % self

    def __pow__(self, other: Any) -> "Tensor":
        if other.__class__ is Tensor:
            return ops.Pow.apply(*_promoted(self, other))
        if isinstance(other, (int, np.integer)) and not isinstance(other, (bool, np.bool_)) \
                and other < 0 and self.dtype.kind in "iub":  # (uint8 would wrap it to 253)
            raise ValueError(f"pow: an integer tensor ({self.dtype}) to a negative integer "
                             f"power ({other}) is not allowed, as in PyTorch; convert it "
                             f"first, e.g. t.float() ** {other}")
        return ops.Pow.apply(*self._pair(other))

    def __rpow__(self, other: Any) -> "Tensor":
        a, b = self._pair(other)
        return ops.Pow.apply(b, a)

    def __matmul__(self, other: Any) -> "Tensor":
        if isinstance(other, Tensor) and self.data.dtype is other.data.dtype:
            return ops.MatMul.apply(self, other)
        return self.matmul(other)

    def __rmatmul__(self, other: Any) -> "Tensor":
        a, b = self._pair(other)
        return ops.MatMul.apply(b, a)

    def __neg__(self) -> "Tensor":
        return ops.Neg.apply(self)

    def __getitem__(self, index: Any) -> "Tensor":
        index = _index_arrays(index)
        split = integers_first(index)
        if split is not None:  # PyTorch's layout: the integers select first
            return ops.GetItem.apply(ops.GetItem.apply(self, index=split[0]), index=split[1])
        return ops.GetItem.apply(self, index=index)

    # ----- comparisons: boolean results, outside the graph ------------------------------
    def _compare(self, other: Any, ufunc: np.ufunc) -> Any:
        if other is None:  # t == None is False and t != None is True, as in PyTorch
            return ufunc is np.not_equal
        a, b = _promoted(self, self._operand(other))
        try:
            return logical(ufunc, a, b)
        except ValueError:
            raise ValueError(f"{ufunc.__name__}: shapes {self.shape} and {b.shape} do not "
                             f"broadcast together") from None

    def _bitwise(self, other: Any, ufunc: np.ufunc, symbol: str, swap: bool = False) -> "Tensor":
        """a & b, a | b, a ^ b of bool or integer tensors (no gradient), as PyTorch."""
        a, b = _promoted(self, self._operand(other))
        for t in (a, b):
            if t.data.dtype.kind not in "biu":
                raise TypeError(f"{symbol} needs bool or integer tensors, got {t.dtype}; "
                                f"compare first, e.g. (x > 0) {symbol} (x < 1)")
        if swap:
            a, b = b, a
        try:
            return logical(ufunc, a, b)
        except ValueError:
            raise ValueError(f"{symbol}: shapes {a.shape} and {b.shape} do not broadcast "
                             f"together") from None

    def __and__(self, other: Any) -> "Tensor":
        return self._bitwise(other, np.bitwise_and, "&")

    def __rand__(self, other: Any) -> "Tensor":
        return self._bitwise(other, np.bitwise_and, "&", swap=True)

    def __or__(self, other: Any) -> "Tensor":
        return self._bitwise(other, np.bitwise_or, "|")

    def __ror__(self, other: Any) -> "Tensor":
        return self._bitwise(other, np.bitwise_or, "|", swap=True)

    def __xor__(self, other: Any) -> "Tensor":
        return self._bitwise(other, np.bitwise_xor, "^")

    def __rxor__(self, other: Any) -> "Tensor":
        return self._bitwise(other, np.bitwise_xor, "^", swap=True)

    def __invert__(self) -> "Tensor":
        """~t: logical not of a bool tensor, bitwise not of an integer one (no gradient)."""
        if self.data.dtype.kind not in "biu":
            raise TypeError(f"~ needs a bool or integer tensor, got {self.dtype}; for a mask "
                            f"use a comparison, e.g. ~(x > 0)")
        return logical(np.invert, self)

    def __abs__(self) -> "Tensor":
        return self.abs()

    def __pos__(self) -> "Tensor":
        return self

    def __float__(self) -> float:
        _read_into_python("float()")
        return float(self.item())

    def __int__(self) -> int:
        _read_into_python("int()")
        return int(self.item())

    def __format__(self, spec: str) -> str:
        """f"{t:.3f}" formats a 0-d tensor's value, as PyTorch; other specs need one value."""
        if not spec:
            return str(self)
        if self.ndim:
            raise TypeError(f"a format spec ({spec!r}) needs a 0-d tensor, got shape "
                            f"{self.shape}; format t.item() or an element")
        _read_into_python("format()")
        return format(self.item(), spec)

    def __round__(self, ndigits: int | None = None) -> Any:
        """round(t) of a 0-d tensor: its value rounded (a Python number, as round gives)."""
        if self.ndim:
            raise TypeError(f"round() needs a 0-d tensor, got shape {self.shape}; use "
                            f"np.round(t.data) for an array")
        _read_into_python("round()")
        return round(self.item(), ndigits)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """np.asarray(t) gives the data (outside the graph)."""
        _read_into_python("np.asarray()")
        return self.data if dtype is None else self.data.astype(dtype)

    def __bool__(self) -> bool:
        _read_into_python("bool()")
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


class OutputTensor(Tensor):
    """One of the outputs of a Function with several (the engine finds its slot by class)."""

    __slots__ = ()


def logical(ufunc: np.ufunc, *tensors: "Tensor") -> "Tensor":
    """ufunc (a comparison, logical or bitwise one) of the tensors' arrays: a bool or integer
    tensor without a gradient. The op `Logical` when something records ops (a recurrent step
    being compiled, the profiler), so that the recording sees it; the plain call otherwise
    (its result never makes a graph node: 2 us less per call)."""
    if function.observer is None:
        return Tensor(ufunc(*[t.data for t in tensors]))
    return ops.Logical.apply(*tensors, ufunc=ufunc)


def _promoted(a: "Tensor", b: "Tensor") -> tuple:
    """(a, b) cast to the dtype a binary operator computes in: PyTorch's promotion (a float
    with an integer keeps the float's dtype, a 0-d tensor does not widen one with
    dimensions; tinygrad_rnn._promotion)."""
    if a.data.dtype is b.data.dtype:
        return a, b
    return _promotion.promoted(a, b)


def _divided(a: "Tensor", b: "Tensor", zero_d_weak: bool = True) -> tuple:
    """(a, b) for a true division: where the operands would promote to an integer or bool
    dtype, each one's own values as the default float dtype (3 / uint8(-2) is -1.5), as in
    PyTorch (NumPy gives float64); else the promoted operands."""
    if a.data.dtype is b.data.dtype and a.data.dtype.kind == "f":
        return a, b
    if _promotion.result_dtype(a.data, b.data, zero_d_weak=zero_d_weak).kind in "biu":
        return tuple(t if t.data.dtype == _DEFAULT_DTYPE else t.astype(_DEFAULT_DTYPE)
                     for t in (a, b))
    return _promotion.promoted(a, b, zero_d_weak=zero_d_weak)


def _read_into_python(how: str) -> None:
    """A value leaves the graph (a step being recorded for the compiled path is then not
    static): observers are told."""
    obs = function.observer
    if obs is not None:
        obs.read(how)


def _index_arrays(index: Any) -> Any:
    """Replace Tensors inside an index by their arrays (the same objects: a recurrent step
    that indexes with an array from outside stays the same program at every step; an index
    tensor changed in place before backward is caught there, see _check_saved_unchanged)."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    if isinstance(index, list):  # (an empty list selects nothing: integer, not float64)
        return np.asarray(index) if index else np.empty(0, dtype=np.intp)
    return index


def integers_first(index: Any) -> tuple | None:
    """(the integers, the rest) of an index that has integers beside index arrays, else None.

    PyTorch takes an integer as a selection of one position before it looks at the index
    arrays; NumPy counts it as one more index array, which moves the arrays' axes to the
    front wherever a slice stands between them (x[0, :, idx] of a (2, 3, 4) x: (3, len(idx))
    in PyTorch, (len(idx), 3) in NumPy). So such an index is applied in two steps, each of
    which means the same in both: the integers (a basic index, a view), then the rest."""
    if not isinstance(index, tuple):
        return None
    for i in index:  # (the common index, slices and integers only, leaves here quickly)
        if i.__class__ is np.ndarray or i.__class__ is list or i.__class__ is tuple:
            break
    else:
        return None

    def is_int(i: Any) -> bool:  # (a 0-d integer array or tensor is an integer to torch)
        if isinstance(i, np.ndarray):
            return i.ndim == 0 and i.dtype.kind in "iu"
        return isinstance(i, (int, np.integer)) and not isinstance(i, (bool, np.bool_))

    def is_array(i: Any) -> bool:  # (a list or tuple inside the index is one too)
        return isinstance(i, (np.ndarray, list, tuple)) and np.ndim(i) >= 1
    if not (any(is_int(i) for i in index) and any(is_array(i) for i in index)):
        return None
    first: list = []
    rest: list = []
    for i in index:
        if is_int(i):
            first.append(int(i))
        elif isinstance(i, (bool, np.bool_)) or isinstance(i, np.ndarray) and i.ndim == 0:
            rest.append(i)  # a boolean scalar: an index array of its own, taking no axis
        elif i is None:  # a new axis now, taken whole by the second step
            first.append(None)
            rest.append(slice(None))
        elif i is Ellipsis:
            first.append(Ellipsis)
            rest.append(Ellipsis)
        else:
            axes = np.ndim(i) if is_array(i) and np.asarray(i).dtype == bool else 1
            first.extend([slice(None)] * axes)
            rest.append(i)
    return tuple(first), tuple(rest)


# ----- module functions ----------------------------------------------------------------
def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """A new tensor holding a copy of data (as torch.tensor); Tensor(ndarray) and
    Tensor.from_numpy share the array instead."""
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, np.ndarray):
        data = data.copy()
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def _shape(shape: Sequence) -> tuple:
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else tuple(shape)


def zeros(*shape: Any, dtype: Any = _DEFAULT_DTYPE, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(_shape(shape), dtype=dtype), requires_grad=requires_grad)


def ones(*shape: Any, dtype: Any = _DEFAULT_DTYPE, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(_shape(shape), dtype=dtype), requires_grad=requires_grad)


def randn(*shape: Any, dtype: Any = _DEFAULT_DTYPE, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from the generator seeded by `manual_seed`."""
    dtype = _floating_dtype(dtype, "randn")
    return Tensor(_rng.standard_normal(_shape(shape)).astype(dtype), requires_grad=requires_grad)


def rand(*shape: Any, dtype: Any = _DEFAULT_DTYPE, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) from the generator seeded by `manual_seed`."""
    dtype = _floating_dtype(dtype, "rand")
    return Tensor(_rng.random(_shape(shape)).astype(dtype), requires_grad=requires_grad)


def _floating_dtype(dtype: Any, op: str) -> np.dtype:
    """dtype, which must be floating: real-valued samples do not fit an integer (PyTorch
    refuses them too; randint draws integers)."""
    d = np.dtype(dtype)
    if d.kind != "f":
        raise TypeError(f"{op}: dtype must be floating, got {d}; for integers use randint")
    return d


def zeros_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(t.shape, dtype=dtype or t.dtype), requires_grad=requires_grad)


def ones_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(t.shape, dtype=dtype or t.dtype), requires_grad=requires_grad)


def full_like(t: Tensor, value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of t's shape filled with `value`, in t's dtype unless one is given (2.7 into
    an integer tensor is 2, as torch.full_like; a value the dtype cannot hold is refused)."""
    dtype = t.dtype if dtype is None else np.dtype(dtype)
    return Tensor(np.full(t.shape, fill_value(value, dtype, "full_like"), dtype=dtype),
                  requires_grad=requires_grad)


def empty(*shape: Any, dtype: Any = _DEFAULT_DTYPE, requires_grad: bool = False) -> Tensor:
    """A tensor of `shape` whose values are not to be relied on (zeros here), as torch.empty."""
    return zeros(*shape, dtype=dtype, requires_grad=requires_grad)


def empty_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of t's shape and dtype (or `dtype`) whose values are not to be relied on."""
    return zeros_like(t, dtype=dtype, requires_grad=requires_grad)


def arange(start: float, stop: float | None = None, step: float = 1, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:
    """start, start + step, ... up to stop (excluded), as torch.arange: int64 for integer
    arguments, float32 otherwise, unless a dtype is given. Each value is start + i * step
    (NumPy steps by a rounded difference, some ulps off); an integer dtype truncates start,
    stop and step to integers first, as PyTorch does (arange(-1.5, 3, dtype=int64) is
    [-1, 0, 1, 2])."""
    if stop is None:
        start, stop = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, stop, step)]
    vals = [int(v) if isinstance(v, (bool, np.bool_)) else v for v in vals]
    for name, v in zip(("start", "end", "step"), vals):
        check_number(v, name, "arange")
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in vals)
        dtype = np.int64 if ints else _DEFAULT_DTYPE
    dtype = np.dtype(dtype)
    d0, d1, dstep = (float(v) for v in vals)  # PyTorch checks the bounds in double
    if dstep == 0:
        raise ValueError("arange: step must be nonzero")
    if not (np.isfinite(d0) and np.isfinite(d1)):
        raise ValueError(f"arange: start and end must be finite, got {d0} and {d1}")
    if not (dstep > 0 and d1 >= d0 or dstep < 0 and d1 <= d0):
        raise ValueError(f"arange: end {d1} is on the wrong side of start {d0} for step "
                         f"{dstep}; expected end >= start for a positive step, end <= start "
                         f"for a negative one")
    if dtype.kind in "biu":
        s, e, st = (int(v) for v in vals)  # (truncated toward zero, as C++'s cast)
        if dtype == np.int64:  # PyTorch counts in int64 for int64, in double otherwise
            if st == 0:
                raise ValueError(f"arange: step must be nonzero, got {step}, which is 0 as "
                                 f"an integer for dtype int64")
            n = (e - s + st - (1 if st > 0 else -1)) // st
        else:
            n = int(np.ceil((d1 - d0) / dstep))
        arr = (s + st * np.arange(builtins.max(n, 0), dtype=np.int64)).astype(dtype)
    else:
        n = int(np.ceil((d1 - d0) / dstep))
        arr = (d0 + dstep * np.arange(n, dtype=np.float64)).astype(dtype)
    return Tensor(arr, requires_grad=requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = _DEFAULT_DTYPE,
        requires_grad: bool = False) -> Tensor:
    return Tensor(np.eye(n, m, dtype=dtype), requires_grad=requires_grad)


def full(shape: Any, value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of `shape` filled with `value`: float32 unless a dtype is given (an int value
    gives int64 and a bool gives bool, as in PyTorch)."""
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if dtype is None:
        dtype = (np.bool_ if isinstance(value, (bool, np.bool_)) else
                 np.int64 if isinstance(value, (int, np.integer)) else _DEFAULT_DTYPE)
    return Tensor(np.full(shape, value, dtype=dtype), requires_grad=requires_grad)


def linspace(start: float, stop: float, num: int, dtype: Any = _DEFAULT_DTYPE,
             requires_grad: bool = False) -> Tensor:
    """`num` evenly spaced values from start to stop, both included (float32 by default), as
    torch.linspace: the first half counts up from start and the second down from stop, in
    the dtype's own precision; an integer dtype truncates start and stop to integers, then
    each value (torch.linspace(0.65, 11, 8, dtype=int64) is [0, 1, 3, 4, 6, 7, 9, 11]; NumPy's
    values cast afterwards gave [0, 2, 3, 5, 6, 8, 9, 11])."""
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 0:
        raise ValueError(f"linspace: num must be a non-negative int, got {num!r}")
    start, stop = (v.item() if isinstance(v, Tensor) else v for v in (start, stop))
    check_number(start, "start", "linspace")
    check_number(stop, "end", "linspace")
    dtype, num = np.dtype(dtype), int(num)
    if dtype.kind in "biu":  # the ends as integers, the step and the values in double
        lo, hi, calc = np.float64(int(start)), np.float64(int(stop)), np.float64
    else:
        lo, hi, calc = dtype.type(start), dtype.type(stop), dtype.type
    if num == 1:
        values = np.full(1, lo)
    else:
        i = np.arange(num).astype(calc)
        step = (hi - lo) / calc(num - 1)
        values = np.where(i < num // 2, lo + step * i, hi - step * (calc(num - 1) - i))
    return Tensor(values.astype(dtype), requires_grad=requires_grad)


def randint(low: int, high: Any = None, shape: Any = (), dtype: Any = np.int64, *,
            size: Any = None) -> Tensor:
    """Integers drawn uniformly from [low, high) (or [0, low) with one bound) by the
    generator seeded by `manual_seed`; int64 by default. PyTorch's forms work too:
    randint(high, (3,)) (the shape second) and size= for the shape."""
    if isinstance(high, (tuple, list)):  # randint(high, shape): PyTorch's two-argument form
        if shape != ():
            raise TypeError("randint(high, shape) takes no third positional argument; pass "
                            "dtype= by keyword")
        low, high, shape = 0, low, high
    if size is not None:
        if shape != ():
            raise TypeError("randint got the shape twice (positionally and as size=); pass one")
        shape = size
    if high is None:
        low, high = 0, low
    if high <= low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return Tensor(_rng.integers(low, high, size=shape).astype(dtype))
