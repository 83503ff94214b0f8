"""Functions with several outputs, and Tensors passed to apply as keyword arguments."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn import Function, Tensor, gradcheck
from tinygrad_rnn import testing as tt


class SinCos(Function):
    """(s, c) = (sin x, cos x);  dx = gs * c - gc * s"""

    calls = 0

    @staticmethod
    def forward(ctx, x):
        s, c = np.sin(x), np.cos(x)
        ctx.save_for_backward(s, c)
        return s, c

    @staticmethod
    def backward(ctx, gs, gc):
        SinCos.calls += 1
        s, c = ctx.saved_arrays
        return gs * c - gc * s


class ScaleShift(Function):
    """y = x * scale + shift, scale and shift given by keyword;  dx = g * scale,
    dscale = g * x, dshift = g"""

    @staticmethod
    def forward(ctx, x, scale=None, shift=None, power=1):
        ctx.save_for_backward(x, scale)
        return x * scale + shift

    @staticmethod
    def backward(ctx, g):
        x, scale = ctx.saved_arrays
        return g * scale, g * x, g


def x64(a, requires_grad=True):
    return Tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def test_apply_returns_one_tensor_per_output_made_by_one_node():
    x = x64([0.1, 0.2, 0.3])
    s, c = SinCos.apply(x)
    assert isinstance(s, Tensor) and isinstance(c, Tensor)
    assert s._ctx is c._ctx and s.requires_grad and c.requires_grad
    np.testing.assert_allclose(s.data, np.sin(x.data))
    np.testing.assert_allclose(c.data, np.cos(x.data))


def test_backward_runs_once_with_zeros_for_an_output_that_got_no_gradient():
    x = x64([0.5, -1.0])
    s, c = SinCos.apply(x)
    SinCos.calls = 0
    (s * 3.0).sum().backward()
    assert SinCos.calls == 1
    np.testing.assert_allclose(x.grad.data, 3.0 * np.cos(x.data), rtol=1e-12)


def test_both_outputs_reach_the_node_before_its_backward_runs():
    x = x64([0.5, -1.0])
    s, c = SinCos.apply(x)
    SinCos.calls = 0
    (s * c + c * c).sum().backward()  # two paths into each output
    assert SinCos.calls == 1
    sx, cx = np.sin(x.data), np.cos(x.data)
    np.testing.assert_allclose(x.grad.data, cx * cx - sx * sx - 2 * cx * sx, rtol=1e-12)


@settings(max_examples=20)
@given(tt.shapes(max_dims=3, max_side=3).flatmap(lambda s: tt.arrays(s)),
       st.floats(-2, 2), st.floats(-2, 2))
def test_several_outputs_gradcheck(x, a, b):
    def fn(t):
        s, c = SinCos.apply(t)
        return s * a + c * b + s * c
    assert gradcheck(fn, [x64(x)])


def test_grad_with_respect_to_one_output_of_a_several_output_node():
    x = x64([0.3, 0.7])
    s, c = SinCos.apply(x)
    y = (s * s + c).sum()
    (gs, gx) = tg.grad(y, [s, x])
    np.testing.assert_allclose(gs.data, 2 * s.data, rtol=1e-12)
    np.testing.assert_allclose(gx.data, 2 * s.data * c.data - s.data, rtol=1e-12)


def test_an_integer_output_does_not_require_grad():
    class ValueAndIndex(Function):
        """(y, i) = (max(x), argmax(x));  dx = g at the arg-max"""

        @staticmethod
        def forward(ctx, x):
            i = np.argmax(x)
            ctx.i, ctx.shape = i, x.shape
            return x[i], np.asarray(i)

        @staticmethod
        def backward(ctx, g, gi):
            assert gi.dtype.kind == "i" and not gi.any()
            dx = np.zeros(ctx.shape)
            dx[ctx.i] = g
            return dx

    x = x64([1.0, 3.0, 2.0])
    v, i = ValueAndIndex.apply(x)
    assert v.requires_grad and not i.requires_grad and i.item() == 1
    v.backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0, 0.0])


def test_keyword_tensors_are_inputs_with_gradients():
    x, scale, shift = x64([1.0, 2.0]), x64([3.0, 4.0]), x64([0.5, 0.5])
    y = ScaleShift.apply(x, scale=scale, shift=shift, power=2)
    assert y._ctx.parents == (x, scale, shift)
    np.testing.assert_allclose(y.data, [3.5, 8.5])
    y.backward(np.array([1.0, 10.0]))
    np.testing.assert_allclose(x.grad.data, [3.0, 40.0])
    np.testing.assert_allclose(scale.grad.data, [1.0, 20.0])
    np.testing.assert_allclose(shift.grad.data, [1.0, 10.0])
    assert gradcheck(lambda a, b, c: ScaleShift.apply(a, scale=b, shift=c),
                     [x64([1.0, 2.0]), x64([3.0, 4.0]), x64([0.5, 0.5])])


def test_a_keyword_tensor_alone_makes_the_result_require_grad():
    shift = x64([1.0])
    y = ScaleShift.apply(x64([2.0], requires_grad=False), scale=x64([1.0], False), shift=shift)
    assert y.requires_grad
    y.backward(np.ones(1))
    np.testing.assert_array_equal(shift.grad.data, [1.0])


def test_wrong_number_of_gradients_names_the_op():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x):
            return x, x

        @staticmethod
        def backward(ctx, a, b):
            return a, b

    a, b = Bad.apply(x64([1.0]))
    with pytest.raises(RuntimeError, match="Bad.backward returned 2 gradients, expected 1"):
        (a + b).backward(np.ones(1))


def test_several_outputs_release_the_graph_after_backward():
    x = x64([0.5])
    s, c = SinCos.apply(x)
    y = (s + c).sum()
    y.backward()
    assert s._ctx.released
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        (s * 2).sum().backward()
