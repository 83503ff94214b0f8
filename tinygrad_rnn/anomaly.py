"""Anomaly detection: the first op whose forward output or backward gradient holds NaN or
Inf raises AnomalyError, naming the op, its input shapes and value ranges, and the line of
your code that created it.

    with tinygrad_rnn.detect_anomaly():
        loss = model(x)
        loss.backward()

Forward: every op's outputs are checked as it runs, so the error points at the op that made
the first non-finite value (its message shows whether an input already held one), not at a
later one that propagated it. Backward: every node's input gradients are checked, and the
message names the forward call that made the node and the inputs that already held NaN or
Inf in the forward (the likely cause, where the forward stayed finite: a saturated tanh).

In a sequence the report names the time step and the index within the step, on every path:
the eager loop of `scan` (an op remembers the step it ran at), the compiled path (its
replayed steps, and the ops it runs once over all steps), and the fused layers, whose
declared time-major arrays (`Function.time_axes`) are reported by step.
"""
from __future__ import annotations

import contextlib
import os
import sys
from typing import Any, Callable, Iterator

import numpy as np

from tinygrad_rnn import function
from tinygrad_rnn.function import IndexedGrad, Observer

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
_EAGER_TOO = "compiled=False reproduces it on the eager loop"
_HOISTED = f", in an op the compiled path runs once over all steps; {_EAGER_TOO}"


class AnomalyError(RuntimeError):
    """An op produced NaN or Inf with anomaly detection on."""


def user_line() -> str:
    """file:line of the innermost frame outside this package (the user's call)."""
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def calling_module() -> str:
    """The innermost nn.Module whose forward is running (its class name), or ''."""
    frame = sys._getframe(1)
    while frame is not None:
        owner = frame.f_locals.get("self")
        if owner is not None and frame.f_code.co_name in ("forward", "_run_direction") and \
                hasattr(owner, "named_parameters") and hasattr(owner, "forward"):
            return type(owner).__name__
        frame = frame.f_back
    return ""


def _summary(arrays: Any) -> str:
    parts = []
    for a in arrays:
        a = a if isinstance(a, np.ndarray) else getattr(a, "data", None)
        if not isinstance(a, np.ndarray):
            continue
        if a.dtype.kind == "f" and a.size:
            finite = a[np.isfinite(a)]
            rng = (f"[{finite.min():.4g}, {finite.max():.4g}]" if finite.size else "no finite")
            bad = a.size - finite.size
            parts.append(f"{a.shape} in {rng}" + (f" ({bad} non-finite)" if bad else ""))
        else:
            parts.append(f"{a.shape} {a.dtype}")
    return ", ".join(parts) or "none"


def first_bad(a: np.ndarray) -> tuple | None:
    """Index of the first NaN/Inf of a floating array, or None."""
    if a.dtype.kind != "f" or np.isfinite(a).all():
        return None
    return tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])


def _kind(a: np.ndarray, index: tuple) -> str:
    return "NaN" if np.isnan(a[index]) else "Inf"


def _where(name: str, a: np.ndarray, index: tuple, time_axis: bool) -> str:
    """'name (NaN first at ...)': with time_axis, axis 0 of a is time (index[0] the step)."""
    if time_axis and index:
        return f"{name} ({_kind(a, index)} first at time step {index[0]}, index {index[1:]})"
    return f"{name} ({_kind(a, index)} first at index {index})"


def _time_axes(ctx: Any) -> tuple:
    """(inputs, outputs) of the op whose axis 0 is time (Function.time_axes)."""
    return getattr(ctx, "time_axes", None) or ((), ())


def _held(inputs: Any, describe: Callable) -> str:
    """'; input j already held a NaN in the forward (first at ...)...: the likely cause' for
    the inputs that were not finite, or ''. describe(j, array, index) -> where."""
    found = []
    for j, a in enumerate(inputs):
        a = a if isinstance(a, np.ndarray) else getattr(a, "data", None)
        index = first_bad(a) if isinstance(a, np.ndarray) else None
        if index is not None:
            kind = _kind(a, index)
            found.append(f"input {j} already held {'an' if kind == 'Inf' else 'a'} {kind} in "
                         f"the forward (first at {describe(j, a, index)})")
    return f"; {', '.join(found)}: the likely cause" if found else ""


class _OverTime:
    """The ops the compiled path runs once over all replayed steps (see over_time)."""

    def __init__(self, times: list, rows: list, sequences: tuple):
        self.times, self.rows, self.sequences = times, rows, sequences
        self.site: str | None = None  # the recorded op's line and module, set per op
        self.layer: str | None = None

    def flags(self, args: tuple) -> tuple:
        """Per input: 'row' (row k is time step times[k]), 'seq' (a whole sequence, axis 0
        the time step itself) or None (the same at every step)."""
        return tuple("row" if any(a is r for r in self.rows) else
                     "seq" if any(a is s for s in self.sequences) else None for a in args)


_STEP: list = [None]  # the time step of the eager loop running now (anomaly mode only)
_OVER_TIME: list = [None]  # an _OverTime while the compiled path runs ops over all steps


@contextlib.contextmanager
def time_step(t: int) -> Iterator[None]:
    """The ops made inside belong to time step t (their backward report names it)."""
    before, _STEP[0] = _STEP[0], t
    try:
        yield
    finally:
        _STEP[0] = before


@contextlib.contextmanager
def over_time(times: list, rows: list, sequences: tuple) -> Iterator[_OverTime]:
    """The ops made inside run once over all replayed steps: a tensor in `rows` (filled as
    they run) has row k for time step times[k], one in `sequences` is a whole sequence. An
    op reading either has such rows itself; its reports name the step, the index within it
    and (the yielded object's site and layer) the recorded op's line and module."""
    before, _OVER_TIME[0] = _OVER_TIME[0], _OverTime(times, rows, sequences)
    try:
        yield _OVER_TIME[0]
    finally:
        _OVER_TIME[0] = before


class _Detector(Observer):
    def after(self, cls, ctx, args, kwargs, result):
        if not cls.differentiable:  # (detach, comparisons: they pass values on, as torch)
            return
        d = ctx.__dict__
        site = user_line()
        if _STEP[0] is not None:
            d["anomaly_step"] = _STEP[0]
        over, flags = _OVER_TIME[0], None
        if over is not None:
            site = over.site or site
            flags = over.flags(args)
            if any(flags):
                d["anomaly_rows"] = (over.times, flags)
            else:
                flags = None
        d["anomaly_site"] = site
        outs = result if isinstance(result, tuple) else (result,)
        for k, t in enumerate(outs):
            index = first_bad(t.data)
            if index is not None:
                name = cls.__name__ + (f" output {k}" if len(outs) > 1 else "")
                layer = over.layer if over is not None and over.layer is not None else \
                    calling_module()
                name += f" in {layer}" if layer else ""
                if flags is None:
                    where = _where(name, t.data, index, k in _time_axes(ctx)[1])
                    raise AnomalyError(f"forward of {where}: inputs {_summary(args)}; "
                                       f"created at {site}")
                row = index[0]  # an op over all steps: report its step as the loop would
                ins = [a.data[row] if f == "row" else a for a, f in zip(args, flags)]
                raise AnomalyError(
                    f"forward of {_where(name, t.data[row], index[1:], False)}: inputs "
                    f"{_summary(ins)}; created at {site} (at time step {over.times[row]} of "
                    f"a sequence{_HOISTED})")

    def backward_after(self, ctx, grads, input_grads):
        incoming = grads if isinstance(grads, list) else [grads]
        bad = _first_bad_gradient(incoming, input_grads)
        if bad is not None:
            raise AnomalyError(_backward_report(ctx, *bad, incoming))


def _first_bad_gradient(incoming: Any, grads: Any) -> tuple | None:
    """(input i, its gradient, the index) of the first input gradient of a node that is not
    finite; None when all are, or when one that came in already was not (reported where it
    started)."""
    if any(first_bad(g) is not None for g in incoming if isinstance(g, np.ndarray)):
        return None
    for i, g in enumerate(grads):
        if g is None:
            continue
        arr = g.values if isinstance(g, IndexedGrad) else np.asarray(g)
        index = first_bad(arr)
        if index is not None:
            return i, arr, index
    return None


def _backward_report(ctx: Any, i: int, arr: np.ndarray, index: tuple, incoming: list) -> str:
    """The report of an eager node (or a fused layer's, or an op the compiled path ran over
    all steps) whose input gradient i is not finite at index."""
    d = ctx.__dict__
    name, site = type(ctx).__name__, d.get("anomaly_site", "<unknown>")
    parents = ctx.parents or ()
    shapes = [getattr(p, "shape", None) for p in parents]
    times, flags = d.get("anomaly_rows", (None, None))
    timed = _time_axes(ctx)[0]
    suffix = (f" (at time step {d['anomaly_step']} of a sequence)" if "anomaly_step" in d
              else "")

    def describe(j: int, a: np.ndarray, at: tuple) -> str:
        if flags is not None and flags[j] == "row":
            return f"time step {times[at[0]]}, index {at[1:]}"
        return f"time step {at[0]}, index {at[1:]}" if j in timed else f"index {at}"
    if flags is not None and flags[i] == "row":  # report the step, as the loop would
        row = index[0]
        where = _where(name, arr[row], index[1:], False)
        incoming = [g[row] if isinstance(g, np.ndarray) else g for g in incoming]
        shapes = [s[1:] if f == "row" else s for s, f in zip(shapes, flags)]
        suffix = f" (at time step {times[row]} of a sequence{_HOISTED})"
    else:
        where = _where(name, arr, index, i in timed)
        if flags is not None:
            suffix = f" ({_HOISTED[2:]})"
    return (f"backward of {where}: the gradient of input {i} is not finite (incoming gradient "
            f"{_summary(incoming)}, input shapes {shapes}){_held(parents, describe)}; the op "
            f"was created at {site}{suffix}")


class Replay:
    """The reports of the compiled path's replayed steps, as the eager loop's: per recurrent
    op its name, per-step input shapes, and the (line, module) that made it in the recorded
    step (`where`; [] where the steps were recorded outside anomaly mode); `times[k]` is
    replayed step k's time step; `layer` and `site` the module and line that ran the
    sequence (site None: unknown); `values(m, k)` the inputs of op m at step k that are
    still at hand in backward (None for the others: those were checked in the forward)."""

    def __init__(self, names: list, shapes: list, where: list, times: list, layer: str,
                 site: str | None, values: Callable | None = None):
        self.names, self.shapes, self.times, self.values = names, shapes, times, values
        self.where = where or [("<unknown>", "")] * len(names)
        of = f" of {layer}" if layer else ""
        at = f" called at {site}" if site else ""
        self.hint = f", replayed by the compiled path{of}{at}; {_EAGER_TOO}"

    def _name(self, m: int, k: int | None) -> str:
        name = self.names[m] + ("" if k is None else f" output {k}")
        layer = self.where[m][1]
        return name + (f" in {layer}" if layer else "")

    def forward(self, m: int, k: int, outs: tuple, ins: tuple) -> None:
        """Raise if an output of op m at replayed step k is not finite."""
        for j, a in enumerate(outs):
            index = first_bad(a) if isinstance(a, np.ndarray) else None
            if index is not None:
                name = self._name(m, j if len(outs) > 1 else None)
                raise AnomalyError(
                    f"forward of {_where(name, a, index, False)}: inputs {_summary(ins)}; "
                    f"created at {self.where[m][0]} (at time step {self.times[k]} of a "
                    f"sequence{self.hint})")

    def backward(self, m: int, k: int, grads: tuple, incoming: tuple) -> None:
        """Raise if an input gradient of op m at replayed step k is not finite."""
        bad = _first_bad_gradient(incoming, grads)
        if bad is None:
            return
        i, arr, index = bad
        held = (_held(self.values(m, k), lambda j, a, at: f"index {at}")
                if self.values is not None else "")
        raise AnomalyError(
            f"backward of {_where(self.names[m], arr, index, False)}: the gradient of "
            f"input {i} is not finite (incoming gradient {_summary(incoming)}, input "
            f"shapes {list(self.shapes[m])}){held}; the op was created at "
            f"{self.where[m][0]} (at time step {self.times[k]} of a sequence"
            f"{self.hint})")


_DETECTOR = _Detector()


def set_detect_anomaly(mode: bool) -> None:
    """Turn anomaly detection on or off for the whole process."""
    if mode:
        if _DETECTOR not in function._observers:
            function.start_observing(_DETECTOR)
    else:
        function.stop_observing(_DETECTOR)


def is_anomaly_enabled() -> bool:
    return _DETECTOR in function._observers


@contextlib.contextmanager
def detect_anomaly() -> Iterator[None]:
    """Anomaly detection inside the block (see this module's docstring). NumPy's warnings
    for division by zero, invalid values and overflow are off inside it: AnomalyError is the
    report, naming the op (set_detect_anomaly leaves NumPy's settings as they are)."""
    was = is_anomaly_enabled()
    set_detect_anomaly(True)
    try:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            yield
    finally:
        set_detect_anomaly(was)


def at_step(e: AnomalyError, step: int) -> AnomalyError:
    """The same error, saying which time step of a sequence raised it."""
    return AnomalyError(f"{e} (at time step {step} of a sequence)")
