"""The second core: a worker thread for the work that does not wait for the recurrence.

A recurrence is sequential, but much of a training step is not: the weight gradients of the
steps already done, in backward, are independent of the steps still to come. With two
threads (`set_num_threads(2)`) the engine hands such work to one worker thread while the
main thread runs the time loop; NumPy releases the GIL inside BLAS and ufunc loops, so both
cores compute at once. Each BLAS call is then single-threaded (threadpoolctl scopes it).

The work is split the same way whatever the thread count: `Jobs.submit` runs a job on the
worker, or at once on the calling thread with one thread, and the caller combines the
results in a fixed order. So the numbers do not depend on the thread count, to the bit.

The default is chosen on first use: two threads where the process may use two CPUs or more
and the machine is not busy (its one-minute load average leaves a core free), else one;
`TINYGRAD_RNN_THREADS` (1 or 2) overrides it.
"""
from __future__ import annotations

import contextlib
import os
import queue
import threading
from typing import Any, Callable, Iterator

import numpy as np

from tinygrad_rnn._validate import check_int

_threads: int | None = None  # None: not chosen yet
_WORKER_NAME = "tinygrad_rnn-worker"
_worker: "_Worker | None" = None
_lock = threading.Lock()


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
    """How many threads the engine computes on (1: no worker; 2: the main one and a worker)."""
    if _threads is None:
        set_num_threads(None)
    return _threads


def set_num_threads(n: int | None) -> None:
    """Compute on `n` threads (1 or 2); None chooses as on first use (`default_num_threads`).

    BLAS gets the same count for the products that run alone (a time loop's per-step
    products, a read-out), and one thread per product while the worker runs too."""
    global _threads
    if n is not None:
        check_int(n, "n", "set_num_threads")
        if n not in (1, 2):
            raise ValueError(f"set_num_threads: n must be 1 or 2 (the main thread and at "
                             f"most one worker), got {n}")
    _threads = default_num_threads() if n is None else n
    _set_blas(_threads)


class _Worker:
    """One daemon thread running (function, args, done event, result box) items in order."""

    def __init__(self) -> None:
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._loop, name=_WORKER_NAME,
                                       daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            job = self.queue.get()
            try:
                job.value = job.fn(*job.args)
            except BaseException as e:  # handed to the caller by Job.result()
                job.error = e
            job.done.set()


def _get_worker() -> _Worker:
    global _worker
    with _lock:
        if _worker is None or not _worker.thread.is_alive():
            _worker = _Worker()
        return _worker


class Job:
    """A submitted call; `result()` waits for it and returns its value (or raises its error)."""

    __slots__ = ("fn", "args", "value", "error", "done")

    def __init__(self, fn: Callable, args: tuple):
        self.fn, self.args, self.value, self.error, self.done = fn, args, None, None, None

    def result(self) -> Any:
        if self.done is not None:
            self.done.wait()
        if self.error is not None:
            raise self.error
        return self.value


class Jobs:
    """Submits jobs for one computation: to the worker with two threads, else run at once.

    Use as a context manager: on the way out every job still running is waited for, so no
    job outlives the arrays it reads, even when the computation fails half-way.
    """

    def __init__(self, threads: int | None = None):
        # on the worker itself (a job's own backward call opens Jobs too), run at once: a
        # job waiting for a job queued behind it on the same thread would wait forever
        self.parallel = (get_num_threads() if threads is None else threads) > 1 and \
            threading.current_thread().name != _WORKER_NAME
        self.jobs: list = []
        self._limit: Any = None

    def __enter__(self) -> "Jobs":
        if self.parallel:
            self._limit = _single_blas()
            if self._limit is None:  # no threadpoolctl: two multi-threaded BLAS calls at
                self.parallel = False  # once would fight over the cores; stay on one
            else:
                self._limit.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            for job in self.jobs:
                if job.done is not None:
                    job.done.wait()
        finally:
            self.jobs = []
            if self._limit is not None:
                self._limit.__exit__(*exc)
                self._limit = None

    def submit(self, fn: Callable, *args: Any, worker: bool = True) -> Job:
        """Run fn(*args) on the worker (with two threads and worker=True), else at once."""
        job = Job(fn, args)
        if not (self.parallel and worker):
            try:
                job.value = fn(*args)
            except BaseException as e:
                job.error = e
            return job
        job.done = threading.Event()
        self.jobs.append(job)
        _get_worker().queue.put(job)
        return job


_controller: Any = None


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


def _single_blas() -> Any:
    """A context limiting BLAS to one thread, or None without threadpoolctl."""
    blas = _blas()
    return None if blas is None else blas.limit(limits=1)


@contextlib.contextmanager
def num_threads(n: int) -> Iterator[None]:
    """Compute on `n` threads inside the block; the count and BLAS's are restored after."""
    global _threads
    before = _threads
    blas = _blas()
    blas_before = [lib.get_num_threads() for lib in blas.lib_controllers] if blas else []
    set_num_threads(n)
    try:
        yield
    finally:
        _threads = before
        for lib, k in zip(blas.lib_controllers if blas else [], blas_before):
            lib.set_num_threads(k)


# a product smaller than this many multiply-adds is not worth a trip to the worker (about
# 10 microseconds at one BLAS thread's speed, the cost of handing it over and back)
MIN_WORKER_MACS = 1 << 20


def two_products(first: tuple, second: tuple) -> tuple:
    """(np.dot(*first), np.dot(*second)): the second on the worker with two threads when both
    are big enough, else one after the other; the same arrays either way."""
    def macs(a: Any, b: Any) -> int:
        return a.size * (b.shape[-1] if b.ndim > 1 else 1)
    if get_num_threads() < 2 or min(macs(*first), macs(*second)) < MIN_WORKER_MACS:
        return np.dot(*first), np.dot(*second)
    with Jobs() as jobs:
        job = jobs.submit(np.dot, *second)
        return np.dot(*first), job.result()


def limit_blas_threads(n: int) -> bool:
    """Limit BLAS to `n` threads for the rest of the process (threadpoolctl); True if it could."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return False
    check_int(n, "n", "limit_blas_threads", minimum=1)
    threadpool_limits(limits=n, user_api="blas")
    return True
