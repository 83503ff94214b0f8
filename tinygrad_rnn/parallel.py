"""How many threads the engine computes on, and the BLAS library with it.

A recurrence is sequential; what two cores can share is each product: a step's `h @ W`, the
weight gradients over all steps, a read-out. OpenBLAS splits a product over its threads by
blocks of the output; where the blocks fall on its kernels' unrolling, every entry is the
same sum in the same order and the numbers do not depend on the thread count. Measured with
NumPy's OpenBLAS on the 2-core benchmark machine, for the per-step products of an RNN, GRU
or LSTM ((B, H) @ (H, G*H) and (B, G*H) @ (G*H, H), B from 8 to 64, float32 and float64):
identical at every hidden size that is a multiple of 32, different in the last bits at
others (100, 144, 200, 300, ...: on two threads the edge columns of a block are summed by
another kernel). tests/test_parallel.py compares the layers and cells to the bit at sizes of
the first kind; where bit-for-bit reproducibility across machines and loads matters at other
sizes, set one thread (`set_num_threads(1)`, `TINYGRAD_RNN_THREADS=1`, `--threads 1`).

`set_num_threads(n)` sets BLAS's thread count through threadpoolctl. Unless it was called,
the first recurrent layer or `scan` that runs chooses: two threads where the process may use
two CPUs or more and the one-minute load average leaves a core free, else one, because on a
busy machine a second BLAS thread waits for a core far longer than it saves.
`TINYGRAD_RNN_THREADS` (1 or 2) overrides the choice.

A worker thread of our own (weight gradients of finished steps beside the time loop, the two
directions of a bidirectional layer at once) was measured and lost: after a call on two
threads OpenBLAS keeps its helper thread spinning on a core for about 100 ms, so anything
else run in that time fights it for the second core (training steps 13-40% slower than
letting OpenBLAS split the products).
"""
from __future__ import annotations

import contextlib
import os
from typing import Any, Iterator

from tinygrad_rnn._validate import check_int

_threads: int | None = None  # None: not chosen yet
_controller: Any = None


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_num_threads() -> int:
    """2 where two CPUs are usable and the load average leaves one free, else 1."""
    env = os.environ.get("TINYGRAD_RNN_THREADS")
    if env:
        if env.strip() not in ("1", "2"):
            raise ValueError(f"TINYGRAD_RNN_THREADS must be 1 or 2, got {env!r}")
        return int(env)
    cpus = _cpus()
    if cpus < 2:
        return 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        load = 0.0
    return 2 if load <= cpus - 1 else 1


def get_num_threads() -> int:
    """The count set by `set_num_threads` (or chosen on first use); before either, BLAS's own
    (the smallest over the loaded libraries; 1 without threadpoolctl). Changes nothing."""
    if _threads is not None:
        return _threads
    counts = blas_threads()
    return min(counts) if counts else 1


def set_num_threads(n: int | None) -> None:
    """Compute on `n` threads (BLAS's count); None chooses as `default_num_threads` does."""
    global _threads
    if n is not None:
        check_int(n, "n", "set_num_threads", minimum=1)
    _threads = default_num_threads() if n is None else int(n)
    _set_blas(_threads)


def choose_on_first_use() -> None:
    """Called by the recurrent layers and `scan` when they run: the first one chooses the
    count (`default_num_threads`) unless `set_num_threads` was called before."""
    if _threads is None:
        set_num_threads(None)


def _blas() -> Any:
    """threadpoolctl's controller of the loaded BLAS libraries, or None without threadpoolctl."""
    global _controller
    if _controller is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _controller = False
        else:
            _controller = ThreadpoolController().select(user_api="blas")
    return _controller or None


def _set_blas(n: int) -> None:
    blas = _blas()
    if blas is not None:
        for lib in blas.lib_controllers:
            lib.set_num_threads(n)


def blas_threads() -> list:
    """The thread count of each BLAS library NumPy loaded (empty without threadpoolctl)."""
    blas = _blas()
    return [lib.get_num_threads() for lib in blas.lib_controllers] if blas else []


@contextlib.contextmanager
def num_threads(n: int) -> Iterator[None]:
    """Compute on `n` threads inside the block; the count and BLAS's are restored after."""
    global _threads
    before, blas_before = _threads, blas_threads()
    set_num_threads(n)
    try:
        yield
    finally:
        _threads = before
        blas = _blas()
        for lib, k in zip(blas.lib_controllers if blas else [], blas_before):
            lib.set_num_threads(k)
