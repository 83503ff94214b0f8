"""Elementwise math and activations beyond the op table's generic checks: stability at extreme
inputs, tie rules, the zero gradient of sign, the erf behind gelu, bad arguments, and the
nn.functional / nn module forms (against PyTorch when it is installed)."""
from __future__ import annotations

import math

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.ops.activation import erf, erfc, normal_cdf

DTYPES = [np.float32, np.float64]


def _grad(fn, x, dtype=np.float64):
    t = tg.Tensor(np.asarray(x, dtype=dtype), requires_grad=True)
    y = fn(t)
    y.backward(np.ones(y.shape, dtype=y.dtype))
    return y, t.grad


# ----- stability: finite values and gradients, no floating-point signal at all -------------
HUGE = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
# name -> (fn, values at HUGE, gradients at HUGE); 0 and the +-50 entries fix the shape
STABLE = {
    "softplus": (lambda t: t.softplus(), [0.0, math.exp(-50), math.log(2), 50.0, 1000.0],
                 [0.0, math.exp(-50), 0.5, 1.0, 1.0]),
    "softplus (soft branch)": (lambda t: t.softplus(threshold=1e6),
                               [0.0, math.exp(-50), math.log(2), 50.0, 1000.0],
                               [0.0, math.exp(-50), 0.5, 1.0, 1.0]),
    "softplus beta=3": (lambda t: t.softplus(beta=3.0, threshold=1e6),
                        [0.0, math.exp(-150) / 3, math.log(2) / 3, 50.0, 1000.0],
                        [0.0, math.exp(-150), 0.5, 1.0, 1.0]),
    "log_sigmoid": (lambda t: t.log_sigmoid(), [-1000.0, -50.0, -math.log(2), -math.exp(-50), 0.0],
                    [1.0, 1.0, 0.5, math.exp(-50), 0.0]),
    "silu": (lambda t: t.silu(), [0.0, -50 * math.exp(-50), 0.0, 50.0, 1000.0],
             [0.0, -49 * math.exp(-50), 0.5, 1.0, 1.0]),
    "elu": (lambda t: t.elu(), [-1.0, -1.0, 0.0, 50.0, 1000.0],
            [0.0, math.exp(-50), 1.0, 1.0, 1.0]),
    "elu alpha=2": (lambda t: t.elu(2.0), [-2.0, -2.0, 0.0, 50.0, 1000.0],
                    [0.0, 2 * math.exp(-50), 2.0, 1.0, 1.0]),
    "gelu": (lambda t: t.gelu(), [0.0, 0.0, 0.0, 50.0, 1000.0], [0.0, 0.0, 0.5, 1.0, 1.0]),
    "gelu tanh": (lambda t: t.gelu("tanh"), [0.0, 0.0, 0.0, 50.0, 1000.0],
                  [0.0, 0.0, 0.5, 1.0, 1.0]),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(STABLE))
def test_activations_are_finite_at_huge_inputs(name, dtype):
    fn, values, grads = STABLE[name]
    with np.errstate(all="raise"):  # underflow included: the ops mute it where 0 is right
        y, g = _grad(fn, HUGE, dtype)
    assert y.dtype == dtype and g.dtype == dtype
    tol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y.data, values, rtol=tol, atol=1e-30)
    np.testing.assert_allclose(g.data, grads, rtol=tol, atol=1e-30)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softplus_and_log_sigmoid_at_the_largest_finite_inputs(dtype):
    big = np.finfo(dtype).max
    x = np.array([-big, big], dtype=dtype)
    with np.errstate(all="raise"):
        sp, gs = _grad(lambda t: t.softplus(), x, dtype)
        ls, gl = _grad(lambda t: t.log_sigmoid(), x, dtype)
        si, gi = _grad(lambda t: t.silu(), x, dtype)
    np.testing.assert_array_equal(sp.data, [0.0, big])
    np.testing.assert_array_equal(gs.data, [0.0, 1.0])
    np.testing.assert_array_equal(ls.data, [-big, 0.0])
    np.testing.assert_array_equal(gl.data, [1.0, 0.0])
    np.testing.assert_array_equal(si.data, [0.0, big])
    assert np.all(np.isfinite(gi.data))


def test_softplus_threshold_switches_to_the_identity():
    x = tg.Tensor(np.array([0.4, 0.6]), requires_grad=True)
    y = x.softplus(beta=2.0, threshold=1.0)  # beta x = 0.8 (soft) and 1.2 (linear)
    np.testing.assert_allclose(y.data, [math.log1p(math.exp(0.8)) / 2, 0.6])
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, [1 / (1 + math.exp(-0.8)), 1.0])


def test_log1p_and_expm1_are_accurate_for_tiny_inputs():
    x = np.array([1e-20, -1e-18])
    np.testing.assert_array_equal(tg.Tensor(x).log1p().data, x)
    np.testing.assert_array_equal(tg.Tensor(x).expm1().data, x)


# ----- erf: the vectorised Cody approximation behind gelu -------------------------------
def test_erf_matches_math_erf_on_a_dense_grid():
    x = np.concatenate([np.linspace(-8, 8, 40001), [0.46875, -0.46875, 4.0, -4.0, -0.0]])
    expected = np.array([math.erf(v) for v in x])
    np.testing.assert_allclose(erf(x), expected, rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(erfc(x), 1 - expected, rtol=0, atol=6e-16)


def test_erfc_keeps_its_relative_accuracy_in_the_tail():
    # values from mpmath at 30 digits
    x = np.array([0.3, 1.5, 5.0, 10.0, 20.0])
    ref = [0.6713732405408726, 0.033894853524689274, 1.537459794428035e-12,
           2.088487583762545e-45, 5.395865611607901e-176]
    np.testing.assert_allclose(erfc(x), ref, rtol=2e-15)
    np.testing.assert_allclose(erfc(-x), 2 - np.asarray(ref), rtol=1e-15)
    # Phi(-10) = erfc(10 / sqrt(2)) / 2: the rounded argument alone costs 2 y**2 eps ~ 1e-14
    np.testing.assert_allclose(normal_cdf(np.array([-10.0])), [7.619853024160525e-24],
                               rtol=2e-14)


def test_erf_special_values_shapes_and_dtypes():
    special = np.array([np.inf, -np.inf, np.nan, 30.0, -30.0])
    np.testing.assert_array_equal(erf(special), [1.0, -1.0, np.nan, 1.0, -1.0])
    np.testing.assert_array_equal(erfc(special), [0.0, 2.0, np.nan, 0.0, 2.0])
    assert erf(np.array(0.25)).shape == ()
    x32 = np.linspace(-5, 5, 101, dtype=np.float32)
    assert erf(x32).dtype == np.float32 and erfc(x32).dtype == np.float32
    np.testing.assert_allclose(erf(x32), [math.erf(v) for v in x32.astype(np.float64)],
                               atol=2e-7)


def test_gelu_left_tail_is_not_rounded_to_zero():
    y = tg.Tensor(np.array([-10.0])).gelu()
    np.testing.assert_allclose(y.data, [-10 * 7.619853024160525e-24], rtol=2e-14)


# ----- maximum / minimum: ties split the gradient -----------------------------------------
@pytest.mark.parametrize("op", ["maximum", "minimum"])
def test_maximum_minimum_ties_split_the_gradient_equally(op):
    a = tg.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    b = tg.Tensor(np.array([3.0, 2.0, 1.0]), requires_grad=True)
    y = getattr(a, op)(b)
    np.testing.assert_array_equal(y.data, [3, 2, 3] if op == "maximum" else [1, 2, 1])
    y.backward(np.array([4.0, 4.0, 4.0]))
    wins = [0.0, 2.0, 4.0] if op == "maximum" else [4.0, 2.0, 0.0]
    np.testing.assert_array_equal(a.grad.data, wins)
    np.testing.assert_array_equal(b.grad.data, 4.0 - np.asarray(wins))


@pytest.mark.parametrize("op", ["maximum", "minimum"])
def test_maximum_minimum_broadcast_ties_sum_back(op):
    a = tg.Tensor(np.array([[0.0, 1.0], [1.0, 1.0]]), requires_grad=True)
    b = tg.Tensor(np.array(1.0), requires_grad=True)  # 0-d: its halves are summed
    getattr(tg, op)(a, b).sum().backward()
    loser = 1.0 if op == "maximum" else 0.0  # a's 0.0 loses to b in maximum, wins in minimum
    np.testing.assert_array_equal(a.grad.data, [[1.0 - loser, 0.5], [0.5, 0.5]])
    assert b.grad.shape == () and b.grad.item() == 1.5 + loser


@pytest.mark.parametrize("op", ["maximum", "minimum"])
def test_maximum_minimum_ties_match_torch(torch, op):
    raw_a = np.array([[1.0, 2.0, 2.0], [0.5, -1.0, 3.0]])
    raw_b = np.array([2.0, 2.0, 0.5])
    a, b = tg.Tensor(raw_a, requires_grad=True), tg.Tensor(raw_b, requires_grad=True)
    ta = torch.tensor(raw_a, requires_grad=True)
    tb = torch.tensor(raw_b, requires_grad=True)
    seed = np.arange(6.0).reshape(2, 3)
    getattr(a, op)(b).backward(seed)
    getattr(torch, op)(ta, tb).backward(torch.from_numpy(seed))
    np.testing.assert_array_equal(a.grad.data, ta.grad.numpy())
    np.testing.assert_array_equal(b.grad.data, tb.grad.numpy())


def test_maximum_with_numbers_and_arrays_on_either_side():
    x = tg.Tensor(np.array([-1.0, 2.0], dtype=np.float32), requires_grad=True)
    for y in (x.maximum(0), tg.maximum(x, 0.0), tg.maximum(0.0, x), tg.maximum(np.zeros(2), x)):
        np.testing.assert_array_equal(y.data, [0.0, 2.0])
    assert x.maximum(0).dtype == np.float32 and tg.minimum(1, x).dtype == np.float32
    tg.minimum(1.0, x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 0.0])


def test_maximum_refuses_shapes_that_do_not_broadcast_and_two_non_tensors():
    a, b = tg.Tensor(np.zeros((2, 3))), tg.Tensor(np.zeros((4,)))
    with pytest.raises(ValueError, match=r"Maximum.*\(2, 3\).*\(4,\)"):
        a.maximum(b)
    with pytest.raises(ValueError, match=r"Minimum"):
        tg.minimum(a, b)
    with pytest.raises(TypeError, match="maximum: expected a Tensor"):
        tg.maximum(1.0, np.ones(2))


# ----- sign: zero gradient everywhere ----------------------------------------------------
def test_sign_has_a_zero_gradient_everywhere(torch):
    raw = np.array([-2.0, -0.0, 0.0, 1e-300, 3.0])
    y, g = _grad(lambda t: t.sign() * 5 + t, raw)  # + t: the leaf's gradient is 1, sign adds 0
    np.testing.assert_array_equal(y.data, np.sign(raw) * 5 + raw)
    np.testing.assert_array_equal(g.data, np.ones(5))
    t = tg.Tensor(raw, requires_grad=True)
    s = tg.sign(t)
    assert s.requires_grad  # as in PyTorch: part of the graph, with gradient 0
    s.backward(np.ones(5))
    np.testing.assert_array_equal(t.grad.data, np.zeros(5))
    tt_ = torch.tensor(raw, requires_grad=True)
    torch.sign(tt_).backward(torch.ones(5, dtype=torch.float64))
    np.testing.assert_array_equal(t.grad.data, tt_.grad.numpy())


# ----- module functions and nn.functional match the methods --------------------------------
X = np.array([[-1.5, -0.2, 0.0, 0.3], [0.7, 1.2, -2.5, 2.0]])

SAME_AS_METHOD = [
    (lambda t: tg.log1p(t.abs()), lambda t: t.abs().log1p()),
    (tg.expm1, lambda t: t.expm1()), (tg.sin, lambda t: t.sin()), (tg.cos, lambda t: t.cos()),
    (tg.square, lambda t: t * t),
    (lambda t: tg.rsqrt(t.abs() + 1), lambda t: (t.abs() + 1) ** -0.5),
    (tg.sign, lambda t: t.sign()),
    (lambda t: tg.softplus(t, 2.0, 1.0), lambda t: t.softplus(beta=2.0, threshold=1.0)),
    (lambda t: F.softplus(t, beta=0.5), lambda t: t.softplus(0.5)),
    (lambda t: tg.gelu(t, "tanh"), lambda t: F.gelu(t, approximate="tanh")),
    (tg.gelu, F.gelu), (lambda t: tg.leaky_relu(t, 0.1), lambda t: F.leaky_relu(t, 0.1)),
    (lambda t: tg.elu(t, 0.3), lambda t: F.elu(t, alpha=0.3)), (tg.silu, F.silu),
    (tg.log_sigmoid, F.log_sigmoid), (F.logsigmoid, lambda t: t.log_sigmoid()),
    (lambda t: F.softmax(t, dim=0), lambda t: t.softmax(0)),
    (lambda t: F.log_softmax(t, dim=-1), lambda t: t.log_softmax(-1)),
]


@pytest.mark.parametrize("pair", SAME_AS_METHOD, ids=range(len(SAME_AS_METHOD)))
def test_module_functions_and_functional_match_the_methods(pair):
    f, g = pair
    ya, ga = _grad(f, X)
    yb, gb = _grad(g, X)
    np.testing.assert_allclose(ya.data, yb.data, rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(ga.data, gb.data, rtol=1e-15, atol=1e-15)


def test_glu_splits_the_axis_in_halves():
    x = np.arange(12.0).reshape(2, 6) / 6 - 1
    for kw in ({}, {"axis": 1}, {"dim": -1}):
        y = F.glu(tg.Tensor(x), **kw)
        np.testing.assert_allclose(y.data, x[:, :3] / (1 + np.exp(-x[:, 3:])))
    y = F.glu(tg.Tensor(x), dim=0)
    assert y.shape == (1, 6)
    np.testing.assert_allclose(y.data, x[:1] / (1 + np.exp(-x[1:])))


def test_glu_refuses_odd_axes_and_0d_inputs():
    with pytest.raises(ValueError, match=r"glu: axis 0 of input shape \(3, 2\) has odd size 3"):
        F.glu(tg.Tensor(np.zeros((3, 2))), axis=0)
    with pytest.raises(ValueError, match="glu: input must have at least one dimension"):
        F.glu(tg.Tensor(np.array(1.0)))
    with pytest.raises(ValueError, match="glu: axis 2 is out of range"):
        F.glu(tg.Tensor(np.zeros((2, 2))), 2)
    with pytest.raises(TypeError, match="both axis= and dim="):
        F.glu(tg.Tensor(np.zeros((2, 2))), axis=0, dim=0)
    with pytest.raises(TypeError, match="glu: input must be a Tensor"):
        F.glu(np.zeros(2))


# ----- bad arguments --------------------------------------------------------------------
T = tg.Tensor(np.zeros(3))

BAD = [
    (lambda: T.softplus(beta=0), ValueError, "softplus: beta must be nonzero"),
    (lambda: T.softplus(beta="1"), TypeError, "softplus: beta must be a number"),
    (lambda: T.softplus(threshold=None), TypeError, "softplus: threshold must be a number"),
    (lambda: T.gelu("exact"), ValueError, "gelu: approximate must be one of 'none', 'tanh'"),
    (lambda: T.gelu(None), TypeError, "gelu: approximate must be a str"),
    (lambda: T.leaky_relu(True), TypeError, "leaky_relu: negative_slope must be a number"),
    (lambda: T.elu("1"), TypeError, "elu: alpha must be a number"),
    (lambda: nn.GELU("erf"), ValueError, "GELU: approximate must be one of"),
    (lambda: nn.GELU(approximate=0), TypeError, "GELU: approximate must be a str"),
    (lambda: nn.Softplus(beta=0.0), ValueError, "Softplus: beta must be nonzero"),
    (lambda: nn.Softplus(threshold="20"), TypeError, "Softplus: threshold must be a number"),
    (lambda: nn.LeakyReLU(None), TypeError, "LeakyReLU: negative_slope must be a number"),
    (lambda: nn.ELU(alpha=[1.0]), TypeError, "ELU: alpha must be a number"),
    (lambda: nn.Softmax(1.0), TypeError, "Softmax: axis must be an int"),
    (lambda: nn.LogSoftmax(axis=0, dim=0), TypeError, "both axis= and dim="),
]


@pytest.mark.parametrize("call,exc,msg", BAD, ids=[b[2] for b in BAD])
def test_bad_arguments_say_what_was_expected(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


# ----- modules ---------------------------------------------------------------------------
MODULES = [
    (nn.GELU(), "GELU(approximate='none')", lambda tn: tn.GELU()),
    (nn.GELU(approximate="tanh"), "GELU(approximate='tanh')",
     lambda tn: tn.GELU(approximate="tanh")),
    (nn.LeakyReLU(), "LeakyReLU(negative_slope=0.01)", lambda tn: tn.LeakyReLU()),
    (nn.LeakyReLU(0.2), "LeakyReLU(negative_slope=0.2)", lambda tn: tn.LeakyReLU(0.2)),
    (nn.Softplus(), "Softplus(beta=1.0, threshold=20.0)", lambda tn: tn.Softplus()),
    (nn.Softplus(beta=2, threshold=1), "Softplus(beta=2.0, threshold=1.0)",
     lambda tn: tn.Softplus(beta=2, threshold=1)),
    (nn.ELU(), "ELU(alpha=1.0)", lambda tn: tn.ELU()),
    (nn.ELU(alpha=0.5), "ELU(alpha=0.5)", lambda tn: tn.ELU(alpha=0.5)),
    (nn.SiLU(), "SiLU()", lambda tn: tn.SiLU()),
    (nn.Softmax(), "Softmax(axis=-1)", lambda tn: tn.Softmax(dim=-1)),
    (nn.Softmax(dim=0), "Softmax(axis=0)", lambda tn: tn.Softmax(dim=0)),
    (nn.LogSoftmax(axis=0), "LogSoftmax(axis=0)", lambda tn: tn.LogSoftmax(dim=0)),
    (nn.LogSoftmax(), "LogSoftmax(axis=-1)", lambda tn: tn.LogSoftmax(dim=-1)),
]
MODULE_IDS = [m[1] for m in MODULES]

FORWARD = {
    "GELU": lambda t, m: t.gelu(m.approximate),
    "LeakyReLU": lambda t, m: t.leaky_relu(m.negative_slope),
    "Softplus": lambda t, m: t.softplus(m.beta, m.threshold),
    "ELU": lambda t, m: t.elu(m.alpha),
    "SiLU": lambda t, m: t.silu(),
    "Softmax": lambda t, m: t.softmax(m.axis),
    "LogSoftmax": lambda t, m: t.log_softmax(m.axis),
}


@pytest.mark.parametrize("module,text,_", MODULES, ids=MODULE_IDS)
def test_module_repr_and_forward(module, text, _):
    assert repr(module) == text
    assert list(module.parameters()) == []
    x = tg.Tensor(X.astype(np.float32))
    y = module(x)
    assert y.dtype == np.float32 and y.shape == X.shape
    np.testing.assert_array_equal(y.data, FORWARD[type(module).__name__](x, module).data)


def test_modules_compose_in_sequential():
    model = nn.Sequential(nn.Linear(4, 3), nn.GELU(), nn.Linear(3, 5), nn.LogSoftmax(dim=-1))
    out = model(tg.Tensor(np.ones((2, 4), dtype=np.float32)))
    assert out.shape == (2, 5)
    np.testing.assert_allclose(np.exp(out.data).sum(axis=-1), [1.0, 1.0], rtol=1e-6)
    assert "(1): GELU(approximate='none')" in repr(model)


@pytest.mark.parametrize("module,text,make_theirs", MODULES, ids=MODULE_IDS)
def test_modules_match_torch_nn(torch, module, text, make_theirs):
    theirs = make_theirs(torch.nn)
    raw = np.concatenate([X * 3, np.array([[-30.0, 30.0, 0.45, -0.55]])])  # both softplus branches
    x = tg.Tensor(raw, requires_grad=True)
    tx = torch.tensor(raw, requires_grad=True)
    y, ty = module(x), theirs(tx)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-12, atol=1e-14)
    seed = np.random.default_rng(0).standard_normal(raw.shape)
    y.backward(seed)
    ty.backward(torch.from_numpy(seed))
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_functional_glu_and_log_sigmoid_match_torch(torch):
    raw = np.random.default_rng(2).standard_normal((2, 4, 2)) * 4
    for axis in (0, 1, -1):
        x = tg.Tensor(raw, requires_grad=True)
        tx = torch.tensor(raw, requires_grad=True)
        y, ty = F.glu(x, dim=axis), torch.nn.functional.glu(tx, dim=axis)
        np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-12)
        y.backward(np.ones(y.shape))
        ty.backward(torch.ones_like(ty))
        np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-12)
    x = tg.Tensor(raw, requires_grad=True)
    tx = torch.tensor(raw, requires_grad=True)
    np.testing.assert_allclose(F.log_sigmoid(x).data,
                               torch.nn.functional.logsigmoid(tx).detach().numpy(), rtol=1e-13)


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_keeps_nan_and_the_infinities_and_ints_stay_ints(dtype):
    from tinygrad_rnn.ops.elementwise import relu
    x = np.array([np.nan, -np.inf, np.inf, -2.0, -0.0, 0.0, 1e-30, 3.0], dtype)
    y, g = _grad(lambda t: t.relu(), x, dtype)
    np.testing.assert_array_equal(y.data, np.array([np.nan, 0, np.inf, 0, 0, 0, 1e-30, 3.0], dtype))
    assert y.dtype == dtype
    np.testing.assert_array_equal(g.data, [1, 0, 1, 0, 0, 0, 1, 1])  # NaN passes g on (torch)
    out = np.empty_like(x)
    assert relu(x, out=out) is out
    ints = relu(np.array([-2, 0, 5]))
    assert ints.dtype.kind == "i" and ints.tolist() == [0, 0, 5]


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_gradient_is_pytorchs_to_the_bit(dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x = rng.standard_normal((7, 33)).astype(dtype) * 4
    g = rng.standard_normal((7, 33)).astype(dtype)
    t = tg.Tensor(x, requires_grad=True)
    y = t.sigmoid()
    y.backward(g)
    tx = torch.from_numpy(x).requires_grad_()
    ty = torch.sigmoid(tx)
    ty.backward(torch.from_numpy(g))
    # the forward may differ in the last bit (exp); the backward from the same y does not:
    # dx = g * (1 - y) * y in PyTorch's order
    ref = torch.ops.aten.sigmoid_backward(torch.from_numpy(g), torch.from_numpy(y.data))
    assert np.array_equal(t.grad.data, ref.numpy())
    np.testing.assert_allclose(t.grad.data, tx.grad.numpy(), rtol=1e-5 if dtype == np.float32
                               else 1e-12, atol=1e-7 if dtype == np.float32 else 1e-15)


@pytest.mark.parametrize("fn", ["maximum", "minimum"])
def test_maximum_and_minimum_give_both_sides_the_gradient_where_one_is_nan(torch, fn):
    a, b = np.array([np.nan, 1.0, 2.0, 3.0]), np.array([1.0, np.nan, 2.0, 1.0])
    ta, tb = (torch.tensor(v, requires_grad=True) for v in (a, b))
    A, B = (tg.Tensor(v, requires_grad=True) for v in (a, b))
    getattr(tg, fn)(A, B).sum().backward()
    getattr(torch, fn)(ta, tb).sum().backward()
    np.testing.assert_array_equal(A.grad.data, ta.grad.numpy())
    np.testing.assert_array_equal(B.grad.data, tb.grad.numpy())


@pytest.mark.parametrize("name", ["relu", "abs", "sign"])
def test_relu_abs_and_sign_at_nan_and_zero_are_pytorchs(torch, name):
    """Values and gradients at NaN, the infinities and both zeros: relu passes the gradient
    through NaN (it is not <= 0), abs gives it 0 there, and sign(NaN) is 0, as in torch."""
    raw = np.array([np.nan, -np.inf, np.inf, -2.0, -0.0, 0.0, 1e-300, 3.0])
    g = np.arange(1.0, 9.0)
    x, tx = tg.Tensor(raw, requires_grad=True), torch.tensor(raw, requires_grad=True)
    y, ty = getattr(x, name)(), getattr(tx, name)()
    np.testing.assert_array_equal(y.data, ty.detach().numpy())
    y.backward(g)
    ty.backward(torch.from_numpy(g))
    np.testing.assert_array_equal(x.grad.data, tx.grad.numpy())


@pytest.mark.parametrize("p", [1])
def test_norm_gradient_at_nan_is_pytorchs(torch, p):
    """sign(NaN) = 0 in the 1-norm's gradient, as in torch (other p at NaN still differ)."""
    raw = np.array([np.nan, -2.0, 0.0, 3.0])
    x, tx = tg.Tensor(raw, requires_grad=True), torch.tensor(raw, requires_grad=True)
    x.norm(p).backward()
    torch.linalg.vector_norm(tx, p).backward()
    np.testing.assert_array_equal(x.grad.data, tx.grad.numpy())
