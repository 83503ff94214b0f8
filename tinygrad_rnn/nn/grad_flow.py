"""Gradient flow through time: ||dL/dh_t|| at every step of every recurrent layer.

    with nn.record_grad_flow(model) as flow:
        loss = loss_fn(model(x)); loss.backward()
    flow.norms   # {"lstm layer 0": array of T norms, "lstm layer 0 reverse": ..., ...}

dL/dh_t is the whole gradient that reaches step t's output h_t: from the loss at t and
through every later step. t counts the steps in the order the direction runs them; for a
reverse direction with `lengths=`, that is from each sequence's own last step (the layer
reverses every sequence within its length), so t = 0 is each sequence's end. Vanishing gradients show as norms that fall off towards t = 0,
exploding ones as norms that grow. It is recorded inside the layers' own backward (the fused
kernels and the compiled path hand it over step by step; the eager loop through hooks),
so no number changes. `tinygrad_rnn.debug.plot_grad_flow(flow.norms, path)` draws it.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

import numpy as np

_ACTIVE: list = []


class GradFlow:
    """The norms recorded while a `record_grad_flow` block was active."""

    def __init__(self, model: Any = None):
        self.model = model
        self.names = {} if model is None else {id(m): n for n, m in model.named_modules()}
        self._steps: dict = {}  # name -> {t: norm}

    def tap_for(self, layer_module: Any, layer: int, direction: int) -> Callable | None:
        """A tap(t, g) for one layer-direction of `layer_module`, or None when not watched."""
        if self.model is not None and id(layer_module) not in self.names:
            return None
        prefix = self.names.get(id(layer_module)) or type(layer_module).__name__.lower()
        name = f"{prefix} layer {layer}" + (" reverse" if direction else "")
        steps = self._steps.setdefault(name, {})

        def tap(t: int, g: np.ndarray) -> None:
            steps[int(t)] = float(np.sqrt(np.sum(np.square(g, dtype=np.float64))))
        return tap

    @property
    def norms(self) -> dict:
        """{layer-direction name: array of ||dL/dh_t|| for t = 0 .. T-1}."""
        out = {}
        for name, steps in self._steps.items():
            arr = np.full(max(steps) + 1 if steps else 0, np.nan)
            for t, v in steps.items():
                arr[t] = v
            out[name] = arr
        return out


@contextlib.contextmanager
def record_grad_flow(model: Any = None) -> Iterator[GradFlow]:
    """Record ||dL/dh_t|| for the recurrent layers inside `model` (all, when None) that run
    forward inside the block; the norms arrive with their backward."""
    flow = GradFlow(model)
    _ACTIVE.append(flow)
    try:
        yield flow
    finally:
        _ACTIVE.remove(flow)


def tap_for(layer_module: Any, layer: int, direction: int) -> Callable | None:
    """The tap of the active recording for one layer-direction (None: not recording)."""
    if not _ACTIVE:
        return None
    taps = [t for t in (f.tap_for(layer_module, layer, direction) for f in _ACTIVE) if t]
    if not taps:
        return None
    if len(taps) == 1:
        return taps[0]
    return lambda t, g: [tap(t, g) for tap in taps]
