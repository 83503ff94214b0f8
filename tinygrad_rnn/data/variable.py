"""Variable-length sequences in batches: bucketed by length, padded, with their lengths.

Sequences of similar length are batched together so that little of each padded batch is
filler: the dataset is shuffled (seeded by ``(seed, epoch)``), cut into pools of
``pool_batches * batch_size`` sequences, each pool sorted by length and cut into batches,
and the batches of the epoch shuffled. Within a batch the lengths decrease (ties in random
order), so a batch also suits ``pack_padded_sequence(..., enforce_sorted=True)``::

    batcher = BucketBatcher(seqs, labels, batch_size=32, num_classes=vocab_size, seed=0)
    for inputs, lengths, targets, _ in batcher:          # one epoch; the next is reshuffled
        out, h_n = gru(Tensor(inputs), lengths=lengths)  # inputs (T, B, vocab_size)
        ...

A batch holds `inputs` (T, B) int64 ids, or (T, B, C) one-hot with `num_classes`, or
(T, B, F) for sequences of feature vectors, filler `padding_value` past each length (T is
the batch's longest length); `lengths` (B,) int64; `targets` (B, ...) for one target per
sequence or (T, B, ...) padded with `target_padding_value` (default -100, the ignore_index of
F.cross_entropy) for one target per step; `indices` (B,) the sequences' dataset positions.
"""
from __future__ import annotations

from typing import Any, Iterator, NamedTuple, Sequence

import numpy as np

from tinygrad_rnn._validate import check_bool, check_int, check_positive_int


class SequenceBatch(NamedTuple):
    """One padded, time-major batch (see the module docstring)."""

    inputs: np.ndarray
    lengths: np.ndarray
    targets: np.ndarray | None
    indices: np.ndarray


def _as_sequences(sequences: Any, who: str) -> list:
    if isinstance(sequences, (str, bytes)) or not hasattr(sequences, "__len__"):
        raise TypeError(f"{who}: sequences must be a list of arrays, got "
                        f"{type(sequences).__name__}")
    seqs = [np.asarray(s) for s in sequences]
    if not seqs:
        raise ValueError(f"{who}: needs at least one sequence, got none")
    first = seqs[0]
    for i, s in enumerate(seqs):
        if s.ndim == 0 or s.dtype.kind not in "biuf":
            raise ValueError(f"{who}: sequence {i} must be a numeric array (L,) of ids or "
                             f"(L, F) of features, got dtype {s.dtype} and shape {s.shape}")
        if s.shape[1:] != first.shape[1:]:
            raise ValueError(f"{who}: every sequence needs the trailing shape "
                             f"{first.shape[1:]} of sequence 0, got shape {s.shape} at {i}")
        if len(s) == 0:
            raise ValueError(f"{who}: sequence {i} is empty; every sequence needs at least "
                             f"one step")
    return seqs


def _check_ids(seqs: list, num_classes: Any, who: str) -> int:
    n = check_positive_int(num_classes, "num_classes", who)
    for i, s in enumerate(seqs):
        if s.ndim != 1 or s.dtype.kind not in "iu":
            raise ValueError(f"{who}: one-hot input needs 1-D integer ids, got dtype "
                             f"{s.dtype} and shape {s.shape} at {i}")
        if s.min() < 0 or s.max() >= n:
            raise IndexError(f"{who}: ids must be in [0, {n}) for num_classes={n}, got "
                             f"{s.min()}..{s.max()} in sequence {i}")
    return n


def pad_batch(sequences: Sequence[Any], padding_value: float = 0, num_classes: int | None = None,
              dtype: Any = np.float32, batch_first: bool = False) -> tuple:
    """(padded, lengths): sequences (L_b,) of ids or (L_b, F) of features stacked time-major
    into (T, B) / (T, B, F), T = max L_b, `padding_value` past each length; with num_classes
    the ids become one-hot (T, B, num_classes) of `dtype`, all zeros past each length.
    lengths is (B,) int64; batch_first gives (B, T, ...)."""
    who = "pad_batch"
    seqs = _as_sequences(sequences, who)
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    T, B = int(lengths.max()), len(seqs)
    if num_classes is not None:
        n = _check_ids(seqs, num_classes, who)
        out = np.zeros((T, B, n), dtype=dtype)
        for b, s in enumerate(seqs):
            out[np.arange(len(s)), b, s] = 1
    else:
        kind = seqs[0].dtype if seqs[0].dtype.kind in "iu" and seqs[0].ndim == 1 else dtype
        out = np.full((T, B) + seqs[0].shape[1:], padding_value, dtype=kind)
        for b, s in enumerate(seqs):
            out[:len(s), b] = s
    return (np.ascontiguousarray(out.swapaxes(0, 1)) if batch_first else out), lengths


def length_buckets(lengths: Any, batch_size: int, *, shuffle: bool = True, seed: int = 0,
                   epoch: int = 0, pool_batches: int | None = 50,
                   drop_last: bool = False) -> list:
    """The batches of one epoch as arrays of dataset positions, similar lengths together.

    shuffle=True: positions permuted by a generator seeded with (seed, epoch), cut into pools
    of pool_batches * batch_size (None: one pool), each pool sorted by length and cut into
    batches, the batches shuffled. shuffle=False: all sorted by length, longest first, in
    order. Lengths decrease within each batch. drop_last drops a final short batch."""
    who = "length_buckets"
    lens = np.asarray(lengths)
    if lens.ndim != 1 or (lens.size and lens.dtype.kind not in "iu"):
        raise TypeError(f"{who}: lengths must be a 1-D integer array, got dtype {lens.dtype} "
                        f"and shape {lens.shape}")
    batch_size = check_positive_int(batch_size, "batch_size", who)
    check_bool(shuffle, "shuffle", who)
    check_bool(drop_last, "drop_last", who)
    check_int(seed, "seed", who, minimum=0)
    check_int(epoch, "epoch", who, minimum=0)
    n = lens.size
    pool = n if pool_batches is None else \
        check_positive_int(pool_batches, "pool_batches", who) * batch_size
    rng = np.random.default_rng((seed, epoch))
    if shuffle:  # a pool is a multiple of batch_size: only the last batch can be short
        order = rng.permutation(n)
        pools = [order[start:start + pool] for start in range(0, n, max(pool, 1))]
    else:
        pools = [np.arange(n)]
    batches = []
    for idx in pools:
        idx = idx[np.argsort(-lens[idx], kind="stable")]  # ties keep the shuffled order
        batches += [idx[i:i + batch_size] for i in range(0, idx.size, batch_size)]
    if drop_last:
        batches = [b for b in batches if b.size == batch_size]
    if shuffle:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


class BucketBatcher:
    """Epochs of padded, time-major batches of similar-length sequences (module docstring).

    sequences: (L,) int ids or (L, F) feature arrays, L >= 1. targets (optional): one per
    sequence (any shape, batched on a leading axis) or one per step (arrays of length L,
    padded with target_padding_value); per_step=None decides by whether every target has
    its sequence's length. Iterating runs the next epoch (0, 1, ...); `epoch(k)` gives epoch k
    again, the same batches for the same seed. `len()` is the number of batches per epoch.
    """

    def __init__(self, sequences: Sequence[Any], targets: Sequence[Any] | None = None,
                 batch_size: int = 32, *, shuffle: bool = True, seed: int = 0,
                 pool_batches: int | None = 50, drop_last: bool = False,
                 num_classes: int | None = None, padding_value: float = 0,
                 target_padding_value: float = -100, per_step: bool | None = None,
                 dtype: Any = np.float32, batch_first: bool = False):
        who = "BucketBatcher"
        self.sequences = _as_sequences(sequences, who)
        self.lengths = np.array([len(s) for s in self.sequences], dtype=np.int64)
        self.batch_size = check_positive_int(batch_size, "batch_size", who)
        self.shuffle = check_bool(shuffle, "shuffle", who)
        self.seed = check_int(seed, "seed", who, minimum=0)
        self.pool_batches = None if pool_batches is None else \
            check_positive_int(pool_batches, "pool_batches", who)
        self.drop_last = check_bool(drop_last, "drop_last", who)
        self.num_classes = num_classes
        self.padding_value = padding_value
        self.target_padding_value = target_padding_value
        self.dtype = dtype
        self.batch_first = check_bool(batch_first, "batch_first", who)
        self.targets, self.per_step = self._targets(targets, per_step, who)
        self._next_epoch = 0
        if num_classes is not None:  # bad ids fail here, not in the middle of an epoch
            _check_ids(self.sequences, num_classes, who)

    def _targets(self, targets: Any, per_step: bool | None, who: str) -> tuple:
        if targets is None:
            return None, False
        if len(targets) != len(self.sequences):
            raise ValueError(f"{who}: {len(self.sequences)} sequences but {len(targets)} "
                             f"targets; give one target (or one target sequence) each")
        items = [np.asarray(t) for t in targets]
        fits = all(t.ndim >= 1 and len(t) == n for t, n in zip(items, self.lengths))
        if per_step is None:
            per_step = fits
        elif check_bool(per_step, "per_step", who) and not fits:
            bad = next(i for i, (t, n) in enumerate(zip(items, self.lengths))
                       if t.ndim == 0 or len(t) != n)
            raise ValueError(f"{who}: per_step=True needs one target per step, but target "
                             f"{bad} has shape {items[bad].shape} for a sequence of length "
                             f"{self.lengths[bad]}")
        return (items if per_step else np.stack(items)), per_step

    def __len__(self) -> int:
        full, rest = divmod(len(self.sequences), self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def _order(self, k: int) -> list:
        return length_buckets(self.lengths, self.batch_size, shuffle=self.shuffle,
                              seed=self.seed, epoch=k, pool_batches=self.pool_batches,
                              drop_last=self.drop_last)

    def batch(self, indices: Any) -> SequenceBatch:
        """The padded batch of these dataset positions (in this order)."""
        idx = np.asarray(indices, dtype=np.int64)
        inputs, lengths = pad_batch([self.sequences[i] for i in idx], self.padding_value,
                                    self.num_classes, self.dtype, self.batch_first)
        targets = None
        if self.targets is not None and self.per_step:
            targets, _ = pad_batch([self.targets[i] for i in idx], self.target_padding_value,
                                   batch_first=self.batch_first,
                                   dtype=self.targets[idx[0]].dtype)
        elif self.targets is not None:
            targets = self.targets[idx]
        return SequenceBatch(inputs, lengths, targets, idx)

    def epoch(self, k: int) -> Iterator[SequenceBatch]:
        """The batches of epoch k (the same for the same seed, whatever ran before)."""
        return (self.batch(b) for b in self._order(check_int(k, "epoch", "BucketBatcher", 0)))

    def __iter__(self) -> Iterator[SequenceBatch]:
        k, self._next_epoch = self._next_epoch, self._next_epoch + 1
        return self.epoch(k)

    def __repr__(self) -> str:
        return (f"BucketBatcher(sequences={len(self.sequences)}, batch_size={self.batch_size}, "
                f"lengths {int(self.lengths.min())}..{int(self.lengths.max())}, "
                f"batches={len(self)})")
