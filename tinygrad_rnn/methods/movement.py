"""Movement Tensor methods: shapes, axes, joining and splitting (picking by index:
indexing.py).

`dim=` is accepted as an alias of `axis=` (and `start_dim=`/`end_dim=` of flatten's
`start_axis=`/`end_axis=`), as PyTorch spells them.
"""
from __future__ import annotations

import builtins
import functools
import math
from typing import Any, Iterable, Sequence

import numpy as np

from tinygrad_rnn import _promotion, function, ops
from tinygrad_rnn._validate import _is_int, check_int, norm_axis, one_axis, torch_aliases, \
    torch_names


@functools.lru_cache(maxsize=64)
def _repeated(count: int, n: int) -> np.ndarray:
    """0 .. n-1, each `count` times in a row (read-only: shared by every call)."""
    index = np.repeat(np.arange(n), count)
    index.flags.writeable = False
    return index


def _shape_args(shape: Sequence) -> tuple:
    """reshape(2, 3) and reshape((2, 3)) alike."""
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) \
        else tuple(shape)


# PyTorch's `start_dim=` / `end_dim=` for `start_axis=` / `end_axis=` (methods and nn.Flatten)
flatten_names = torch_aliases(("start_dim", "start_axis"), ("end_dim", "end_axis"))


def _ints(values: Sequence, what: str, op: str, minimum: int | None = None) -> tuple:
    return tuple(check_int(v, what, op, minimum) for v in values)


def _int_or_ints(value: Any, name: str, op: str) -> tuple:
    """An int or a tuple/list of ints, as a tuple."""
    if _is_int(value):
        return (int(value),)
    if isinstance(value, (tuple, list)) and all(_is_int(v) for v in value):
        return tuple(int(v) for v in value)
    raise TypeError(f"{op}: {name} must be an int or a tuple of ints, got "
                    f"{type(value).__name__} {value!r}")


def _integer_values(value: Any, name: str, op: str) -> np.ndarray:
    """A 0-d or 1-D integer array from a Tensor, an ndarray or a list (no gradient)."""
    arr = value.data if isinstance(value, _tensor.Tensor) else np.asarray(
        value, dtype=np.int64 if isinstance(value, (list, tuple)) and not value else None)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{op}: {name} must hold integers, got dtype {arr.dtype}")
    if arr.ndim > 1:
        raise ValueError(f"{op}: {name} must be an int or a 0-d or 1-D integer tensor, got "
                         f"shape {arr.shape}")
    return arr


class MovementMethods:
    __slots__ = ()

    @property
    def T(self) -> "Tensor":
        """The transpose (all axes reversed)."""
        return self.transpose()

    def reshape(self, *shape: Any) -> "Tensor":
        """The same elements in a new shape (one axis may be -1)."""
        shape = _shape_args(shape)
        bad = [d for d in shape if isinstance(d, (int, np.integer)) and d < -1]
        if bad:  # (NumPy takes any negative size for -1; PyTorch refuses them)
            raise ValueError(f"reshape: invalid size {bad[0]} in shape {shape}: sizes are "
                             f"at least 0, and one may be -1 (inferred)")
        return ops.Reshape.apply(self, shape=shape)

    def view(self, *shape: Any) -> "Tensor":
        """reshape under PyTorch's name."""
        return self.reshape(*shape)

    def transpose(self, *axes: Any) -> "Tensor":
        """Axes permuted (reversed when none are given), as numpy.transpose."""
        axes = _shape_args(axes)
        if axes and sorted(a % builtins.max(self.ndim, 1) for a in axes) != list(range(self.ndim)):
            raise ValueError(f"transpose: axes {axes} are not a permutation of {self.ndim} axes "
                             f"(transpose takes every axis in its new order, as NumPy's; to "
                             f"exchange two axes as torch.transpose does, use swapaxes)")
        return ops.Transpose.apply(self, axes=axes or None)

    def permute(self, *axes: int, dims: Any = None) -> "Tensor":
        """Axes reordered: result axis i is self's axis axes[i] (every axis named once);
        `dims=` is PyTorch's keyword for them."""
        if dims is not None:
            if axes:
                raise TypeError("permute() got the axes both positionally and as dims=; pass one")
            axes = (dims,)
        axes = _ints(_shape_args(axes), "axes", "permute")
        n = self.ndim
        if len(axes) != n or sorted(a % builtins.max(n, 1) for a in axes if -n <= a < n) \
                != list(range(n)):
            raise ValueError(f"permute: axes {axes} are not a permutation of the {n} axes of a "
                             f"tensor of shape {self.shape}")
        return ops.Transpose.apply(self, axes=axes or None)

    @torch_names
    def unsqueeze(self, axis: int) -> "Tensor":
        """A new axis of size 1 at `axis` (in -ndim-1 .. ndim, as PyTorch)."""
        n = self.ndim + 1
        axis = check_int(axis, "axis", "unsqueeze")
        if not -n <= axis < n:
            raise ValueError(f"unsqueeze: axis {axis} is out of range for a tensor of "
                             f"{self.ndim} dimensions (expected {-n} .. {n - 1})")
        axis %= n
        return self.reshape(self.shape[:axis] + (1,) + self.shape[axis:])

    @torch_names
    def squeeze(self, axis: Any = None) -> "Tensor":
        """Axes of size 1 removed: all of them, or those of `axis` (an int or a tuple); a named
        axis whose size is not 1 is kept, as in PyTorch."""
        axes = norm_axis(axis, self.ndim, "squeeze")
        if axes is None:
            axes = range(self.ndim)
        drop = {a for a in axes if self.shape[a] == 1}
        return self.reshape(tuple(d for a, d in enumerate(self.shape) if a not in drop))

    @flatten_names
    def flatten(self, start_axis: int = 0, end_axis: int = -1) -> "Tensor":
        """Axes start_axis .. end_axis (inclusive) merged into one; a 0-d tensor becomes (1,)."""
        s = one_axis(start_axis, self.ndim, "flatten")
        e = one_axis(end_axis, self.ndim, "flatten")
        if s > e:
            raise ValueError(f"flatten: start_axis {start_axis} comes after end_axis {end_axis} "
                             f"for a tensor of shape {self.shape}")
        if self.ndim == 0:
            return self.reshape(1)
        merged = math.prod(self.shape[s: e + 1])
        return self.reshape(self.shape[:s] + (merged,) + self.shape[e + 1:])

    @torch_names
    def unflatten(self, axis: int, sizes: Any) -> "Tensor":
        """Axis `axis` split into axes of `sizes` (a tuple or list of ints, one of which may be
        -1 for the size that makes the product fit), as torch.unflatten."""
        if self.ndim == 0:
            raise ValueError("unflatten: needs a tensor of at least 1 dimension, got a 0-d "
                             "tensor")
        ax = one_axis(axis, self.ndim, "unflatten")
        if not isinstance(sizes, (tuple, list)) or not all(_is_int(d) for d in sizes):
            raise TypeError(f"unflatten: sizes must be a tuple or list of ints, got "
                            f"{type(sizes).__name__} {sizes!r}")
        sizes, n = _ints(sizes, "sizes", "unflatten", minimum=-1), self.shape[ax]
        if not sizes:
            raise ValueError("unflatten: sizes must be non-empty")
        if sizes.count(-1) > 1:
            raise ValueError(f"unflatten: at most one size may be -1, got sizes {sizes}")
        known = math.prod(d for d in sizes if d != -1)
        if not (known and n % known == 0 if -1 in sizes else known == n):
            raise ValueError(f"unflatten: sizes {sizes} do not multiply to {n}, the size of "
                             f"axis {axis} of the tensor of shape {self.shape}")
        return self.reshape(self.shape[:ax] + sizes + self.shape[ax + 1:])

    def expand(self, *shape: int) -> "Tensor":
        """A broadcast view to `shape`: -1 keeps an axis' size, size-1 axes stretch, and new
        leading axes may be added (not as -1), as torch.expand. The gradient sums back."""
        shape = _ints(_shape_args(shape), "shape", "expand", minimum=-1)
        lead = len(shape) - self.ndim
        if lead < 0 or any(d == -1 for d in shape[:lead]):
            raise ValueError(f"expand: cannot expand shape {self.shape} to {shape} (needs at "
                             f"least {self.ndim} sizes, and new leading axes cannot be -1)")
        target = shape[:lead] + tuple(n if d == -1 else d
                                      for n, d in zip(self.shape, shape[lead:]))
        if any(n not in (1, d) for n, d in zip(self.shape, target[lead:])):
            raise ValueError(f"expand: cannot expand shape {self.shape} to {shape} (only axes "
                             f"of size 1 can change size)")
        return ops.BroadcastTo.apply(self, shape=target)

    def repeat(self, *reps: int) -> "Tensor":
        """Tiled reps[i] times along each axis, as torch's repeat (= np.tile); more reps than
        axes add leading axes."""
        reps = _ints(_shape_args(reps), "reps", "repeat", minimum=0)
        if len(reps) < self.ndim:
            raise ValueError(f"repeat: got {len(reps)} repeat counts {reps} for a tensor of "
                             f"{self.ndim} dimensions (shape {self.shape}); give at least one "
                             f"per axis")
        return ops.Repeat.apply(self, reps=reps)

    @torch_names
    def flip(self, axis: Any, *axes: int) -> "Tensor":
        """The order of elements reversed along `axis`: an int, a tuple of ints, or several
        ints (x.flip(0, 1), as torch)."""
        if axes:
            if not _is_int(axis):
                raise TypeError(f"flip: give the axes as one tuple or as separate ints, got "
                                f"{axis!r} followed by {axes}")
            axis = (axis,) + axes
        if axis is None:
            raise TypeError("flip: axis must be an int or a tuple of ints, got None")
        return ops.Flip.apply(self, axes=norm_axis(axis, self.ndim, "flip"))

    @torch_names
    def roll(self, shifts: Any, axis: Any = None) -> "Tensor":
        """Elements shifted `shifts` places along `axis`, wrapping round (an int, or tuples of
        as many shifts as axes; an axis named twice rolls twice); with axis None the tensor
        is flattened, rolled and reshaped back, as torch.roll."""
        shifts = _int_or_ints(shifts, "shifts", "roll")
        if axis is None:
            if len(shifts) != 1:
                raise ValueError(f"roll: without an axis shifts must be one int (the tensor is "
                                 f"flattened), got {len(shifts)} shifts {shifts}")
            return self.reshape(-1).roll(shifts[0], 0).reshape(self.shape)
        axes = _int_or_ints(axis, "axis", "roll")
        if len(axes) != len(shifts) or not shifts:
            raise ValueError(f"roll: shifts {shifts} and axis {axes} must pair up, one shift "
                             f"per axis (at least one)")
        if self.ndim == 0:
            raise ValueError(f"roll: a 0-d tensor has no axis {axes[0]}; roll it with "
                             f"axis=None")
        axes = tuple(one_axis(a, self.ndim, "roll") for a in axes)
        return ops.Roll.apply(self, shifts=shifts, axes=axes)

    def movedim(self, source: Any, destination: Any) -> "Tensor":
        """Axes `source` moved to positions `destination` (two ints, or two sequences of as
        many distinct ints), the other axes keeping their order, as torch.movedim."""
        if _is_int(source) != _is_int(destination):
            raise TypeError(f"movedim: source and destination must both be ints or both "
                            f"sequences of ints, got {source!r} and {destination!r}")
        nd = self.ndim
        src = tuple(one_axis(a, nd, "movedim") for a in _int_or_ints(source, "source", "movedim"))
        dst = tuple(one_axis(a, nd, "movedim")
                    for a in _int_or_ints(destination, "destination", "movedim"))
        if len(src) != len(dst):
            raise ValueError(f"movedim: source {source} and destination {destination} must "
                             f"name as many axes")
        for name, given, axes in (("source", source, src), ("destination", destination, dst)):
            if len(set(axes)) != len(axes):
                raise ValueError(f"movedim: repeated axis in {name} {given}")
        if nd == 0:
            return self.permute()
        rest = iter(a for a in range(nd) if a not in src)
        moved = dict(zip(dst, src))
        return self.permute(*(moved[d] if d in moved else next(rest) for d in range(nd)))

    @torch_names
    def narrow(self, axis: int, start: int, length: int) -> "Tensor":
        """The `length` entries from `start` on along `axis` (a slice: the gradient goes back
        to those places); a negative start counts from the end, as torch.narrow."""
        if self.ndim == 0:
            raise ValueError("narrow: needs a tensor of at least 1 dimension, got a 0-d tensor")
        ax = one_axis(axis, self.ndim, "narrow")
        start = check_int(start, "start", "narrow")
        length = check_int(length, "length", "narrow", minimum=0)
        n = self.shape[ax]
        if not -n <= start <= n:
            raise IndexError(f"narrow: start {start} is out of range for axis {ax} of size {n} "
                             f"(expected {-n} .. {n})")
        if start < 0:
            start += n
        if start + length > n:
            raise ValueError(f"narrow: start {start} + length {length} exceeds the size {n} of "
                             f"axis {ax} (shape {self.shape})")
        return self[(slice(None),) * ax + (slice(start, start + length),)]

    @torch_names
    def repeat_interleave(self, repeats: Any, axis: int | None = None) -> "Tensor":
        """Each entry along `axis` repeated `repeats` times, next to itself (an int, or a 1-D
        integer array or tensor of one count per entry, or of one for all); axis None
        flattens first, as torch.repeat_interleave. The gradient sums the copies back."""
        if axis is None:
            return self.reshape(-1).repeat_interleave(repeats, 0)
        if self.ndim == 0:
            raise ValueError(f"repeat_interleave: a 0-d tensor has no axis {axis}; repeat it "
                             f"with axis=None")
        ax = one_axis(axis, self.ndim, "repeat_interleave")
        n = self.shape[ax]
        if isinstance(repeats, (_tensor.Tensor, np.ndarray, list, tuple)):
            if function.observer is not None:  # a recorded step: per-entry counts are values
                function.observer.read("repeat_interleave with per-entry counts")  # (eager)
            counts = _integer_values(repeats, "repeats", "repeat_interleave").reshape(-1)
            if counts.size != 1 and counts.size != n:
                raise ValueError(f"repeat_interleave: {counts.size} repeats for axis {ax} of "
                                 f"size {n} (shape {self.shape}); give one per entry, or one")
            if counts.size and counts.min() < 0:
                raise ValueError(f"repeat_interleave: repeats must be non-negative, got "
                                 f"{counts.min()}")
            index = np.repeat(np.arange(n), counts)
        else:  # one count: the index depends on (count, n) only, so the same array serves
            # every call (a recorded step then stays the same program)
            index = _repeated(check_int(repeats, "repeats", "repeat_interleave", minimum=0), n)
        return ops.IndexSelect.apply(self, index=index, axis=ax)

    # ----- split -----------------------------------------------------------------------
    @torch_names
    def split(self, split_size_or_sections: Any, axis: int = 0) -> tuple:
        """Pieces along `axis` as a tuple of Tensors (one graph node): an int gives pieces of
        that size (the last may be smaller), a list gives exactly those sizes (summing to
        the axis' length)."""
        ax, n = self._split_axis(axis, "split")
        arg = split_size_or_sections
        if isinstance(arg, (list, tuple)):
            sections = _ints(arg, "split_size_or_sections", "split", minimum=0)
            if builtins.sum(sections) != n:
                raise ValueError(f"split: sections {list(sections)} must sum to {n}, the size "
                                 f"of axis {axis} of a tensor of shape {self.shape}")
        else:
            size = check_int(arg, "split_size_or_sections", "split", minimum=0)
            if size == 0 and n:
                raise ValueError(f"split: split size 0 is only allowed for an empty axis, got "
                                 f"axis {axis} of size {n}")
            if n == 0:  # one empty piece, as PyTorch
                sections = (0,)
            else:  # full pieces, then the remainder
                sections = (size,) * (n // size) + ((n % size,) if n % size else ())
        return ops.Split.apply(self, sections=sections, axis=ax)

    @torch_names
    def chunk(self, chunks: int, axis: int = 0) -> tuple:
        """Up to `chunks` pieces of size ceil(n / chunks) along `axis` (the last may be smaller,
        and there may be fewer than `chunks`), as torch.chunk."""
        ax, n = self._split_axis(axis, "chunk")
        chunks = check_int(chunks, "chunks", "chunk", minimum=1)
        if n == 0:
            return ops.Split.apply(self, sections=(0,) * chunks, axis=ax)
        return self.split(-(-n // chunks), ax)

    @torch_names
    def tensor_split(self, indices_or_sections: Any, axis: int = 0) -> tuple:
        """Pieces along `axis` as a tuple, as torch.tensor_split: an int k gives k pieces of
        sizes differing by at most one (the larger first, some empty when k exceeds the size);
        a list of indices [i, j, ...] gives self[:i], self[i:j], ..., self[last:] (indices
        as Python slices take them: negative from the end, beyond the end clamped)."""
        ax, n = self._split_axis(axis, "tensor_split")
        arg = indices_or_sections
        if isinstance(arg, (_tensor.Tensor, np.ndarray)):
            if isinstance(arg, _tensor.Tensor):  # (the sections become Python ints)
                _tensor._read_into_python("tensor_split with a tensor of sections")
            arr = _integer_values(arg, "indices_or_sections", "tensor_split")
            arg = int(arr) if arr.ndim == 0 else arr.tolist()
        if isinstance(arg, (list, tuple)):
            ends = [builtins.min(builtins.max(i + n if i < 0 else i, 0), n)
                    for i in _ints(arg, "each index", "tensor_split")]
            bounds = [0] + ends + [n]
            if any(a > b for a, b in zip(bounds, bounds[1:])):  # pieces overlap: slices
                lead = (slice(None),) * ax
                return tuple(self[lead + (slice(a, b),)] for a, b in zip(bounds, bounds[1:]))
            sections = tuple(b - a for a, b in zip(bounds, bounds[1:]))
        else:
            if not _is_int(arg):
                raise TypeError(f"tensor_split: indices_or_sections must be an int (a number of "
                                f"sections) or a list of ints (indices), got "
                                f"{type(arg).__name__} {arg!r}")
            k = check_int(arg, "the number of sections", "tensor_split", minimum=1)
            sections = (n // k + 1,) * (n % k) + (n // k,) * (k - n % k)
        return ops.Split.apply(self, sections=sections, axis=ax)

    @torch_names
    def unbind(self, axis: int = 0) -> tuple:
        """The slices along `axis`, each without that axis, as a tuple (one split node); an
        empty axis gives ()."""
        ax, n = self._split_axis(axis, "unbind")
        if n == 0:
            return ()
        shape = self.shape[:ax] + self.shape[ax + 1:]
        return tuple(p.reshape(shape) for p in ops.Split.apply(self, sections=(1,) * n, axis=ax))

    def _split_axis(self, axis: Any, op: str) -> tuple:
        if self.ndim == 0:
            raise ValueError(f"{op}: needs a tensor of at least 1 dimension, got a 0-d tensor")
        ax = one_axis(axis, self.ndim, op)
        return ax, self.shape[ax]

def fill_value(value: Any, dtype: Any, op: str) -> np.ndarray:
    """A number as a 0-d array of `dtype` (2.7 into int64 is 2, as PyTorch), refusing one
    the dtype cannot hold (an infinity or NaN into an integer, 1e300 into float32)."""
    v = np.asarray(value)
    dtype = np.dtype(dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        cast = v.astype(dtype)
    if dtype.kind in "iu" and v.dtype.kind == "f":
        ok = bool(np.isfinite(v)) and np.iinfo(dtype).min <= v <= np.iinfo(dtype).max
    elif dtype.kind in "iu" and v.dtype.kind in "iu":
        ok = np.iinfo(dtype).min <= int(v) <= np.iinfo(dtype).max
    elif dtype.kind == "f":
        ok = not (np.isinf(cast) and np.isfinite(v))
    else:
        ok = True
    if not ok:
        raise ValueError(f"{op}: value {value!r} cannot be converted to {dtype} without "
                         f"overflow")
    return cast


# ----- module functions ----------------------------------------------------------------
def _tensors(tensors: Iterable[Any], op: str) -> list:
    Tensor = _tensor.Tensor
    ts = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not ts:
        raise ValueError(f"{op} needs at least one tensor")
    return ts


def reshape(t: "Tensor", *shape: Any) -> "Tensor":
    """Tensor.reshape as a function."""
    return t.reshape(*shape)


def view(t: "Tensor", *shape: Any) -> "Tensor":
    """Tensor.view as a function."""
    return t.view(*shape)


def transpose(t: "Tensor", *axes: Any) -> "Tensor":
    """Tensor.transpose as a function."""
    return t.transpose(*axes)


def permute(t: "Tensor", *axes: int, dims: Any = None) -> "Tensor":
    """Tensor.permute as a function."""
    return t.permute(*axes, dims=dims)


@torch_names
def unsqueeze(t: "Tensor", axis: int) -> "Tensor":
    """Tensor.unsqueeze as a function."""
    return t.unsqueeze(axis)


@torch_names
def squeeze(t: "Tensor", axis: Any = None) -> "Tensor":
    """Tensor.squeeze as a function."""
    return t.squeeze(axis)


@flatten_names
def flatten(t: "Tensor", start_axis: int = 0, end_axis: int = -1) -> "Tensor":
    """Tensor.flatten as a function."""
    return t.flatten(start_axis, end_axis)


def expand(t: "Tensor", *shape: int) -> "Tensor":
    """Tensor.expand as a function."""
    return t.expand(*shape)


def repeat(t: "Tensor", *reps: int) -> "Tensor":
    """Tensor.repeat as a function."""
    return t.repeat(*reps)


@torch_names
def flip(t: "Tensor", axis: Any, *axes: int) -> "Tensor":
    """Tensor.flip as a function."""
    return t.flip(axis, *axes)


@torch_names
def roll(t: "Tensor", shifts: Any, axis: Any = None) -> "Tensor":
    """Tensor.roll as a function."""
    return t.roll(shifts, axis)


def movedim(t: "Tensor", source: Any, destination: Any) -> "Tensor":
    """Tensor.movedim as a function."""
    return t.movedim(source, destination)


@torch_names
def narrow(t: "Tensor", axis: int, start: int, length: int) -> "Tensor":
    """Tensor.narrow as a function."""
    return t.narrow(axis, start, length)


@torch_names
def repeat_interleave(t: "Tensor", repeats: Any, axis: int | None = None) -> "Tensor":
    """Tensor.repeat_interleave as a function."""
    return t.repeat_interleave(repeats, axis)


@torch_names
def tensor_split(t: "Tensor", indices_or_sections: Any, axis: int = 0) -> tuple:
    """Tensor.tensor_split as a function."""
    return t.tensor_split(indices_or_sections, axis)


@torch_names
def unbind(t: "Tensor", axis: int = 0) -> tuple:
    """Tensor.unbind as a function."""
    return t.unbind(axis)


@torch_names
def split(t: "Tensor", split_size_or_sections: Any, axis: int = 0) -> tuple:
    """Tensor.split as a function."""
    return t.split(split_size_or_sections, axis)


@torch_names
def chunk(t: "Tensor", chunks: int, axis: int = 0) -> tuple:
    """Tensor.chunk as a function."""
    return t.chunk(chunks, axis)


@torch_names
def unflatten(t: "Tensor", axis: int, sizes: Any) -> "Tensor":
    """Tensor.unflatten as a function."""
    return t.unflatten(axis, sizes)


@torch_names
def concatenate(tensors: Iterable[Any], axis: int = 0) -> "Tensor":
    """Join tensors along an existing axis."""
    return ops.Concatenate.apply(*_promotion.promoted(*_tensors(tensors, "concatenate")),
                                 axis=axis)


@torch_names
def cat(tensors: Iterable[Any], axis: int = 0) -> "Tensor":
    """concatenate under PyTorch's name."""
    return concatenate(tensors, axis)


@torch_names
def stack(tensors: Iterable[Any], axis: int = 0) -> "Tensor":
    """Join tensors of one shape along a new axis."""
    return ops.Stack.apply(*_promotion.promoted(*_tensors(tensors, "stack")), axis=axis)


def broadcast_to(t: "Tensor", shape: Sequence[int]) -> "Tensor":
    """t repeated along broadcast axes to `shape`; the gradient sums back."""
    return ops.BroadcastTo.apply(t, shape=tuple(shape))


from tinygrad_rnn import tensor as _tensor  # noqa: E402  (resolved at call time)
