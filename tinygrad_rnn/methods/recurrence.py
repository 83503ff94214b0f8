"""Recurrences over a leading time axis as module functions (no Tensor method: the input
is a pair of sequences)."""
from __future__ import annotations

from typing import Any, Callable

from tinygrad_rnn import ops
from tinygrad_rnn.tensor import Tensor


def linear_recurrence(a: Any, b: Any, h0: Any = None, reverse: bool = False,
                      tap: Callable | None = None) -> Tensor:
    """All h_t = a_t * h_{t-1} + b_t for t = 0 .. T-1 (T-1 .. 0 with reverse), stacked (T, ...).

    a and b are (T, ...) sequences that broadcast together as NumPy arrays do (a (T, B, H)
    against b (T, B, H), or a (T, 1, H), (1, B, H), ...); h0 (the state before the first
    step, zeros when None) broadcasts against one step's shape, which the result's trailing
    axes take. Differentiable in a, b and h0; one graph node, its backward the same
    recurrence run the other way. `tap(t, g)`, when given, receives during backward the whole
    gradient g = dL/dh_t of each step (as scan's tap; nn.record_grad_flow uses it).
    """
    if not isinstance(reverse, bool):
        raise TypeError(f"linear_recurrence: reverse must be a bool, got "
                        f"{type(reverse).__name__} {reverse!r}")
    a = a if isinstance(a, Tensor) else Tensor(a)
    b = b if isinstance(b, Tensor) else a._operand(b)
    for name, t in (("a", a), ("b", b)):
        if t.dtype.kind != "f":
            raise TypeError(f"linear_recurrence: {name} must be floating-point, got dtype "
                            f"{t.dtype}")
    if h0 is None:
        return ops.LinearRecurrence.apply(a, b, reverse=reverse, tap=tap)
    h0 = h0 if isinstance(h0, Tensor) else b._operand(h0)
    return ops.LinearRecurrence.apply(a, b, h0, reverse=reverse, tap=tap)

