"""Argument checks shared by every public entry point, so each error reads the same.

A wrong type is a `TypeError`, a wrong value a `ValueError`; both name the owner (the op,
layer or function), the argument, what it got and what it expected.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

# PyTorch's spelling -> ours; both are accepted, passing both for one argument is an error
_TORCH_NAMES = (("dim", "axis"), ("dims", "axis"), ("keepdim", "keepdims"))


def torch_names(fn: Callable, *, empty_dim_is_all: bool = False) -> Callable:
    """Accept `dim=` (or `dims=`, flip's) / `keepdim=` as aliases of `axis=` / `keepdims=`
    (PyTorch's names). With empty_dim_is_all (`torch_reduction`), dim=() means every axis,
    as in PyTorch's reductions (axis=() keeps NumPy's meaning: none)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if "dim" in kwargs or "dims" in kwargs or "keepdim" in kwargs:
            for theirs, ours in _TORCH_NAMES:
                if theirs in kwargs:
                    if ours in kwargs:
                        owner = fn.__qualname__.removesuffix(".__init__") \
                            if fn.__name__ == "__init__" else fn.__name__
                        raise TypeError(f"{owner}() got both {ours}= and {theirs}= "
                                        f"({theirs} is PyTorch's name for {ours}); pass one")
                    value = kwargs.pop(theirs)
                    if empty_dim_is_all and theirs == "dim" and isinstance(
                            value, (tuple, list)) and not value:
                        value = None
                    kwargs[ours] = value
        return fn(*args, **kwargs)

    return wrapper


def torch_aliases(*pairs: tuple) -> Callable:
    """A decorator accepting PyTorch's keyword names for ours: pairs of (theirs, ours), such
    as ("dim1", "axis1"); passing both names of one argument is a TypeError."""

    def decorate(fn: Callable) -> Callable:
        owner = fn.__qualname__.replace(".__init__", "").split(".")[-1]  # a method or a Module

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for theirs, ours in pairs:
                if theirs in kwargs:
                    if ours in kwargs:
                        raise TypeError(f"{owner}() got both {ours}= and {theirs}= "
                                        f"({theirs} is PyTorch's name for {ours}); pass one")
                    kwargs[ours] = kwargs.pop(theirs)
            return fn(*args, **kwargs)

        return wrapper

    return decorate


def torch_reduction(fn: Callable) -> Callable:
    """torch_names for a reduction over axes: dim=() is every axis, as in PyTorch."""
    return torch_names(fn, empty_dim_is_all=True)


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def check_int(value: Any, name: str, owner: str, minimum: int | None = None) -> int:
    """`value` as an int (bool refused), at least `minimum` when given."""
    if not _is_int(value):
        raise TypeError(f"{owner}: {name} must be an int, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{owner}: {name} must be at least {minimum}, got {value}")
    return int(value)


def check_positive_int(value: Any, name: str, owner: str) -> int:
    """A size or a count: an int >= 1 (bool refused)."""
    if not _is_int(value):
        raise TypeError(f"{owner}: {name} must be a positive int, got {type(value).__name__} "
                        f"{value!r}")
    if value < 1:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return int(value)


def check_number(value: Any, name: str, owner: str, low: float | None = None,
                 high: float | None = None, interval: str = "[]") -> float:
    """`value` as a float (bool refused) between `low` and `high` where a bound is given;
    `interval` says which ends are included: "[]" (both), "()" (neither), "[)" or "(]".
    NaN is refused whenever there is a bound."""
    if not _is_number(value):
        raise TypeError(f"{owner}: {name} must be a number, got {type(value).__name__} "
                        f"{value!r}")
    if interval not in ("[]", "()", "[)", "(]"):
        raise ValueError(f"check_number: interval must be '[]', '()', '[)' or '(]', "
                         f"got {interval!r}")
    v = float(value)
    # written with `not` so that NaN fails every bound
    too_low = low is not None and not (v > low if interval[0] == "(" else v >= low)
    too_high = high is not None and not (v < high if interval[1] == ")" else v <= high)
    if too_low or too_high:
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise ValueError(f"{owner}: {name} must be in {interval[0]}{lo}, {hi}{interval[1]}, "
                         f"got {value!r}")
    return v


def check_positive(value: Any, name: str, owner: str) -> float:
    """A number > 0 (a rate, a norm bound, a duration); NaN refused."""
    v = check_number(value, name, owner)
    if not v > 0:
        raise ValueError(f"{owner}: {name} must be positive, got {value!r}")
    return v


def check_bool(value: Any, name: str, owner: str) -> bool:
    """`value`, which must be a bool (NumPy's included; 0 and 1 are not)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: {name} must be a bool, got {type(value).__name__} {value!r}")
    return bool(value)


def check_choice(value: Any, name: str, owner: str, choices: tuple) -> Any:
    """`value`, which must be one of `choices`."""
    if value not in choices:
        raise ValueError(f"{owner}: {name} must be one of {', '.join(map(repr, choices))}, "
                         f"got {value!r}")
    return value


def dtype_mismatch(owner: str, what: str, got: Any, expected: Any,
                   expected_what: str = "parameters", module: bool = False) -> TypeError:
    """The TypeError for a tensor (`what`) whose dtype is not the `expected` one; callers
    compare dtypes themselves (one `!=` on the per-step path) and build this only to raise."""
    fix = f"convert the {what} with .astype(np.{expected})" if what == "input" else \
        f"convert {what} with .astype(np.{expected})"
    if module:
        to = {"float64": ".double()", "float32": ".float()"}.get(str(got), f".to(np.{got})")
        fix += f" or the module with {to}"
    return TypeError(f"{owner}: {what} dtype {got} but {expected_what} {expected}: {fix}")


def norm_axis(axis: Any, ndim: int, op: str) -> tuple | None:
    """Axis (None, an int or a tuple of ints) as a sorted tuple of non-negative ints, checked.

    None stays None (every axis); a 0-d tensor takes axis 0 or -1 and gives ().
    """
    if axis is None:
        return None
    if isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
        axes = (axis,)
    elif isinstance(axis, (tuple, list)) and all(
            isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axis):
        axes = tuple(axis)
    else:
        raise TypeError(f"{op}: axis must be None, an int or a tuple of ints, got {axis!r}")
    n = max(ndim, 1)
    out = []
    for a in axes:
        if not -n <= a < n:
            raise ValueError(f"{op}: axis {a} is out of range for a tensor of {ndim} dimensions")
        out.append(int(a) % n)
    if ndim == 0:
        return ()
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(out))


def one_axis(axis: Any, ndim: int, op: str) -> int:
    """A single axis as a non-negative int (0 for a 0-d tensor), checked."""
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{op}: axis must be one int, got {axis!r}")
    ax = norm_axis(axis, ndim, op)
    return ax[0] if ax else 0


def overlaps(a: np.ndarray) -> bool:
    """Whether several elements of `a` are one memory location (a stretched axis)."""
    return a.size > 0 and any(st == 0 and n > 1 for st, n in zip(a.strides, a.shape))


def require_writeable(data: np.ndarray, op: str) -> None:
    """Raise, saying why and what to do, where an in-place change cannot go into `data`: a
    view of an expanded tensor (several elements, or the rows of its base, are one memory
    location) or a read-only array."""
    if data.flags.writeable:
        return
    a = data
    while a is not None:
        if overlaps(a):
            raise RuntimeError(
                f"{op}: this tensor of shape {data.shape} is an expanded view, or a view of "
                f"one (expand, expand_as, broadcast_to): several of its elements are one memory "
                f"location, so an in-place change is refused; change a copy (t = t.clone()) "
                f"first")
        a = a.base if isinstance(a.base, np.ndarray) else None
    raise RuntimeError(
        f"{op}: this tensor of shape {data.shape} wraps a read-only array (e.g. "
        f"Tensor.from_numpy of an array with writeable=False), so it cannot be changed in "
        f"place; change a copy (t = t.clone()) first")
