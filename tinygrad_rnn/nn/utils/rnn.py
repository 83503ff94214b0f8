"""Variable-length sequences: padding, packing and unpacking, as `torch.nn.utils.rnn`.

A batch of B sequences of lengths L_b (each (L_b, *) with the same trailing shape) lives in
one of two layouts:

- padded, time-major (T, B, *) (or batch-first (B, T, *)): step t of sequence b at [t, b],
  filler past L_b;
- packed, a `PackedSequence`: the sequences sorted by decreasing length, then the valid
  steps stored time step by time step: `data` (sum L_b, *) holds step 0 of every sequence,
  then step 1 of those with L_b > 1, ...; `batch_sizes[t]` counts the sequences still
  running at step t. `sorted_indices[j]` is the original batch position of the j-th
  longest sequence and `unsorted_indices` inverts it (both None when the batch was
  already sorted: `enforce_sorted=True`).

Every conversion is one or two graph nodes (a concatenate and a gather), so gradients flow
between the packed data and the padded tensor both ways; filler gets no gradient.

For the recurrent layers (which run on padded time-major tensors with per-sequence lengths)
three helpers translate a PackedSequence at their boundary:

    padded, lengths = as_padded(packed)     # (T, B, *) Tensor, lengths (B,) int64 ndarray,
                                            # both in the ORIGINAL batch order
    ...                                     # run the layer with lengths=lengths
    out = as_packed(output, lengths, like=packed)   # same sorted/unsorted indices as packed

and `lengths_of(packed)`, `check_lengths(lengths, batch_size, max_length, owner)` and
`length_mask(lengths, total_length)` give the lengths, validate a user's `lengths=` and
build the (T, B) validity mask.
"""
from __future__ import annotations

from collections import namedtuple
from typing import Any, Sequence

import numpy as np

from tinygrad_rnn._validate import check_bool, check_choice, check_int, check_number
from tinygrad_rnn.methods.movement import concatenate
from tinygrad_rnn.tensor import Tensor

__all__ = [
    "PackedSequence", "as_packed", "as_padded", "check_lengths", "length_mask", "lengths_of",
    "pack_padded_sequence", "pack_sequence", "pad_packed_sequence", "pad_sequence",
    "unpack_sequence", "unpad_sequence",
]


# ----- lengths ---------------------------------------------------------------------------
def check_lengths(lengths: Any, batch_size: int | None = None, max_length: int | None = None,
                  owner: str = "lengths") -> np.ndarray:
    """`lengths` (a list, ndarray or integer Tensor) as a (B,) int64 ndarray, each in
    1..max_length; B must equal batch_size when given. TypeError for non-integers,
    ValueError for a wrong shape, count or value, each naming `owner`."""
    if isinstance(lengths, Tensor):
        arr = lengths.data
    elif isinstance(lengths, np.ndarray):
        arr = lengths
    else:
        try:
            arr = np.asarray(lengths)
        except (TypeError, ValueError):
            raise TypeError(f"{owner}: lengths must be a sequence of ints, got "
                            f"{type(lengths).__name__}") from None
        if arr.ndim == 1 and arr.size == 0:
            arr = arr.astype(np.int64)  # an empty list has no dtype of its own
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{owner}: lengths must be integers, got dtype {arr.dtype} "
                        f"({lengths!r:.60})")
    if arr.ndim != 1:
        raise ValueError(f"{owner}: lengths must be 1-D, one length per sequence, got shape "
                         f"{arr.shape}")
    if batch_size is not None and arr.shape[0] != batch_size:
        raise ValueError(f"{owner}: expected one length per sequence, {batch_size} for a "
                         f"batch of {batch_size}, got {arr.shape[0]} lengths")
    if arr.size == 0:
        raise ValueError(f"{owner}: lengths must hold at least one length, got none")
    low = int(arr.min())
    if low < 1:
        raise ValueError(f"{owner}: every length must be at least 1 (a sequence needs a step), "
                         f"got {low} at position {int(np.argmin(arr))}")
    high = int(arr.max())
    if max_length is not None and high > max_length:
        raise ValueError(f"{owner}: lengths must be at most the padded length {max_length}, "
                         f"got {high} at position {int(np.argmax(arr))}")
    return arr.astype(np.int64, copy=False)


def length_mask(lengths: Any, total_length: int | None = None, dtype: Any = bool) -> np.ndarray:
    """(T, B) mask, true (1) where t < lengths[b]; T = total_length or max(lengths)."""
    lens = check_lengths(lengths, max_length=total_length, owner="length_mask")
    T = int(lens.max()) if total_length is None else total_length
    return (np.arange(T)[:, None] < lens[None, :]).astype(dtype)


def _int_vector(value: Any, name: str, owner: str) -> np.ndarray:
    arr = value.data if isinstance(value, Tensor) else np.asarray(value)
    if arr.dtype.kind not in "iu" or arr.ndim != 1:
        raise TypeError(f"{owner}: {name} must be a 1-D integer array, got dtype {arr.dtype} "
                        f"and shape {arr.shape}")
    return arr.astype(np.int64, copy=False)


def _as_tensor(x: Any, owner: str, what: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray):
        return Tensor(x)
    raise TypeError(f"{owner}: {what} must be a Tensor (or an ndarray), got {type(x).__name__}")


# ----- the packed layout -------------------------------------------------------------------
_Fields = namedtuple("PackedSequence", ["data", "batch_sizes", "sorted_indices",
                                        "unsorted_indices"])


class PackedSequence(_Fields):
    """Sequences of different lengths stored step by step, as torch's PackedSequence.

    data (sum of lengths, *) Tensor; batch_sizes (T,) int64 Tensor, non-increasing;
    sorted_indices / unsorted_indices (B,) int64 Tensors (inverse permutations) or None.
    Built by pack_padded_sequence / pack_sequence; unsorted_indices is derived from
    sorted_indices when omitted. Unpack with pad_packed_sequence.
    """

    __slots__ = ()

    def __new__(cls, data: Any, batch_sizes: Any = None, sorted_indices: Any = None,
                unsorted_indices: Any = None) -> "PackedSequence":
        owner = "PackedSequence"
        data = _as_tensor(data, owner, "data")
        if batch_sizes is None:
            raise TypeError(f"{owner}: batch_sizes is required (build one with "
                            f"pack_padded_sequence or pack_sequence)")
        bs = _int_vector(batch_sizes, "batch_sizes", owner)
        if bs.size == 0 or bs.min() < 1 or np.any(np.diff(bs) > 0):
            raise ValueError(f"{owner}: batch_sizes must be positive and non-increasing, got "
                             f"{bs.tolist()}")
        if data.ndim == 0 or data.shape[0] != bs.sum():
            raise ValueError(f"{owner}: data must have sum(batch_sizes) = {int(bs.sum())} rows, "
                             f"got shape {data.shape}")
        indices = []
        for name, idx in (("sorted_indices", sorted_indices),
                          ("unsorted_indices", unsorted_indices)):
            if idx is not None:
                idx = _int_vector(idx, name, owner)
                if not np.array_equal(np.sort(idx), np.arange(bs[0])):
                    raise ValueError(f"{owner}: {name} must be a permutation of 0..{bs[0] - 1}, "
                                     f"got {idx.tolist()}")
            indices.append(idx)
        si, ui = indices
        if ui is None and si is not None:
            ui = _inverse(si)
        if si is None and ui is not None:
            si = _inverse(ui)
        return super().__new__(cls, data, Tensor(bs),
                               None if si is None else Tensor(si),
                               None if ui is None else Tensor(ui))

    @property
    def is_cuda(self) -> bool:  # PyTorch's attribute; this package runs on the CPU
        return False


def _inverse(perm: np.ndarray) -> np.ndarray:
    inv = np.empty_like(perm)
    inv[perm] = np.arange(perm.size, dtype=perm.dtype)
    return inv


def _batch_sizes(sorted_lengths: np.ndarray) -> np.ndarray:
    """batch_sizes[t] = how many of the (decreasing) lengths exceed t."""
    T = int(sorted_lengths[0])
    return (sorted_lengths[None, :] > np.arange(T)[:, None]).sum(axis=1).astype(np.int64)


def _pack(x: Tensor, sorted_lengths: np.ndarray, order: np.ndarray,
          batch_first: bool) -> tuple:
    """(data, batch_sizes): x's valid steps gathered time by time in sorted batch order."""
    bs = _batch_sizes(sorted_lengths)
    starts = np.cumsum(bs) - bs
    t = np.repeat(np.arange(bs.size), bs)
    j = np.arange(int(bs.sum())) - np.repeat(starts, bs)  # sorted position within step t
    b = order[j]
    return (x[b, t] if batch_first else x[t, b]), bs


def pack_padded_sequence(input: Any, lengths: Any, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch: input (T, B, *) (or (B, T, *) with batch_first), lengths (B,).

    With enforce_sorted=True the lengths must be in decreasing order (no indices are kept);
    with False the batch is sorted here and the order is remembered so that
    pad_packed_sequence restores it. The sort is stable: sequences of equal length keep their
    batch order (PyTorch leaves the order of ties unspecified; only then can the packed rows
    differ from its, in order, never in values or in what pad_packed_sequence returns). Differentiable in input (filler gets zero gradient).
    """
    owner = "pack_padded_sequence"
    x = _as_tensor(input, owner, "input")
    batch_first = check_bool(batch_first, "batch_first", owner)
    enforce_sorted = check_bool(enforce_sorted, "enforce_sorted", owner)
    if x.ndim < 2:
        raise ValueError(f"{owner}: input must be (T, B, *) or (B, T, *) with batch_first, "
                         f"got shape {x.shape}")
    B, T = (x.shape[0], x.shape[1]) if batch_first else (x.shape[1], x.shape[0])
    lens = check_lengths(lengths, B, T, owner)
    if enforce_sorted:
        if np.any(np.diff(lens) > 0):
            raise ValueError(f"{owner}: lengths must be sorted in decreasing order when "
                             f"enforce_sorted=True, got {lens.tolist()}; pass "
                             f"enforce_sorted=False to have the batch sorted for you")
        order, sorted_indices = np.arange(B), None
    else:
        order = np.argsort(-lens, kind="stable")
        sorted_indices = order
    data, bs = _pack(x, lens[order], order, batch_first)
    return PackedSequence(data, bs, sorted_indices, None)


def _unpack_grid(packed: PackedSequence, total_length: int) -> tuple:
    """(rows, lengths): rows (T, B) index into data (sum L, *), sum L where t >= L_b, in the
    original batch order; lengths (B,) in the original order."""
    bs = packed.batch_sizes.data
    n = int(bs.sum())
    sorted_lengths = (bs[None, :] > np.arange(bs[0])[:, None]).sum(axis=1)
    pos = np.arange(bs[0]) if packed.unsorted_indices is None \
        else packed.unsorted_indices.data  # sorted position of each original sequence
    lengths = sorted_lengths[pos].astype(np.int64)
    starts = np.cumsum(bs) - bs
    t = np.arange(total_length)[:, None]
    rows = starts[np.minimum(t, bs.size - 1)] + pos[None, :]
    return np.where(t < lengths[None, :], rows, n), lengths


def _gather_padded(data: Tensor, rows: np.ndarray, padding_value: float) -> Tensor:
    """data rows picked by `rows`, where row len(data) is a constant filler row."""
    fill = Tensor(np.full((1,) + data.shape[1:], padding_value, dtype=data.dtype))
    return concatenate([data, fill], axis=0)[rows]


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple:
    """Unpack: (padded (T, B, *) or (B, T, *) with batch_first, lengths (B,) int64 Tensor),
    in the batch order given to pack_padded_sequence; T = total_length or the longest length.
    Differentiable in sequence.data."""
    owner = "pad_packed_sequence"
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"{owner}: sequence must be a PackedSequence, got "
                        f"{type(sequence).__name__}")
    batch_first = check_bool(batch_first, "batch_first", owner)
    padding_value = check_number(padding_value, "padding_value", owner)
    longest = len(sequence.batch_sizes)
    if total_length is None:
        total_length = longest
    elif check_int(total_length, "total_length", owner) < longest:
        raise ValueError(f"{owner}: total_length must be at least the length of the longest "
                         f"sequence, {longest}, got total_length={total_length}")
    rows, lengths = _unpack_grid(sequence, total_length)
    padded = _gather_padded(sequence.data, rows.T if batch_first else rows, padding_value)
    return padded, Tensor(lengths)


# ----- lists of sequences --------------------------------------------------------------------
def pad_sequence(sequences: Sequence[Any], batch_first: bool = False,
                 padding_value: float = 0.0, padding_side: str = "right") -> Tensor:
    """Stack sequences (L_b, *) of one trailing shape and dtype into (T, B, *) (or (B, T, *)
    with batch_first), T = max L_b, filled with padding_value after each sequence (before
    it with padding_side="left"). Differentiable in every sequence (one concatenate and
    one gather)."""
    owner = "pad_sequence"
    if isinstance(sequences, (Tensor, np.ndarray)):
        sequences = list(sequences)
    seqs = [_as_tensor(s, owner, "each sequence") for s in sequences]
    batch_first = check_bool(batch_first, "batch_first", owner)
    padding_value = check_number(padding_value, "padding_value", owner)
    check_choice(padding_side, "padding_side", owner, ("right", "left"))
    if not seqs:
        raise ValueError(f"{owner}: needs at least one sequence, got none")
    first = seqs[0]
    for i, s in enumerate(seqs):
        if s.ndim == 0 or s.shape[1:] != first.shape[1:]:
            raise ValueError(f"{owner}: every sequence must be (L, *) with the trailing shape "
                             f"{first.shape[1:]} of sequence 0, got shape {s.shape} at {i}")
        if s.dtype != first.dtype:
            raise TypeError(f"{owner}: every sequence must have dtype {first.dtype} (that of "
                            f"sequence 0), got {s.dtype} at {i}")
    lens = np.array([s.shape[0] for s in seqs], dtype=np.int64)
    T, n = int(lens.max()), int(lens.sum())
    starts = np.cumsum(lens) - lens
    t = np.arange(T)[:, None]
    offset = t if padding_side == "right" else t - (T - lens)[None, :]  # step within b
    rows = np.where((offset >= 0) & (offset < lens[None, :]), starts[None, :] + offset, n)
    fill = Tensor(np.full((1,) + first.shape[1:], padding_value, dtype=first.dtype))
    return concatenate(seqs + [fill], axis=0)[rows.T if batch_first else rows]


def pack_sequence(sequences: Sequence[Any], enforce_sorted: bool = True) -> PackedSequence:
    """pack_padded_sequence(pad_sequence(sequences), their lengths, enforce_sorted=...)."""
    seqs = [_as_tensor(s, "pack_sequence", "each sequence") for s in sequences]
    lengths = [s.shape[0] if s.ndim else 0 for s in seqs]
    return pack_padded_sequence(pad_sequence(seqs), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences: Tensor, lengths: Any,
                   batch_first: bool = False) -> list:
    """The list of sequences (L_b, *) inside a padded batch: the inverse of pad_sequence."""
    x = _as_tensor(padded_sequences, "unpad_sequence", "padded_sequences")
    if x.ndim < 2:
        raise ValueError(f"unpad_sequence: padded_sequences must be (T, B, *) or (B, T, *), "
                         f"got shape {x.shape}")
    B, T = (x.shape[0], x.shape[1]) if batch_first else (x.shape[1], x.shape[0])
    lens = check_lengths(lengths, B, T, "unpad_sequence")
    return [x[b, :n] if batch_first else x[:n, b] for b, n in enumerate(lens.tolist())]


def unpack_sequence(packed_sequences: PackedSequence) -> list:
    """The list of sequences (L_b, *) inside a PackedSequence, in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)


# ----- for the recurrent layers ------------------------------------------------------------
def lengths_of(packed: PackedSequence) -> np.ndarray:
    """Each sequence's length, (B,) int64 ndarray, in the original batch order."""
    if not isinstance(packed, PackedSequence):
        raise TypeError(f"lengths_of: expected a PackedSequence, got {type(packed).__name__}")
    bs = packed.batch_sizes.data
    sorted_lengths = (bs[None, :] > np.arange(bs[0])[:, None]).sum(axis=1).astype(np.int64)
    return sorted_lengths if packed.unsorted_indices is None \
        else sorted_lengths[packed.unsorted_indices.data]


def as_padded(packed: PackedSequence) -> tuple:
    """(padded, lengths): padded the (T, B, *) time-major Tensor with zeros past each length,
    T the longest length, lengths (B,) int64 ndarray, both in the ORIGINAL batch order.
    Differentiable in packed.data."""
    if not isinstance(packed, PackedSequence):
        raise TypeError(f"as_padded: expected a PackedSequence, got {type(packed).__name__}")
    rows, lengths = _unpack_grid(packed, len(packed.batch_sizes))
    return _gather_padded(packed.data, rows, 0.0), lengths


def as_packed(padded: Tensor, lengths: Any, like: PackedSequence | None = None) -> PackedSequence:
    """Pack a time-major (T, B, *) Tensor whose sequence b has lengths[b] valid steps (the
    original batch order). With `like` the result has like's batch_sizes and sorted /
    unsorted indices (a layer returns its input's layout); without it the batch is sorted
    as pack_padded_sequence(..., enforce_sorted=False) does. Differentiable in padded."""
    owner = "as_packed"
    x = _as_tensor(padded, owner, "padded")
    if x.ndim < 2:
        raise ValueError(f"{owner}: padded must be time-major (T, B, *), got shape {x.shape}")
    lens = check_lengths(lengths, x.shape[1], x.shape[0], owner)
    if like is None:
        return pack_padded_sequence(x, lens, enforce_sorted=False)
    if not isinstance(like, PackedSequence):
        raise TypeError(f"{owner}: like must be a PackedSequence or None, got "
                        f"{type(like).__name__}")
    order = np.arange(x.shape[1]) if like.sorted_indices is None else like.sorted_indices.data
    if not np.array_equal(lens, lengths_of(like)):
        raise ValueError(f"{owner}: lengths {lens.tolist()} differ from those of `like`, "
                         f"{lengths_of(like).tolist()}")
    data, _ = _pack(x, lens[order], order, batch_first=False)
    return PackedSequence(data, like.batch_sizes, like.sorted_indices, like.unsorted_indices)
