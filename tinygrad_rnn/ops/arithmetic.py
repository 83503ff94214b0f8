"""Arithmetic of two operands: + - * / // % fmod trunc-division ** and maximum/minimum,
with -x. Broadcast gradients are summed back to each input's shape by the engine."""
from __future__ import annotations

import numpy as np

from tinygrad_rnn.function import Function, same_over_time


class Add(Function):
    """out = a + b;  da = g,  db = g"""

    over_time = staticmethod(same_over_time)

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, g):
        return g, g


class Sub(Function):
    """out = a - b;  da = g,  db = -g"""

    over_time = staticmethod(same_over_time)

    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)


class Mul(Function):
    """out = a * b;  da = g * b,  db = g * a"""

    saved_for = ((1,), (0,))  # a serves db only, b serves da only

    over_time = staticmethod(same_over_time)

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_arrays
        needs_a, needs_b = ctx.needs_input_grad
        da = g * b if needs_a else None
        db = g * a if needs_b else None
        return da, db


class Div(Function):
    """out = a / b;  da = g / b,  db = -g * out / b"""

    over_time = staticmethod(same_over_time)

    @staticmethod
    def forward(ctx, a, b):
        out = a / b
        ctx.save_for_backward(b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        b, out = ctx.saved_arrays
        needs_a, needs_b = ctx.needs_input_grad
        da = g / b if needs_a else None
        db = -g * out / b if needs_b else None
        return da, db


class FloorDiv(Function):
    """out = floor(a / b);  da = db = 0  (piecewise constant: zero wherever differentiable)"""

    over_time = staticmethod(same_over_time)

    @staticmethod
    def forward(ctx, a, b):
        _no_integer_zero(a, b, "floor_divide")
        ctx.shapes = (np.shape(a), np.shape(b))
        return np.floor_divide(a, b)

    @staticmethod
    def backward(ctx, g):
        return tuple(np.zeros(shape, g.dtype) if need else None
                     for shape, need in zip(ctx.shapes, ctx.needs_input_grad))


class Remainder(Function):
    """out = a - floor(a / b) * b  (the sign of b, as PyTorch and Python; a zero keeps a's
    sign, as PyTorch's fmod-based one);  da = g,  db = -floor(a / b) * g"""

    over_time = staticmethod(same_over_time)

    @staticmethod
    def forward(ctx, a, b):
        _no_integer_zero(a, b, "remainder")
        r = np.fmod(a, b)
        r = np.where((r != 0) & ((r < 0) != (b < 0)), r + b, r)
        ctx.save_for_backward(a, b)
        return r

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_arrays
        needs_a, needs_b = ctx.needs_input_grad  # the quotient only where b takes a gradient
        return (g if needs_a else None), (-(g * np.floor_divide(a, b)) if needs_b else None)


class TruncDiv(FloorDiv):
    """out = trunc(a / b) (toward zero, as C's integer division);  da = db = 0"""

    @staticmethod
    def forward(ctx, a, b):  # (backward is FloorDiv's: zeros)
        _no_integer_zero(a, b, "div")
        ctx.shapes = (np.shape(a), np.shape(b))
        return trunc_divide(a, b)


class Fmod(Function):
    """out = a - trunc(a / b) * b  (the sign of a, as C's fmod);  da = g,
    db = -trunc(a / b) * g"""

    over_time = staticmethod(same_over_time)

    @staticmethod
    def forward(ctx, a, b):
        _no_integer_zero(a, b, "fmod")
        ctx.save_for_backward(a, b)
        return np.fmod(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_arrays
        needs_a, needs_b = ctx.needs_input_grad  # the quotient only where b takes a gradient
        return (g if needs_a else None), (-(g * trunc_divide(a, b)) if needs_b else None)


def trunc_divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b rounded toward zero: trunc(a / b) for floats, as PyTorch; for integers the
    floor quotient, one up where it rounded a negative quotient down (exact for any int64)."""
    if np.result_type(a, b).kind not in "biu":
        return np.trunc(a / b)
    q = np.floor_divide(a, b)
    return q + ((q < 0) & (q * b != a))


class IntegerDivisionByZero(ZeroDivisionError, RuntimeError):
    """Integer // or % by zero: a ZeroDivisionError, and a RuntimeError as PyTorch raises."""


def _no_integer_zero(a: np.ndarray, b: np.ndarray, op: str) -> None:
    """Integer division by zero is an error, as in PyTorch (NumPy warns and gives 0); an
    empty result divides nothing."""
    if np.asarray(b).dtype.kind in "biu" and np.size(a) and not np.all(b):
        raise IntegerDivisionByZero(f"{op}: integer division by zero (a divisor is 0)")


class Pow(Function):
    """out = a ** b;  da = g * b * a ** (b - 1),  db = g * out * log(a)"""

    over_time = staticmethod(same_over_time)

    @staticmethod
    def forward(ctx, a, b):
        try:
            out = a ** b
        except ValueError:  # NumPy refuses integers to negative integer powers
            out = _integer_power(a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_arrays
        da = db = None
        if ctx.needs_input_grad[0]:
            # b * a**(b-1) is 0 where b == 0 (a**0 is constant), not 0 * inf at a == 0
            with np.errstate(divide="ignore", invalid="ignore"):
                da = g * np.where(b == 0, 0, b * a ** (b - 1))
        if ctx.needs_input_grad[1]:
            # d(a**b)/db = a**b * log(a); taken as 0 where a == 0 and b >= 0 (the limit for
            # b > 0), as PyTorch; at a == 0, b < 0 it is inf * -inf = -inf
            with np.errstate(divide="ignore", invalid="ignore"):
                db = g * np.where((a == 0) & (b >= 0), 0,
                                  out * np.log(np.where((a == 0) & (b >= 0), 1, a)))
        return da, db


def _integer_power(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a ** b of integer arrays where some b < 0, as PyTorch: there 1 ** b is 1, (-1) ** b is
    1 or -1 by b's parity, and every other base gives 0 (1 / a ** |b| truncated)."""
    neg = b < 0
    out = a ** np.where(neg, 0, b).astype(b.dtype, copy=False)
    odd = (b & 1).astype(bool)
    small = np.where(a == 1, 1, np.where(a == -1, np.where(odd, -1, 1), 0))
    return np.where(neg, small, out).astype(out.dtype, copy=False)


class Neg(Function):
    """out = -x;  dx = -g"""

    over_time = staticmethod(same_over_time)

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, g):
        return -g


class Maximum(Function):
    """out = maximum(a, b);  da = g * [a > b] + g/2 * [a == b],  db = g - da  (both g where
    a or b is NaN)"""

    over_time = staticmethod(same_over_time)

    _pick = staticmethod(np.maximum)
    _wins = staticmethod(np.greater)  # where a alone is picked

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx._pick(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_arrays
        needs_a, needs_b = ctx.needs_input_grad
        # a's share of g: 1 where it wins, 1/2 on a tie (as PyTorch), 0 where b wins
        share = ctx._wins(a, b) + (a == b) * g.dtype.type(0.5)
        da = g * share if needs_a else None
        db = g * (1 - share) if needs_b else None
        if a.dtype.kind == "f" or b.dtype.kind == "f":
            nan = np.isnan(a) | np.isnan(b)
            if nan.any():  # the result is NaN there: both take all of g, as in PyTorch
                da = None if da is None else np.where(nan, g, da)
                db = None if db is None else np.where(nan, g, db)
        return da, db


class Minimum(Maximum):
    """out = minimum(a, b);  da = g * [a < b] + g/2 * [a == b],  db = g - da"""

    _pick = staticmethod(np.minimum)  # forward and backward are Maximum's
    _wins = staticmethod(np.less)
