"""What `tinygrad-rnn gradcheck` runs: every line of the op table, then the cells and layers
(each built-in one, `nn.Recurrent` and `tg.scan`; a test fails while one has no row).

Ops come from `tinygrad_rnn.testing.op_db` (one example each, drawn with NumPy from the
entry's own sampler); modules are checked through `testing.modules.module_function`, so
their parameters are gradcheck inputs like any other. Each row reports gradcheck's verdict
and the largest |analytic - numeric| entry of the Jacobians gradcheck compares.
"""
from __future__ import annotations

from typing import Any

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.gradcheck import gradcheck, max_gradient_error
from tinygrad_rnn.tensor import Tensor
from tinygrad_rnn.testing.modules import module_function
from tinygrad_rnn.testing.op_db import OPS
from tinygrad_rnn.testing.opinfo import bind, numpy_case


def op_checks(seed: int = 0) -> list:
    """(name, fn, inputs) for every op-table line with a float input that takes a gradient."""
    rng = np.random.default_rng(seed)
    out = []
    for spec in OPS:
        inputs, params = numpy_case(spec, rng)
        fn, _, free = bind(spec, inputs, params)
        if free:
            out.append((spec.name, fn, [Tensor(a, requires_grad=True) for a in free]))
    return out


class _ScanCell(nn.Module):
    """h_t = tanh(x_t + u * h_{t-1}) through `tinygrad_rnn.scan` (its compiled replay)."""

    def __init__(self, size: int):
        super().__init__()
        self.u = nn.Parameter(np.linspace(0.2, 0.8, size))

    def forward(self, x: Tensor, h: Any = None) -> tuple:
        return tg.scan(lambda xt, ht: (xt if ht is None else xt + self.u * ht).tanh(), x, h)


_MODULES: list = [
    ("RNNCell tanh", lambda: nn.RNNCell(3, 4), (2, 3)),
    ("RNNCell sigmoid", lambda: nn.RNNCell(3, 4, nonlinearity="sigmoid"), (2, 3)),
    ("LSTMCell", lambda: nn.LSTMCell(3, 4), (2, 3)),
    ("GRUCell", lambda: nn.GRUCell(3, 4), (2, 3)),
    ("RNN 2 layers", lambda: nn.RNN(3, 4, num_layers=2), (5, 2, 3)),
    ("LSTM 2 layers", lambda: nn.LSTM(3, 4, num_layers=2), (5, 2, 3)),
    ("GRU 2 layers", lambda: nn.GRU(3, 4, num_layers=2), (5, 2, 3)),
    ("LSTM bidirectional", lambda: nn.LSTM(3, 4, bidirectional=True), (5, 2, 3)),
    ("MinGRUCell", lambda: nn.MinGRUCell(3, 4), (2, 3)),
    ("MinLSTMCell", lambda: nn.MinLSTMCell(3, 4), (2, 3)),
    ("IndRNNCell tanh", lambda: nn.IndRNNCell(3, 4, nonlinearity="tanh"), (2, 3)),
    ("MinGRU 2 layers", lambda: nn.MinGRU(3, 4, num_layers=2), (5, 2, 3)),
    ("MinLSTM bidirectional", lambda: nn.MinLSTM(3, 4, bidirectional=True), (5, 2, 3)),
    ("IndRNN 2 layers tanh", lambda: nn.IndRNN(3, 4, num_layers=2, nonlinearity="tanh"),
     (5, 2, 3)),
    ("Recurrent GRUCell 2 layers", lambda: nn.Recurrent(lambda n: nn.GRUCell(n, 4),
                                                        num_layers=2, input_size=3), (5, 2, 3)),
    ("scan h' = tanh(x + u * h)", lambda: _ScanCell(3), (5, 2, 3)),
]


def module_checks(seed: int = 0) -> list:
    """(name, fn, inputs) for each cell and layer: input and parameters, in float64."""
    out = []
    for name, make, shape in _MODULES:
        tg.manual_seed(seed)
        model = make().double()
        x = Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)
        fn, inputs = module_function(model, x)
        out.append((name, fn, inputs))
    return out


def _shapes(inputs: list) -> str:
    shown = " ".join(str(t.shape) for t in inputs[:3])
    return shown + (f" +{len(inputs) - 3} more" if len(inputs) > 3 else "")


def run_checks(seed: int = 0) -> list:
    """One row per check: name, shapes, max error, ok."""
    rows = []
    for name, fn, inputs in op_checks(seed) + module_checks(seed):
        row: dict[str, Any] = {"name": name, "shapes": _shapes(inputs)}
        try:
            ok = gradcheck(fn, inputs, raise_exception=False)
            row["error"], _ = max_gradient_error(fn, inputs)
        except Exception as e:  # report any failure in the table, do not stop the run
            ok, row["error"] = False, float("nan")
            row["name"] = f"{name} ({type(e).__name__}: {e})"
        row["ok"] = bool(ok)
        rows.append(row)
    return rows

