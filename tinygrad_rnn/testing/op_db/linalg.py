"""Op table: matrix products."""
from __future__ import annotations

import numpy as np

from tinygrad_rnn.testing.opinfo import SAME, OpInfo, matmul

OPS: list = [
    OpInfo("matmul", lambda a, b: a @ b, np.matmul, matmul, ("MatMul",), torch=SAME),
    OpInfo("matmul method", lambda a, b: a.matmul(b), np.matmul, matmul, ("MatMul",),
           torch=SAME),
    OpInfo("ndarray @ tensor", lambda a, b: a @ b, np.matmul, matmul, ("MatMul",), torch=SAME,
           consts=(0,)),
    OpInfo("tensor @ ndarray", lambda a, b: a @ b, np.matmul, matmul, ("MatMul",), torch=SAME,
           consts=(1,)),
]
