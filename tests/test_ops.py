"""Generic op tests: every line of the op table (tinygrad_rnn.testing.op_db) against NumPy,
gradcheck and PyTorch."""
from __future__ import annotations

import importlib
import pkgutil
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn import Function, ops
from tinygrad_rnn import testing as tt
from tinygrad_rnn.testing.op_db import OPS
from tinygrad_rnn.testing.opinfo import SAME, OpInfo, bind

OP_IDS = [s.name for s in OPS]
cases = tt.op_cases


@pytest.mark.parametrize("spec", OPS, ids=OP_IDS)
@settings(max_examples=15)  # x 60 ops: the whole table in a few seconds
@given(data=st.data())
def test_forward_matches_numpy_and_gradcheck(spec, data):
    inputs, params = data.draw(cases(spec), label="inputs, params")
    fn, ref, free = bind(spec, inputs, params)
    tt.check_op(fn, ref, *free)


@pytest.mark.parametrize("spec", OPS, ids=OP_IDS)
@settings(max_examples=5)
@given(data=st.data())
def test_float32_result_dtype_follows_numpy(spec, data):
    inputs, params = data.draw(cases(spec), label="inputs, params")
    inputs = [x.astype(np.float32) if x.dtype == np.float64 and i not in spec.consts else x
              for i, x in enumerate(inputs)]
    fn, ref, free = bind(spec, inputs, params)
    ts = [tg.Tensor(x, requires_grad=x.dtype.kind == "f") for x in free]
    out = fn(*ts)
    assert out.dtype == np.asarray(ref(*free)).dtype
    out.backward(np.ones(out.shape, dtype=out.dtype))
    for t in ts:
        if t.requires_grad:
            assert t.grad.dtype == t.dtype and t.grad.shape == t.shape


# ----- PyTorch: forward and backward through one helper ------------------------------------
def assert_matches_torch(torch, spec: OpInfo, inputs: list, params: dict) -> None:
    """Same forward value and same input gradients (for a random output seed) as PyTorch."""
    tfn = spec.fn if spec.torch == SAME else spec.torch
    ours = [x if i in spec.consts else tg.Tensor(x.copy(), requires_grad=x.dtype.kind == "f")
            for i, x in enumerate(inputs)]
    theirs = [torch.from_numpy(x.copy()) for x in inputs]
    for i, t in enumerate(theirs):
        if i not in spec.consts and t.is_floating_point():
            t.requires_grad_(True)
    out = spec.fn(*ours, **params)
    tout = tfn(*theirs, **params)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert out.shape == tuple(tout.shape)
    if not out.requires_grad:
        return
    seed = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(seed)
    tout.backward(torch.from_numpy(seed))
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if isinstance(a, tg.Tensor) and a.requires_grad:
            np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=1e-9, atol=1e-12,
                                       err_msg=f"{spec.name}: gradient of input {i}")


TORCH_OPS = [s for s in OPS if s.torch is not None]


@pytest.mark.parametrize("spec", TORCH_OPS, ids=[s.name for s in TORCH_OPS])
@settings(max_examples=6, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_matches_torch(torch, spec, data):
    inputs, params = data.draw(cases(spec), label="inputs, params")
    assert_matches_torch(torch, spec, inputs, params)


# ----- the table covers every op ---------------------------------------------------------
def _function_class_objects() -> list:
    for m in pkgutil.iter_modules(ops.__path__):
        importlib.import_module(f"{ops.__name__}.{m.name}")
    found, todo = [], list(Function.__subclasses__())
    while todo:
        c = todo.pop()
        todo.extend(c.__subclasses__())
        if c.__module__.startswith(ops.__name__ + "."):
            found.append(c)
    return found


def _function_classes() -> set:
    return {c.__name__ for c in _function_class_objects()}


def test_every_function_in_ops_has_a_table_entry():
    covered = {name for s in OPS for name in s.covers}
    defined = _function_classes()
    assert len(defined) >= 30  # the search itself works
    missing = sorted(defined - covered)
    assert not missing, f"Function classes without a line in the op table: {missing}"
    unknown = sorted(covered - defined)
    assert not unknown, f"op table names classes that do not exist in tinygrad_rnn.ops: {unknown}"


def test_table_entries_are_unique_and_name_their_functions():
    assert len(set(OP_IDS)) == len(OP_IDS)
    for spec in OPS:
        assert spec.covers and all(isinstance(c, str) for c in spec.covers), spec.name


# ----- max / min ties: the gradient is shared equally ----------------------------------------
@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_ties_split_the_gradient_equally(op):
    v = 2.0 if op == "max" else -2.0
    x = tg.Tensor(np.array([[v, 0.5, v, v], [1.0, v, 0.0, 0.3]]), requires_grad=True)
    getattr(x, op)(axis=1).backward(np.array([3.0, 1.0]))
    np.testing.assert_allclose(x.grad.data, [[1.0, 0, 1.0, 1.0], [0, 1.0, 0, 0]])
    y = tg.Tensor(np.full((2, 2), v), requires_grad=True)
    getattr(y, op)().backward()
    np.testing.assert_allclose(y.grad.data, np.full((2, 2), 0.25))


# ----- repeated indices accumulate ---------------------------------------------------------------
def test_getitem_repeated_indices_accumulate():
    x = tg.Tensor(np.arange(4.0), requires_grad=True)
    x[np.array([0, 2, 0, 0, -1])].sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 0.0, 1.0, 1.0])
    w = tg.Tensor(np.zeros((3, 2)), requires_grad=True)
    ops.Embedding.apply(w, np.array([[1, 1], [2, 1]])).sum().backward()
    np.testing.assert_array_equal(w.grad.data, [[0, 0], [3, 3], [1, 1]])


# ----- numerical stability -----------------------------------------------------------------
@pytest.fixture
def strict_floats():
    """Overflow, invalid and divide-by-zero raise; warnings are errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            yield


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_saturates_without_overflow(strict_floats, dtype):
    x = tg.Tensor(np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype=dtype), requires_grad=True)
    y = x.sigmoid()
    np.testing.assert_allclose(y.data, [0.0, np.exp(-50.0), 0.5, 1.0, 1.0], rtol=1e-6, atol=0)
    y.sum().backward()
    assert np.all(np.isfinite(x.grad.data))
    np.testing.assert_allclose(x.grad.data[[0, 2, 4]], [0.0, 0.25, 0.0])


def test_tanh_saturates(strict_floats):
    x = tg.Tensor(np.array([-1000.0, 1000.0]), requires_grad=True)
    x.tanh().sum().backward()
    np.testing.assert_array_equal(x.tanh().data, [-1.0, 1.0])
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0])


@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_logsumexp_and_log_softmax_finite_for_huge_logits(strict_floats, scale):
    raw = np.array([[1.0, 0.0, -2.0], [3.0, 3.0, 0.5]]) * scale
    x = tg.Tensor(raw, requires_grad=True)
    lse = x.logsumexp(axis=1)
    m = raw.max(axis=1)
    np.testing.assert_allclose(lse.data, m + np.log(np.exp(raw - m[:, None]).sum(axis=1)))
    ls = x.log_softmax(axis=1)
    assert np.all(np.isfinite(ls.data[raw == m[:, None]]))
    np.testing.assert_allclose(ls.data, raw - lse.data[:, None])
    (lse.sum() + ls[:, 0].sum() + x.softmax(axis=1).max()).backward()
    assert np.all(np.isfinite(x.grad.data))
    loss = ops.CrossEntropy.apply(x, np.array([2, 0]))
    assert np.all(np.isfinite(loss.data))
    np.testing.assert_allclose(loss.data, -ls.data[[0, 1], [2, 0]])


def test_logsumexp_of_all_minus_inf_is_minus_inf():
    with np.errstate(invalid="raise", over="raise"):
        y = tg.Tensor(np.array([[-np.inf, -np.inf], [0.0, -np.inf]])).logsumexp(axis=1)
    np.testing.assert_array_equal(y.data, [-np.inf, 0.0])


def test_exp_and_log_match_numpy_at_the_edges():
    special = np.array([-np.inf, -1000.0, -1.0, 0.0, 1.0, 1000.0, np.inf, np.nan])
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(tg.Tensor(special).exp().data, np.exp(special))
        np.testing.assert_array_equal(tg.Tensor(special).log().data, np.log(special))
        np.testing.assert_array_equal(tg.Tensor(special).sqrt().data, np.sqrt(special))
        x32 = special.astype(np.float32)
        out = tg.Tensor(x32).exp()
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out.data, np.exp(x32))


def test_pow_gradient_with_zero_base():
    a = tg.Tensor(np.array([0.0, 2.0]), requires_grad=True)
    b = tg.Tensor(np.array([2.0, 3.0]), requires_grad=True)
    with np.errstate(all="raise"):
        (a ** b).sum().backward()
    np.testing.assert_allclose(a.grad.data, [0.0, 12.0])
    np.testing.assert_allclose(b.grad.data, [0.0, 8.0 * np.log(2.0)])


# ----- regressions found by the properties above ----------------------------------------------
def test_matmul_of_two_vectors_has_a_gradient():
    a, b = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True), tg.Tensor(np.array([3.0, 4.0]),
                                                                        requires_grad=True)
    (a @ b).backward()
    np.testing.assert_array_equal(a.grad.data, [3.0, 4.0])
    np.testing.assert_array_equal(b.grad.data, [1.0, 2.0])


def test_transpose_with_negative_axes_inverts_the_permutation():
    data = np.arange(24.0).reshape(2, 3, 4)
    x = tg.Tensor(data, requires_grad=True)
    y = x.transpose(0, -1, 1)
    assert y.shape == (2, 4, 3)
    seed = np.arange(24.0).reshape(2, 4, 3)
    y.backward(seed)
    np.testing.assert_array_equal(x.grad.data, np.transpose(seed, (0, 2, 1)))


def test_dropout_mask_does_not_change_the_dtype():
    x = tg.Tensor(np.ones((2, 2), dtype=np.float32), requires_grad=True)
    y = ops.Dropout.apply(x, mask=np.array([[2.0, 0.0], [0.0, 2.0]]))
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, [[2.0, 0.0], [0.0, 2.0]])


def test_log_softmax_of_a_0d_tensor():
    x = tg.Tensor(np.array(3.0), requires_grad=True)
    y = x.log_softmax()
    assert y.shape == () and y.item() == 0.0
    (x.softmax(0) * 2 + y).backward()
    assert x.grad.item() == 0.0


def test_pow_with_zero_exponent_has_zero_gradient_at_zero_base(strict_floats):
    x = tg.Tensor(np.array([0.0, 2.0]), requires_grad=True)
    (x ** 0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0])
    a = tg.Tensor(np.array([0.0, 0.0]), requires_grad=True)
    b = tg.Tensor(np.array([0.0, 1.0]), requires_grad=True)
    (a ** b).sum().backward()
    np.testing.assert_array_equal(a.grad.data, [0.0, 1.0])
    np.testing.assert_array_equal(b.grad.data, [0.0, 0.0])


def test_the_cli_gradcheck_runs_every_differentiable_op_table_line():
    """`tinygrad-rnn gradcheck` walks the same table: each line with a float input is a row,
    and together the rows reach every Function class of tinygrad_rnn.ops."""
    from tinygrad_rnn import _checks

    checks = _checks.op_checks(seed=0)
    assert [c[0] for c in checks] == [s.name for s in OPS if _has_float_input(s)]
    reached = set()
    for name, fn, inputs in checks:
        stack = [fn(*inputs)]
        while stack:
            t = stack.pop()
            if t._ctx is not None:
                reached.add(type(t._ctx).__name__)
                stack.extend(t._ctx.parents)
    never_nodes = {c.__name__ for c in _function_class_objects() if not c.differentiable}
    assert never_nodes >= {"Logical", "Detach"}
    missing = sorted(_function_classes() - reached - never_nodes)
    assert not missing, f"ops that `tinygrad-rnn gradcheck` never runs: {missing}"


def _has_float_input(spec) -> bool:
    from tinygrad_rnn.testing.opinfo import free_inputs, numpy_case
    inputs, _ = numpy_case(spec, np.random.default_rng(0))
    return bool(free_inputs(spec, inputs))
