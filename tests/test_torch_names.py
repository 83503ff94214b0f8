"""More of PyTorch's Tensor vocabulary, name by name against torch itself: masks and
comparisons, counting and sorting helpers, creation, shape and dtype helpers, and the
differentiable ops (whose gradients the op table in tinygrad_rnn/testing/op_db also checks
against finite differences and torch, on Hypothesis-drawn shapes)."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor

NAN, INF = np.nan, np.inf
SPECIAL = np.array([[0.0, -0.0, 1.5, NAN], [INF, -INF, -2.0, NAN]])


def _leaf(x):
    return Tensor(np.array(x, dtype=np.float64), requires_grad=True)


def _pair(torch, x):
    """(our leaf, torch's leaf) holding the same float64 values."""
    x = np.array(x, dtype=np.float64)
    return _leaf(x), torch.tensor(x, requires_grad=True)


def _same_values(ours, theirs):
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    assert ours.dtype == theirs.dtype, (ours.dtype, theirs.dtype)
    np.testing.assert_array_equal(ours.data, theirs)


def _same_backward(torch, outs, leaves, seed=1):
    """Backward of the same random seed through both results; the leaves' grads agree."""
    (out, tout), pairs = outs, leaves
    g = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(g)
    tout.backward(torch.from_numpy(g))
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-12, atol=1e-12)


# ----- masks and comparisons --------------------------------------------------------------
@pytest.mark.parametrize("name", ["isnan", "isinf", "isfinite"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.bool_])
def test_isnan_isinf_isfinite_match_torch(torch, name, dtype):
    x = SPECIAL if np.dtype(dtype).kind == "f" else np.array([[0, 1], [1, 0]])
    x = x.astype(dtype)
    expected = getattr(torch, name)(torch.from_numpy(x))
    _same_values(getattr(Tensor(x), name)(), expected)
    _same_values(getattr(tg, name)(Tensor(x)), expected)
    assert not getattr(_leaf(SPECIAL), name)().requires_grad


COMPARISONS = ["eq", "ne", "lt", "le", "gt", "ge", "greater", "less", "greater_equal",
               "less_equal", "not_equal"]


@pytest.mark.parametrize("name", COMPARISONS)
def test_comparison_methods_match_torch(torch, name):
    a = np.array([[1.0, 2.0, NAN], [3.0, -1.0, 2.0]])
    b = np.array([2.0, 2.0, NAN])
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    for other, tother in ((b, tb), (2.0, 2.0), (2, 2)):
        arg = Tensor(other) if isinstance(other, np.ndarray) else other
        expected = getattr(ta, name)(tother)
        _same_values(getattr(Tensor(a), name)(arg), expected)
        _same_values(getattr(tg, name)(Tensor(a), arg), expected)
    with pytest.raises(ValueError, match=r"shapes \(2, 3\) and \(2,\) do not broadcast"):
        getattr(Tensor(a), name)(Tensor(np.ones(2)))


@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 1), ()])
def test_count_nonzero_matches_torch(torch, axis):
    x = np.array([[0.0, NAN, 2.0], [-0.0, 0.0, 1.0]])
    ours = Tensor(x).count_nonzero(dim=axis) if axis is not None else Tensor(x).count_nonzero()
    _same_values(ours, torch.count_nonzero(torch.from_numpy(x), dim=axis))
    if axis != ():  # (dim=() is every axis, as torch's reductions)
        _same_values(tg.count_nonzero(Tensor(x), axis), torch.count_nonzero(
            torch.from_numpy(x), dim=axis))
    ints = np.array([[0, 3], [0, 0]])
    _same_values(Tensor(ints).count_nonzero(0), torch.count_nonzero(torch.from_numpy(ints), 0))
    _same_values(Tensor(np.array(2.0)).count_nonzero(), torch.count_nonzero(torch.tensor(2.0)))


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_argsort_matches_torch(torch, descending, axis):
    x = np.array([[3.0, NAN, 1.0, 3.0, INF], [0.0, -1.0, 2.0, 2.0, -INF],
                  [5.0, 5.0, 5.0, 0.0, 1.0]])
    expected = torch.argsort(torch.from_numpy(x), dim=axis, descending=descending, stable=True)
    for stable in (False, True):  # (ours is always stable)
        _same_values(Tensor(x).argsort(axis, descending, stable), expected)
        _same_values(tg.argsort(Tensor(x), dim=axis, descending=descending), expected)
    _same_values(Tensor(np.array(1.5)).argsort(), torch.argsort(torch.tensor(1.5)))
    with pytest.raises(TypeError, match="argsort: descending must be a bool"):
        Tensor(x).argsort(descending=1)


def test_full_like_empty_and_empty_like_match_torch(torch):
    for x, value, dtype, tdtype in ((np.zeros((2, 3)), 2.5, None, None),
                                    (np.zeros(2, dtype=np.int64), 2.7, None, None),
                                    (np.zeros((2, 1), dtype=np.float32), 2, np.float64,
                                     torch.float64),
                                    (np.zeros(3), True, np.bool_, torch.bool)):
        ours = tg.full_like(Tensor(x), value, dtype=dtype)
        _same_values(ours, torch.full_like(torch.from_numpy(x), value, dtype=tdtype))
    assert tg.full_like(Tensor(np.zeros(2)), 1.0, requires_grad=True).requires_grad
    with pytest.raises(ValueError, match="full_like: value inf cannot be converted to int64"):
        tg.full_like(Tensor(np.zeros(2, dtype=np.int64)), INF)
    e = tg.empty(2, 3)
    assert e.shape == (2, 3) and e.dtype == torch.empty(2, 3).numpy().dtype
    assert tg.empty((4,), dtype=np.int64).dtype == np.int64
    assert tg.empty(2, requires_grad=True).requires_grad
    like = tg.empty_like(Tensor(np.zeros((2, 2), dtype=np.int32)))
    assert like.shape == (2, 2) and like.dtype == np.int32
    assert tg.empty_like(Tensor(np.zeros(3)), dtype=np.float32).dtype == np.float32


# ----- shape and dtype helpers ------------------------------------------------------------
@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (1, 4)])
def test_t_matches_torch(torch, shape):
    x = np.arange(float(np.prod(shape))).reshape(shape)
    ours, theirs = _pair(torch, x)
    out, tout = ours.t(), theirs.t()
    _same_values(out, tout)
    _same_values(tg.t(ours), tout)
    _same_backward(torch, (out, tout), [(ours, theirs)])


def test_t_refuses_more_than_two_axes():
    with pytest.raises(ValueError, match=r"t\(\) needs a tensor of at most 2 dimensions, got "
                                         r"shape \(2, 3, 4\)"):
        Tensor(np.zeros((2, 3, 4))).t()


def test_view_as_reshape_as_type_as_match_torch(torch):
    x = np.arange(6.0)
    other = np.zeros((3, 2), dtype=np.int64)
    for name in ("view_as", "reshape_as"):
        ours, theirs = _pair(torch, x)
        out = getattr(ours, name)(Tensor(other))
        tout = getattr(theirs, name)(torch.from_numpy(other))
        _same_values(out, tout)
        _same_backward(torch, (out, tout), [(ours, theirs)])
        with pytest.raises(ValueError):
            getattr(ours, name)(Tensor(np.zeros(4)))
        with pytest.raises(TypeError, match=f"{name}: other must be a Tensor"):
            getattr(ours, name)((3, 2))
    _same_values(Tensor(x).type_as(Tensor(other)), torch.from_numpy(x).type_as(
        torch.from_numpy(other)))
    y = Tensor(x.astype(np.float32))
    assert y.type_as(Tensor(np.zeros(1, np.float32))) is y  # (nothing to change: itself)
    ours = Tensor(x.astype(np.float32), requires_grad=True)
    theirs = torch.tensor(x.astype(np.float32), requires_grad=True)
    out = ours.type_as(Tensor(np.zeros(1)))
    tout = theirs.type_as(torch.zeros(1, dtype=torch.float64))
    _same_values(out, tout)
    _same_backward(torch, (out, tout), [(ours, theirs)])
    assert ours.grad.dtype == np.float32


@pytest.mark.parametrize("name,dtype", [("short", np.int16), ("byte", np.uint8),
                                        ("char", np.int8)])
def test_integer_dtype_spellings_match_torch(torch, name, dtype):
    x = np.array([1.7, -2.2, 3.0, 0.0])
    if name == "byte":
        x = np.abs(x)  # (a negative float to uint8 is undefined in C, NumPy and torch)
    out = getattr(Tensor(x), name)()
    assert out.dtype == dtype
    _same_values(out, getattr(torch.from_numpy(x), name)())


@pytest.mark.parametrize("axis,sizes", [(0, (2, 3)), (1, (2, -1)), (-1, (1, 4, 1)),
                                        (0, [-1, 1]), (1, (4,))])
def test_unflatten_matches_torch(torch, axis, sizes):
    ours, theirs = _pair(torch, np.arange(24.0).reshape(6, 4))
    out, tout = ours.unflatten(axis, sizes), theirs.unflatten(axis, sizes)
    _same_values(out, tout)
    _same_values(tg.unflatten(ours, dim=axis, sizes=sizes), tout)
    _same_backward(torch, (out, tout), [(ours, theirs)])


def test_unflatten_errors_say_what_was_expected():
    x = Tensor(np.zeros((6, 4)))
    with pytest.raises(ValueError, match=r"unflatten: sizes \(4, -1\) do not multiply to 6"):
        x.unflatten(0, (4, -1))
    with pytest.raises(ValueError, match="unflatten: at most one size may be -1"):
        x.unflatten(0, (-1, -1))
    with pytest.raises(ValueError, match="unflatten: sizes must be non-empty"):
        x.unflatten(0, ())
    with pytest.raises(TypeError, match="unflatten: sizes must be a tuple or list of ints"):
        x.unflatten(0, 6)
    with pytest.raises(ValueError, match="unflatten: needs a tensor of at least 1 dimension"):
        Tensor(np.array(1.0)).unflatten(0, (1,))


# ----- differentiable ops ------------------------------------------------------------------
@pytest.mark.parametrize("name", ["tril", "triu"])
@pytest.mark.parametrize("k", [0, 1, -1, 3, -5])
@pytest.mark.parametrize("shape", [(3, 4), (2, 4, 3), (1, 1)])
def test_tril_triu_match_torch(torch, name, k, shape):
    ours, theirs = _pair(torch, np.random.default_rng(0).standard_normal(shape))
    out, tout = getattr(ours, name)(k), getattr(theirs, name)(k)
    _same_values(out, tout)
    _same_values(getattr(tg, name)(ours, diagonal=k), tout)
    _same_backward(torch, (out, tout), [(ours, theirs)])
    ints = np.arange(12).reshape(3, 4)
    _same_values(getattr(Tensor(ints), name)(k), getattr(torch.from_numpy(ints), name)(k))


def test_tril_triu_refuse_fewer_than_two_axes():
    for name in ("tril", "triu"):
        with pytest.raises(ValueError, match=f"{name}: needs a tensor of at least 2 dimensions"
                                             r", got shape \(3,\)"):
            getattr(Tensor(np.zeros(3)), name)()
        with pytest.raises(TypeError, match=f"{name}: diagonal must be an int"):
            getattr(Tensor(np.zeros((3, 3))), name)(0.5)


def test_mm_outer_dot_match_torch(torch):
    rng = np.random.default_rng(0)
    for name, sa, sb in (("mm", (2, 3), (3, 4)), ("outer", (3,), (4,)), ("dot", (3,), (3,))):
        (a, ta), (b, tb) = (_pair(torch, rng.standard_normal(s)) for s in (sa, sb))
        out, tout = getattr(a, name)(b), getattr(ta, name)(tb)
        np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12)
        assert out.shape == tuple(tout.shape)
        np.testing.assert_allclose(getattr(tg, name)(a, b).data, out.data)
        _same_backward(torch, (out, tout), [(a, ta), (b, tb)])


def test_mm_outer_dot_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"mm: both operands must be matrices \(2-D\), got "
                                         r"shapes \(3,\) and \(3, 2\)"):
        Tensor(np.ones(3)).mm(Tensor(np.ones((3, 2))))
    with pytest.raises(ValueError, match=r"mm: shapes \(3, 2\) and \(3, 2\) cannot be "
                                         r"multiplied"):
        Tensor(np.ones((3, 2))).mm(Tensor(np.ones((3, 2))))
    with pytest.raises(ValueError, match=r"outer: both operands must be 1-D, got shapes "
                                         r"\(3, 2\) and \(3,\)"):
        Tensor(np.ones((3, 2))).outer(Tensor(np.ones(3)))
    with pytest.raises(ValueError, match=r"dot: both operands must be 1-D, got shapes "
                                         r"\(3, 1\) and \(3,\)"):
        Tensor(np.ones((3, 1))).dot(Tensor(np.ones(3)))
    with pytest.raises(ValueError, match=r"dot: the vectors have 3 and 2 elements"):
        Tensor(np.ones(3)).dot(Tensor(np.ones(2)))


@pytest.mark.parametrize("offset,axes", [(0, (0, 1)), (1, (0, 1)), (-1, (1, 0)),
                                         (1, (-1, 0)), (2, (1, 2)), (7, (0, 2)), (-3, (2, 1))])
def test_diagonal_matches_torch(torch, offset, axes):
    ours, theirs = _pair(torch, np.random.default_rng(0).standard_normal((3, 4, 5)))
    out = ours.diagonal(offset, *axes)
    tout = theirs.diagonal(offset, *axes)
    _same_values(out, tout)
    _same_values(ours.diagonal(offset=offset, dim1=axes[0], dim2=axes[1]), tout)
    _same_values(tg.diagonal(ours, offset, axis1=axes[0], axis2=axes[1]), tout)
    _same_backward(torch, (out, tout), [(ours, theirs)])


def test_diagonal_errors():
    x = Tensor(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="diagonal: axis1 and axis2 are both axis 0"):
        x.diagonal(0, 0, -2)
    with pytest.raises(ValueError, match=r"diagonal: needs a tensor of at least 2 dimensions, "
                                         r"got shape \(3,\)"):
        Tensor(np.zeros(3)).diagonal()
    with pytest.raises(TypeError, match=r"diagonal\(\) got both axis1= and dim1="):
        x.diagonal(axis1=0, dim1=0)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_of_a_tensor_are_maximum_minimum_as_torch(torch, name):
    (a, ta), (b, tb) = _pair(torch, [[1.0, 5.0, 2.0], [0.0, -1.0, 3.0]]), \
        _pair(torch, [3.0, 2.0, 2.0])
    out, tout = getattr(a, name)(b), getattr(ta, name)(tb)
    _same_values(out, tout)
    _same_values(getattr(tg, name)(a, b), tout)
    _same_backward(torch, (out, tout), [(a, ta), (b, tb)])  # (a tie: each gets half)
    with pytest.raises(TypeError, match=f"{name}: keepdims is not taken with a tensor"):
        getattr(a, name)(b, keepdims=True)
    # the axis forms are unchanged
    np.testing.assert_array_equal(getattr(a, name)(1).data,
                                  getattr(ta, name)(1).values.detach().numpy())
    np.testing.assert_array_equal(getattr(a, name)().data, getattr(ta, name)().detach().numpy())


@pytest.mark.parametrize("mode", [None, "trunc", "floor"])
def test_div_rounding_modes_match_torch(torch, mode):
    a = np.array([-7.0, 7.0, -7.5, 7.5, 0.5, -0.5, 6.0, -6.0])
    b = np.array([2.0, -2.0, 2.0, 2.0, -2.0, 2.0, 3.0, 3.0])
    (ta_, tta), (tb_, ttb) = _pair(torch, a), _pair(torch, b)
    out, tout = ta_.div(tb_, rounding_mode=mode), tta.div(ttb, rounding_mode=mode)
    _same_values(out, tout)
    _same_values(tg.div(ta_, tb_, rounding_mode=mode), tout)
    _same_backward(torch, (out, tout), [(ta_, tta), (tb_, ttb)])
    ia, ib = np.array([-7, 7, -8, 5, 0, -1]), np.array([2, -2, 3, -5, 3, 4])
    _same_values(Tensor(ia).div(Tensor(ib), rounding_mode=mode),
                 torch.from_numpy(ia).div(torch.from_numpy(ib), rounding_mode=mode))
    _same_values(Tensor(ia).div(3, rounding_mode=mode),
                 torch.from_numpy(ia).div(3, rounding_mode=mode))
    _same_values(tg.div(7.0, Tensor(b), rounding_mode=mode),
                 torch.div(torch.tensor(7.0, dtype=torch.float64), torch.from_numpy(b),
                           rounding_mode=mode))


def test_div_refuses_other_rounding_modes_and_integer_zero():
    with pytest.raises(ValueError, match="div: rounding_mode must be one of None, 'trunc', "
                                         "'floor', got 'round'"):
        Tensor(np.ones(2)).div(2, rounding_mode="round")
    with pytest.raises(ZeroDivisionError, match="integer division by zero"):
        Tensor(np.array([1, 2])).div(Tensor(np.array([1, 0])), rounding_mode="trunc")


def test_fmod_matches_torch(torch):
    a = np.array([-7.0, 7.0, -7.5, 7.5, 0.5, -0.5, 6.0, -6.0])
    b = np.array([2.0, -2.0, 2.0, 2.5, -2.0, 0.3, 4.0, 4.0])
    (x, tx), (y, ty) = _pair(torch, a), _pair(torch, b)
    out, tout = x.fmod(y), tx.fmod(ty)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-15)
    np.testing.assert_allclose(tg.fmod(x, y).data, out.data)
    _same_backward(torch, (out, tout), [(x, tx), (y, ty)])
    ia, ib = np.array([-7, 7, -8, 5, 0]), np.array([2, -2, 3, -5, 3])
    _same_values(Tensor(ia).fmod(Tensor(ib)), torch.from_numpy(ia).fmod(torch.from_numpy(ib)))
    _same_values(Tensor(a).fmod(1.5), torch.from_numpy(a).fmod(1.5))
    with pytest.raises(ZeroDivisionError, match="fmod: integer division by zero"):
        Tensor(ia).fmod(0)


@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_cummax_cummin_match_torch_values_indices_and_gradients(torch, name):
    x = np.array([[1.0, 3.0, 3.0, 2.0, NAN, 5.0, NAN, 1.0],
                  [2.0, 2.0, 1.0, 2.0, 0.0, -1.0, -1.0, 4.0]])
    for axis in (1, 0, -1):
        ours, theirs = _pair(torch, x)
        out, tout = getattr(ours, name)(axis), getattr(theirs, name)(axis)
        _same_values(out.values, tout.values)
        _same_values(out.indices, tout.indices)
        values, indices = getattr(tg, name)(ours, dim=axis)
        _same_values(indices, tout.indices)
        _same_backward(torch, (out.values, tout.values), [(ours, theirs)])
    for ints in (np.array([2, 2, 1, 2, 3]), np.array([True, False, True])):
        o, t = getattr(Tensor(ints), name)(0), getattr(torch.from_numpy(ints), name)(0)
        _same_values(o.values, t.values)
        _same_values(o.indices, t.indices)
    o, t = getattr(_leaf(2.0), name)(0), getattr(torch.tensor(2.0, dtype=torch.float64), name)(0)
    _same_values(o.values, t.values)
    _same_values(o.indices, t.indices)


@pytest.mark.parametrize("axis,keepdims", [(None, False), (1, True), (0, False), ((0, 1), True)])
def test_nansum_matches_torch(torch, axis, keepdims):
    x = np.array([[1.0, NAN, 2.0], [NAN, NAN, -3.0]])
    ours, theirs = _pair(torch, x)
    if axis is None:
        out, tout = ours.nansum(), theirs.nansum()
    else:
        out, tout = ours.nansum(axis, keepdims), theirs.nansum(dim=axis, keepdim=keepdims)
    _same_values(out, tout)
    _same_values(tg.nansum(ours, dim=axis, keepdim=keepdims) if axis is not None
                 else tg.nansum(ours), tout)
    _same_backward(torch, (out, tout), [(ours, theirs)])
    ints = np.array([[1, 2], [3, 4]])
    _same_values(Tensor(ints).nansum(0), torch.from_numpy(ints).nansum(0))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_scatter_add_matches_torch(torch, axis):
    rng = np.random.default_rng(0)
    index = np.array([[0, 1, 2], [2, 0, 2]])  # (repeats: they accumulate)
    (x, tx), (src, tsrc) = _pair(torch, rng.standard_normal((3, 4))), \
        _pair(torch, rng.standard_normal((2, 3)))
    out = x.scatter_add(axis, index, src)
    tout = tx.scatter_add(axis, torch.from_numpy(index), tsrc)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-14)
    np.testing.assert_allclose(tg.scatter_add(x, dim=axis, index=Tensor(index), src=src).data,
                               out.data)
    _same_backward(torch, (out, tout), [(x, tx), (src, tsrc)])


def test_scatter_add_with_a_src_larger_than_the_index():
    """Only src's part that index reaches is added; the rest gets gradient 0 (torch gives the
    same values, and its backward refuses such a src)."""
    index = np.array([[0, 1, 2], [2, 0, 2]])
    x, src = _leaf(np.zeros((3, 4))), _leaf(np.arange(15.0).reshape(3, 5))
    out = x.scatter_add(1, index, src)
    np.testing.assert_array_equal(out.data, [[0, 1, 2, 0], [6, 0, 12, 0], [0, 0, 0, 0]])
    out.backward(np.arange(12.0).reshape(3, 4))
    np.testing.assert_array_equal(src.grad.data, [[0, 1, 2, 0, 0], [6, 4, 6, 0, 0],
                                                  [0, 0, 0, 0, 0]])
    np.testing.assert_array_equal(x.grad.data, np.arange(12.0).reshape(3, 4))


@pytest.mark.parametrize("axis,alpha", [(0, 1), (1, 2.5), (-1, -1)])
def test_index_add_matches_torch(torch, axis, alpha):
    rng = np.random.default_rng(0)
    index = np.array([1, 0, 1])
    x_shape = (3, 4)
    s_shape = list(x_shape)
    s_shape[axis] = 3
    (x, tx), (source, tsource) = _pair(torch, rng.standard_normal(x_shape)), \
        _pair(torch, rng.standard_normal(s_shape))
    out = x.index_add(axis, index, source, alpha=alpha)
    tout = tx.index_add(axis, torch.from_numpy(index), tsource, alpha=alpha)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-14)
    np.testing.assert_allclose(tg.index_add(x, axis, Tensor(index), source, alpha).data,
                               out.data)
    _same_backward(torch, (out, tout), [(x, tx), (source, tsource)])
    ints = np.zeros((2, 3), dtype=np.int64)
    _same_values(Tensor(ints).index_add(0, [1, 1], Tensor(np.ones((2, 3), np.int64)), alpha=2),
                 torch.from_numpy(ints).index_add(0, torch.tensor([1, 1]),
                                                  torch.ones(2, 3, dtype=torch.int64), alpha=2))


def test_scatter_add_and_index_add_on_0d_tensors(torch):
    x, src = _leaf(1.0), _leaf(2.0)
    out = x.scatter_add(0, np.array(0), src)
    tout = torch.tensor(1.0).scatter_add(0, torch.tensor(0), torch.tensor(2.0))
    assert out.shape == () and out.item() == tout.item()
    out = x.index_add(0, [0], src)
    assert out.shape == () and out.item() == torch.tensor(1.0).index_add(
        0, torch.tensor([0]), torch.tensor(2.0)).item()


def test_scatter_add_and_index_add_errors_say_what_was_expected():
    x, src = Tensor(np.zeros((3, 4))), Tensor(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"scatter_add: index must have as many dimensions as "
                                         r"self \(2\) and src \(2\), got index shape \(2,\)"):
        x.scatter_add(0, np.array([0, 1]), src)
    with pytest.raises(ValueError, match=r"scatter_add: index shape \(3, 4\) must be no larger "
                                         r"than src shape \(2, 4\)"):
        x.scatter_add(0, np.zeros((3, 4), np.int64), src)
    with pytest.raises(ValueError, match=r"and than self's shape \(3, 4\) on every axis but 1"):
        x.scatter_add(1, np.zeros((4, 1), np.int64), Tensor(np.ones((4, 4))))
    with pytest.raises(IndexError, match=r"scatter_add: index values must be in \[-3, 3\)"):
        x.scatter_add(0, np.array([[3]]), src)
    with pytest.raises(TypeError, match="scatter_add: src has dtype float32 but self float64"):
        x.scatter_add(0, np.array([[0]]), src.float())
    with pytest.raises(TypeError, match="scatter_add: index must hold integers"):
        x.scatter_add(0, np.array([[0.0]]), src)
    with pytest.raises(ValueError, match=r"index_add: source shape \(2, 4\) must match self's "
                                         r"shape \(3, 4\) on every axis but 1, and have 3 "
                                         r"entries \(one per index\) on it"):
        x.index_add(1, [0, 1, 2], src)
    with pytest.raises(ValueError, match="index_add: index must be 0-d or 1-D"):
        x.index_add(0, np.zeros((2, 1), np.int64), src)
    with pytest.raises(TypeError, match="index_add: alpha must be an integer for a tensor of "
                                        "dtype int64, got 0.5"):
        Tensor(np.zeros(3, np.int64)).index_add(0, [0], Tensor(np.ones(1, np.int64)), alpha=0.5)


# ----- the compiled sequence path takes the new ops ------------------------------------------
def test_a_scan_step_with_the_new_ops_compiles_and_gives_the_loops_numbers():
    """tril, triu, diagonal, fmod, div(trunc) and scatter_add declare how they run over a time
    axis: hoisted where they read only the step input, replayed step by step on the state."""
    from tinygrad_rnn.compiled import scan_info

    rng = np.random.default_rng(0)
    w = Tensor(rng.standard_normal((3, 3)) * 0.5, requires_grad=True)
    xs = Tensor(rng.standard_normal((7, 2, 3, 3)), requires_grad=True)
    index = np.array([[0, 2, 1], [1, 1, 0]])

    def step(x, h):
        u = x.tril(-1) + x.triu(1).fmod(0.7) + x.div(0.3, rounding_mode="trunc")  # hoisted
        d = u.diagonal(0, 1, 2) + x.diagonal(1, -1, -2).sum(-1, keepdims=True)  # (2, 3)
        if h is not None:
            m = (h.unsqueeze(-1) * w).tril()  # on the state: replayed
            d = d + m.diagonal(axis1=-2, axis2=-1) + m.triu(1).sum(-1).fmod(1.1)
            d = d.scatter_add(1, index, h[:, :3].tanh())
        return d.tanh()

    results = []
    for compiled in (True, False):
        w.grad = xs.grad = None
        outs, h = tg.scan(step, xs, None, compiled=compiled)
        assert scan_info()["path"] == ("compiled" if compiled else "eager"), scan_info()
        ((outs * outs).sum() + h.sum()).backward()
        results.append([outs.data, h.data, w.grad.data, xs.grad.data])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
