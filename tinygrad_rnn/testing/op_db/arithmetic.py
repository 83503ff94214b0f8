"""Op table: arithmetic operators, Tensor (op) Tensor, and with Python numbers and ndarrays."""
from __future__ import annotations

import numpy as np

from tinygrad_rnn.testing.opinfo import SAME, OpInfo, broadcast, unary

B, U = broadcast(2), unary()

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
]
