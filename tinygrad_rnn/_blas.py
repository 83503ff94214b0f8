"""Matrix products laid out where NumPy's OpenBLAS is slow, with the same numbers.

Two cases, both measured on the 2-core benchmark machine and checked to the bit by
tests/test_blas.py on the BLAS at hand: wide step weights (below) and a few float32 rows
times a transposed weight (`times_transposed`, the eager `x @ W.T` of a user's cell).

A recurrence multiplies the same weight at every step: `h_t @ W` with `W` (K, N). NumPy's
OpenBLAS float32 GEMM is markedly slow when N is a multiple of 1024 (rows of 4 KiB: the
kernel's loads of consecutive rows fall into the same cache sets). Measured on the 2-core
benchmark machine, (32, 256) @ (256, 1024), the LSTM's per-step product at hidden 256:

    one thread:  266 us against 194 us for the same product with 16 zero columns appended
    two threads: 135 us against 105 us

float64 and other widths show no such step (benchmarks/README.md has the table). So, where
NumPy's BLAS is OpenBLAS (`OPENBLAS`; the slowdown was measured there only), a weight used at
every step is stored once per sequence with `PAD` zero columns where N is such a multiple
and the product has at least `MIN_ROWS` rows; the product is written into an equally wide
buffer and its first N columns are used. Each element of the product is the same sum in the
same order either way (only the column blocking changes), so the numbers are identical:
tests/test_blas.py checks it on the BLAS at hand.
"""
from __future__ import annotations

import numpy as np


def _numpy_blas() -> str:
    """The name of the BLAS NumPy was built with ("scipy-openblas", "mkl", ...), or ""."""
    try:
        return str(np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"])
    except Exception:  # an older NumPy or a build without that record
        return ""


OPENBLAS = "openblas" in _numpy_blas().lower()
PAD = 16  # extra columns: 64 bytes of float32, one cache line
MIN_ROWS = 8  # fewer rows: no gain measured, and a one-row product (BLAS's matrix-vector
# kernel) on two threads splits a wider matrix differently, so its numbers would change


def padded_width(n: int, dtype: np.dtype, rows: int) -> int:
    """The width of a step product's buffer for a right operand of n columns and a left
    operand of `rows` rows."""
    if OPENBLAS and rows >= MIN_ROWS and n >= 1024 and n % 1024 == 0 \
            and np.dtype(dtype) == np.float32:
        return n + PAD
    return n


def step_rhs(b: np.ndarray, rows: int) -> np.ndarray:
    """b (K, N) as a C-contiguous (K, padded_width(N, b.dtype, rows)) matrix: b, then zero
    columns if any.

    For a of `rows` rows, `np.dot(a, step_rhs(b, rows))[:, :N]` equals `np.dot(a, b)`; with
    `out=` it needs a buffer of the padded width.
    """
    k, n = b.shape
    width = padded_width(n, b.dtype, rows)
    if width == n:
        return np.ascontiguousarray(b)
    out = np.zeros((k, width), dtype=b.dtype)
    out[:, :n] = b
    return out


def wide_rhs(b: np.ndarray) -> np.ndarray | None:
    """step_rhs(b, MIN_ROWS) where that widens b, else None: what an op prepares once per
    sequence for a weight used at every step (it uses it from MIN_ROWS rows on)."""
    if padded_width(b.shape[1], b.dtype, MIN_ROWS) == b.shape[1]:
        return None
    return step_rhs(b, MIN_ROWS)


def times_transposed(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """a @ w.T for a (M, K) and w (N, K), C-contiguous, the same numbers.

    OpenBLAS's float32 kernel for a few rows times a transposed matrix is slow: (32, 256) @
    (1024, 256).T takes 290 us on one thread where (w @ a.T).T, made contiguous, takes 207
    (2 rows: 200 against 73 us). So from 2 to 32 rows and at least 256 columns the product
    is taken that way round (measured the same to the bit, one thread or two; float64 and
    other shapes gain nothing: the plain product)."""
    if a.dtype == w.dtype and w.flags.c_contiguous and turned_round(a.shape[0], w.shape[0],
                                                                   a.dtype):
        return np.ascontiguousarray(np.dot(w, a.T).T)
    return np.dot(a, w.T)


def turned_round(rows: int, n: int, dtype: np.dtype) -> bool:
    """Whether times_transposed takes a (rows, K) @ (n, K).T product as (w @ a.T).T."""
    return OPENBLAS and 2 <= rows <= 32 and n >= 256 and np.dtype(dtype) == np.float32
