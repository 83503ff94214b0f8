"""The public Hypothesis strategies and check_op in tinygrad_rnn.testing."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from tinygrad_rnn import Function, Tensor
from tinygrad_rnn import testing as tt


def test_import_tinygrad_rnn_does_not_load_hypothesis():
    code = "import sys, tinygrad_rnn; print('hypothesis' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ----- shapes ------------------------------------------------------------------------------------
@given(tt.shapes(min_dims=1, max_dims=3, min_side=2, max_side=4))
def test_shapes_respect_bounds(shape):
    assert 1 <= len(shape) <= 3 and all(2 <= s <= 4 for s in shape)


def test_shapes_include_0d_and_size_one_axes():
    assert find(tt.shapes(), lambda s: s == ()) == ()
    assert 1 in find(tt.shapes(min_dims=2), lambda s: 1 in s and len(s) >= 2)


@given(tt.broadcastable_shapes(3, max_dims=3))
def test_broadcastable_shapes_broadcast(shapes):
    assert len(shapes) == 3
    np.broadcast_shapes(*shapes)


def test_broadcastable_shapes_really_broadcast_sometimes():
    # a pair where each shape must stretch, such as (2, 1) with (1, 3)
    a, b = find(tt.broadcastable_shapes(2, min_dims=1),
                lambda s: np.broadcast_shapes(*s) not in s)
    assert np.broadcast_shapes(a, b) not in (a, b)


@given(tt.matmul_shapes())
def test_matmul_shapes_are_valid(shapes):
    a, b = shapes
    np.matmul(np.ones(a), np.ones(b))


@pytest.mark.parametrize("want", [
    lambda a, b: len(a) == 1,              # vector @ matrix
    lambda a, b: len(b) == 1,              # matrix @ vector
    lambda a, b: len(a) == len(b) == 1,    # dot product
    lambda a, b: len(a) > 2 or len(b) > 2,  # a batch
])
def test_matmul_shapes_cover_the_cases(want):
    find(tt.matmul_shapes(), lambda s: want(*s))


# ----- arrays --------------------------------------------------------------------------------
BOUNDS = {"real": (-2, 2), "positive": (0.2, 3), "negative": (-3, -0.2), "unit": (-0.9, 0.9)}


@pytest.mark.parametrize("domain", sorted(tt.DOMAINS))
@settings(max_examples=15)
@given(data=st.data())
def test_arrays_stay_in_their_domain(domain, data):
    shape = data.draw(tt.shapes(max_dims=3))
    x = data.draw(tt.arrays(shape, domain=domain))
    assert x.shape == shape and x.dtype == np.float64 and np.all(np.isfinite(x))
    if domain in BOUNDS:
        lo, hi = BOUNDS[domain]
        assert np.all((x >= lo) & (x <= hi))
    elif domain == "nonzero":
        assert np.all((np.abs(x) >= 0.2) & (np.abs(x) <= 2))
    elif domain == "away_from_kinks":
        off = np.abs(x / tt.KINK_SPACING - np.round(x / tt.KINK_SPACING)) * tt.KINK_SPACING
        assert np.all(off >= 0.05 - 1e-12)
    elif domain == "distinct":
        v = np.sort(x.reshape(-1))
        assert np.all(np.diff(v) > 1e-3)


def test_arrays_take_a_shape_strategy_and_a_dtype():
    x = find(tt.arrays(tt.shapes(min_dims=2), dtype=np.float32), lambda a: True)
    assert x.dtype == np.float32 and x.ndim >= 2


def test_arrays_reject_unknown_domains():
    with pytest.raises(ValueError, match="unknown domain 'complex'.*expected one of"):
        find(tt.arrays((2,), domain="complex"), lambda a: True)


# ----- axis_and_keepdims ---------------------------------------------------------------------
@given(tt.shapes(max_dims=4).flatmap(lambda s: st.tuples(st.just(s), tt.axis_and_keepdims(s))))
def test_axis_and_keepdims_are_valid_for_numpy(case):
    shape, (axis, keepdims) = case
    assert isinstance(keepdims, bool)
    np.sum(np.ones(shape), axis=axis, keepdims=keepdims)


def test_axis_and_keepdims_cover_negative_and_tuple_axes():
    s = (2, 3, 4)
    find(tt.axis_and_keepdims(s), lambda a: isinstance(a[0], int) and a[0] < 0)
    find(tt.axis_and_keepdims(s), lambda a: isinstance(a[0], tuple) and len(a[0]) >= 2)
    find(tt.axis_and_keepdims(s), lambda a: a[0] is None and a[1])


# ----- check_op ---------------------------------------------------------------------------------
class CubeWrongGrad(Function):
    """y = x**3 with a wrong backward (dx = 3 g x instead of 3 g x**2)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_arrays
        return 3 * g * x


@given(tt.shapes(max_dims=3).flatmap(lambda s: tt.arrays(s, domain="positive")))
def test_check_op_accepts_a_correct_op(x):
    tt.check_op(lambda t: t.log() * t, lambda a: np.log(a) * a, x)


@given(tt.broadcastable_shapes(2, max_dims=3).flatmap(
    lambda s: st.tuples(tt.arrays(s[0]), tt.arrays(s[1], domain="nonzero"))))
def test_check_op_with_two_broadcast_inputs(xy):
    tt.check_op(lambda a, b: a / b + a, lambda a, b: a / b + a, *xy)


def test_check_op_rejects_a_wrong_forward():
    with pytest.raises(AssertionError, match="forward differs"):
        tt.check_op(lambda t: t.exp(), lambda a: np.exp(a) + 1e-3, np.array([0.5, 1.0]))
    with pytest.raises(AssertionError, match=r"forward shape \(2,\) != reference shape \(\)"):
        tt.check_op(lambda t: t * 2, lambda a: np.sum(a * 2), np.array([0.5, 1.0]))
    with pytest.raises(AssertionError, match="expected a Tensor"):
        tt.check_op(lambda t: t.data, lambda a: a, np.array([0.5]))


def test_check_op_rejects_a_wrong_gradient():
    x = np.array([0.5, 1.5, 2.0])
    with pytest.raises(AssertionError, match="gradcheck failed for input 0"):
        tt.check_op(lambda t: CubeWrongGrad.apply(t), lambda a: a ** 3, x)


def test_check_op_passes_constants_and_respects_requires_grad():
    w = np.array([[1.0, 2.0], [3.0, 4.0]])
    idx = np.array([1, 1, 0])
    tt.check_op(lambda w, i: w[i.data], lambda w, i: w[i], w, idx)
    # the wrong gradient is not looked at when the input is marked constant
    tt.check_op(lambda t: CubeWrongGrad.apply(t), lambda a: a ** 3, np.array([2.0]),
                requires_grad=[False])
    tt.check_op(lambda t, k: t * k, lambda a, k: a * k, np.array([1.0]), 3.0)
    with pytest.raises(ValueError, match="requires_grad has 1 entries, expected one per input"):
        tt.check_op(lambda a, b: a + b, np.add, np.ones(1), np.ones(1), requires_grad=[True])


def test_check_op_checks_the_gradient_shape_and_dtype(monkeypatch):
    seen = []

    def fn(t):
        seen.append(t)
        return t * 2

    real = Tensor.backward

    def backward_with_a_float32_grad(self, grad=None, retain_graph=False):
        real(self, grad, retain_graph)
        seen[-1].grad = Tensor(seen[-1].grad.data.astype(np.float32))

    tt.check_op(fn, lambda a: a * 2, np.ones(2))
    monkeypatch.setattr(Tensor, "backward", backward_with_a_float32_grad)
    with pytest.raises(AssertionError, match=r"gradient of input 0 has shape \(2,\) dtype float32"):
        tt.check_op(fn, lambda a: a * 2, np.ones(2))


class NaNGrad(Function):
    """y = 2x with a backward that returns NaN."""

    @staticmethod
    def forward(ctx, x):
        return 2 * x

    @staticmethod
    def backward(ctx, g):
        return g * np.nan


def test_check_op_rejects_a_nan_forward_against_a_finite_reference():
    with pytest.raises(AssertionError, match="forward differs"):
        tt.check_op(lambda t: t * np.nan, lambda a: a * 2, np.array([0.5, 1.0]))


def test_check_op_rejects_a_nan_gradient():
    with pytest.raises(AssertionError, match="gradcheck failed for input 0.*analytic nan"):
        tt.check_op(lambda t: NaNGrad.apply(t), lambda a: 2 * a, np.array([0.5, 1.0]))
