"""Tensor: construction and dtype rules, creation functions, repr, comparisons, conversions."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor


# ----- constructor dtype rules --------------------------------------------------------------
@pytest.mark.parametrize("data", [1, 2.5, True, [1, 2], [[1.0, 2.0], [3.0, 4.0]], (1, 2)])
def test_python_scalars_and_lists_become_float32(data):
    t = Tensor(data)
    assert t.dtype == np.float32
    np.testing.assert_array_equal(t.data, np.asarray(data, dtype=np.float32))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int32, np.int64, bool])
def test_ndarrays_keep_their_dtype(dtype):
    arr = np.ones((2, 3), dtype=dtype)
    t = Tensor(arr)
    assert t.dtype == dtype and t.shape == (2, 3)


def test_numpy_scalars_keep_their_dtype_and_explicit_dtype_wins():
    assert Tensor(np.float64(1.5)).dtype == np.float64
    assert Tensor(np.ones(2), dtype=np.float32).dtype == np.float32
    assert Tensor([1, 2], dtype=np.int64).dtype == np.int64
    assert tg.tensor([1.0], dtype="float64").dtype == np.float64


def test_tensor_function_is_the_constructor():
    t = tg.tensor([1.0, 2.0], requires_grad=True)
    assert isinstance(t, Tensor) and t.requires_grad and t.dtype == np.float32


def test_bad_data_is_refused_with_its_type():
    with pytest.raises(TypeError, match="got str"):
        Tensor("abc")
    with pytest.raises(TypeError, match="got dict"):
        Tensor({"a": 1})


def test_attributes():
    t = Tensor(np.zeros((2, 3, 4)))
    assert (t.shape, t.ndim, t.size, t.dtype) == ((2, 3, 4), 3, 24, np.float64)
    assert t.grad is None and t.requires_grad is False
    assert len(t) == 2 and [s.shape for s in t] == [(3, 4), (3, 4)]
    with pytest.raises(TypeError, match="0-d"):
        len(Tensor(1.0))


# ----- creation functions -----------------------------------------------------------------------
@pytest.mark.parametrize("make", [tg.zeros, tg.ones, tg.randn, tg.rand])
def test_creation_functions_take_shapes_dtype_and_requires_grad(make):
    a, b = make(2, 3), make((2, 3))
    assert a.shape == b.shape == (2, 3) and a.dtype == np.float32 and not a.requires_grad
    c = make(4, dtype=np.float64, requires_grad=True)
    assert c.dtype == np.float64 and c.requires_grad and c.is_leaf
    assert make().shape == ()


def test_zeros_ones_values():
    np.testing.assert_array_equal(tg.zeros(2).data, [0, 0])
    np.testing.assert_array_equal(tg.ones(2).data, [1, 1])
    like = Tensor(np.ones((2, 2), dtype=np.float64))
    z, o = tg.zeros_like(like), tg.ones_like(like, requires_grad=True)
    assert z.dtype == np.float64 and z.shape == (2, 2) and not z.data.any()
    assert o.requires_grad and o.data.all()


def test_random_tensors_follow_manual_seed():
    tg.manual_seed(123)
    a, r = tg.randn(5), tg.rand(5)
    tg.manual_seed(123)
    assert np.array_equal(a.data, tg.randn(5).data) and np.array_equal(r.data, tg.rand(5).data)
    assert np.all((r.data >= 0) & (r.data < 1))
    assert isinstance(tg.get_rng(), np.random.Generator)


def test_arange_and_eye():
    a = tg.arange(5)  # integer arguments give int64 indices, as in PyTorch
    assert a.dtype == np.int64 and a.data.tolist() == [0, 1, 2, 3, 4]
    assert tg.arange(1, 2, 0.5).data.tolist() == [1.0, 1.5]
    assert tg.arange(1, 2, 0.5).dtype == np.float32
    assert tg.arange(3, dtype=np.float32, requires_grad=True).requires_grad
    assert tg.arange(3, dtype=np.int64).dtype == np.int64
    np.testing.assert_array_equal(tg.eye(3).data, np.eye(3))
    assert tg.eye(2, 3).shape == (2, 3) and tg.eye(2, requires_grad=True).requires_grad


# ----- repr -------------------------------------------------------------------------------------
def test_repr_shows_shape_dtype_and_op():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    r = repr(x)
    assert "shape=(2, 3)" in r and "float64" in r and "requires_grad=True" in r
    y = x.tanh()
    assert "grad_fn=Tanh" in repr(y) and "shape=(2, 3)" in repr(y)
    assert "grad_fn" not in repr(y.detach())
    big = repr(tg.zeros(1000))
    assert "..." in big and len(big) < 300


# ----- comparisons ------------------------------------------------------------------------------
def test_comparisons_give_bool_tensors_without_grad():
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y = Tensor(np.array([3.0, 2.0, 1.0]))
    cases = {
        "<": (x < y, [True, False, False]), "<=": (x <= y, [True, True, False]),
        ">": (x > y, [False, False, True]), ">=": (x >= y, [False, True, True]),
        "==": (x == y, [False, True, False]), "!=": (x != y, [True, False, True]),
    }
    for op, (got, want) in cases.items():
        assert isinstance(got, Tensor) and got.dtype == bool, op
        assert not got.requires_grad and got._ctx is None, op
        assert got.data.tolist() == want, op


def test_comparisons_with_scalars_and_ndarrays_on_either_side():
    x = Tensor(np.array([1.0, 2.0, 3.0]))
    assert (x > 2).data.tolist() == [False, False, True]
    assert (2 < x).data.tolist() == [False, False, True]
    lhs = np.array([3.0, 2.0, 1.0]) < x
    assert isinstance(lhs, Tensor) and lhs.data.tolist() == [False, False, True]
    assert (x == np.array([1.0, 0.0, 3.0])).data.tolist() == [True, False, True]


def test_tensors_stay_hashable():
    x = Tensor([1.0])
    assert {x: 1}[x] == 1


# ----- conversions ------------------------------------------------------------------------------
def test_item_numpy_detach():
    x = Tensor(np.array([[2.5]]), requires_grad=True)
    assert x.item() == 2.5 and isinstance(x.item(), float)
    assert Tensor(np.array(3, dtype=np.int64)).item() == 3
    with pytest.raises(ValueError, match=r"one element.*\(2,\)"):
        Tensor([1.0, 2.0]).item()
    assert x.numpy() is x.data
    d = (x * 2).detach()
    assert not d.requires_grad and d._ctx is None and d.item() == 5.0


def test_astype_is_differentiable_and_casts_the_gradient_back():
    x = Tensor(np.array([1.5, -2.0], dtype=np.float32), requires_grad=True)
    y = x.astype(np.float64)
    assert y.dtype == np.float64 and y.requires_grad
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.data, [3.0, -4.0])
    assert x.double().dtype == np.float64 and x.double().float().dtype == np.float32
    i = x.astype(np.int64)
    assert i.dtype == np.int64 and not i.requires_grad and i.data.tolist() == [1, -2]


# ----- scalars and ndarrays on either side ------------------------------------------------------
def test_ndarray_on_the_left_gives_a_tensor():
    t = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    for r in (np.ones(3) + t, np.ones(3) - t, np.ones(3) * t, np.ones(3) / t, np.ones(3) ** t,
              np.ones((2, 3)) @ t):
        assert isinstance(r, Tensor) and r.requires_grad
    (np.full(3, 2.0) * t).sum().backward()
    np.testing.assert_array_equal(t.grad.data, [2.0, 2.0, 2.0])


def test_python_scalars_keep_the_tensor_dtype():
    t = Tensor(np.array([1.0, 2.0], dtype=np.float32))
    for r in (t + 1, 1 + t, t - 1.5, 2 - t, t * 2, 2 * t, t / 2, 2 / t, t ** 2, 2 ** t, -t,
              np.float64(2.0) * t):
        assert r.dtype == np.float32
    assert (t + np.ones(2)).dtype == np.float64  # an ndarray promotes as in NumPy


def test_module_functions_match_methods():
    x = Tensor(np.array([[0.5, 1.5], [2.0, 0.25]]))
    for name in ["exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu"]:
        np.testing.assert_array_equal(getattr(tg, name)(x).data, getattr(x, name)().data)
    for name in ["sum", "mean", "max", "min", "logsumexp"]:
        np.testing.assert_array_equal(getattr(tg, name)(x, 1, True).data,
                                      getattr(x, name)(1, True).data)
    for name in ["softmax", "log_softmax"]:
        np.testing.assert_array_equal(getattr(tg, name)(x, 0).data, getattr(x, name)(0).data)
    np.testing.assert_array_equal(tg.clip(x, 0.6, 1.0).data, x.clip(0.6, 1.0).data)
    np.testing.assert_array_equal(tg.reshape(x, 4).data, x.reshape(4).data)
    np.testing.assert_array_equal(tg.transpose(x).data, x.T.data)
    np.testing.assert_array_equal(tg.matmul(x, x).data, (x @ x).data)


def test_reshape_and_transpose_spellings():
    x = Tensor(np.arange(24.0).reshape(2, 3, 4))
    assert x.reshape(4, 6).shape == x.reshape((4, 6)).shape == x.reshape([4, -1]).shape
    assert x.transpose(2, 0, 1).shape == x.transpose((2, 0, 1)).shape == (4, 2, 3)
    assert x.transpose().shape == x.T.shape == (4, 3, 2)
    with pytest.raises(ValueError, match=r"transpose: axes \(0, 0, 1\).*3 axes"):
        x.transpose(0, 0, 1)
    with pytest.raises(ValueError, match="clip needs at least one of min and max"):
        x.clip()


def test_softmax_rows_sum_to_one_and_mean_keeps_dtype():
    x = tg.randn(3, 5)
    np.testing.assert_allclose(x.softmax(axis=1).sum(axis=1).data, np.ones(3), rtol=1e-6)
    assert x.mean().dtype == np.float32
    np.testing.assert_allclose(x.mean(axis=(0, 1)).data, x.data.mean(), rtol=1e-6)


def test_full_linspace_randint():
    t = tg.full((2, 3), 1.5)
    assert t.shape == (2, 3) and t.dtype == np.float32 and np.all(t.data == 1.5)
    assert tg.full(2, 3).dtype == np.int64 and tg.full((1,), True).dtype == np.bool_
    assert tg.full((2,), 0.5, dtype=np.float64, requires_grad=True).requires_grad
    np.testing.assert_allclose(tg.linspace(0, 1, 5).data, [0, 0.25, 0.5, 0.75, 1.0])
    assert tg.linspace(0, 1, 5).dtype == np.float32
    tg.manual_seed(3)
    r = tg.randint(2, 5, (100,))
    assert r.dtype == np.int64 and r.data.min() >= 2 and r.data.max() <= 4
    assert set(np.unique(r.data)) == {2, 3, 4}
    tg.manual_seed(3)
    np.testing.assert_array_equal(tg.randint(2, 5, (100,)).data, r.data)
    assert tg.randint(3, shape=(4, 2)).shape == (4, 2)
    with pytest.raises(ValueError, match="high"):
        tg.randint(5, 5)
    with pytest.raises(ValueError, match="num"):
        tg.linspace(0, 1, -1)


_KINDS = [("int64", "float32"), ("float32", "int64"), ("bool", "float32"),
          ("int32", "float64"), ("int64", "int64"), ("int64", "py_int"), ("py_int", "int64"),
          ("float32", "float64")]


@pytest.mark.parametrize("op,left,right", [(op, a, b) for op in "+-*/" for a, b in _KINDS
                                           if not (op == "-" and a == "bool")])  # (torch
def test_binary_operators_promote_as_pytorch(torch, op, left, right):  # refuses bool - x)
    """A float with an integer or bool keeps the float's dtype, and integers divide as the
    default float dtype (NumPy would give float64 for both); the values are torch's."""
    def make(kind, lib):
        if kind == "py_int":
            return 3
        data = np.array([1, 2, 4]).astype(kind)
        return Tensor(data) if lib == "tg" else torch.from_numpy(data)
    a, b = make(left, "tg"), make(right, "tg")
    ta, tb = make(left, "torch"), make(right, "torch")
    ours, theirs = eval(f"a {op} b"), eval(f"ta {op} tb")
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-6)


def test_a_float_tensor_keeps_its_gradient_through_an_integer_operand():
    x = Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    (x * Tensor(np.array([3, 4]))).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, [3.0, 4.0])


_ALL_DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32",
               "float64"]
_OPERANDS = [(d, zero_d) for d in _ALL_DTYPES for zero_d in (False, True)]


def _operand_pair(torch, dtype, zero_d, values=(1, 2, 3)):
    data = np.array(values[0] if zero_d else list(values)).astype(dtype)
    return Tensor(data), torch.from_numpy(np.array(data))


def _same_dtype_and_values(ours, theirs, what):
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", ""), what
    rtol = 1e-3 if "float16" in what else 1e-6
    np.testing.assert_allclose(ours.data.astype(np.float64),
                               theirs.numpy().astype(np.float64), rtol=rtol, err_msg=what)


@pytest.mark.parametrize("op", ["+", "-", "*", "/", "**", "maximum", "minimum", "where", "<"])
def test_every_dtype_pair_promotes_as_pytorch_zero_d_tensors_included(torch, op):
    """PyTorch's rule over all pairs of these dtypes, each as a tensor with dimensions or a
    0-d one: the highest category (bool < integer < floating) decides, and within it the
    operands with dimensions outrank the 0-d ones (float32 * a 0-d float64 stays float32,
    where NumPy gives float64); the values are torch's."""
    cond = np.array([True, False, True])
    for (da, za), (db, zb) in [(p, q) for p in _OPERANDS for q in _OPERANDS]:
        if op in ("-", "**") and "bool" in (da, db):  # torch refuses bool - x, bool ** x
            continue
        what = f"{da}{' 0-d' if za else ''} {op} {db}{' 0-d' if zb else ''}"
        a, ta = _operand_pair(torch, da, za)
        b, tb = _operand_pair(torch, db, zb, (2, 1, 3))
        if op in ("maximum", "minimum"):
            ours, theirs = getattr(tg, op)(a, b), getattr(torch, op)(ta, tb)
        elif op == "where":
            ours = tg.where(Tensor(cond), a, b)
            theirs = torch.where(torch.from_numpy(cond), ta, tb)
        else:
            ours, theirs = eval(f"a {op} b"), eval(f"ta {op} tb")
        _same_dtype_and_values(ours, theirs, what)


def test_cat_and_stack_promote_as_pytorch(torch):
    for da in _ALL_DTYPES:
        for db in _ALL_DTYPES:
            a, ta = _operand_pair(torch, da, False)
            b, tb = _operand_pair(torch, db, False, (2, 1, 3))
            _same_dtype_and_values(tg.cat([a, b]), torch.cat([ta, tb]), f"cat {da} {db}")
            _same_dtype_and_values(tg.stack([a, b, a]), torch.stack([ta, tb, ta]),
                                   f"stack {da} {db}")


def test_python_numbers_with_tensors_of_every_dtype_promote_as_pytorch(torch):
    for dtype in _ALL_DTYPES:
        for zero_d in (False, True):
            a, ta = _operand_pair(torch, dtype, zero_d)
            for number in (2, 0.5, True):
                for expr in ("a + n", "n * a", "a * n"):
                    if dtype == "bool" and number is True:
                        continue  # bool + bool stays bool in NumPy, torch makes it int
                    what = f"{expr} with a {dtype}{' 0-d' if zero_d else ''}, n={number!r}"
                    ours = eval(expr, {"a": a, "n": number})
                    theirs = eval(expr, {"a": ta, "n": number})
                    _same_dtype_and_values(ours, theirs, what)
            _same_dtype_and_values(tg.where(Tensor(np.array([True, False, True])), a, 0.5),
                                   torch.where(torch.tensor([True, False, True]), ta, 0.5),
                                   f"where {dtype} 0.5")


@pytest.mark.parametrize("a", [1.0, 0.5, 2, True])
@pytest.mark.parametrize("b", [0.0, 3, False])
def test_where_of_two_numbers_takes_pytorchs_dtype(torch, a, b):
    """Numbers on both sides: floats are float32, ints int64, bools bool, then promoted."""
    cond = np.array([True, False, True])
    _same_dtype_and_values(tg.where(Tensor(cond), a, b), torch.where(torch.tensor(cond), a, b),
                           f"where(c, {a!r}, {b!r})")


def test_where_of_two_numbers_feeds_a_float32_model():
    x = Tensor(np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32))
    y = tg.nn.Linear(3, 2)(x * tg.where(x > 0, 1.0, 0.0))
    assert y.dtype == np.float32


@pytest.mark.parametrize("dtype", _ALL_DTYPES)
@pytest.mark.parametrize("value", [2, 2.7, True, "0-d int64", "0-d float64", "0-d float32"])
def test_masked_fill_keeps_the_inputs_dtype_as_pytorch(torch, dtype, value):
    mask = np.array([True, False, True])
    a, ta = _operand_pair(torch, dtype, False)
    if isinstance(value, str):
        v = np.array(2.5 if "float" in value else 2).astype(value.split()[1])
        ours, theirs = a.masked_fill(Tensor(mask), Tensor(v)), \
            ta.masked_fill(torch.tensor(mask), torch.from_numpy(v))
    else:
        ours, theirs = a.masked_fill(Tensor(mask), value), \
            ta.masked_fill(torch.tensor(mask), value)
    _same_dtype_and_values(ours, theirs, f"{dtype}.masked_fill({value!r})")


def test_masked_fill_value_gradient_flows_through_the_cast():
    x = Tensor(np.ones(3, np.float32), requires_grad=True)
    v = Tensor(np.float64(2.0), requires_grad=True)
    y = x.masked_fill(Tensor(np.array([True, False, True])), v)
    assert y.dtype == np.float32
    (y * Tensor(np.array([1.0, 2.0, 3.0], np.float32))).sum().backward()
    assert v.grad.dtype == np.float64 and v.grad.item() == 4.0
    np.testing.assert_array_equal(x.grad.data, [0.0, 2.0, 0.0])


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "float32", "float64"])
@pytest.mark.parametrize("bounds", [(0.5, None), (-1.5, 2.5), (None, 2), (1, 2)])
def test_clip_takes_pytorchs_dtype(torch, dtype, bounds):
    a, ta = _operand_pair(torch, dtype, False)
    _same_dtype_and_values(a.clip(*bounds), ta.clip(*bounds), f"{dtype}.clip{bounds}")
    _same_dtype_and_values(a.clamp(*bounds), ta.clamp(*bounds), f"{dtype}.clamp{bounds}")


def test_a_zero_d_float64_operand_keeps_its_gradient_in_the_float32_result():
    x = Tensor(np.ones(3, np.float32), requires_grad=True)
    s = Tensor(np.float64(2.0), requires_grad=True)
    y = x * s
    assert y.dtype == np.float32
    y.sum().backward()
    assert s.grad.dtype == np.float64 and s.grad.item() == 3.0
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0, 2.0])


_FLOAT_VALUED = ["exp", "log", "sqrt", "tanh", "sigmoid", "log1p", "expm1", "sin", "cos",
                 "rsqrt", "softplus", "gelu", "leaky_relu", "elu", "silu", "log_sigmoid",
                 "logsumexp", "var", "std", "norm", "log_softmax", "softmax"]


@pytest.mark.parametrize("name", _FLOAT_VALUED)
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool"])
def test_float_valued_functions_of_integer_tensors_compute_in_float32(name, dtype):
    """As PyTorch: the default float dtype, where NumPy would give float64; the numbers are
    the function of the same values as float32."""
    data = np.array([[1, 2, 3], [4, 1, 2]]).astype(dtype)
    ours = getattr(Tensor(data), name)()
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(ours.data,
                                  getattr(Tensor(data.astype(np.float32)), name)().data)


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "tanh", "sigmoid", "log1p", "expm1",
                                  "sin", "cos", "rsqrt"])
def test_float_valued_functions_of_integer_tensors_match_torch(torch, name):
    data = np.array([1, 2, 3, 7])
    ours, theirs = getattr(Tensor(data), name)(), getattr(torch.from_numpy(data), name)()
    assert str(theirs.dtype) == "torch." + str(ours.dtype)
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-6)


def test_integer_true_division_divides_the_values_themselves_as_pytorch(torch):
    """Each operand's own value as float32 (3 / -2 is -1.5 with a uint8 3), never the divisor
    first wrapped into the other operand's integer dtype."""
    u8, i8, i32 = (np.array([3], d) for d in (np.uint8, np.int8, np.int32))
    cases = [(u8, -1), (-1, u8), (i8, 256), (i32, 2 ** 40), (u8, np.array(-2, np.int8)),
             (i8, np.array(1000)), (np.array([True]), np.array([True])), (5, i8)]
    for a, b in cases:
        def ours(v):
            return Tensor(v) if isinstance(v, np.ndarray) else v

        def theirs(v):
            return torch.from_numpy(v) if isinstance(v, np.ndarray) else v
        what = f"{a!r} / {b!r}"
        _same_dtype_and_values(ours(a) / ours(b), theirs(a) / theirs(b), what)


def test_lists_as_operands_are_float32_as_the_constructor_makes_them():
    t = Tensor(np.ones(2, np.float32))
    assert (t + [0.5, 1.5]).dtype == np.float32 and ([0.5, 1.5] - t).dtype == np.float32
    assert (t * np.ones(2)).dtype == np.float64  # an ndarray keeps NumPy's promotion


def test_in_place_integer_updates_wrap_as_pytorch(torch):
    t, tt = Tensor(np.array([250], np.uint8)), torch.tensor([250], dtype=torch.uint8)
    t += 300
    tt += 300
    assert t.dtype == np.uint8 and t.data.tolist() == tt.tolist() == [38]


def test_floor_division_and_remainder_are_pytorchs(torch):
    """// and % as torch (floor toward -inf; the remainder takes the divisor's sign), with
    tensors, Python numbers on either side and integer tensors; dtypes promote as the other
    operators do."""
    a = np.array([5.5, -5.5, 3.0, -3.0, 7.25])
    b = np.array([2.0, 2.0, -2.0, -2.0, 0.5])
    ints = np.array([7, -7, 9, -9, 0])
    for x, y in [(a, b), (ints, np.array([2, 2, -4, -4, 3])), (a.astype(np.float32), 2),
                 (3.5, a), (ints, 2.5), (ints, 3), (-7, ints + 10)]:
        def ours(v):
            return Tensor(v) if isinstance(v, np.ndarray) else v

        def theirs(v):
            return torch.from_numpy(v) if isinstance(v, np.ndarray) else v
        for op in ("//", "%"):
            what = f"{x!r} {op} {y!r}"
            _same_dtype_and_values(eval(f"ours(x) {op} ours(y)"),
                                   eval(f"theirs(x) {op} theirs(y)"), what)


def test_divmod_is_floor_division_and_remainder():
    t = Tensor(np.array([7.5, -7.5]))
    q, r = divmod(t, 2)
    np.testing.assert_array_equal(q.data, [3.0, -4.0])
    np.testing.assert_array_equal(r.data, [1.5, 0.5])
    q, r = divmod(10, Tensor(np.array([3, -3])))
    assert q.data.tolist() == [3, -4] and r.data.tolist() == [1, -2]


def test_remainder_gradients_are_pytorchs_and_floor_division_has_none(torch):
    a = np.array([5.5, -5.5, 3.2, -3.2])
    b = np.array([2.0, 2.0, -1.5, -1.5])
    x, y = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    tx, ty = (torch.tensor(v, requires_grad=True) for v in (a, b))
    (x % y).sum().backward()
    (tx % ty).sum().backward()
    np.testing.assert_array_equal(x.grad.data, tx.grad.numpy())
    np.testing.assert_array_equal(y.grad.data, ty.grad.numpy())
    x.grad = None
    (x // 2.0).sum().backward()  # piecewise constant: zero wherever it is differentiable
    np.testing.assert_array_equal(x.grad.data, np.zeros(4))


def test_integer_floor_division_and_remainder_by_zero_raise_as_pytorch(torch):
    t = Tensor(np.array([1, 2]))
    for expr in ("t // 0", "t % 0", "t // Tensor(np.array([1, 0]))"):
        with pytest.raises(ZeroDivisionError, match="integer division by zero"):
            eval(expr)
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        torch.tensor([1, 2]) // 0


def test_tensors_that_require_grad_inside_data_or_operand_lists_are_an_error():
    """Made into one constant they would silently pass no gradient back (PyTorch raises)."""
    a, c = tg.randn(2, requires_grad=True), tg.randn(2)
    assert Tensor([c, c]).shape == (2, 2)  # constants may be joined so
    with pytest.raises(TypeError, match="requires grad.*tg.stack"):
        Tensor([a, c])
    with pytest.raises(TypeError, match="an operand is a tuple of tensors"):
        tg.randn(2) + (a, c)
    with pytest.raises(TypeError, match="an operand is a list of tensors"):
        [c, c] * tg.randn(2)


def test_products_of_two_dtypes_promote_as_the_operators():
    """int64 @ float32 is float32 and float32 @ float64 float64 (PyTorch refuses both; NumPy
    gives float64 for both), for the operator, the method, the functions, a Parameter on
    either side and an ndarray or a list on either side; a gradcheck closing over a float32
    constant still runs in float64."""
    a32, a64 = Tensor(np.ones((2, 2), np.float32)), Tensor(np.ones((2, 2)))
    i64, p32 = Tensor(np.ones((2, 2), np.int64)), tg.nn.Parameter(np.ones((2, 2), np.float32))
    cases = {"a32 @ a64": np.float64, "i64 @ a32": np.float32, "p32 @ a64": np.float64,
             "a64 @ p32": np.float64, "tg.matmul(a64, a32)": np.float64,
             "tg.matmul(np.ones((2, 2)), a32)": np.float64, "a32 @ np.ones((2, 2))": np.float64,
             "np.ones((2, 2), np.float32) @ a32": np.float32,
             "tg.einsum('ij,jk', a32, a64)": np.float64,
             "tg.einsum('ij,jk->ik', a64, [[1.0], [2.0]])": np.float64,
             "tg.bmm(a32.reshape(1, 2, 2), a64.reshape(1, 2, 2))": np.float64,
             "tg.bmm(np.ones((1, 2, 2)), a32.reshape(1, 2, 2))": np.float64}
    for expr, dtype in cases.items():
        assert eval(expr).dtype == dtype, expr
    w = Tensor(np.ones((2, 3), np.float32))
    assert tg.gradcheck(lambda x: x @ w, [tg.randn(4, 2, requires_grad=True)])


_SPELLINGS = ["t.add(u)", "t.add(u, alpha=2)", "t.sub(u, alpha=0.5)", "t.mul(u)", "t.div(u)",
              "t.pow(2)", "t.neg()", "t.remainder(1.5)", "t.clamp(min=-0.5)",
              "t.clamp(-0.5, 0.5)", "t.swapaxes(0, 2)", "t.swapaxes(-1, 1)", "t.clone()",
              "t.to(dtype64)"]


@pytest.mark.parametrize("expr", _SPELLINGS)
def test_pytorch_spellings_give_pytorchs_values_and_gradients(torch, expr):
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((2, 3, 4)), rng.uniform(0.5, 2.0, (2, 3, 4))
    ours = {"t": Tensor(a, requires_grad=True), "u": Tensor(b, requires_grad=True),
            "dtype64": np.float64}
    theirs = {"t": torch.tensor(a, requires_grad=True), "u": torch.tensor(b, requires_grad=True),
              "dtype64": torch.float64}
    y, ty = eval(expr, {}, ours), eval(expr, {}, theirs)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-12)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    ty.backward(torch.from_numpy(g))
    for name in ("t", "u"):
        ours_g, theirs_g = ours[name].grad, theirs[name].grad
        assert (ours_g is None) == (theirs_g is None)
        if ours_g is not None:
            np.testing.assert_allclose(ours_g.data, theirs_g.numpy(), rtol=1e-12)


def test_pytorch_spellings_without_gradients(torch):
    t = Tensor(np.array([[1.5, 0.0, -2.0], [0.0, 0.0, 3.0]]))
    tt = torch.from_numpy(t.data.copy())
    assert t.numel() == tt.numel() and t.dim() == tt.dim() and t.tolist() == tt.tolist()
    assert t.long().dtype == np.int64 and t.to("cpu") is t
    for expr in ("t.all()", "t.any()", "t.all(dim=1)", "t.any(dim=0, keepdim=True)"):
        np.testing.assert_array_equal(eval(expr).data, eval(expr.replace("t.", "tt.")).numpy())
    np.testing.assert_array_equal(t.floor_divide(1.5).data, tt.floor_divide(1.5).numpy())


def test_review_cases_of_the_new_spellings_and_operators(torch):
    t = Tensor(np.array([1.0, 2.0, 3.0], np.float32))
    np.testing.assert_array_equal(t.add([1.0], alpha=3).data, [4.0, 5.0, 6.0])
    np.testing.assert_array_equal(t.sub((2.0,), alpha=2).data, [-3.0, -2.0, -1.0])
    assert t.add(np.array([1, 2, 3]), alpha=0.5).dtype == np.float32
    assert Tensor(np.array(3.0)).swapaxes(0, 0).shape == () and t.to(np.float32) is t
    a = np.array([-0.0, -4.0, 4.0, 5.5, -5.5, 3.0, 0.0])
    b = np.array([2.0, 2.0, -2.0, 2.0, 2.0, -2.0, -3.0])
    ours, theirs = (Tensor(a) % Tensor(b)).data, (torch.tensor(a) % torch.tensor(b)).numpy()
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(np.signbit(ours), np.signbit(theirs))  # zeros: a's sign
    assert (Tensor(np.zeros(0, np.int64)) // 0).shape == (0,)
    with pytest.raises(RuntimeError, match="integer division by zero"):  # (torch's type too)
        Tensor(np.array([1])) % 0
    i = Tensor(np.array([1, 2]))
    i += [1, 2]
    assert i.dtype == np.int64 and i.data.tolist() == [2, 4]
    p = tg.randn(2, requires_grad=True)
    with tg.no_grad():
        assert Tensor([p, p]).shape == (2, 2)  # nothing is recorded: no gradient to lose


@pytest.mark.parametrize("op", ["&", "|", "^"])
@pytest.mark.parametrize("left,right", [("bool", "bool"), ("int64", "int64"), ("uint8", "int32"),
                                        ("bool", "int16"), ("int8", "python int"),
                                        ("bool", "python bool")])
def test_bitwise_operators_of_bool_and_integer_tensors_as_pytorch(torch, op, left, right):
    a, ta = _operand_pair(torch, left, False, (0, 1, 5))
    if right.startswith("python"):
        b = tb = True if right == "python bool" else 6
    else:
        b, tb = _operand_pair(torch, right, False, (1, 1, 3))
    _same_dtype_and_values(eval(f"a {op} b"), eval(f"ta {op} tb"), f"{left} {op} {right}")
    _same_dtype_and_values(eval(f"b {op} a"), eval(f"tb {op} ta"), f"{right} {op} {left}")


def test_masks_combine_and_invert_as_pytorch(torch):
    x = np.array([-1.0, 0.5, 2.0], np.float32)
    t, tt = Tensor(x), torch.from_numpy(x)
    _same_dtype_and_values((t > 0) & (t < 1), (tt > 0) & (tt < 1), "mask & mask")
    _same_dtype_and_values(~(t > 0), ~(tt > 0), "~mask")
    i = np.array([0, 5, -3])
    _same_dtype_and_values(~Tensor(i), ~torch.from_numpy(i), "~int64")
    for name in ("logical_and", "logical_or", "logical_xor"):
        ours = getattr(tg, name)(t, Tensor(np.array([0.0, 1.0, 0.0], np.float32)))
        theirs = getattr(torch, name)(tt, torch.tensor([0.0, 1.0, 0.0]))
        _same_dtype_and_values(ours, theirs, name)
    _same_dtype_and_values(t.logical_not(), tt.logical_not(), "logical_not")


def test_bitwise_operators_refuse_floats_with_a_hint():
    x = Tensor(np.array([0.5, 2.0], np.float32))
    with pytest.raises(TypeError, match=r"& needs bool or integer tensors, got float32; compare "
                                        r"first"):
        x & (x > 1)
    with pytest.raises(TypeError, match="~ needs a bool or integer tensor"):
        ~x
