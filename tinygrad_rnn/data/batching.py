"""Contiguous streams cut into windows for truncated backpropagation through time (TBPTT).

The id sequence is split into `batch_size` contiguous streams of equal length (stream b is
``ids[b * L:(b + 1) * L]``); window k holds steps ``k*T .. k*T + T - 1`` of every stream, so
window k + 1 of stream b continues exactly where window k ended and a hidden state carried
(detached) from one window to the next keeps reading the same text::

    ids:      |------ stream 0 ------|------ stream 1 ------| ... |---- stream B-1 ----|
    window k: inputs[t, b] = stream_b[k*T + t],  targets[t, b] = stream_b[k*T + t + 1]
"""
from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from tinygrad_rnn._validate import check_int, check_number, check_positive_int


def _as_ids(ids: Any, who: str) -> np.ndarray:
    arr = np.asarray(ids)
    if arr.ndim != 1:
        raise ValueError(f"{who}: ids must be a 1-D array, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{who}: ids must be integers, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


class TBPTTBatcher:
    """Windows of `seq_len` steps over `batch_size` parallel streams, time-major.

    Iterating yields ``(inputs, targets)``, int64 arrays of shape ``(seq_len, batch_size)``
    with ``targets[t] == inputs[t + 1]`` inside a window and across consecutive windows.
    `len()` is the number of windows per epoch; `batcher[k]` is window k and
    `iter_from(k)` resumes an epoch at window k. With ``drop_last=False`` a final shorter
    window covers the remaining steps.
    """

    def __init__(self, ids: Any, batch_size: int, seq_len: int, drop_last: bool = True):
        ids = _as_ids(ids, "TBPTTBatcher")
        batch_size = check_positive_int(batch_size, "batch_size", "TBPTTBatcher")
        seq_len = check_positive_int(seq_len, "seq_len", "TBPTTBatcher")
        n = len(ids)
        if n < 2:
            raise ValueError(f"TBPTTBatcher needs at least 2 ids (an input and its target), got {n}")
        stream_len = n // batch_size
        if stream_len < 2:
            raise ValueError(
                f"TBPTTBatcher: batch_size={batch_size} is too large for {n} ids: each stream would "
                f"hold {stream_len} id(s) but needs at least 2 (an input and its target); "
                f"use batch_size <= {n // 2}"
            )
        if stream_len - 1 < seq_len:
            raise ValueError(
                f"TBPTTBatcher: seq_len={seq_len} is longer than the data allows: {n} ids in "
                f"batch_size={batch_size} streams of {stream_len} ids give {stream_len - 1} input "
                f"steps per stream; use seq_len <= {stream_len - 1} or a smaller batch_size"
            )
        self.batch_size = batch_size
        self.seq_len = seq_len
        self.drop_last = drop_last
        self.stream_len = stream_len
        self.streams = ids[: batch_size * stream_len].reshape(batch_size, stream_len)

    def __len__(self) -> int:
        steps = self.stream_len - 1  # the last id of a stream is only ever a target
        full, rest = divmod(steps, self.seq_len)
        return full + (1 if rest and not self.drop_last else 0)

    def __getitem__(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        n = len(self)
        k = check_int(k, "window index", "TBPTTBatcher")
        if k < 0:
            k += n
        if not 0 <= k < n:
            raise IndexError(f"TBPTTBatcher: window {k} out of range for {n} windows per epoch")
        start = k * self.seq_len
        stop = min(start + self.seq_len, self.stream_len - 1)
        inputs = np.ascontiguousarray(self.streams[:, start:stop].T)
        targets = np.ascontiguousarray(self.streams[:, start + 1:stop + 1].T)
        return inputs, targets

    def iter_from(self, start: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The windows of one epoch from window `start` on (to resume an interrupted epoch)."""
        n = len(self)
        if not 0 <= check_int(start, "start window", "TBPTTBatcher") <= n:
            raise ValueError(f"TBPTTBatcher: start window must be an int in 0..{n}, got {start!r}")
        return (self[k] for k in range(start, n))

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return self.iter_from(0)

    def __repr__(self) -> str:
        return (f"TBPTTBatcher(batch_size={self.batch_size}, seq_len={self.seq_len}, "
                f"stream_len={self.stream_len}, windows={len(self)})")


def stream_batches(ids: Any, batch_size: int, seq_len: int, start: int = 0,
                   drop_last: bool = True) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """One epoch of `TBPTTBatcher(ids, batch_size, seq_len, drop_last)` windows, from `start`."""
    return TBPTTBatcher(ids, batch_size, seq_len, drop_last=drop_last).iter_from(start)


def train_val_split(ids: Any, val_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Split ids into (train, validation): the validation part is the tail of the text, so the
    two never overlap and the model is judged on text it never read."""
    ids = _as_ids(ids, "train_val_split")
    check_number(val_fraction, "val_fraction", "train_val_split", 0, 1, interval="()")
    n = len(ids)
    n_val = int(n * val_fraction)
    if n_val < 2 or n - n_val < 2:
        raise ValueError(
            f"train_val_split: {n} ids with val_fraction={val_fraction} give {n - n_val} training "
            f"and {n_val} validation ids; each part needs at least 2"
        )
    return ids[: n - n_val], ids[n - n_val:]
