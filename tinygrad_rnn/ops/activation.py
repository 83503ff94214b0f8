"""Smooth and piecewise activations, each one node with a hand-derived backward.

Every forward and backward is finite for any finite input: exponentials only ever see
arguments <= 0. Those may underflow to 0, which is the right value, so the ops mute the
underflow signal locally (`np.errstate(under="ignore")`) for callers that raise on it.
"""
from __future__ import annotations

import math

import numpy as np

from tinygrad_rnn.function import Function, same_over_time
from tinygrad_rnn.ops.elementwise import stable_sigmoid


def _quiet() -> np.errstate:
    """Underflow to 0 is the right value in these ops: do not signal it."""
    return np.errstate(under="ignore")

# W. J. Cody, "Rational Chebyshev approximations for the error function", Math. Comp. 23
# (1969): erf on |x| <= 0.5, erfc on 0.5 < |x| <= 4 and, in 1/x**2, on |x| > 4; near 1e-16.
_ERF_P = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
          3.20937758913846947e03, 1.85777706184603153e-1)
_ERF_Q = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
          2.84423683343917062e03)
_MID_P = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
          2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
          2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
_MID_Q = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
          1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
          3.43936767414372164e03, 1.23033935480374942e03)
_TAIL_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
           1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
_TAIL_Q = (2.56852019228982242e00, 1.87295284992346725e00, 5.27905102951428412e-1,
           6.05183413124413191e-2, 2.33520497626869185e-3)
_SMALL, _BIG, _ZERO = 0.46875, 4.0, 26.6  # erfc(x) underflows float64 beyond _ZERO
_INV_SQRT_PI = 1 / math.sqrt(math.pi)
_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_TANH_K, _TANH_C = math.sqrt(2 / math.pi), 0.044715


def _ratio(p: tuple, q: tuple, t: np.ndarray) -> np.ndarray:
    """Cody's rational function in Horner form: p[-1] leads, p[-2] and q[-1] are constants."""
    num, den = p[-1] * t, t
    for a, b in zip(p[:-2], q[:-1]):
        num, den = (num + a) * t, (den + b) * t
    return (num + p[-2]) / (den + q[-1])


def _exp_neg_square(y: np.ndarray) -> np.ndarray:
    """exp(-y*y) with y*y split into an exact part and a small rest, so its rounding error
    is not magnified by the large argument."""
    hi = np.trunc(y * 16) / 16
    return np.exp(-hi * hi) * np.exp(-(y - hi) * (y + hi))


def _erf_small(x: np.ndarray) -> np.ndarray:
    """erf(x) for |x| <= _SMALL."""
    return x * _ratio(_ERF_P, _ERF_Q, x * x)


def _erfc_large(y: np.ndarray) -> np.ndarray:
    """erfc(y) for y > _SMALL (nan stays nan)."""
    out = np.full_like(y, np.nan)
    mid, tail = y <= _BIG, (y > _BIG) & (y < _ZERO)
    ym, yt = y[mid], y[tail]
    out[mid] = _exp_neg_square(ym) * _ratio(_MID_P, _MID_Q, ym)
    r = 1 / (yt * yt)
    out[tail] = _exp_neg_square(yt) * (_INV_SQRT_PI - r * _ratio(_TAIL_P, _TAIL_Q, r)) / yt
    out[y >= _ZERO] = 0
    return out


def _erf_parts(x: np.ndarray) -> tuple:
    """(x, small mask, erf on the small part, erfc(|x|) on the rest)."""
    x = np.asarray(x)
    small = np.abs(x) <= _SMALL
    return x, small, _erf_small(x[small]), _erfc_large(np.abs(x[~small]))


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, vectorised (NumPy has none); float32 stays float32."""
    x, small, e, c = _erf_parts(x)
    out = np.empty_like(x)
    out[small] = e
    out[~small] = np.where(x[~small] < 0, c - 1, 1 - c)  # erf is odd
    return out


def erfc(x: np.ndarray) -> np.ndarray:
    """1 - erf(x), accurate in both tails (relative error near 1e-16 in float64)."""
    x, small, e, c = _erf_parts(x)
    out = np.empty_like(x)
    out[small] = 1 - e
    out[~small] = np.where(x[~small] < 0, 2 - c, c)  # erfc(-y) = 2 - erfc(y)
    return out


def normal_cdf(x: np.ndarray) -> np.ndarray:
    """Phi(x) = P(N(0, 1) <= x) = erfc(-x / sqrt(2)) / 2: no cancellation in the left tail."""
    return 0.5 * erfc(x * -_SQRT_HALF)


class Softplus(Function):
    """z = beta x;  y = log(1 + exp(z)) / beta, or x where z > threshold;  dx = g * sigmoid(z)
    (g where z > threshold)"""

    over_time = staticmethod(same_over_time)

    @staticmethod
    def forward(ctx, x, beta=1.0, threshold=20.0):
        z = x * beta
        linear = z > threshold
        with _quiet():  # log1p(exp(z)) = max(z, 0) + log1p(exp(-|z|)): exp never overflows
            soft = (np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))) / beta
        ctx.save_for_backward(z, linear)
        return np.where(linear, x, soft)

    @staticmethod
    def backward(ctx, g):
        z, linear = ctx.saved_arrays
        with _quiet():
            return np.where(linear, g, g * stable_sigmoid(z))


class GELU(Function):
    """y = x Phi(x) (Phi the normal CDF);  dx = g * (Phi(x) + x phi(x))"""

    over_time = staticmethod(same_over_time)

    @staticmethod
    def forward(ctx, x):
        with _quiet():
            cdf = normal_cdf(x)
        ctx.save_for_backward(x, cdf)
        return x * cdf

    @staticmethod
    def backward(ctx, g):
        x, cdf = ctx.saved_arrays
        with _quiet():
            pdf = np.exp(x * x * -0.5) * _INV_SQRT_2PI
        return g * (cdf + x * pdf)


class GELUTanh(Function):
    """t = tanh(k (x + c x**3)), k = sqrt(2/pi), c = 0.044715;  y = x (1 + t) / 2;
    dx = g * ((1 + t) / 2 + x (1 - t**2) k (1 + 3 c x**2) / 2)"""

    over_time = staticmethod(same_over_time)

    @staticmethod
    def forward(ctx, x):
        t = np.tanh((x + _TANH_C * x * x * x) * _TANH_K)
        ctx.save_for_backward(x, t)
        return 0.5 * x * (1 + t)

    @staticmethod
    def backward(ctx, g):
        x, t = ctx.saved_arrays
        du = _TANH_K * (1 + 3 * _TANH_C * x * x)
        return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du)


class LeakyReLU(Function):
    """y = x if x > 0 else s x;  dx = g if x > 0 else s g"""

    over_time = staticmethod(same_over_time)

    @staticmethod
    def forward(ctx, x, negative_slope=0.01):
        pos = x > 0
        ctx.save_for_backward(pos)
        ctx.slope = negative_slope
        return np.where(pos, x, x * negative_slope)

    @staticmethod
    def backward(ctx, g):
        (pos,) = ctx.saved_arrays
        return np.where(pos, g, g * ctx.slope)


class ELU(Function):
    """y = x if x > 0 else alpha (exp(x) - 1);  dx = g if x > 0 else g alpha exp(x)"""

    over_time = staticmethod(same_over_time)

    @staticmethod
    def forward(ctx, x, alpha=1.0):
        pos = x > 0
        neg = np.minimum(x, 0)  # exp only ever sees x <= 0
        ctx.save_for_backward(pos, neg)
        ctx.alpha = alpha
        return np.where(pos, x, np.expm1(neg) * alpha)

    @staticmethod
    def backward(ctx, g):
        # alpha exp(x), not the saved y + alpha: that cancels to 0 in the left tail
        pos, neg = ctx.saved_arrays
        with _quiet():
            return np.where(pos, g, g * (np.exp(neg) * ctx.alpha))


class SiLU(Function):
    """s = sigmoid(x);  y = x s;  dx = g * s (1 + x (1 - s))"""

    over_time = staticmethod(same_over_time)

    @staticmethod
    def forward(ctx, x):
        with _quiet():
            s = stable_sigmoid(x)
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx, g):
        x, s = ctx.saved_arrays
        return g * s * (1 + x * (1 - s))


class LogSigmoid(Function):
    """y = log sigmoid(x) = min(x, 0) - log(1 + exp(-|x|));  dx = g * sigmoid(-x)"""

    over_time = staticmethod(same_over_time)

    @staticmethod
    def forward(ctx, x):
        with _quiet():
            e = np.exp(-np.abs(x))
        ctx.save_for_backward(x, e)
        return np.minimum(x, 0) - np.log1p(e)

    @staticmethod
    def backward(ctx, g):
        x, e = ctx.saved_arrays
        # sigmoid(-x) from e = exp(-|x|): e / (1 + e) for x >= 0, 1 / (1 + e) below
        return g * np.where(x >= 0, e, 1) / (1 + e)
