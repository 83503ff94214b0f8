"""The table behind `tinygrad-rnn gradcheck`: every built-in op, cell and layer on small inputs.

Each entry is (name, function of Tensors, input shapes, domain). `run_checks` runs
`gradcheck` on float64 inputs and also reports the largest absolute difference between the
analytic and the finite-difference gradient of a random projection of the output.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import nn, ops
from tinygrad_rnn.gradcheck import gradcheck
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.tensor import Tensor

_IDX = np.array([0, 2, 2, 1])        # repeated rows: the scatter-add must accumulate
_TARGETS = np.array([1, 0, 3])


def _module_check(make: Callable[[], Any], call: Callable[[Any, Tensor], Tensor]) -> Callable:
    """A function of the input only; the module's parameters are checked through it too."""
    tg.manual_seed(0)
    module = make().double()

    def fn(x: Tensor) -> Tensor:
        return call(module, x)
    fn.module = module  # type: ignore[attr-defined]
    return fn


def _layer_out(m: Any, x: Tensor) -> Tensor:
    out, state = m(x)
    h = state[0] if isinstance(state, tuple) else state
    return out.sum() + (h * h).sum()


# (name, fn, shapes, domain): domain "any", "positive" (log, sqrt, pow) or "apart" (no ties/kinks)
CHECKS: list = [
    ("add", lambda a, b: a + b, [(2, 3), (3,)], "any"),
    ("sub", lambda a, b: a - b, [(2, 3), (2, 1)], "any"),
    ("mul", lambda a, b: a * b, [(2, 3), (2, 3)], "any"),
    ("div", lambda a, b: a / b, [(2, 3), (3,)], "positive"),
    ("pow", lambda a, b: a ** b, [(2, 3), (2, 3)], "positive"),
    ("neg", lambda a: -a, [(2, 3)], "any"),
    ("exp", lambda a: a.exp(), [(2, 3)], "any"),
    ("log", lambda a: a.log(), [(2, 3)], "positive"),
    ("sqrt", lambda a: a.sqrt(), [(2, 3)], "positive"),
    ("abs", lambda a: a.abs(), [(2, 3)], "apart"),
    ("tanh", lambda a: a.tanh(), [(2, 3)], "any"),
    ("sigmoid", lambda a: a.sigmoid(), [(2, 3)], "any"),
    ("relu", lambda a: a.relu(), [(2, 3)], "apart"),
    ("clip", lambda a: a.clip(-0.5, 0.5), [(2, 3)], "apart"),
    ("where", lambda a, b: tg.where(a > 0, a, b), [(2, 3), (2, 3)], "apart"),
    ("astype", lambda a: a.astype(np.float64) * 2.0, [(2, 3)], "any"),
    ("sum", lambda a: a.sum(axis=1), [(2, 3)], "any"),
    ("mean", lambda a: a.mean(axis=0, keepdims=True), [(2, 3)], "any"),
    ("max", lambda a: a.max(axis=1), [(2, 3)], "apart"),
    ("min", lambda a: a.min(axis=0), [(2, 3)], "apart"),
    ("logsumexp", lambda a: a.logsumexp(axis=1), [(2, 3)], "any"),
    ("softmax", lambda a: a.softmax(axis=-1), [(2, 3)], "any"),
    ("log_softmax", lambda a: ops.LogSoftmax.apply(a, axis=-1), [(2, 3)], "any"),
    ("reshape", lambda a: a.reshape(3, 2), [(2, 3)], "any"),
    ("transpose", lambda a: a.transpose(1, 0, 2), [(2, 3, 2)], "any"),
    ("getitem", lambda a: a[_IDX[:3] % 2, 1:], [(2, 3)], "any"),
    ("concatenate", lambda a, b: tg.concatenate([a, b], axis=1), [(2, 3), (2, 2)], "any"),
    ("stack", lambda a, b: tg.stack([a, b], axis=0), [(2, 3), (2, 3)], "any"),
    ("broadcast_to", lambda a: tg.broadcast_to(a, (2, 3)), [(1, 3)], "any"),
    ("matmul", lambda a, b: a @ b, [(2, 2, 3), (3, 4)], "any"),
    ("linear", lambda x, w, b: ops.Linear.apply(x, w, b), [(2, 3), (4, 3), (4,)], "any"),
    ("embedding", lambda w: ops.Embedding.apply(w, _IDX), [(3, 2)], "any"),
    ("dropout", lambda a: ops.Dropout.apply(a, mask=np.array([[2.0, 0.0, 2.0], [0.0, 2.0, 2.0]])),
     [(2, 3)], "any"),
    ("cross_entropy", lambda a: ops.CrossEntropy.apply(a, _TARGETS), [(3, 4)], "any"),
    ("F.mse_loss", lambda a, b: F.mse_loss(a, b), [(2, 3), (2, 3)], "any"),
    ("F.cross_entropy (T,B,C)", lambda a: F.cross_entropy(a, _TARGETS.reshape(3, 1)),
     [(3, 1, 4)], "any"),
    ("F.binary_cross_entropy_with_logits",
     lambda a, b: F.binary_cross_entropy_with_logits(a, b.sigmoid()), [(2, 3), (2, 3)], "any"),
]


def _cell_checks() -> list:
    out = []
    for name, make in (("RNNCell tanh", lambda: nn.RNNCell(3, 4)),
                       ("RNNCell sigmoid", lambda: nn.RNNCell(3, 4, nonlinearity="sigmoid")),
                       ("LSTMCell", lambda: nn.LSTMCell(3, 4)),
                       ("GRUCell", lambda: nn.GRUCell(3, 4))):
        def call(m, x):
            state = m(x)
            h = state[0] if isinstance(state, tuple) else state
            return h.sum() + (h * h).sum()
        out.append((name, _module_check(make, call), [(2, 3)], "any"))
    for name, make in (("RNN 2 layers", lambda: nn.RNN(3, 4, num_layers=2)),
                       ("LSTM 2 layers", lambda: nn.LSTM(3, 4, num_layers=2)),
                       ("GRU 2 layers", lambda: nn.GRU(3, 4, num_layers=2)),
                       ("LSTM bidirectional", lambda: nn.LSTM(3, 4, bidirectional=True))):
        out.append((name, _module_check(make, _layer_out), [(5, 2, 3)], "any"))
    return out


def _inputs(shapes: list, domain: str, rng: np.random.Generator) -> list:
    xs = []
    for shape in shapes:
        if domain == "positive":
            a = rng.uniform(0.5, 2.0, shape)
        elif domain == "apart":  # distinct values away from 0 and from the clip bounds
            n = int(np.prod(shape))
            a = (rng.permutation(n) + 1.0) / (n + 1) * 2.4 - 1.2
            a = np.where(np.abs(np.abs(a) - 0.5) < 0.05, a + 0.11, a)
            a = np.where(np.abs(a) < 0.05, a + 0.13, a).reshape(shape)
        else:
            a = rng.standard_normal(shape)
        xs.append(Tensor(a.astype(np.float64), requires_grad=True))
    return xs


def _max_error(fn: Callable, xs: list, rng: np.random.Generator, eps: float = 1e-6) -> tuple:
    """(max |analytic - numeric|, max |numeric|) over every element of d<v, fn(xs)>/dx.

    Inputs are perturbed in place, so module parameters (which gradcheck's float64 copies
    cannot reach) are covered too."""
    v = rng.standard_normal(fn(*xs).shape)

    def scalar() -> float:
        return float((fn(*xs).data * v).sum())
    grads = tg.grad(fn(*xs), xs, v)
    worst, scale = 0.0, 0.0
    for x, g in zip(xs, grads):
        flat = x.data.reshape(-1)
        num = np.empty(flat.size)
        for j in range(flat.size):
            orig = flat[j]
            flat[j] = orig + eps
            plus = scalar()
            flat[j] = orig - eps
            minus = scalar()
            flat[j] = orig
            num[j] = (plus - minus) / (2 * eps)
        gd = np.zeros(x.shape) if g is None else g.data
        worst = max(worst, float(np.max(np.abs(gd.reshape(-1) - num), initial=0.0)))
        scale = max(scale, float(np.max(np.abs(num), initial=0.0)))
    return worst, scale


def run_checks(seed: int = 0) -> list:
    """One row per check: name, shapes, max error, ok.

    ok needs `gradcheck` to pass on the inputs and, for modules, the parameters' gradients
    to match finite differences within gradcheck's default tolerances.
    """
    rows = []
    for name, fn, shapes, domain in CHECKS + _cell_checks():
        rng = np.random.default_rng(seed)
        module = getattr(fn, "module", None)
        params = list(module.parameters()) if module is not None else []
        xs = _inputs(shapes, domain, rng)
        shape_text = " ".join(str(s) for s in shapes)
        shape_text += f" +{len(params)} params" if params else ""

        def with_params(*args, _fn=fn, _n=len(xs)):
            return _fn(*args[:_n])
        try:
            ok = gradcheck(fn, xs, raise_exception=False)
            err, scale = _max_error(with_params, xs + params, rng)
            ok = ok and err <= 1e-5 + 1e-3 * scale
        except Exception as e:  # report any failure in the table, do not stop the run
            ok, err = False, float("nan")
            name = f"{name} ({type(e).__name__}: {e})"
        rows.append({"name": name, "shapes": shape_text, "error": err, "ok": bool(ok)})
    return rows
