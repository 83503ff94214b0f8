"""Gradient flow through time: ||dL/dh_t|| at every step of every recurrent layer.

    with nn.record_grad_flow(model) as flow:
        loss = loss_fn(model(x)); loss.backward()
    flow.norms   # {"lstm layer 0": array of T norms, "lstm layer 0 reverse": ..., ...}
    tinygrad_rnn.debug.plot_grad_flow(flow, "grad_flow.png")

dL/dh_t is the whole gradient that reaches step t's output h_t: from the loss at t and
through every later step. t counts the steps in the order the direction runs them, on every
layer and path alike: for a forward direction t is the input time; for a reverse direction
t = 0 is the last input step (with `lengths=`, each sequence's own last step: the layer
reverses every sequence within its length), so t = T-1-s for input time s without lengths.
The gradient thus travels from high t to low t in every direction: vanishing gradients show
as norms that fall off towards t = 0, exploding ones as norms that grow (plot_grad_flow's
first/last ratio < 1 reads "fades going back in time" for both directions).

One record per backward pass through each call of a layer-direction, as a PyTorch tensor
hook fires once per backward: `norms` holds the latest record of each layer-direction (the
latest backward pass; where that pass went through several calls of the layer, the last
call), `history` every record, oldest first. Two passes (of different lengths, or a second
backward with retain_graph=True) are never spliced into one array; a forward without a
backward records nothing. A backward after the block still records (the taps go with the
graph the block's forwards built).

It is recorded inside the layers' own backward (the fused kernels, linear_recurrence, the
IndRNN loop and the compiled path hand it over step by step; the eager loop through hooks),
so no number changes. nn.RNN, LSTM, GRU, MinGRU, MinLSTM, IndRNN and nn.Recurrent record on
every path; a loop over cells written by hand is not seen (run the cell through
nn.Recurrent); a block in which no recorded layer ran forward warns, and `why_empty` says
why a record is empty.
"""
from __future__ import annotations

import contextlib
import warnings
from typing import Any, Callable, Iterator

import numpy as np

from tinygrad_rnn import autograd

_ACTIVE: list = []

_RECORDED = "nn.RNN, nn.LSTM, nn.GRU, nn.MinGRU, nn.MinLSTM, nn.IndRNN and nn.Recurrent"


class GradFlow:
    """The norms recorded while a `record_grad_flow` block was active: `norms` (the latest
    record of each layer-direction), `history` (all of them), `why_empty`."""

    def __init__(self, model: Any = None):
        self.model = model
        self.names = {} if model is None else {id(m): n for n, m in model.named_modules()}
        self.ran: list = []  # the layer-directions that ran forward in the block, in order
        self._calls = 0  # layer-direction calls handed a tap so far
        self._records: dict = {}  # name -> {(backward pass, call): {t: norm}}

    def tap_for(self, layer_module: Any, layer: int, direction: int) -> Callable | None:
        """A tap(t, g) for one call of one layer-direction of `layer_module`, or None when
        not watched; each backward pass through the call fills a record of its own."""
        if self.model is not None and id(layer_module) not in self.names:
            return None
        prefix = self.names.get(id(layer_module)) or type(layer_module).__name__.lower()
        name = f"{prefix} layer {layer}" + (" reverse" if direction else "")
        if name not in self.ran:
            self.ran.append(name)
        self._calls += 1
        call, records = self._calls, self._records

        def tap(t: int, g: np.ndarray) -> None:
            steps = records.setdefault(name, {}).setdefault((autograd.backward_pass(), call), {})
            steps[int(t)] = float(np.sqrt(np.sum(np.square(g, dtype=np.float64))))
        return tap

    @property
    def norms(self) -> dict:
        """{layer-direction name: array of ||dL/dh_t|| for t = 0 .. T-1} of each one's latest
        record (the latest backward pass; in it, the last call of the layer)."""
        return {name: _array(self._records[name][max(self._records[name])])
                for name in self.ran if name in self._records}

    @property
    def history(self) -> dict:
        """{layer-direction name: [array of ||dL/dh_t|| per record, oldest first]}: one per
        backward pass through each call of the layer (by pass, then by call)."""
        return {name: [_array(recs[k]) for k in sorted(recs)]
                for name in self.ran if (recs := self._records.get(name))}

    @property
    def why_empty(self) -> str | None:
        """Why nothing was recorded, naming the module (None when something was)."""
        if self._records:
            return None
        what = "record_grad_flow()" if self.model is None else \
            f"record_grad_flow({type(self.model).__name__})"
        if not self.ran:
            inside = "" if self.model is None else " inside it"
            return (f"{what}: no recurrent layer{inside} ran forward in the block, so there "
                    f"is nothing to record; it records {_RECORDED} (a loop over cells "
                    f"written by hand is not seen: run the cell through nn.Recurrent)")
        ran = ", ".join(repr(n) for n in self.ran)
        return (f"{what}: {ran} ran forward in the block, but no backward reached it (call "
                f"backward() on a loss of its output; a forward under no_grad() has none)")


def _array(steps: dict) -> np.ndarray:
    """{t: norm} as an array over t = 0 .. max t (NaN at a step no gradient reached)."""
    arr = np.full(max(steps) + 1, np.nan)
    for t, v in steps.items():
        arr[t] = v
    return arr


@contextlib.contextmanager
def record_grad_flow(model: Any = None) -> Iterator[GradFlow]:
    """Record ||dL/dh_t|| for the recurrent layers inside `model` (all, when None) that run
    forward inside the block; the norms arrive with their backward (see the module
    docstring). Warns when no such layer ran forward in the block."""
    flow = GradFlow(model)
    _ACTIVE.append(flow)
    try:
        yield flow
    finally:
        _ACTIVE.remove(flow)
    if not flow.ran:
        warnings.warn(flow.why_empty, stacklevel=3)


def tap_for(layer_module: Any, layer: int, direction: int,
            reverse_steps: int | None = None) -> Callable | None:
    """The tap of the active recordings for one layer-direction (None: not recording).

    reverse_steps=T: the caller's kernel or scan runs the direction from input time T-1 down
    to 0 and hands over input time s; the records count the steps as they ran, t = T-1-s."""
    if not _ACTIVE:
        return None
    taps = [t for t in (f.tap_for(layer_module, layer, direction) for f in _ACTIVE) if t]
    if not taps:
        return None
    if len(taps) == 1:
        tap = taps[0]
    else:
        def tap(t: int, g: np.ndarray) -> None:  # (returns None: a hook's value replaces g)
            for each in taps:
                each(t, g)
    if reverse_steps is None:
        return tap
    last, by_input_time = reverse_steps - 1, tap
    return lambda s, g: by_input_time(last - s, g)
