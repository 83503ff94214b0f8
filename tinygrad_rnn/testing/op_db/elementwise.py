"""Op table: elementwise functions and where."""
from __future__ import annotations

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn.testing.opinfo import SAME, OpInfo, bools, broadcast_shapes, unary

U = unary()
CLIP_LO, CLIP_HI = -0.5, 1.0  # on the kink grid that domain "away_from_kinks" avoids


def _np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _where(n_float: int):
    """cond (bool) and n_float float inputs, all broadcasting together."""
    def sample(pick):
        shapes = broadcast_shapes(pick, n_float + 1)
        return [bools(pick, shapes[0])] + shapes[1:], {}
    return sample


def _t_where(c, a, b):
    import torch
    return torch.where(c, a, b)


OPS: list = [
    OpInfo("exp", lambda x: x.exp(), np.exp, U, ("Exp",), torch=SAME),
    OpInfo("log", lambda x: x.log(), np.log, U, ("Log",), "positive", torch=SAME),
    OpInfo("sqrt", lambda x: x.sqrt(), np.sqrt, U, ("Sqrt",), "positive", torch=SAME),
    OpInfo("abs", lambda x: x.abs(), np.abs, U, ("Abs",), "away_from_kinks", torch=SAME),
    OpInfo("tanh", lambda x: x.tanh(), np.tanh, U, ("Tanh",), torch=SAME),
    OpInfo("sigmoid", lambda x: x.sigmoid(), _np_sigmoid, U, ("Sigmoid",), torch=SAME),
    OpInfo("relu", lambda x: x.relu(), lambda x: np.maximum(x, 0), U, ("ReLU",),
           "away_from_kinks", torch=SAME),
    OpInfo("clip", lambda x: x.clip(CLIP_LO, CLIP_HI), lambda x: np.clip(x, CLIP_LO, CLIP_HI), U,
           ("Clip",), "away_from_kinks", torch=SAME),
    OpInfo("clip min only", lambda x: x.clip(min=CLIP_LO), lambda x: np.maximum(x, CLIP_LO), U,
           ("Clip",), "away_from_kinks", torch=lambda x: x.clip(min=CLIP_LO)),
    OpInfo("clip max only", lambda x: x.clip(max=CLIP_HI), lambda x: np.minimum(x, CLIP_HI), U,
           ("Clip",), "away_from_kinks", torch=lambda x: x.clip(max=CLIP_HI)),
    OpInfo("astype float64", lambda x: x.astype(np.float64), lambda x: x.astype(np.float64), U,
           ("AsType",), torch=lambda x: x.double()),
    OpInfo("where", lambda c, a, b: tg.where(c, a, b), np.where, _where(2), ("Where",),
           torch=_t_where),
    OpInfo("where scalar branch", lambda c, b: tg.where(c, 0.5, b),
           lambda c, b: np.where(c, 0.5, b), _where(1), ("Where",),
           torch=lambda c, b: _t_where(c, 0.5, b)),
]
