"""Op table: arithmetic operators, Tensor (op) Tensor, and with Python numbers and ndarrays."""
from __future__ import annotations

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn.testing.opinfo import SAME, OpInfo, broadcast, broadcast_shapes, unary

B, U = broadcast(2), unary()


def _whole_quotients_apart(pick):
    """a and b that broadcast together (a of the full shape) with every a / b at least 0.2
    from an integer, where trunc, floor and fmod jump: b of magnitude 0.5 .. 2, and
    a = b * (an integer + a fraction in 0.2 .. 0.8)."""
    sa, sb = broadcast_shapes(pick, 2)
    full = np.broadcast_shapes(sa, sb)
    b = np.asarray([pick((-2.0, -1.25, -0.5, 0.75, 1.5, 2.0))
                    for _ in range(int(np.prod(sb, dtype=np.int64)))]).reshape(sb)
    q = np.asarray([pick(range(-3, 3)) + pick((0.2, 0.5, 0.8))
                    for _ in range(int(np.prod(full, dtype=np.int64)))]).reshape(full)
    return [np.asarray(np.broadcast_to(b, full) * q), b], {}


def _t_fmod(a, b):
    import torch
    return torch.fmod(a, b)

OPS: list = [
    OpInfo("add", lambda a, b: a + b, np.add, B, ("Add",), torch=SAME),
    OpInfo("sub", lambda a, b: a - b, np.subtract, B, ("Sub",), torch=SAME),
    OpInfo("mul", lambda a, b: a * b, np.multiply, B, ("Mul",), torch=SAME),
    OpInfo("div", lambda a, b: a / b, np.divide, B, ("Div",), ("real", "nonzero"), torch=SAME),
    OpInfo("pow", lambda a, b: a ** b, np.power, B, ("Pow",), ("positive", "real"), torch=SAME),
    # Python scalars and ndarrays on either side
    OpInfo("add scalar", lambda x: x + 1.5, lambda x: x + 1.5, U, ("Add",), torch=SAME),
    OpInfo("radd scalar", lambda x: 1.5 + x, lambda x: 1.5 + x, U, ("Add",), torch=SAME),
    OpInfo("rsub scalar", lambda x: 2 - x, lambda x: 2 - x, U, ("Sub",), torch=SAME),
    OpInfo("rmul scalar", lambda x: -3 * x, lambda x: -3 * x, U, ("Mul",), torch=SAME),
    OpInfo("div scalar", lambda x: x / 4.0, lambda x: x / 4.0, U, ("Div",), torch=SAME),
    OpInfo("rdiv scalar", lambda x: 2.0 / x, lambda x: 2.0 / x, U, ("Div",), "nonzero",
           torch=SAME),
    OpInfo("pow square", lambda x: x ** 2, lambda x: x ** 2, U, ("Pow",), torch=SAME),
    OpInfo("pow cube", lambda x: x ** 3, lambda x: x ** 3, U, ("Pow",), torch=SAME),
    OpInfo("pow sqrt", lambda x: x ** 0.5, lambda x: x ** 0.5, U, ("Pow",), "positive",
           torch=SAME),
    OpInfo("pow negative", lambda x: x ** -1.5, lambda x: x ** -1.5, U, ("Pow",), "positive",
           torch=SAME),
    OpInfo("rpow scalar", lambda x: 2.0 ** x, lambda x: 2.0 ** x, U, ("Pow",), torch=SAME),
    OpInfo("ndarray + tensor", lambda a, b: a + b, np.add, B, ("Add",), torch=SAME,
           consts=(0,)),
    OpInfo("tensor - ndarray", lambda a, b: a - b, np.subtract, B, ("Sub",), torch=SAME,
           consts=(1,)),
    OpInfo("ndarray * tensor", lambda a, b: a * b, np.multiply, B, ("Mul",), torch=SAME,
           consts=(0,)),
    OpInfo("ndarray / tensor", lambda a, b: a / b, np.divide, B, ("Div",), ("real", "nonzero"),
           torch=SAME, consts=(0,)),
    OpInfo("ndarray ** tensor", lambda a, b: a ** b, np.power, B, ("Pow",), ("positive", "real"),
           torch=SAME, consts=(0,)),
    OpInfo("neg", lambda x: -x, np.negative, U, ("Neg",), torch=SAME),
    # piecewise: jumps at the multiples of the divisor, which the domain keeps clear of
    OpInfo("remainder scalar", lambda x: x % 0.5, lambda x: np.mod(x, 0.5), U, ("Remainder",),
           "away_from_kinks", torch=SAME),
    OpInfo("floordiv scalar", lambda x: x // 0.5, lambda x: np.floor_divide(x, 0.5), U,
           ("FloorDiv",), "away_from_kinks"),  # (torch: no derivative for floor_divide)
    OpInfo("div trunc scalar", lambda x: x.div(0.5, rounding_mode="trunc"),
           lambda x: np.trunc(x / 0.5), U, ("TruncDiv",), "away_from_kinks", torch=SAME),
    OpInfo("div floor scalar", lambda x: x.div(0.5, rounding_mode="floor"),
           lambda x: np.floor_divide(x, 0.5), U, ("FloorDiv",), "away_from_kinks",
           torch=SAME, composed=True),
    OpInfo("div trunc", lambda a, b: tg.div(a, b, rounding_mode="trunc"),
           lambda a, b: np.trunc(a / b), _whole_quotients_apart, ("TruncDiv",),
           torch=lambda a, b: a.div(b, rounding_mode="trunc")),
    OpInfo("fmod scalar", lambda x: x.fmod(0.5), lambda x: np.fmod(x, 0.5), U, ("Fmod",),
           "away_from_kinks", torch=SAME),
    OpInfo("fmod", lambda a, b: a.fmod(b), np.fmod, _whole_quotients_apart, ("Fmod",),
           torch=SAME),
    OpInfo("fmod ndarray, tensor", lambda a, b: tg.fmod(a, b), np.fmod, _whole_quotients_apart,
           ("Fmod",), consts=(0,), torch=_t_fmod),
]
