"""gradcheck: it passes correct gradients and catches wrong ones, with a useful message."""
from __future__ import annotations

import importlib

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Function, GradcheckError, Tensor, gradcheck, ops

# the package attribute `gradcheck` is the function; the module holds its internals
gradcheck_module = importlib.import_module("tinygrad_rnn.gradcheck")


class HalfSquare(Function):
    """y = x**2 with a wrong backward: dx = g * x (the factor 2 is missing)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_arrays
        return g * x


class OneWrongEntry(Function):
    """y = 3x, whose backward is wrong at one flat index (`at`) only."""

    @staticmethod
    def forward(ctx, x, at=0):
        ctx.at = at
        return 3 * x

    @staticmethod
    def backward(ctx, g):
        dx = 3 * g
        dx.reshape(-1)[ctx.at] += 1.0
        return dx


class SwappedMatMul(Function):
    """out = a @ b with a wrong backward for a: g @ b instead of g @ b^T (square b only)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_arrays
        return g @ b, a.T @ g


def x64(values, requires_grad=True) -> Tensor:
    return Tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def test_correct_gradients_pass():
    x = x64([[0.3, -1.2, 0.7], [1.5, 0.1, -0.4]])
    w = x64([[0.5], [-0.3], [0.8]])
    assert gradcheck(lambda x, w: ((x @ w).tanh() * x.sum(axis=1, keepdims=True)).sum(), [x, w])


def test_wrong_backward_returns_false_or_raises_with_details():
    x = x64([0.5, -1.5, 2.0])
    assert gradcheck(lambda x: HalfSquare.apply(x).sum(), [x], raise_exception=False) is False
    with pytest.raises(GradcheckError) as e:
        gradcheck(lambda x: HalfSquare.apply(x).sum(), [x])
    msg = str(e.value)
    # worst entry: |x - 2x| is largest at x = 2.0, index 2
    assert "input 0" in msg and "index (2,)" in msg
    assert "analytic 2," in msg and "numeric 4," in msg
    assert "abs error 2" in msg and "rel error" in msg
    assert isinstance(e.value, AssertionError)  # plain `assert gradcheck(...)` users see it too


def test_names_the_failing_input_among_several():
    a, b = x64(np.eye(2) + 0.5), x64([[1.0, 2.0], [3.0, -1.0]])
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(2, 2\)\) at index \(\d, \d\)"):
        gradcheck(lambda a, b: SwappedMatMul.apply(a, b), [a, b])
    # the same op with only b checked passes: b's backward is right
    assert gradcheck(lambda a, b: SwappedMatMul.apply(a, b), [a.detach(), b])


def test_full_jacobian_path_for_small_problems(monkeypatch):
    calls = []
    real = gradcheck_module._numeric_jacobian
    monkeypatch.setattr(gradcheck_module, "_numeric_jacobian",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    assert gradcheck(lambda x: x.exp() * 2, [x64([[0.1, 0.2], [0.3, -0.4]])])
    assert calls


def test_random_projection_path_for_large_inputs(monkeypatch):
    x = x64(np.random.default_rng(0).standard_normal((50, 100)))  # 5000 entries > full limit

    def no_full(*a, **k):
        raise AssertionError("the full Jacobian was computed for a large input")

    monkeypatch.setattr(gradcheck_module, "_numeric_jacobian", no_full)
    assert gradcheck(lambda x: (x.tanh() * x).sum(), [x])


def test_random_projection_catches_a_single_wrong_entry():
    x = x64(np.random.default_rng(1).standard_normal((50, 100)))
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(50, 100\)\) at index \(12, 34\)"):
        gradcheck(lambda x: OneWrongEntry.apply(x, at=1234).sum(), [x])


def test_relu_at_zero_is_reported_as_a_kink_not_a_wrong_gradient():
    x = x64([0.0, 1.0, -2.0])
    with pytest.raises(GradcheckError, match=r"not differentiable.*index \(0,\)") as e:
        gradcheck(lambda x: x.relu().sum(), [x])
    assert "kink" in str(e.value)
    assert gradcheck(lambda x: x.relu().sum(), [x64([0.5, 1.0, -2.0])])


def test_non_scalar_outputs():
    a = x64([[0.3, -1.2, 0.7], [1.5, 0.1, -0.4]])
    b = x64([[0.5, 1.0], [-0.3, 0.2], [0.8, -0.6]])
    assert gradcheck(lambda a, b: a @ b, [a, b])
    assert gradcheck(lambda a: a.T.log_softmax(axis=0), [a])
    with pytest.raises(GradcheckError, match=r"output index \(\d+,\)"):
        gradcheck(lambda x: HalfSquare.apply(x) * 1.0, [x64([0.5, -1.5, 2.0])])


def test_large_non_scalar_output_uses_projection(monkeypatch):
    x = x64(np.random.default_rng(2).standard_normal(65))  # 65 x 65 Jacobian > full limit
    calls = []
    real = gradcheck_module._numeric_jacobian
    monkeypatch.setattr(gradcheck_module, "_numeric_jacobian",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    assert gradcheck(lambda x: x.sigmoid() * 3, [x])
    assert not calls
    # a mismatch found by projection is explained from the full Jacobian
    with pytest.raises(GradcheckError, match=r"index \(40,\), output index \(40,\)"):
        gradcheck(lambda x: OneWrongEntry.apply(x, at=40) * 1.0, [x])
    assert calls


def test_works_on_float64_copies_and_leaves_inputs_alone():
    x32 = Tensor(np.array([0.5, -0.25], dtype=np.float32), requires_grad=True)
    before = x32.data.copy()
    assert gradcheck(lambda x: (x * x).sum(), [x32])
    np.testing.assert_array_equal(x32.data, before)
    assert x32.dtype == np.float32 and x32.grad is None


def test_constant_and_integer_inputs_are_passed_through():
    w = x64(np.arange(6.0).reshape(3, 2) / 5)
    idx = Tensor(np.array([2, 0, 2]))
    c = x64([1.0, 2.0], requires_grad=False)
    assert gradcheck(lambda w, idx, c: (w[idx.data] * c).sum(), [w, idx, c])


def test_bad_arguments_are_refused():
    x = x64([1.0])
    with pytest.raises(ValueError, match="no input requires grad"):
        gradcheck(lambda x: x * 2, [x.detach()])
    with pytest.raises(TypeError, match="must return a Tensor"):
        gradcheck(lambda x: 3.0, [x])
    with pytest.raises(TypeError, match="float32.*compute in the inputs' dtype"):
        gradcheck(lambda x: x.astype(np.float32), [x])


def test_tolerances_are_respected():
    # y = x**2 + 1e-4 * noise-like wrong term: caught by tight atol, accepted by a loose one
    class Nearly(Function):
        """y = x**2;  dx = 2 g x + 1e-4 (slightly wrong)."""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_arrays
            return 2 * g * x + 1e-4

    x = x64([0.5, 1.5])
    assert not gradcheck(lambda x: Nearly.apply(x).sum(), [x], atol=1e-6, rtol=1e-6,
                         raise_exception=False)
    assert gradcheck(lambda x: Nearly.apply(x).sum(), [x], atol=1e-3)


def test_module_level_gradcheck_is_the_same_function():
    assert tg.gradcheck is gradcheck_module.gradcheck


# ----- non-finite values: NaN fails every comparison, so it must be caught explicitly -----------
class NaNBackward(Function):
    """y = 2x with a backward that returns NaN at flat index `at` (everywhere when None)."""

    @staticmethod
    def forward(ctx, x, at=None):
        ctx.at = at
        return 2 * x

    @staticmethod
    def backward(ctx, g):
        dx = 2 * g
        if ctx.at is None:
            dx = dx * np.nan
        else:
            dx.reshape(-1)[ctx.at] = np.nan
        return dx


class FiniteBackwardOfNaN(Function):
    """y = sqrt(x) computed by NumPy (NaN for x < 0) with a backward that is always finite."""

    @staticmethod
    def forward(ctx, x):
        with np.errstate(invalid="ignore"):
            return np.sqrt(x)

    @staticmethod
    def backward(ctx, g):
        return g * 0.5


class InfAboveOne(Function):
    """y = x up to 1, inf above, with the backward of y = x (always finite)."""

    @staticmethod
    def forward(ctx, x):
        return np.where(x > 1, np.inf, x)

    @staticmethod
    def backward(ctx, g):
        return g


def test_a_nan_backward_fails():
    x = x64([0.5, -1.5, 2.0])
    assert gradcheck(lambda x: NaNBackward.apply(x).sum(), [x], raise_exception=False) is False
    with pytest.raises(GradcheckError, match=r"input 0 .*analytic nan.*numeric 2"):
        gradcheck(lambda x: NaNBackward.apply(x).sum(), [x])


def test_one_nan_entry_of_the_analytic_gradient_fails_and_is_named():
    x = x64([0.5, -1.5, 2.0, 0.25])
    with pytest.raises(GradcheckError, match=r"index \(2,\).*analytic nan.*numeric 2") as e:
        gradcheck(lambda x: NaNBackward.apply(x, at=2).sum(), [x])
    assert "not finite" in str(e.value)


def test_a_finite_gradient_of_a_function_that_is_not_finite_there_is_reported():
    x = x64([0.5, -1.5, 2.0])  # sqrt(-1.5) is NaN
    with pytest.raises(GradcheckError, match=r"not finite at output index \(1,\) \(input 0\): "
                                             r"the output there is nan") as e:
        gradcheck(lambda x: FiniteBackwardOfNaN.apply(x), [x])
    assert "numeric nan" in str(e.value) and "analytic 0" in str(e.value)
    with pytest.raises(GradcheckError, match=r"not finite at output index \(\)"):
        gradcheck(lambda x: FiniteBackwardOfNaN.apply(x).sum(), [x])
    # an infinite numeric derivative is reported the same way
    with pytest.raises(GradcheckError, match=r"not finite at input 0 .*index \(1,\).*"
                                             r"within eps.*numeric inf"):
        gradcheck(lambda x: InfAboveOne.apply(x).sum(), [x64([0.5, 1.0])])


def test_the_projected_path_catches_nan_too(monkeypatch):
    x = x64(np.random.default_rng(3).standard_normal((50, 100)))  # 5000 entries > full limit
    with pytest.raises(GradcheckError, match=r"index \(7, 8\).*analytic nan"):
        gradcheck(lambda x: NaNBackward.apply(x, at=708).sum(), [x])
    # NaN in every entry: caught already by the projection, before any full Jacobian
    monkeypatch.setattr(gradcheck_module, "_FULL_JACOBIAN_LIMIT", 10)
    y = x64(np.random.default_rng(4).standard_normal(20))
    with pytest.raises(GradcheckError, match="nan"):
        gradcheck(lambda x: NaNBackward.apply(x).sum(), [y])
    z = x64(np.abs(np.random.default_rng(5).standard_normal(20)) + 0.1)
    z.data[3] = -1.0
    with pytest.raises(GradcheckError, match=r"not finite at output index \(3,\)"):
        gradcheck(lambda x: FiniteBackwardOfNaN.apply(x), [z])


def test_a_module_used_through_its_own_parameters_is_refused_not_passed():
    # gradcheck differentiates float64 copies (SPEC): a function that closes over the module
    # would check nothing, and a wrong backward of a parameter passed unseen; it is refused,
    # and the module checked through functional_call / gradcheck_module instead
    from tinygrad_rnn import nn
    from tinygrad_rnn.nn.utils import functional_call
    from tinygrad_rnn.testing.modules import gradcheck_module
    lin = nn.Linear(3, 2).double()
    x = x64(np.random.default_rng(0).standard_normal((4, 3)))
    with pytest.raises(ValueError, match=r"fn uses input 1 .* itself.*functional_call"):
        gradcheck(lambda x, w, b: HalfSquare.apply(lin(x)).sum(),
                  [x.detach(), lin.weight, lin.bias])
    assert lin.weight.grad is None
    assert gradcheck(lambda x, w, b: (functional_call(lin, {"weight": w, "bias": b}, x) ** 2)
                     .sum(), [x, lin.weight, lin.bias])
    with pytest.raises(GradcheckError, match="input 1"):
        gradcheck(lambda x, w, b: HalfSquare.apply(functional_call(
            lin, {"weight": w, "bias": b}, x)).sum(), [x.detach(), lin.weight, lin.bias])
    assert gradcheck_module(nn.RNNCell(3, 2).double(), x)  # (a cell: x and its state)


def test_inputs_that_share_memory_are_checked_apart():
    x = x64([0.5, -0.25])
    assert gradcheck(lambda a, c: (a * c).sum(), [x, x.detach()])  # (copies: no aliasing)


def test_a_function_that_uses_the_given_tensor_instead_of_its_copy_is_refused():
    from tinygrad_rnn import nn
    lin32 = nn.Linear(3, 2)  # float32: gradcheck passes a float64 copy the module never sees
    x = x64(np.random.default_rng(0).standard_normal((4, 3)))
    with pytest.raises(ValueError, match=r"fn uses input 1 \(shape \(2, 3\), float32\) "
                                         r"itself.*functional_call"):
        gradcheck(lambda x, w: (lin32(x.astype(np.float32)).double() * x.sum()).sum(),
                  [x, lin32.weight])
    # an input fn does not use at all passes, as in PyTorch (zero Jacobians on both sides)
    assert gradcheck(lambda x, y: (x * x).sum(), [x, x64([1.0])])
    assert gradcheck(lambda x, y: (x * x).sum(), [x, Tensor(np.ones(2, np.float32),
                                                            requires_grad=True)])


def test_an_error_inside_fn_leaves_the_inputs_as_they_were():
    x = x64([0.5, -0.25, 2.0])
    before = x.data.copy()
    calls = [0]

    def fn(x):
        calls[0] += 1
        if calls[0] > 3:  # during the finite differences
            raise RuntimeError("boom")
        return (x * x).sum()
    with pytest.raises(RuntimeError, match="boom"):
        gradcheck(fn, [x])
    np.testing.assert_array_equal(x.data, before)


class TanhInPlace(ops.Tanh):
    """tanh written into its input (a forward that must not be gradchecked as it is)."""

    @staticmethod
    def forward(ctx, x):
        y = np.tanh(x, out=x)
        ctx.save_for_backward(y)
        return y


def test_a_function_that_changes_its_input_in_place_is_named_not_called_a_kink():
    x = x64([0.5, -0.25, 1.5])
    before = x.data.copy()
    with pytest.raises(ValueError, match=r"fn changed input 0 \(shape \(3,\)\) in place"):
        gradcheck(lambda x: TanhInPlace.apply(x).sum(), [x])
    np.testing.assert_array_equal(x.data, before)  # put back
