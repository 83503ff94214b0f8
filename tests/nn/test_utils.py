"""Gradient clipping, detach_state and functional_call."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn
from tinygrad_rnn.nn.utils import (
    clip_grad_norm_, clip_grad_value_, detach_state, functional_call,
)


def _params_with_grads(grads):
    ps = []
    for g in grads:
        p = nn.Parameter(np.zeros_like(g))
        p.grad = Tensor(np.array(g, copy=True))
        ps.append(p)
    return ps


def test_clip_grad_norm_scales_when_above_and_returns_the_norm_before():
    grads = [np.array([3.0, 0.0]), np.array([[4.0]])]
    ps = _params_with_grads(grads) + [nn.Parameter(np.zeros(2))]  # one without a grad
    total = clip_grad_norm_(ps, 1.0)
    assert isinstance(total, tg.Tensor) and total.ndim == 0  # as PyTorch: a 0-d tensor
    assert total.item() == pytest.approx(5.0)
    coef = 1.0 / (5.0 + 1e-6)
    np.testing.assert_allclose(ps[0].grad.data, [3 * coef, 0])
    np.testing.assert_allclose(ps[1].grad.data, [[4 * coef]])
    assert ps[2].grad is None


def test_clip_grad_norm_leaves_small_gradients_alone():
    ps = _params_with_grads([np.array([0.3, 0.4])])
    assert clip_grad_norm_(ps, 1.0).item() == pytest.approx(0.5)
    np.testing.assert_array_equal(ps[0].grad.data, [0.3, 0.4])
    assert clip_grad_norm_(ps[0], 10.0).item() == pytest.approx(0.5)  # a single tensor too


def test_clip_grad_norm_other_norms():
    ps = _params_with_grads([np.array([-3.0, 1.0]), np.array([2.0])])
    assert clip_grad_norm_(ps, 100.0, norm_type=float("inf")).item() == 3.0
    assert clip_grad_norm_(ps, 100.0, norm_type=1).item() == pytest.approx(6.0)
    assert clip_grad_norm_(ps, 100.0, norm_type=0).item() == 2.0  # gradients not all zero
    assert clip_grad_norm_(_params_with_grads([np.zeros(2), np.array([0.0, 1.0])]), 100.0,
                           norm_type=0).item() == 1.0
    assert clip_grad_norm_(ps, 100.0, foreach=True).item() == pytest.approx(14 ** 0.5)
    assert clip_grad_norm_([], 1.0).item() == 0.0
    with pytest.raises(ValueError, match="max_norm must be non-negative"):
        clip_grad_norm_(ps, -1.0)
    bad = _params_with_grads([np.array([np.nan])])
    with pytest.raises(RuntimeError, match="total gradient norm is nan"):
        clip_grad_norm_(bad, 1.0, error_if_nonfinite=True)


def test_clip_grad_norm_matches_torch(torch):
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal((3, 4)) * 5, rng.standard_normal(7)]
    ours = _params_with_grads(grads)
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for t, g in zip(theirs, grads):
        t.grad = torch.from_numpy(g.copy())
    for norm_type in (2.0, 1.0, float("inf"), 0):
        a = clip_grad_norm_(ours, 2.0, norm_type=norm_type)
        b = torch.nn.utils.clip_grad_norm_(theirs, 2.0, norm_type=norm_type)
        assert a.dtype == np.float64 and a.item() == pytest.approx(b.item(), rel=1e-12)
        for p, t in zip(ours, theirs):
            np.testing.assert_allclose(p.grad.data, t.grad.numpy(), rtol=1e-12)


def test_clip_grad_value_():
    ps = _params_with_grads([np.array([-3.0, 0.5, 2.0]),
                             np.array([[np.nan, -np.inf], [np.inf, -0.5]], np.float32)])
    clip_grad_value_(ps, 1.0)
    np.testing.assert_array_equal(ps[0].grad.data, [-1.0, 0.5, 1.0])
    # in place, dtype kept, NaN kept (as torch.nn.utils.clip_grad_value_), infinities clipped
    assert ps[1].grad.data.dtype == np.float32
    np.testing.assert_array_equal(ps[1].grad.data, [[np.nan, -1.0], [1.0, -0.5]])
    with pytest.raises(ValueError, match="clip_value must be non-negative"):
        clip_grad_value_(ps, -1)


def test_detach_state_nested():
    x = Tensor(np.ones(2), requires_grad=True)
    h, c = x * 2, x * 3
    state = (h, [c, None])
    out = detach_state(state)
    assert isinstance(out, tuple) and isinstance(out[1], list) and out[1][1] is None
    assert not out[0].requires_grad and out[0]._ctx is None
    np.testing.assert_array_equal(out[1][0].data, c.data)
    assert detach_state(None) is None
    with pytest.raises(TypeError, match="detach_state: expected a Tensor"):
        detach_state({"h": h})


def test_functional_call_swaps_and_restores():
    lin = nn.Linear(2, 1).double()
    w = Tensor(np.ones((1, 2)), requires_grad=True)
    x = Tensor(np.array([[1.0, 2.0]]))
    y = functional_call(lin, {"weight": w}, x)
    np.testing.assert_allclose(y.data, [3.0 + lin.bias.data])
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.data, [[1.0, 2.0]])
    assert lin.weight is not w and lin.weight.grad is None
    seq = nn.Sequential(lin)
    assert functional_call(seq, {"0.bias": Tensor(np.zeros(1))}, x).shape == (1, 1)
    assert isinstance(seq[0].bias, nn.Parameter)
    with pytest.raises(KeyError, match="'0.nope' is not a parameter"):
        functional_call(seq, {"0.nope": w}, x)


def test_clip_grad_norm_of_a_nan_norm_makes_every_gradient_nan_as_pytorch():
    """PyTorch scales by min(max_norm / norm, 1); with a NaN norm that is NaN everywhere,
    the finite gradients included (they were left as they were)."""
    from tinygrad_rnn.nn.utils import clip_grad_norm_
    a = tg.Tensor(np.zeros(2), requires_grad=True)
    b = tg.Tensor(np.zeros(3), requires_grad=True)
    a.grad = tg.Tensor(np.array([1.0, np.nan]))
    b.grad = tg.Tensor(np.array([0.5, 1.0, -2.0]))
    total = clip_grad_norm_([a, b], max_norm=1.0)
    assert np.isnan(total.item())
    assert np.isnan(a.grad.data).all() and np.isnan(b.grad.data).all()


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_clip_grad_norm_sees_a_non_finite_entry_in_any_parameter_as_pytorch(torch, norm_type, bad):
    grads = [np.array([3.0]), np.array([1.0, bad])]  # the bad entry in a later parameter
    ours = _params_with_grads(grads)
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for t, g in zip(theirs, grads):
        t.grad = torch.from_numpy(g.copy())
    a = clip_grad_norm_(ours, 1.0, norm_type=norm_type)
    b = torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type=norm_type)
    np.testing.assert_array_equal(a.data, b.numpy())
    for p, t in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.data, t.grad.numpy())
    with pytest.raises(RuntimeError, match="total gradient norm is"):
        clip_grad_norm_(_params_with_grads(grads), 1.0, norm_type=norm_type,
                        error_if_nonfinite=True)


def test_clip_grad_norm_returns_the_gradients_dtype():
    ps = _params_with_grads([np.array([3.0, 4.0], np.float32)])
    assert clip_grad_norm_(ps, 1.0).dtype == np.float32


def test_the_returned_norm_formats_and_rounds_as_a_number():
    total = clip_grad_norm_(_params_with_grads([np.array([3.0, 4.0])]), 10.0)
    assert f"{total:.3f}" == "5.000" and round(total, 1) == 5.0
    with pytest.raises(TypeError, match="needs a 0-d tensor"):
        f"{tg.Tensor(np.ones(2)):.2f}"
