"""Tensor calls that gave other numbers, shapes or gradients than PyTorch's without an
error (found by a parity hunt), each against torch itself."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor

_FIXTURE = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
_DTYPES = [None, np.int64, np.int32, np.int16, np.float32, np.float64]


def _torch_dtype(torch, dtype):
    return None if dtype is None else getattr(torch, np.dtype(dtype).name)


# a bound: an int, or a float with at most two decimals (0.3, -1.5, 4.13)
_bound = st.one_of(st.integers(-6, 6),
                   st.integers(-600, 600).map(lambda k: k / 100),
                   st.integers(-60, 60).map(lambda k: k / 10))
_step = st.one_of(st.integers(-3, 3), st.integers(-300, 300).map(lambda k: k / 100))


@settings(max_examples=60, **_FIXTURE)
@given(start=_bound, end=_bound, step=_step, dtype=st.sampled_from(_DTYPES))
def test_arange_gives_torchs_length_values_and_dtype(torch, start, end, step, dtype):
    try:
        theirs = torch.arange(start, end, step, dtype=_torch_dtype(torch, dtype))
    except (RuntimeError, ValueError):  # step 0 (also once truncated to an int), wrong side
        with pytest.raises(ValueError, match="arange: "):
            tg.arange(start, end, step, dtype=dtype)
        return
    ours = tg.arange(start, end, step, dtype=dtype)
    assert ours.shape == tuple(theirs.shape) and ours.dtype.name == str(theirs.dtype)[6:]
    if ours.dtype.kind == "f":  # (torch's vector loop rounds some values an ulp otherwise)
        tol = 8 * np.finfo(ours.dtype).eps * max(abs(start), abs(end), 1)
        np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=0, atol=tol)
    else:
        np.testing.assert_array_equal(ours.data, theirs.numpy())


def test_arange_errors_say_what_was_wrong():
    with pytest.raises(ValueError, match=r"end 0.0 is on the wrong side of start 5.0 for step "
                                         r"1.0"):
        tg.arange(5, 0)
    with pytest.raises(ValueError, match="step must be nonzero, got 0.3, which is 0 as an "
                                         "integer for dtype int64"):
        tg.arange(0, 1, 0.3, dtype=np.int64)
    with pytest.raises(ValueError, match="start and end must be finite"):
        tg.arange(float("inf"))
    with pytest.raises(TypeError, match="arange: end must be a number"):
        tg.arange("5")
    assert tg.arange(0, 0).shape == (0,) and tg.arange(Tensor(np.array(3))).dtype == np.int64


@settings(max_examples=60, **_FIXTURE)
@given(start=_bound, end=_bound, num=st.one_of(st.integers(0, 3), st.integers(4, 40)),
       dtype=st.sampled_from([np.int64, np.int32, np.int16, np.float32, np.float64]))
@example(start=1.59, end=0.72, num=3, dtype=np.int64)  # torch [1, 0, 0]; NumPy's [1, 1, 0]
def test_linspace_gives_torchs_values_also_for_integer_dtypes(torch, start, end, num, dtype):
    ours = tg.linspace(start, end, num, dtype=dtype)
    theirs = torch.linspace(start, end, num, dtype=_torch_dtype(torch, dtype)).numpy()
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    if ours.dtype.kind == "f":
        tol = 4 * np.finfo(ours.dtype).eps * max(abs(start), abs(end), 1)
        np.testing.assert_allclose(ours.data, theirs, rtol=0, atol=tol)
    elif num <= 3:  # (torch's vector loop, from 4 values, truncates some a step early)
        np.testing.assert_array_equal(ours.data, theirs)
    else:
        assert np.abs(ours.data.astype(np.int64) - theirs).max() <= 1


_INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8]


@settings(max_examples=40, **_FIXTURE)
@given(data=st.data(), dtype=st.sampled_from(_INT_DTYPES), n=st.integers(1, 6))
def test_integer_powers_with_negative_exponent_tensors_are_torchs(torch, data, dtype, n):
    low = 0 if dtype == np.uint8 else -3
    a = np.array(data.draw(st.lists(st.integers(low, 3), min_size=n, max_size=n)), dtype)
    b = np.array(data.draw(st.lists(st.integers(-4, 4), min_size=n, max_size=n)), np.int64)
    b = b.astype(np.int8 if dtype == np.uint8 else dtype)  # (uint8 ** int8: int16 both)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    for ours, theirs in [(Tensor(a) ** Tensor(b), ta ** tb), (Tensor(a).pow(Tensor(b[:1])),
                                                              ta.pow(tb[:1])),
                         (2 ** Tensor(b), 2 ** tb), ((-1) ** Tensor(b), (-1) ** tb)]:
        assert ours.dtype.name == str(theirs.dtype)[6:]
        np.testing.assert_array_equal(ours.data, theirs.numpy())


def test_square_of_a_bool_tensor_is_int64_as_torch(torch):
    x = np.array([True, False])
    ours, theirs = Tensor(x).square(), torch.from_numpy(x).square()
    assert ours.dtype == np.int64 and str(theirs.dtype) == "torch.int64"
    np.testing.assert_array_equal(ours.data, theirs.numpy())


@settings(max_examples=30, **_FIXTURE)
@given(data=st.data(), name=st.sampled_from(["amax", "amin"]), keepdim=st.booleans(),
       shape=st.sampled_from([(), (3,), (2, 3), (2, 1, 2)]))
def test_amax_amin_over_every_axis_give_torchs_gradient_also_with_nan(torch, data, name,
                                                                      keepdim, shape):
    size = int(np.prod(shape))
    x = np.array(data.draw(st.lists(st.sampled_from([0.0, 1.0, 2.0, np.nan]), min_size=size,
                                    max_size=size)), np.float64).reshape(shape)
    dims = data.draw(st.sampled_from([None, ()] + ([tuple(range(len(shape)))] if shape else [])))
    ours, theirs = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    kw = {} if dims is None else {"dim": dims}
    out, tout = getattr(ours, name)(keepdim=keepdim, **kw), getattr(theirs, name)(
        keepdim=keepdim, **kw)
    assert out.shape == tuple(tout.shape)
    np.testing.assert_array_equal(out.data, tout.detach().numpy())
    with np.errstate(divide="ignore", invalid="ignore"):  # (a NaN row shares g over none)
        out.sum().backward()
    tout.sum().backward()
    np.testing.assert_array_equal(ours.grad.data, theirs.grad.numpy())  # (NaN == NaN here)


@pytest.mark.parametrize("p", [np.inf, -np.inf])
@pytest.mark.parametrize("dim", [None, 0, (0, 1)])
def test_inf_norm_over_no_elements_is_refused_as_torch(torch, p, dim):
    kw = {} if dim is None else {"dim": dim}
    with pytest.raises(RuntimeError, match="does not have an identity"):
        torch.zeros(0, 3).norm(p, **kw)
    with pytest.raises(ValueError, match=f"norm: the {p} norm of no elements is undefined"):
        tg.zeros(0, 3).norm(p, **kw)
    assert tg.zeros(0, 3).norm(p, dim=1).shape == tuple(torch.zeros(0, 3).norm(p, dim=1).shape)
