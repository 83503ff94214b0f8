"""The dtype an op with several tensor operands computes in: PyTorch's type promotion.

NumPy and PyTorch agree among operands of one kind of dtype, and differ in two ways:

- across kinds, the operands of the highest category (bool < integer < floating) decide on
  their own: an int64 tensor times a float32 one is float32 (NumPy: float64);
- within that category, tensors with dimensions outrank 0-d ones: a float32 tensor times a
  0-d float64 tensor stays float32, a uint8 tensor plus a 0-d int8 stays uint8 (NumPy
  widens both). Only where no tensor with dimensions is of that category do the 0-d ones
  decide, so an int32 tensor plus a 0-d float64 is float64, as in PyTorch.

Python numbers come in as 0-d operands already in their weak dtype (`Tensor._operand`: the
tensor's own floating dtype, the default float for a float with an integer tensor), so the
same rule covers them. Every place that joins operands of possibly different dtypes (the
arithmetic operators and `@`, comparisons, maximum / minimum, where, cat / stack, einsum)
goes through `promoted`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def result_dtype(*arrays: np.ndarray, zero_d_weak: bool = True) -> np.dtype:
    """The dtype PyTorch would compute in for operands with these arrays (see above);
    zero_d_weak=False counts 0-d operands as dimensioned ones (an ndarray operand: PyTorch
    and NumPy both let a 0-d float64 ndarray widen a float32 tensor)."""
    top = max(_CATEGORY.get(a.dtype.kind, 3) for a in arrays)
    tops = [a for a in arrays if _CATEGORY.get(a.dtype.kind, 3) == top]
    with_dims = [a.dtype for a in tops if a.ndim or not zero_d_weak]
    return np.result_type(*(with_dims or [a.dtype for a in tops]))


def promoted(*tensors: Any, zero_d_weak: bool = True) -> tuple:
    """The tensors cast to their result_dtype (a cast is an op: gradients flow through it
    back to the operand's own dtype)."""
    first = tensors[0].data.dtype
    if all(t.data.dtype is first for t in tensors[1:]):
        return tensors
    dtype = result_dtype(*[t.data for t in tensors], zero_d_weak=zero_d_weak)
    return tuple(t if t.data.dtype == dtype else t.astype(dtype) for t in tensors)
