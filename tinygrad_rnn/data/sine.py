"""Sine-wave regression data, as in the classic first RNN tutorial: learn to continue sin(t).

A series x_i = sin(start + i * dt) is cut into windows of `seq_len` samples. With
``target="next"`` (many-to-many) each step's target is the following sample; with
``target="last"`` (many-to-one) the single target is the sample right after the window.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_rnn._validate import check_number, check_positive_int
from tinygrad_rnn.tensor import get_rng


def sine_series(n: int, dt: float = 0.1, start: float = 0.0, dtype: Any = np.float32) -> np.ndarray:
    """x_i = sin(start + i * dt) for i = 0 .. n-1."""
    check_positive_int(n, "n", "sine_series")
    t = start + dt * np.arange(n, dtype=np.float64)
    return np.sin(t).astype(dtype)


def sine_windows(n_samples: int, seq_len: int, *, dt: float = 0.1, start: float = 0.0,
                 stride: int = 1, target: str = "next", noise_std: float = 0.0,
                 rng: np.random.Generator | None = None,
                 dtype: Any = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """`n_samples` windows of a sine series, batch-first.

    Window j starts at sample j * stride: ``inputs[j, t, 0] = sin(start + (j*stride + t) * dt)``
    (plus Gaussian noise of `noise_std` from `rng`, default the package generator).
    Returns ``inputs`` of shape (N, T, 1) and ``targets`` of shape (N, T, 1) for
    ``target="next"`` (``targets[:, t] = x[t + 1]``) or (N, 1) for ``target="last"``
    (``targets[:, 0] = x[T]``, the sample after the window).
    """
    for name, value in (("n_samples", n_samples), ("seq_len", seq_len), ("stride", stride)):
        check_positive_int(value, name, "sine_windows")
    if target not in ("next", "last"):
        raise ValueError(f"sine_windows: target must be 'next' or 'last', got {target!r}")
    if not np.issubdtype(np.dtype(dtype), np.floating):
        raise TypeError(f"sine_windows: dtype must be a floating type, got {np.dtype(dtype)}")
    check_number(noise_std, "noise_std", "sine_windows", low=0)
    series = sine_series((n_samples - 1) * stride + seq_len + 1, dt=dt, start=start, dtype=np.float64)
    if noise_std > 0:
        series = series + (rng if rng is not None else get_rng()).normal(0.0, noise_std, series.shape)
    # index grid: row j, column t -> sample j*stride + t (T + 1 columns: inputs and their next)
    idx = np.arange(n_samples)[:, None] * stride + np.arange(seq_len + 1)[None, :]
    windows = series[idx].astype(dtype)
    inputs = windows[:, :-1, None]
    targets = windows[:, 1:, None] if target == "next" else windows[:, -1:]
    return np.ascontiguousarray(inputs), np.ascontiguousarray(targets)


def split_train_val(inputs: np.ndarray, targets: np.ndarray,
                    val_fraction: float = 0.2) -> tuple[tuple[np.ndarray, np.ndarray],
                                                        tuple[np.ndarray, np.ndarray]]:
    """((train_inputs, train_targets), (val_inputs, val_targets)): the last windows (the latest
    stretch of the series) are held out."""
    if len(inputs) != len(targets):
        raise ValueError(
            f"split_train_val: inputs has {len(inputs)} windows but targets has {len(targets)}"
        )
    check_number(val_fraction, "val_fraction", "split_train_val", 0, 1, interval="()")
    n = len(inputs)
    n_val = int(n * val_fraction)
    if n_val < 1 or n_val >= n:
        raise ValueError(
            f"split_train_val: {n} windows with val_fraction={val_fraction} leave "
            f"{n - n_val} for training and {n_val} for validation; each needs at least 1"
        )
    cut = n - n_val
    return (inputs[:cut], targets[:cut]), (inputs[cut:], targets[cut:])
