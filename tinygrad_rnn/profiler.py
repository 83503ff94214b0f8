"""A profiler of ops: calls, forward time, backward time and bytes saved for backward.

    with tinygrad_rnn.profile() as p:
        loss = model(x); loss.backward(); opt.step()
    print(p.table())

Every Function.apply is timed from its start to its result (the op's NumPy work and the
engine's bookkeeping for it), every node's backward likewise, and `section(name)` times any
other block (the optimizers' step uses it). Module forwards are timed too, per module class
and inclusive of what they call, in a second block of the table. The table is sorted by total time and ends
with the share of the block's wall time that the rows cover. Nothing is timed when no
profiler is running: the engine tests one flag per op.
"""
from __future__ import annotations

import contextlib
import time
from typing import Any, Iterator

import numpy as np

from tinygrad_rnn import function
from tinygrad_rnn.function import Observer


class _Row:
    __slots__ = ("calls", "forward", "backward", "saved")

    def __init__(self) -> None:
        self.calls, self.forward, self.backward, self.saved = 0, 0.0, 0.0, 0


class Profile(Observer):
    """Collects per-op statistics while active (see the module docstring)."""

    def __init__(self) -> None:
        self.rows: dict = {}
        self.modules: dict = {}  # module class -> _Row (calls, inclusive forward time)
        self.wall = 0.0
        self._starts: list = []

    # ----- Observer ------------------------------------------------------------------------
    def before(self, cls: type) -> None:
        self._starts.append(time.perf_counter())

    def after(self, cls: type, ctx: Any, args: tuple, kwargs: dict, result: Any) -> None:
        dt = time.perf_counter() - self._starts.pop()
        row = self._row(cls.__name__)
        row.calls += 1
        row.forward += dt
        row.saved += sum(a.nbytes for a in ctx.__dict__.get("saved_arrays", ())
                         if isinstance(a, np.ndarray))

    def backward_before(self, ctx: Any) -> None:
        self._starts.append(time.perf_counter())

    def backward_after(self, ctx: Any, grads: Any, input_grads: tuple) -> None:
        self._row(type(ctx).__name__).backward += time.perf_counter() - self._starts.pop()

    # ----- sections and results ----------------------------------------------------------
    @contextlib.contextmanager
    def section(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            row = self._row(name)
            row.calls += 1
            row.forward += time.perf_counter() - t0

    def _row(self, name: str) -> _Row:
        row = self.rows.get(name)
        if row is None:
            row = self.rows[name] = _Row()
        return row

    def total(self) -> float:
        return sum(r.forward + r.backward for r in self.rows.values())

    def table(self, limit: int | None = None) -> str:
        """One line per op (or section), sorted by total time, with the coverage of wall time."""
        rows = sorted(self.rows.items(), key=lambda kv: -(kv[1].forward + kv[1].backward))
        total = self.total()
        lines = [f"{'op':24s} {'calls':>7s} {'forward ms':>11s} {'backward ms':>12s} "
                 f"{'total ms':>9s} {'share':>6s} {'saved MB':>9s}"]
        for name, r in rows[:limit]:
            t = r.forward + r.backward
            lines.append(f"{name:24s} {r.calls:7d} {r.forward * 1e3:11.2f} "
                         f"{r.backward * 1e3:12.2f} {t * 1e3:9.2f} "
                         f"{t / total * 100 if total else 0:5.1f}% {r.saved / 1e6:9.2f}")
        if self.modules:  # inclusive: a module's time contains its ops' and submodules'
            lines.append(f"{'forward by module':24s} {'calls':>7s} {'inclusive ms':>12s}")
            for name, r in sorted(self.modules.items(), key=lambda kv: -kv[1].forward):
                lines.append(f"{name:24s} {r.calls:7d} {r.forward * 1e3:12.2f}")
        if self.wall:
            lines.append(f"ops and sections cover {total * 1e3:.1f} ms of {self.wall * 1e3:.1f} ms "
                         f"wall time ({total / self.wall * 100:.1f}%)")
        return "\n".join(lines)


_ACTIVE: list = []
running = False  # whether a profiler runs (Module.__call__ then times modules too)


def module_done(name: str, seconds: float) -> None:
    """A module's forward took `seconds` (called by Module.__call__ while profiling)."""
    for p in _ACTIVE:
        row = p.modules.get(name)
        if row is None:
            row = p.modules[name] = _Row()
        row.calls += 1
        row.forward += seconds


@contextlib.contextmanager
def profile() -> Iterator[Profile]:
    """Profile every op inside the block; read the result with `.table()`."""
    global running
    p = Profile()
    _ACTIVE.append(p)
    running = True
    t0 = time.perf_counter()
    try:
        with function.observe(p):
            yield p
    finally:
        p.wall = time.perf_counter() - t0
        _ACTIVE.remove(p)
        running = bool(_ACTIVE)


@contextlib.contextmanager
def section(name: str) -> Iterator[None]:
    """Time a block as a row of every running profiler (free when none runs)."""
    if not _ACTIVE:
        yield
        return
    with contextlib.ExitStack() as stack:
        for p in list(_ACTIVE):
            stack.enter_context(p.section(name))
        yield
