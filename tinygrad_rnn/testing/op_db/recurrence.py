"""Op table: recurrences over a leading time axis (linear_recurrence, IndRNN's loop)."""
from __future__ import annotations

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import ops
from tinygrad_rnn.testing.opinfo import OpInfo, shape


def _recurrence(pick):
    """b (T, ...); a the same with axes set to 1 or leading axes dropped (constant over
    time, or over some axes), or the two swapped; h0 absent, one step's shape with axes
    set to 1 or dropped, or with one axis more in front; and reverse."""
    T, step = pick(range(1, 5)), shape(pick, max_dims=2)
    b = (T,) + step
    a = tuple(1 if pick((False, True)) else d for d in b)[pick(range(len(b) + 1)):]
    inputs = [a, b] if pick((False, True)) else [b, a]
    kind = pick(("none", "step", "wider"))
    if kind != "none":
        h0 = tuple(1 if pick((False, True)) else d for d in step)[pick(range(len(step) + 1)):]
        inputs.append((2,) + step if kind == "wider" else h0)
    return inputs, {"reverse": pick((False, True))}


def _np_linear_recurrence(a, b, h0=None, reverse=False):
    full = np.broadcast_shapes(a.shape, b.shape)
    a = np.broadcast_to(a, full)
    b = np.broadcast_to(b, full)
    steps = range(full[0] - 1, -1, -1) if reverse else range(full[0])
    h, out = h0, [None] * full[0]
    for t in steps:
        h = b[t] if h is None else a[t] * h + b[t]
        out[t] = h
    return np.stack(np.broadcast_arrays(*out))


def _ind(pick):
    """p (T, ..., H), u (H,), h0 absent or one step's shape; reverse and the activation."""
    s = (pick(range(1, 5)),) + shape(pick, min_dims=1, max_dims=2)
    inputs = [s, s[-1:]] + ([s[1:]] if pick((False, True)) else [])
    return inputs, {"reverse": pick((False, True)), "nonlinearity": pick(("relu", "tanh"))}


def _np_ind(p, u, h0=None, reverse=False, nonlinearity="relu"):
    act = (lambda v: np.maximum(v, 0)) if nonlinearity == "relu" else np.tanh
    steps = range(p.shape[0] - 1, -1, -1) if reverse else range(p.shape[0])
    h, out = h0, [None] * p.shape[0]
    for t in steps:
        h = act(p[t] if h is None else p[t] + u * h)
        out[t] = h
    return np.stack(out)


OPS = [
    OpInfo("linear_recurrence",
           lambda a, b, h0=None, reverse=False: tg.linear_recurrence(a, b, h0, reverse),
           _np_linear_recurrence, _recurrence, ("LinearRecurrence",), ("unit", "real", "real")),
    # relu's kink sits at p_t + u h_{t-1} = 0: p is drawn away from 0, u h stays small
    OpInfo("indrnn recurrence",
           lambda p, u, h0=None, **k: ops.IndRecurrence.apply(
               *([p, u] if h0 is None else [p, u, h0]), **k),
           _np_ind, _ind, ("IndRecurrence",), ("away_from_kinks", "unit", "unit")),
]
