"""The op table: every differentiable op (and the other ops of the vocabulary) once.

`OPS` joins the families below into one list, walked by `tests/test_ops.py` (forward against
NumPy, gradcheck properties, PyTorch) and by `tinygrad-rnn gradcheck`. Adding an op is one
Function class, one Tensor method and one `OpInfo` line in its family's file; a test fails
while any Function in `tinygrad_rnn.ops` is covered by no line.
"""
from tinygrad_rnn.testing.op_db import (
    arithmetic, elementwise, linalg, movement, nn, recurrence, reduce,
)
from tinygrad_rnn.testing.opinfo import SAME, OpInfo  # noqa: F401

OPS: list = [
    *arithmetic.OPS, *elementwise.OPS, *reduce.OPS, *movement.OPS, *linalg.OPS, *nn.OPS,
    *recurrence.OPS,
]

BY_NAME: dict = {spec.name: spec for spec in OPS}
