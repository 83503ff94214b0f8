"""Reductions over axes, scans, arg-max/min and the softmax family. `dim=`/`keepdim=` are
accepted as aliases."""
from __future__ import annotations

import collections
from typing import Any

import numpy as np

from tinygrad_rnn import function, ops
from tinygrad_rnn._validate import check_bool, check_int, check_number, norm_axis, one_axis, \
    torch_names, torch_reduction
from tinygrad_rnn.methods.elementwise import floating


class ReduceMethods:
    __slots__ = ()

    @torch_reduction
    def sum(self, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> "Tensor":
        """Sum over `axis` (all axes when None), of self cast to `dtype` where given; bool
        and unsigned tensors sum as int64, as in PyTorch (NumPy: uint64 for unsigned)."""
        x = self.astype(dtype) if dtype is not None else _wide(self)
        return ops.Sum.apply(x, axis=norm_axis(axis, self.ndim, "sum"), keepdims=keepdims)

    @torch_reduction
    def mean(self, axis: Any = None, keepdims: bool = False, *, dtype: Any = None) -> "Tensor":
        """Mean over `axis`: the sum divided by the number of elements reduced (of self cast
        to `dtype` first where given, as in PyTorch)."""
        if dtype is not None:
            return self.astype(dtype).mean(axis, keepdims)
        ax = norm_axis(axis, self.ndim, "mean")
        n = int(np.prod([self.shape[a] for a in ax])) if ax is not None else self.size
        if self.data.dtype == np.float16:  # summed in float32, as NumPy and PyTorch do: a
            # float16 sum overflows where the mean does not ([6e4, 6e4])
            wide = ops.Sum.apply(self.astype(np.float32), axis=ax, keepdims=keepdims)
            return _over(wide, n).astype(np.float16)
        return _over(ops.Sum.apply(_wide(self), axis=ax, keepdims=keepdims), n)

    @torch_names
    def max(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        """Maximum over `axis`; the gradient goes to the arg-max, ties share it equally. With
        a Tensor for `axis`, the elementwise maximum(self, other), as torch.max(a, b)."""
        if isinstance(axis, _tensor.Tensor):
            return self.maximum(_other(axis, keepdims, "max"))
        return ops.Max.apply(self, axis=norm_axis(axis, self.ndim, "max"), keepdims=keepdims)

    @torch_names
    def min(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        """Minimum over `axis`; the gradient goes to the arg-min, ties share it equally. With
        a Tensor for `axis`, the elementwise minimum(self, other), as torch.min(a, b)."""
        if isinstance(axis, _tensor.Tensor):
            return self.minimum(_other(axis, keepdims, "min"))
        return ops.Min.apply(self, axis=norm_axis(axis, self.ndim, "min"), keepdims=keepdims)

    @torch_reduction
    def nansum(self, axis: Any = None, keepdims: bool = False, *, dtype: Any = None
               ) -> "Tensor":
        """sum with NaNs counted as zero (they get no gradient), as torch.nansum."""
        x = self
        if self.data.dtype.kind == "f":
            x = ops.Where.apply(self.isnan(), function.as_number(0, self.dtype), self)
        return x.sum(axis, keepdims, dtype)

    @torch_reduction
    def count_nonzero(self, axis: Any = None) -> "Tensor":
        """The number of nonzero elements (NaN is nonzero) over `axis` (an int or a tuple;
        every axis when None), int64, no gradient."""
        return (self != 0).sum(axis)

    @torch_names
    def logsumexp(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        """log(sum(exp(self), axis)), shifted by the max so it never overflows."""
        return ops.LogSumExp.apply(
            floating(self), axis=norm_axis(axis, self.ndim, "logsumexp"), keepdims=keepdims
        )

    @torch_reduction
    def var(self, axis: Any = None, keepdims: bool = False, correction: float = 1, *,
            unbiased: bool | None = None) -> "Tensor":
        """Variance over `axis`: sum((x - mean)**2) / (N - correction), PyTorch's semantics.

        correction=1 (Bessel's, the default) or 0 (the population variance); `unbiased=`
        is PyTorch's older spelling (True = 1, False = 0). Where N <= correction the divisor
        is 0, as in PyTorch: the result is nan (all values equal, e.g. one element) or inf,
        and so is the gradient.
        """
        c = _correction(correction, unbiased, "var")
        return ops.Var.apply(floating(self), axis=norm_axis(axis, self.ndim, "var"),
                             keepdims=keepdims, correction=c)

    @torch_reduction
    def std(self, axis: Any = None, keepdims: bool = False, correction: float = 1, *,
            unbiased: bool | None = None) -> "Tensor":
        """sqrt(var(axis, keepdims, correction)); a constant input (std 0) has gradient 0,
        as in PyTorch."""
        c = _correction(correction, unbiased, "std")
        return ops.Std.apply(floating(self), axis=norm_axis(axis, self.ndim, "std"),
                             keepdims=keepdims, correction=c)

    @torch_names
    def prod(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        """Product over `axis`; the gradient is exact with zeros in the input (the product
        of the other elements, 0 where two or more are zero)."""
        return ops.Prod.apply(_wide(self), axis=norm_axis(axis, self.ndim, "prod"),
                              keepdims=keepdims)

    @torch_reduction
    def norm(self, p: float = 2, axis: Any = None, keepdims: bool = False) -> "Tensor":
        """Vector p-norm over `axis` (all elements when None): (sum |x|**p)**(1/p).

        p is any positive number, or inf (max |x|), -inf (min |x|), 0 (the number of
        nonzeros). A zero vector has gradient 0, as in PyTorch.
        """
        p = check_number(p, "p", "norm")
        if not (p >= 0 or p == -np.inf):
            raise ValueError(f"norm: p must be positive, 0, inf or -inf, got {p!r}")
        ax = norm_axis(axis, self.ndim, "norm")
        if np.isinf(p) and 0 in (self.shape if ax is None else [self.shape[a] for a in ax]):
            raise ValueError(f"norm: the {p} norm of no elements is undefined (max and min "
                             f"have no identity); the tensor of shape {self.shape} is empty "
                             f"along the reduced axes {ax if ax is not None else 'all'}")
        return ops.Norm.apply(floating(self), p=p, axis=ax, keepdims=keepdims)

    @torch_names
    def cumsum(self, axis: int, *, dtype: Any = None) -> "Tensor":
        """Running sum along `axis`: y_i = x_0 + ... + x_i (of self cast to `dtype` first
        where given)."""
        x = self.astype(dtype) if dtype is not None else _wide(self)
        return ops.CumSum.apply(x, axis=one_axis(axis, self.ndim, "cumsum"))

    @torch_names
    def cumprod(self, axis: int) -> "Tensor":
        """Running product along `axis`: y_i = x_0 * ... * x_i (exact gradient with zeros);
        bool and unsigned tensors accumulate as int64, as in PyTorch."""
        return ops.CumProd.apply(_wide(self), axis=one_axis(axis, self.ndim, "cumprod"))

    @torch_names
    def logcumsumexp(self, axis: int) -> "Tensor":
        """log(cumsum(exp(self), axis)), computed stably (no overflow for inputs like 1e4)."""
        return ops.LogCumSumExp.apply(floating(self),
                                      axis=one_axis(axis, self.ndim, "logcumsumexp"))

    @torch_names
    def sort(self, axis: int = -1, descending: bool = False, stable: bool = False) -> tuple:
        """(values, indices) sorted along `axis`: the values are self gathered at the
        indices (the gradient goes back to where each value came from), the indices int64.
        NaN counts as the largest value, as in PyTorch; equal values keep their order."""
        check_bool(descending, "descending", "sort")
        check_bool(stable, "stable", "sort")
        ax = one_axis(axis, self.ndim, "sort")
        if self.ndim == 0:
            return SortResult(self, _tensor.Tensor(np.zeros((), dtype=np.int64)))
        _tensor._read_into_python("sort")  # (the order depends on the values)
        order = _sort_order(self.data, ax, descending)
        return SortResult(self.gather(ax, order), _tensor.Tensor(order))

    @torch_names
    def argsort(self, axis: int = -1, descending: bool = False, stable: bool = False
                ) -> "Tensor":
        """The int64 indices that sort self along `axis` (sort(...).indices; no gradient):
        NaN counts as the largest value and equal values keep their order (always stable)."""
        check_bool(descending, "descending", "argsort")
        check_bool(stable, "stable", "argsort")
        ax = one_axis(axis, self.ndim, "argsort")
        _tensor._read_into_python("argsort")  # (the order depends on the values)
        if self.ndim == 0:
            return _tensor.Tensor(np.zeros((), dtype=np.int64))
        return _tensor.Tensor(_sort_order(self.data, ax, descending))

    @torch_names
    def cummax(self, axis: int) -> tuple:
        """(values, indices) of the running maximum along `axis`, as torch.cummax: the index
        is the last of equal values, and a NaN, once reached, stays (the latest one). The
        values are self gathered at the indices: the gradient goes to those places."""
        return _running_extreme(self, np.maximum, axis, "cummax")

    @torch_names
    def cummin(self, axis: int) -> tuple:
        """(values, indices) of the running minimum along `axis`; see cummax."""
        return _running_extreme(self, np.minimum, axis, "cummin")

    @torch_names
    def topk(self, k: int, axis: int = -1, largest: bool = True, sorted: bool = True) -> tuple:
        """(values, indices) of the k largest (largest=False: smallest) entries along `axis`,
        in order (largest first); the gradient goes back to where each value came from."""
        check_bool(largest, "largest", "topk")
        check_bool(sorted, "sorted", "topk")
        ax = one_axis(axis, self.ndim, "topk")
        n = self.shape[ax] if self.ndim else 1
        k = check_int(k, "k", "topk", minimum=0)
        if k > n:
            raise ValueError(f"topk: k={k} is more than the {n} entries along axis {axis} of "
                             f"the tensor of shape {self.shape}")
        if self.ndim == 0:  # (k is 0 or 1 here: 0 gives the empty selection, as PyTorch)
            return TopkResult(self if k else self.reshape(1)[:0],
                              _tensor.Tensor(np.zeros(() if k else (0,), dtype=np.int64)))
        _tensor._read_into_python("topk")  # (the order depends on the values)
        order = np.take(_sort_order(self.data, ax, largest), np.arange(k), axis=ax)
        return TopkResult(self.gather(ax, order), _tensor.Tensor(order))

    @torch_names
    def argmax(self, axis: int | None = None, keepdims: bool = False) -> "Tensor":
        """Index of the maximum along `axis` (of the flattened tensor when None), as an int64
        Tensor outside the graph; ties give the first occurrence, as in PyTorch."""
        return _arg(self, np.argmax, "argmax", axis, keepdims)

    @torch_names
    def argmin(self, axis: int | None = None, keepdims: bool = False) -> "Tensor":
        """Index of the minimum along `axis`; see argmax."""
        return _arg(self, np.argmin, "argmin", axis, keepdims)

    @torch_names
    def log_softmax(self, axis: int = -1, *, dtype: Any = None) -> "Tensor":
        """self - logsumexp(self, axis, keepdims=True) (of self cast to `dtype` first where
        given, as in PyTorch)."""
        if dtype is not None:
            return self.astype(dtype).log_softmax(axis)
        ax = one_axis(axis, self.ndim, "log_softmax")
        # (axis None: a 0-d tensor)
        return ops.LogSoftmax.apply(floating(self), axis=ax if self.ndim else None)

    @torch_names
    def softmax(self, axis: int = -1, *, dtype: Any = None) -> "Tensor":
        """exp(log_softmax(self, axis)) (of self cast to `dtype` first where given)."""
        return self.log_softmax(axis, dtype=dtype).exp()


def _over(total: "Tensor", n: int) -> "Tensor":
    """A sum divided by its count, as PyTorch's mean divides (a multiplication by 1 / n
    differs in the last bit); NaN for no elements, without NumPy's warning."""
    return total / n if n else total * np.nan


# ----- module functions ----------------------------------------------------------------
@torch_reduction
def sum(t: "Tensor", axis: Any = None, keepdims: bool = False, dtype: Any = None) -> "Tensor":
    """Tensor.sum as a function."""
    return t.sum(axis, keepdims, dtype)


@torch_reduction
def mean(t: "Tensor", axis: Any = None, keepdims: bool = False, *, dtype: Any = None
         ) -> "Tensor":
    """Tensor.mean as a function."""
    return t.mean(axis, keepdims, dtype=dtype)


@torch_names
def max(t: "Tensor", axis: Any = None, keepdims: bool = False) -> "Tensor":
    """Tensor.max as a function."""
    return t.max(axis, keepdims)


@torch_names
def min(t: "Tensor", axis: Any = None, keepdims: bool = False) -> "Tensor":
    """Tensor.min as a function."""
    return t.min(axis, keepdims)


@torch_reduction
def nansum(t: "Tensor", axis: Any = None, keepdims: bool = False, *, dtype: Any = None
           ) -> "Tensor":
    """Tensor.nansum as a function."""
    return t.nansum(axis, keepdims, dtype=dtype)


@torch_reduction
def count_nonzero(t: "Tensor", axis: Any = None) -> "Tensor":
    """Tensor.count_nonzero as a function."""
    return t.count_nonzero(axis)


@torch_names
def argsort(t: "Tensor", axis: int = -1, descending: bool = False, stable: bool = False
            ) -> "Tensor":
    """Tensor.argsort as a function."""
    return t.argsort(axis, descending, stable)


@torch_names
def cummax(t: "Tensor", axis: int) -> tuple:
    """Tensor.cummax as a function."""
    return t.cummax(axis)


@torch_names
def cummin(t: "Tensor", axis: int) -> tuple:
    """Tensor.cummin as a function."""
    return t.cummin(axis)


@torch_names
def logsumexp(t: "Tensor", axis: Any = None, keepdims: bool = False) -> "Tensor":
    """Tensor.logsumexp as a function."""
    return t.logsumexp(axis, keepdims)


@torch_names
def softmax(t: "Tensor", axis: int = -1, *, dtype: Any = None) -> "Tensor":
    """Tensor.softmax as a function."""
    return t.softmax(axis, dtype=dtype)


@torch_names
def log_softmax(t: "Tensor", axis: int = -1, *, dtype: Any = None) -> "Tensor":
    """Tensor.log_softmax as a function."""
    return t.log_softmax(axis, dtype=dtype)


@torch_reduction
def var(t: "Tensor", axis: Any = None, keepdims: bool = False, correction: float = 1, *,
        unbiased: bool | None = None) -> "Tensor":
    """Tensor.var as a function."""
    return t.var(axis, keepdims, correction, unbiased=unbiased)


@torch_reduction
def std(t: "Tensor", axis: Any = None, keepdims: bool = False, correction: float = 1, *,
        unbiased: bool | None = None) -> "Tensor":
    """Tensor.std as a function."""
    return t.std(axis, keepdims, correction, unbiased=unbiased)


@torch_names
def prod(t: "Tensor", axis: Any = None, keepdims: bool = False) -> "Tensor":
    """Tensor.prod as a function."""
    return t.prod(axis, keepdims)


@torch_reduction
def norm(t: "Tensor", p: float = 2, axis: Any = None, keepdims: bool = False) -> "Tensor":
    """Tensor.norm as a function."""
    return t.norm(p, axis, keepdims)


@torch_names
def cumsum(t: "Tensor", axis: int, *, dtype: Any = None) -> "Tensor":
    """Tensor.cumsum as a function."""
    return t.cumsum(axis, dtype=dtype)


@torch_names
def cumprod(t: "Tensor", axis: int) -> "Tensor":
    """Tensor.cumprod as a function."""
    return t.cumprod(axis)


@torch_names
def logcumsumexp(t: "Tensor", axis: int) -> "Tensor":
    """Tensor.logcumsumexp as a function."""
    return t.logcumsumexp(axis)


@torch_names
def sort(t: "Tensor", axis: int = -1, descending: bool = False, stable: bool = False) -> tuple:
    """Tensor.sort as a function."""
    return t.sort(axis, descending, stable)


@torch_names
def topk(t: "Tensor", k: int, axis: int = -1, largest: bool = True, sorted: bool = True) -> tuple:
    """Tensor.topk as a function."""
    return t.topk(k, axis, largest, sorted)


@torch_names
def argmax(t: "Tensor", axis: int | None = None, keepdims: bool = False) -> "Tensor":
    """Tensor.argmax as a function."""
    return t.argmax(axis, keepdims)


@torch_names
def argmin(t: "Tensor", axis: int | None = None, keepdims: bool = False) -> "Tensor":
    """Tensor.argmin as a function."""
    return t.argmin(axis, keepdims)


# ----- helpers ---------------------------------------------------------------------------
def _correction(correction: Any, unbiased: bool | None, op: str) -> float:
    """The correction, from PyTorch's older `unbiased=` flag when that is given."""
    if unbiased is not None:
        if correction != 1:
            raise TypeError(f"{op}() got both correction= and unbiased=; pass one")
        if not isinstance(unbiased, (bool, np.bool_)):
            raise TypeError(f"{op}: unbiased must be a bool, got {unbiased!r}")
        return 1 if unbiased else 0
    c = check_number(correction, "correction", op)
    return int(c) if c.is_integer() else c


def _wide(t: "Tensor") -> "Tensor":
    """t, or as int64 where it is bool or unsigned: sums and products of those accumulate in
    int64 in PyTorch (NumPy: uint64 for unsigned)."""
    return t.astype(np.int64) if t.data.dtype.kind in "bu" else t


SortResult = collections.namedtuple("sort", ["values", "indices"])
TopkResult = collections.namedtuple("topk", ["values", "indices"])
CumResults = {"cummax": collections.namedtuple("cummax", ["values", "indices"]),
              "cummin": collections.namedtuple("cummin", ["values", "indices"])}


def _other(other: "Tensor", keepdims: Any, op: str) -> "Tensor":
    """max(other) / min(other): the tensor, with no keepdims (torch takes none there)."""
    if keepdims is not False:
        raise TypeError(f"{op}: keepdims is not taken with a tensor (max(a, b) is the "
                        f"elementwise maximum); got keepdims={keepdims!r}")
    return other


def _running_extreme(t: "Tensor", ufunc: np.ufunc, axis: Any, op: str) -> tuple:
    """(values, indices) of cummax (ufunc np.maximum) or cummin (np.minimum) along axis."""
    ax = one_axis(axis, t.ndim, op)
    _tensor._read_into_python(op)  # (the indices depend on the values)
    if t.ndim == 0:
        return CumResults[op](t.gather(0, np.zeros((), np.int64)), _tensor.Tensor(
            np.zeros((), dtype=np.int64)))
    x = t.data
    # position i holds the running extreme where x_i reaches it (>=, so ties take the later
    # index, as torch) or is NaN; each index is the last such position so far
    hit = x == ufunc.accumulate(x, axis=ax)
    if x.dtype.kind == "f":
        hit |= np.isnan(x)
    at = np.arange(x.shape[ax], dtype=np.int64).reshape([-1 if d == ax else 1
                                                         for d in range(x.ndim)])
    index = np.maximum.accumulate(np.where(hit, at, 0), axis=ax)
    return CumResults[op](t.gather(ax, index), _tensor.Tensor(index))


def _sort_order(x: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    """Stable sorting indices (int64) along axis: ascending with NaN last, or descending
    with NaN first (NaN is the largest value, as in PyTorch). Descending is the stable
    ascending order of x reversed, read backwards: ties keep their order, and nothing is
    negated (which would wrap int64's minimum and large uint64 values)."""
    if not descending:
        return np.argsort(x, axis=axis, kind="stable").astype(np.int64, copy=False)
    n = x.shape[axis]
    order = np.flip(np.argsort(np.flip(x, axis), axis=axis, kind="stable"), axis)
    return (n - 1 - order).astype(np.int64, copy=False)


def _arg(t: "Tensor", f: Any, op: str, axis: Any, keepdims: bool) -> "Tensor":
    """f (np.argmax or np.argmin) over one axis or the flattened tensor, as int64."""
    if axis is not None:
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"{op}: axis must be None or one int, got {axis!r}")
        ax = one_axis(axis, t.ndim, op)
        if t.ndim == 0:  # PyTorch: a 0-d tensor takes axis 0 or -1 and gives 0
            return _tensor.Tensor(np.zeros((), dtype=np.int64))
        if t.shape[ax] == 0:
            raise ValueError(f"{op}: axis {axis} of the tensor of shape {t.shape} is empty: "
                             f"there is no {op[3:]}imum to point to")
        _tensor._read_into_python(op)  # (the index depends on the values)
        i = f(t.data, axis=ax, keepdims=keepdims)
    else:
        if t.size == 0:
            raise ValueError(f"{op}: the tensor of shape {t.shape} is empty: there is no "
                             f"{op[3:]}imum to point to")
        _tensor._read_into_python(op)
        i = f(t.data, keepdims=keepdims)
    return _tensor.Tensor(np.asarray(i, dtype=np.int64))


from tinygrad_rnn import tensor as _tensor  # noqa: E402  (resolved at call time)
