"""Op table: elementwise functions and where."""
from __future__ import annotations

import math

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.testing.opinfo import SAME, OpInfo, bools, broadcast_shapes, shape, unary

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


# an independent erf for the reference: slow, exact to the last bit of math.erf
_np_erf = np.vectorize(math.erf, otypes=[np.float64])


def _np_gelu(x):
    return x * (0.5 * (1 + _np_erf(x / math.sqrt(2)))).astype(x.dtype)


def _np_gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def _np_softplus(x, beta=1.0, threshold=20.0):
    return np.where(beta * x > threshold, x, np.log1p(np.exp(beta * x)) / beta)


def _np_elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * (np.exp(x) - 1))


def _np_glu(x, axis=-1):
    a, b = np.split(x, 2, axis=axis)
    return a / (1 + np.exp(-b))


SOFTPLUS_BETA, SOFTPLUS_THRESHOLD = 2.0, 1.0  # the switch at x = 0.5, on the kink grid
MAX_HALF = 0.5  # maximum/minimum against a number on the kink grid


def _no_ties(pick):
    """a and b that broadcast together and never tie: a on odd multiples of 1/8, b on
    multiples of 1/4 (ties are tested on their own)."""
    sa, sb = broadcast_shapes(pick, 2)

    def grid(s, odd):
        n = int(np.prod(s, dtype=np.int64))
        k = np.asarray([pick(range(-8, 8)) for _ in range(n)], dtype=np.float64)
        return ((2 * k + 1) / 8 if odd else k / 4).reshape(s)

    return [grid(sa, True), grid(sb, False)], {}


def _glu(pick):
    """x with an even size on the split axis (maybe negative)."""
    s = list(shape(pick, min_dims=1))
    axis = pick(range(-len(s), len(s)))
    s[axis] = 2 * pick((1, 2))
    return [tuple(s)], {"axis": axis}


def _t_nnf():
    import torch.nn.functional as tf
    return tf


def _t_maximum(a, b):
    import torch
    return torch.maximum(a, b)


def _t_max_half(x):
    import torch
    return torch.maximum(x, torch.tensor(MAX_HALF, dtype=x.dtype))


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
    OpInfo("comparison masks", lambda a, b: tg.where(tg.logical_and(a > b, ~(a < b)), a, b),
           lambda a, b: np.where(a > b, a, b), _no_ties, ("Logical", "Where"),
           torch=lambda a, b: _t_where((a > b).logical_and(~(a < b)), a, b)),
    OpInfo("detach", lambda x: x * (x * 0 + 1.5).detach(), lambda x: x * 1.5, U,
           ("Detach", "Mul", "Add"), torch=SAME),
    OpInfo("log1p", lambda x: x.log1p(), np.log1p, U, ("Log1p",), "unit", torch=SAME),
    OpInfo("expm1", lambda x: x.expm1(), np.expm1, U, ("Expm1",), torch=SAME),
    OpInfo("sin", lambda x: x.sin(), np.sin, U, ("Sin",), torch=SAME),
    OpInfo("cos", lambda x: x.cos(), np.cos, U, ("Cos",), torch=SAME),
    OpInfo("square", lambda x: x.square(), np.square, U, ("Square",), torch=SAME),
    OpInfo("rsqrt", lambda x: x.rsqrt(), lambda x: 1 / np.sqrt(x), U, ("Rsqrt",), "positive",
           torch=SAME),
    OpInfo("sign", lambda x: x.sign(), np.sign, U, ("Sign",), "nonzero", torch=SAME),
    OpInfo("maximum", lambda a, b: a.maximum(b), np.maximum, _no_ties, ("Maximum",),
           torch=SAME),
    OpInfo("minimum", lambda a, b: a.minimum(b), np.minimum, _no_ties, ("Minimum",),
           torch=SAME),
    OpInfo("maximum ndarray, tensor", lambda a, b: tg.maximum(a, b), np.maximum, _no_ties,
           ("Maximum",), consts=(0,), torch=lambda a, b: _t_maximum(a, b)),
    OpInfo("max of a tensor", lambda a, b: a.max(b), np.maximum, _no_ties, ("Maximum",),
           torch=SAME, composed=True),
    OpInfo("min of a tensor", lambda a, b: tg.min(a, b), np.minimum, _no_ties, ("Minimum",),
           torch=lambda a, b: a.min(b), composed=True),
    OpInfo("maximum scalar", lambda x: x.maximum(MAX_HALF), lambda x: np.maximum(x, MAX_HALF),
           U, ("Maximum",), "away_from_kinks", torch=_t_max_half),
    OpInfo("softplus", lambda x: x.softplus(), _np_softplus, U, ("Softplus",),
           torch=lambda x: _t_nnf().softplus(x)),
    OpInfo("softplus beta=2 threshold=1", lambda x: x.softplus(SOFTPLUS_BETA, SOFTPLUS_THRESHOLD),
           lambda x: _np_softplus(x, SOFTPLUS_BETA, SOFTPLUS_THRESHOLD), U, ("Softplus",),
           "away_from_kinks",
           torch=lambda x: _t_nnf().softplus(x, SOFTPLUS_BETA, SOFTPLUS_THRESHOLD)),
    OpInfo("gelu", lambda x: x.gelu(), _np_gelu, U, ("GELU",), torch=lambda x: _t_nnf().gelu(x)),
    OpInfo("gelu tanh", lambda x: x.gelu("tanh"), _np_gelu_tanh, U, ("GELUTanh",),
           torch=lambda x: _t_nnf().gelu(x, approximate="tanh")),
    OpInfo("leaky_relu", lambda x: x.leaky_relu(), lambda x: np.where(x > 0, x, 0.01 * x), U,
           ("LeakyReLU",), "away_from_kinks", torch=lambda x: _t_nnf().leaky_relu(x)),
    OpInfo("leaky_relu negative_slope=-0.5", lambda x: x.leaky_relu(-0.5),
           lambda x: np.where(x > 0, x, -0.5 * x), U, ("LeakyReLU",), "away_from_kinks",
           torch=lambda x: _t_nnf().leaky_relu(x, -0.5)),
    OpInfo("elu", lambda x: x.elu(), _np_elu, U, ("ELU",), torch=lambda x: _t_nnf().elu(x)),
    OpInfo("elu alpha=0.5", lambda x: x.elu(0.5), lambda x: _np_elu(x, 0.5), U, ("ELU",),
           "away_from_kinks", torch=lambda x: _t_nnf().elu(x, 0.5)),
    OpInfo("silu", lambda x: x.silu(), lambda x: x / (1 + np.exp(-x)), U, ("SiLU",),
           torch=lambda x: _t_nnf().silu(x)),
    OpInfo("log_sigmoid", lambda x: x.log_sigmoid(), lambda x: -np.log1p(np.exp(-x)), U,
           ("LogSigmoid",), torch=lambda x: _t_nnf().logsigmoid(x)),
    OpInfo("glu", lambda x, axis: F.glu(x, axis), _np_glu, _glu, ("Split", "Sigmoid", "Mul"),
           composed=True, torch=lambda x, axis: _t_nnf().glu(x, dim=axis)),
]
