"""Anomaly detection: the first op whose forward output or backward gradient holds NaN or
Inf raises AnomalyError, naming the op, its input shapes and value ranges, and the line of
your code that created it.

    with tinygrad_rnn.detect_anomaly():
        loss = model(x)
        loss.backward()

Forward: every op's outputs are checked as it runs, so the error points at the op that made
the first non-finite value (its message shows whether an input already held one), not at a
later one that propagated it. Backward: every node's
input gradients are checked, and the message names the forward call that made the node.
Sequence ops (the fused layers, the compiled cell path) name the time step as well.
"""
from __future__ import annotations

import contextlib
import os
import sys
from typing import Any, Iterator

import numpy as np

from tinygrad_rnn import function
from tinygrad_rnn.function import IndexedGrad, Observer

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


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


def _where(name: str, a: np.ndarray, index: tuple, time_axis: bool) -> str:
    kind = "NaN" if np.isnan(a[index]) else "Inf"
    if time_axis and index:
        return f"{name} ({kind} first at time step {index[0]}, index {index})"
    return f"{name} ({kind} first at index {index})"


def _is_sequence(name: str) -> bool:
    return name.endswith("Sequence") or name == "Scan"


class _Detector(Observer):
    def after(self, cls, ctx, args, kwargs, result):
        outs = result if isinstance(result, tuple) else (result,)
        site = user_line()
        ctx.__dict__["anomaly_site"] = site
        for k, t in enumerate(outs):
            index = first_bad(t.data)
            if index is not None:
                name = cls.__name__ + (f" output {k}" if len(outs) > 1 else "")
                layer = calling_module()
                name += f" in {layer}" if layer else ""
                raise AnomalyError(
                    f"forward of {_where(name, t.data, index, _is_sequence(cls.__name__))}: inputs "
                    f"{_summary(args)}; created at {site}")

    def backward_after(self, ctx, grads, input_grads):
        incoming = grads if isinstance(grads, list) else [grads]
        if any(first_bad(g) is not None for g in incoming if isinstance(g, np.ndarray)):
            return  # reported where it started
        for i, g in enumerate(input_grads):
            if g is None:
                continue
            arr = g.values if isinstance(g, IndexedGrad) else np.asarray(g)
            index = first_bad(arr)
            if index is not None:
                name = type(ctx).__name__
                site = ctx.__dict__.get("anomaly_site", "<unknown>")
                shapes = [getattr(p, "shape", None) for p in ctx.parents]
                raise AnomalyError(
                    f"backward of {_where(name, arr, index, _is_sequence(name))}: the gradient "
                    f"of input {i} is not finite (incoming gradient {_summary(incoming)}, "
                    f"input shapes {shapes}); the op was created at {site}")


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


def check_step(op: str, arrays: Any, step: int, what: str, site: str = "<unknown>",
               layer: str = "") -> None:
    """For sequence ops that run inner ops themselves: raise naming the inner op and step."""
    if not is_anomaly_enabled():
        return
    for k, a in enumerate(arrays):
        if isinstance(a, np.ndarray) and first_bad(a) is not None:
            where = f" of {layer}" if layer else ""
            raise AnomalyError(f"{what} of {op} at time step {step} (inside a compiled "
                               f"sequence{where}): value {k} is not finite ({_summary([a])}); "
                               f"the sequence was created at {site}")
