"""Reductions, scans, arg-max/min, bmm, einsum and F.normalize: the edge cases the op table's
generic tests do not reach (degenerate sizes, zeros, ties, extreme inputs, error messages,
PyTorch's argument names), and the empty-contraction matmul regression."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tinygrad_rnn as tg
import tinygrad_rnn.nn.functional as F
from tinygrad_rnn import ops


@pytest.fixture
def strict_floats():
    """Overflow, invalid and divide-by-zero raise; warnings are errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            yield


def leaf(a, dtype=np.float64) -> tg.Tensor:
    return tg.Tensor(np.asarray(a, dtype=dtype), requires_grad=True)


def grad_of(fn, a, seed=None) -> np.ndarray:
    x = leaf(a)
    y = fn(x)
    y.backward(np.ones(y.shape) if seed is None else seed)
    return x.grad.data


def torch_grad(torch, fn, a, seed=None):
    x = torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)
    y = fn(x)
    y.backward(torch.ones_like(y) if seed is None else torch.from_numpy(seed))
    return y.detach().numpy(), x.grad.numpy()


# ----- var / std -----------------------------------------------------------------------------
X = np.array([[1.0, 2.0, 4.0], [0.5, -1.0, 3.0]])


@pytest.mark.parametrize("correction", [0, 1, 2, 0.5])
def test_var_and_std_match_numpy_for_each_correction(correction):
    np.testing.assert_allclose(tg.Tensor(X).var(axis=1, correction=correction).data,
                               np.var(X, axis=1, ddof=correction))
    np.testing.assert_allclose(tg.Tensor(X).std(correction=correction).data,
                               np.std(X, ddof=correction))


def test_var_and_std_torch_names_and_unbiased():
    t = tg.Tensor(X)
    np.testing.assert_allclose(t.var(dim=0, keepdim=True).data, np.var(X, 0, ddof=1, keepdims=True))
    np.testing.assert_allclose(tg.std(t, dim=1, correction=0).data, np.std(X, 1))
    np.testing.assert_allclose(t.var(1, unbiased=False).data, np.var(X, 1))
    np.testing.assert_allclose(tg.var(t, unbiased=True).data, np.var(X, ddof=1))
    with pytest.raises(TypeError, match="both axis= and dim="):
        t.var(axis=0, dim=0)
    with pytest.raises(TypeError, match="correction= and unbiased="):
        t.std(correction=0, unbiased=True)
    with pytest.raises(TypeError, match="correction must be a number"):
        t.var(correction="1")


def test_var_two_passes_keep_precision_on_a_large_offset():
    x = tg.Tensor(1e9 + np.array([0.0, 1.0, 2.0]))
    assert x.var().item() == 1.0


def test_var_float32_stays_float32():
    x = leaf(X, np.float32)
    y = x.var(axis=0)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize("values,correction,expected", [
    ([3.0], 1, np.nan),  # one element, Bessel's correction: 0 / 0
    ([1.0, 2.0], 2, np.inf),  # N == correction: m2 / 0
    ([1.0, 1.0], 2, np.nan),
    ([1.0, 2.0, 3.0], 4, np.inf),  # N < correction: the divisor is clamped at 0, as PyTorch
    ([], 1, np.nan),  # empty
])
def test_var_with_no_degrees_of_freedom_gives_nan_or_inf_like_pytorch(values, correction,
                                                                     expected):
    x = leaf(values)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from NumPy either
        y = x.var(correction=correction)
        np.testing.assert_array_equal(y.data, expected)
        y.backward()
    if values:  # and so is the gradient (PyTorch's own backward is not consistent there)
        assert not np.all(np.isfinite(x.grad.data))


def test_var_with_no_degrees_of_freedom_matches_torch_forward(torch):
    for values, c in [([3.0], 1), ([1.0, 2.0], 2), ([1.0, 1.0], 2), ([[1.0, 2.0]], 2)]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns that the dof is <= 0
            expected = torch.tensor(values, dtype=torch.float64).var(correction=c).numpy()
        np.testing.assert_array_equal(tg.Tensor(np.array(values)).var(correction=c).data,
                                      expected)


def test_std_of_a_constant_has_gradient_zero_like_pytorch(torch, strict_floats):
    x = np.array([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]])
    ours = grad_of(lambda t: t.std(axis=1), x)
    _, theirs = torch_grad(torch, lambda t: t.std(dim=1), x)
    np.testing.assert_array_equal(ours[0], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_var_std_match_torch_values_and_gradients(torch):
    seed = np.random.default_rng(3).standard_normal(2)
    for c in (0, 1):
        for name in ("var", "std"):
            out, g = torch_grad(torch, lambda t: getattr(t, name)(dim=1, correction=c), X, seed)
            ours = getattr(tg.Tensor(X), name)(axis=1, correction=c).data
            np.testing.assert_allclose(ours, out, rtol=1e-12)
            np.testing.assert_allclose(
                grad_of(lambda t: getattr(t, name)(axis=1, correction=c), X, seed), g,
                rtol=1e-12)


# ----- prod ----------------------------------------------------------------------------------
def test_prod_gradient_with_zeros_never_divides(strict_floats):
    x = np.array([[0.0, 2.0, 3.0],  # one zero: its gradient is the product of the others
                  [0.0, 5.0, 0.0],  # two zeros: every gradient is 0
                  [1.0, 2.0, 4.0]])
    g = grad_of(lambda t: t.prod(axis=1), x)
    np.testing.assert_array_equal(g, [[6.0, 0.0, 0.0], [0.0, 0.0, 0.0], [8.0, 4.0, 2.0]])
    g = grad_of(lambda t: t.prod(), np.array([2.0, 0.0, 3.0]))
    np.testing.assert_array_equal(g, [0.0, 6.0, 0.0])
    g = grad_of(lambda t: t.prod(axis=(0, 2), keepdims=True), np.zeros((2, 2, 2)))
    np.testing.assert_array_equal(g, np.zeros((2, 2, 2)))


def test_prod_with_zeros_matches_torch(torch):
    x = np.array([[0.0, 2.0, 3.0, -1.0], [0.0, 5.0, 0.0, 1.5], [1.0, 2.0, 4.0, 0.5]])
    seed = np.array([1.0, -2.0, 0.5])
    out, g = torch_grad(torch, lambda t: t.prod(dim=1), x, seed)
    np.testing.assert_array_equal(tg.Tensor(x).prod(dim=1).data, out)
    np.testing.assert_allclose(grad_of(lambda t: t.prod(axis=1), x, seed), g)
    np.testing.assert_allclose(grad_of(lambda t: tg.prod(t, dim=0, keepdim=True), x,
                                       np.ones((1, 4))),
                               torch_grad(torch, lambda t: t.prod(0, keepdim=True), x)[1])


def test_prod_of_empty_and_0d():
    e = leaf(np.zeros((2, 0)))
    y = e.prod(axis=1)
    np.testing.assert_array_equal(y.data, [1.0, 1.0])
    y.sum().backward()
    assert e.grad.shape == (2, 0)
    s = leaf(3.0)
    y = s.prod()
    y.backward()
    assert y.item() == 3.0 and s.grad.item() == 1.0


# ----- norm ----------------------------------------------------------------------------------
def test_norm_default_is_the_euclidean_norm_of_everything():
    x = np.array([[3.0, -4.0], [12.0, 0.0]])
    assert tg.Tensor(x).norm().item() == 13.0
    np.testing.assert_allclose(tg.norm(tg.Tensor(x), 1, dim=1, keepdim=True).data, [[7.0], [12.0]])
    np.testing.assert_allclose(grad_of(lambda t: t.norm(), x), x / 13.0)


@pytest.mark.parametrize("p", [2, 1, 3, 1.5, 0.5, np.inf, -np.inf, 0])
def test_norm_of_a_zero_vector_has_gradient_zero(strict_floats, p):
    x = leaf(np.zeros((2, 3)))
    y = x.norm(p, axis=1)
    np.testing.assert_array_equal(y.data, [0.0, 0.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.zeros((2, 3)))


@pytest.mark.parametrize("p", [2, 1, 3, 0.5, np.inf, -np.inf])
def test_norm_matches_torch_also_at_zeros_and_ties(torch, p):
    x = np.array([[3.0, -3.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0], [-1.0, 2.0, 1.0, 0.5]])
    if p == 0.5:
        x = x[[0, 2]] + np.array([0.0, 0.0, 0.0, 0.25])  # PyTorch's 0**(p-1) is inf there
    out, g = torch_grad(torch, lambda t: torch.linalg.vector_norm(t, ord=p, dim=1), x)
    np.testing.assert_allclose(tg.Tensor(x).norm(p, axis=1).data, out, rtol=1e-12)
    np.testing.assert_allclose(grad_of(lambda t: t.norm(p, axis=1), x), g, rtol=1e-12, atol=0)


def test_norm_inf_ties_share_the_gradient():
    g = grad_of(lambda t: t.norm(np.inf), np.array([3.0, -3.0, 1.0, 3.0]))
    np.testing.assert_allclose(g, np.array([1.0, -1.0, 0.0, 1.0]) / 3)


def test_norm_p0_counts_nonzeros_with_zero_gradient():
    x = np.array([0.0, 2.0, -1.0, 0.0])
    assert tg.Tensor(x).norm(0).item() == 2.0
    np.testing.assert_array_equal(grad_of(lambda t: t.norm(0), x), np.zeros(4))


def test_norm_general_p_rescales_so_it_neither_overflows_nor_underflows(strict_floats):
    for scale in (1e200, 1e-200):
        x = leaf(np.array([3.0, 4.0]) * scale)
        y = x.norm(3)
        np.testing.assert_allclose(y.item(), scale * 91.0 ** (1 / 3), rtol=1e-12)
        y.backward()
        np.testing.assert_allclose(x.grad.data, (np.array([3.0, 4.0]) / 91.0 ** (1 / 3)) ** 2,
                                   rtol=1e-12)


def test_norm_rejects_bad_p():
    t = tg.Tensor(X)
    with pytest.raises(ValueError, match="norm: p must be positive"):
        t.norm(-1)
    with pytest.raises(ValueError, match="norm: p must be positive"):
        t.norm(float("nan"))
    with pytest.raises(TypeError, match="norm: p must be a number"):
        t.norm("fro")


# ----- cumsum / logcumsumexp ---------------------------------------------------------------
def test_cumsum_values_gradient_and_aliases():
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(tg.Tensor(x).cumsum(1).data, np.cumsum(x, 1))
    np.testing.assert_array_equal(tg.cumsum(tg.Tensor(x), dim=-2).data, np.cumsum(x, 0))
    g = grad_of(lambda t: t.cumsum(axis=1), x, np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 1.0]]))
    np.testing.assert_array_equal(g, [[6.0, 5.0, 3.0], [1.0, 1.0, 1.0]])
    s = leaf(2.0)
    y = s.cumsum(0)  # a 0-d tensor takes axis 0 or -1, as in PyTorch
    y.backward()
    assert y.shape == () and y.item() == 2.0 and s.grad.item() == 1.0


def test_scans_reject_bad_axes():
    t = tg.Tensor(X)
    with pytest.raises(ValueError, match="cumsum: axis 2 is out of range"):
        t.cumsum(2)
    with pytest.raises(TypeError, match="logcumsumexp: axis must be one int"):
        t.logcumsumexp((0, 1))
    with pytest.raises(TypeError):
        t.cumsum()  # the axis is required, as PyTorch's dim


@pytest.mark.parametrize("scale", [1e4, -1e4])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logcumsumexp_is_stable_for_huge_inputs(strict_floats, scale, dtype):
    raw = np.array([1.0, 0.0, 1.0, -2.0, 3.0]) * scale
    x = leaf(raw, dtype)
    y = x.logcumsumexp(0)
    assert y.dtype == dtype
    m = np.maximum.accumulate(raw)  # the largest term dominates: y = running max (+ log 2 on ties)
    expected = m + np.log(np.array([np.sum(np.exp(raw[: i + 1] - m[i])) for i in range(5)]))
    np.testing.assert_allclose(y.data, expected.astype(dtype), rtol=1e-6)
    y.backward(np.array([1.0, -1.0, 2.0, 0.5, 1.0], dtype=dtype))
    assert np.all(np.isfinite(x.grad.data)) and x.grad.dtype == dtype


def test_logcumsumexp_gradient_matches_torch_with_mixed_signs(torch):
    raw = np.array([[0.3, -1.0, 2.0, 0.0], [50.0, -50.0, 49.0, 51.0]])
    seed = np.array([[1.0, -2.0, 0.5, 3.0], [-1.0, 1.0, 2.0, -0.5]])
    out, g = torch_grad(torch, lambda t: t.logcumsumexp(1), raw, seed)
    np.testing.assert_allclose(tg.Tensor(raw).logcumsumexp(dim=1).data, out, rtol=1e-12)
    np.testing.assert_allclose(grad_of(lambda t: tg.logcumsumexp(t, 1), raw, seed), g,
                               rtol=1e-9, atol=1e-12)


# ----- argmax / argmin ------------------------------------------------------------------------
def test_argmax_argmin_ties_give_the_first_occurrence():
    x = tg.Tensor(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]), requires_grad=True)
    i = x.argmax(axis=1)
    assert i.dtype == np.int64 and not i.requires_grad and i._ctx is None
    np.testing.assert_array_equal(i.data, [1, 0])
    np.testing.assert_array_equal(x.argmin(dim=1).data, [0, 0])
    assert tg.argmax(x).item() == 1  # of the flattened tensor
    assert tg.argmin(x).item() == 0


def test_argmax_shapes_and_ties_match_torch(torch):
    x = np.array([[[1.0, 5.0], [5.0, 0.0]], [[np.nan, 1.0], [2.0, np.nan]],
                  [[0.0, 0.0], [0.0, 0.0]]])
    tx = torch.from_numpy(x)
    for axis in (None, 0, 1, 2, -1):
        for keepdims in (False, True):
            for name in ("argmax", "argmin"):
                ours = getattr(tg.Tensor(x), name)(axis, keepdims=keepdims)
                theirs = getattr(tx, name)(dim=axis, keepdim=keepdims)
                assert ours.shape == tuple(theirs.shape), (name, axis, keepdims)
                np.testing.assert_array_equal(ours.data, theirs.numpy())
    assert tg.Tensor(np.array(4.0)).argmax(0).item() == torch.tensor(4.0).argmax(0).item() == 0


def test_argmax_errors():
    t = tg.Tensor(X)
    with pytest.raises(TypeError, match="argmax: axis must be None or one int"):
        t.argmax((0, 1))
    with pytest.raises(ValueError, match="argmin: axis 5 is out of range"):
        t.argmin(5)
    with pytest.raises(ValueError, match="argmax: the tensor of shape \\(0, 3\\) is empty"):
        tg.Tensor(np.zeros((0, 3))).argmax()
    with pytest.raises(ValueError, match="argmin: axis 0 of the tensor of shape \\(0, 3\\)"):
        tg.Tensor(np.zeros((0, 3))).argmin(0)
    assert tg.Tensor(np.zeros((0, 3))).argmax(1).shape == (0,)  # nothing to point to: fine


# ----- bmm -------------------------------------------------------------------------------------
def test_bmm_values_gradients_and_errors():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4, 5))
    ta, tb = leaf(a), leaf(b)
    y = tg.bmm(ta, tb)
    np.testing.assert_allclose(y.data, a @ b)
    y.backward(np.ones((2, 3, 5)))
    np.testing.assert_allclose(ta.grad.data, np.ones((2, 3, 5)) @ np.swapaxes(b, 1, 2))
    with pytest.raises(ValueError, match=r"bmm: both operands must be 3-D .* \(3, 4\) and "):
        tg.Tensor(a[0]).bmm(tg.Tensor(b))
    with pytest.raises(ValueError, match=r"bmm: batch sizes differ: shapes \(2, 3, 4\) and "
                                         r"\(1, 4, 5\)"):
        tg.Tensor(a).bmm(tg.Tensor(b[:1]))
    with pytest.raises(ValueError, match=r"bmm: shapes \(2, 3, 4\) and \(2, 3, 5\) do not "
                                         r"match: 4 .* != 3"):
        tg.Tensor(a).bmm(tg.Tensor(rng.standard_normal((2, 3, 5))))


# ----- einsum ---------------------------------------------------------------------------------
# (subscripts, operand shapes): the forms of the brief and a few more, all against torch.einsum
EINSUM_CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]),
    ("i,i->", [(4,), (4,)]),
    ("i,i", [(4,), (4,)]),
    ("ij->ji", [(2, 3)]),
    ("ij->", [(2, 3)]),
    ("i,j->ij", [(2,), (3,)]),
    ("...ij,...jk->...ik", [(2, 1, 2, 3), (3, 3, 2)]),
    ("...ij->ij", [(4, 2, 3)]),  # '...' missing from the output is summed, as PyTorch does
    ("i...->...", [(2, 3, 4)]),
    ("...", [(2, 3)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("iij->ji", [(2, 2, 3)]),
    ("ii,i->i", [(3, 3), (3,)]),
    ("ij,k->i", [(2, 3), (4,)]),  # j and k each summed in one operand only
    ("ij,kj", [(2, 3), (4, 3)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("ij,ij->ij", [(1, 3), (2, 3)]),  # a labelled axis of size 1 broadcasts
    ("bA,Ab", [(2, 3), (3, 2)]),  # upper case sorts before lower case in the implicit output
    (" i j , j k -> i k ", [(2, 3), (3, 2)]),
    ("ij,jk->ik", [(2, 0), (0, 3)]),  # an empty contraction gives zeros
]


@pytest.mark.parametrize("subscripts,shapes", EINSUM_CASES, ids=[c[0] for c in EINSUM_CASES])
def test_einsum_matches_torch_values_and_gradients(torch, subscripts, shapes):
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal(s) for s in shapes]
    ours = [leaf(x) for x in xs]
    theirs = [torch.tensor(x, requires_grad=True) for x in xs]
    y, ty = tg.einsum(subscripts, *ours), torch.einsum(subscripts, *theirs)
    assert y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    seed = rng.standard_normal(y.shape)
    y.backward(seed)
    ty.backward(torch.from_numpy(seed))
    for k, (a, b) in enumerate(zip(ours, theirs)):
        assert a.grad.shape == a.shape
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=1e-12, atol=1e-12,
                                   err_msg=f"gradient of operand {k}")


@pytest.mark.parametrize("subscripts,shapes", EINSUM_CASES[:-1],
                         ids=[c[0] for c in EINSUM_CASES[:-1]])
def test_einsum_gradcheck(subscripts, shapes):
    rng = np.random.default_rng(2)
    xs = [leaf(rng.standard_normal(s)) for s in shapes]
    assert tg.gradcheck(lambda *ts: tg.einsum(subscripts, *ts), xs)


def test_einsum_gradient_of_a_diagonal_lands_on_the_diagonal():
    g = grad_of(lambda t: tg.einsum("ii->i", t), np.arange(9.0).reshape(3, 3),
                np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(g, np.diag([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(grad_of(lambda t: tg.einsum("ii", t), np.ones((2, 2))),
                                  np.eye(2))


def test_einsum_index_in_one_operand_only_broadcasts_its_gradient():
    a, b = leaf(np.ones((2, 3))), leaf(np.array([1.0, 2.0]))
    tg.einsum("ij,k->i", a, b).backward(np.array([1.0, 10.0]))
    np.testing.assert_array_equal(a.grad.data, [[3.0] * 3, [30.0] * 3])
    np.testing.assert_array_equal(b.grad.data, [33.0, 33.0])


def test_einsum_same_tensor_twice_accumulates_and_float32_stays_float32():
    x = leaf([1.0, 2.0, 3.0], np.float32)
    y = tg.einsum("i,i->", x, x)
    assert y.dtype == np.float32 and y.item() == 14.0
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0, 6.0])


def test_einsum_operands_as_one_list_or_arrays_and_result_owns_its_data():
    a = np.arange(6.0).reshape(2, 3)
    y = tg.einsum("ij->ji", [a])
    np.testing.assert_array_equal(y.data, a.T)
    assert not np.shares_memory(y.data, a)
    np.testing.assert_array_equal(tg.einsum("ij,j", a, np.ones(3)).data, a.sum(1))


@pytest.mark.parametrize("args,error,message", [
    (("ij,jk->ik", (2, 3)), ValueError, r"einsum: subscripts 'ij,jk->ik' name 2 operand\(s\), "
                                        r"got 1 tensor\(s\)"),
    (("ijk", (2, 3)), ValueError, r"einsum: operand 0 has shape \(2, 3\) \(2 dimensions\) but "
                                  r"its subscript 'ijk' names 3"),
    (("ij,jk", (2, 3), (4, 2)), ValueError, r"einsum: index 'j' has size 3 in one operand and "
                                            r"4 in operand 1 \(shape \(4, 2\)\)"),
    (("...i,...i", (2, 3), (3, 3)), ValueError, r"a dimension under '...' has size 2 .* 3"),
    (("ij->ii", (2, 2)), ValueError, r"output subscript 'ii' repeats an index"),
    (("ij->ik", (2, 2)), ValueError, r"output index 'k' appears in no operand"),
    (("ii->i", (2, 3)), ValueError, r"index 'i' is repeated in operand 0 \(shape \(2, 3\)\) "
                                    r"with different sizes 2 and 3"),
    (("i1->i", (2, 3)), ValueError, r"invalid character '1'"),
    (("i->i->i", (2,)), ValueError, r"'->' at most once"),
    (("..i->i", (2,)), ValueError, r"'\.' may appear only as one '\.\.\.'"),
    (("......", (2,)), ValueError, r"'\.' may appear only as one '\.\.\.'"),
    ((["i"], (2,)), TypeError, r"einsum: subscripts must be a string"),
])
def test_einsum_errors_name_what_is_wrong(args, error, message):
    subscripts, *shapes = args
    with pytest.raises(error, match=message):
        tg.einsum(subscripts, *[tg.Tensor(np.ones(s)) for s in shapes])


def test_einsum_needs_a_tensor():
    with pytest.raises(ValueError, match="einsum: needs at least one tensor"):
        tg.einsum("ij")


# ----- an empty contraction axis: zeros, like NumPy (regression) --------------------------------
@pytest.mark.parametrize("sa,sb", [((2, 0), (0, 3)), ((4, 2, 0), (0, 3)), ((2, 3), (3, 0)),
                                   ((4, 2, 3), (3, 0)), ((3, 2, 0), (3, 0, 4)), ((2, 0), (0,))])
def test_matmul_with_an_empty_axis_gives_numpy_zeros(sa, sb):
    a, b = leaf(np.ones(sa)), leaf(np.ones(sb))
    y = a @ b
    expected = np.ones(sa) @ np.ones(sb)
    assert y.shape == expected.shape
    np.testing.assert_array_equal(y.data, expected)
    y.backward(np.ones(y.shape))
    assert a.grad.shape == sa and b.grad.shape == sb
    assert not a.grad.data.any() and not b.grad.data.any()


@pytest.mark.parametrize("sx,sw", [((2, 5, 0), (3, 0)), ((2, 0), (3, 0)), ((2, 5, 3), (0, 3))])
def test_linear_with_zero_in_or_out_features(sx, sw):
    x, w, b = leaf(np.ones(sx)), leaf(np.ones(sw)), leaf(np.arange(sw[0], dtype=np.float64))
    y = ops.Linear.apply(x, w, b)
    np.testing.assert_array_equal(y.data, np.ones(sx) @ np.ones(sw).T + np.arange(sw[0]))
    y.backward(np.ones(y.shape))
    assert x.grad.shape == sx and w.grad.shape == sw
    assert not x.grad.data.any() and not w.grad.data.any()
    np.testing.assert_array_equal(b.grad.data, np.full(sw[0], np.prod(sx[:-1])))


# ----- F.normalize ------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [{}, {"p": 1.0, "dim": 0}, {"p": 3, "axis": -1},
                                    {"p": np.inf, "axis": 1, "eps": 0.5}])
def test_normalize_matches_torch_also_for_a_zero_row(torch, kwargs):
    x = np.array([[3.0, -4.0, 1.0], [0.0, 0.0, 0.0], [0.1, 0.2, -0.3]])
    theirs_kw = {("dim" if k == "axis" else k): v for k, v in kwargs.items()}
    seed = np.random.default_rng(0).standard_normal(x.shape)
    out, g = torch_grad(torch, lambda t: torch.nn.functional.normalize(t, **theirs_kw), x, seed)
    t = leaf(x)
    y = F.normalize(t, **kwargs)
    np.testing.assert_allclose(y.data, out, rtol=1e-12)
    y.backward(seed)
    np.testing.assert_allclose(t.grad.data, g, rtol=1e-9)


def test_normalize_scales_to_unit_norm_and_checks_arguments():
    y = F.normalize(tg.Tensor(np.array([[3.0, 4.0], [1.0, 0.0]])))
    np.testing.assert_allclose(y.data, [[0.6, 0.8], [1.0, 0.0]])
    with pytest.raises(ValueError, match="normalize: eps must be .*got -1.0"):
        F.normalize(tg.Tensor(X), eps=-1.0)
    with pytest.raises(TypeError, match="both axis= and dim="):
        F.normalize(tg.Tensor(X), axis=0, dim=0)
    with pytest.raises(ValueError, match="axis 1 is out of range"):
        F.normalize(tg.Tensor(np.ones(3)))  # PyTorch's default dim=1 needs 2 dimensions


def test_edge_cases_as_pytorch(torch):
    """Found by a review against PyTorch: a softmax over an empty axis is empty, a p-norm with
    an infinite entry is inf (the rescaling by the largest entry gave inf / inf), and the
    exponent's gradient of 0 ** b for b < 0 is -inf (it was taken as 0 for every a == 0)."""
    for fn in ("softmax", "log_softmax"):
        y = getattr(tg.Tensor(np.zeros((2, 0))), fn)(-1)
        assert y.shape == (2, 0) == tuple(getattr(torch.zeros(2, 0), fn)(-1).shape)
    for p in (0.5, 3.0):
        ours = tg.Tensor(np.array([np.inf, 1.0])).norm(p).data
        assert ours == float(torch.tensor([np.inf, 1.0], dtype=torch.float64).norm(p)) == np.inf
    a = tg.Tensor(np.array([0.0, 0.0, 2.0]), requires_grad=True)
    b = tg.Tensor(np.array([-1.0, 2.0, 3.0]), requires_grad=True)
    ta, tb = (torch.tensor(t.data, requires_grad=True) for t in (a, b))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # 0 ** -1 = inf, as torch
        (a ** b).sum().backward()
    (ta ** tb).sum().backward()
    np.testing.assert_array_equal(b.grad.data, tb.grad.numpy())
    np.testing.assert_array_equal(a.grad.data, ta.grad.numpy())


@pytest.mark.parametrize("which", ["max", "min"])
def test_a_nan_extreme_over_all_axes_sends_its_gradient_to_the_nans_as_pytorch(torch, which):
    data = np.array([[1.0, np.nan], [2.0, np.nan]])
    x = tg.Tensor(data, requires_grad=True)
    getattr(x, which)().backward()
    tx = torch.tensor(data, requires_grad=True)
    getattr(tx, which)().backward()
    np.testing.assert_array_equal(x.grad.data, tx.grad.numpy())  # [[0, .5], [0, .5]]


def test_sum_dtypes_as_pytorch(torch):
    for dtype in ("bool", "uint8", "uint16", "int8", "int32", "int64", "float16", "float32"):
        x = np.array([1, 0, 1, 1]).astype(dtype)
        ours, theirs = tg.Tensor(x).sum(), torch.from_numpy(x).sum()
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", ""), dtype
        assert ours.item() == theirs.item()
    x = np.array([1.5, 2.5], np.float32)
    ours = tg.Tensor(x).sum(dtype=np.float64)
    assert ours.dtype == np.float64 and ours.item() == 4.0
    assert tg.Tensor(np.array([200, 100], np.uint8)).sum(dim=0).item() == 300  # (no wrap)


def test_float16_mean_sums_in_float32_as_pytorch(torch):
    x = np.array([60000.0, 60000.0], np.float16)
    t = tg.Tensor(x, requires_grad=True)
    m = t.mean()
    assert m.dtype == np.float16 and m.item() == torch.from_numpy(x).mean().item() == 60000.0
    m.backward()
    assert t.grad.dtype == np.float16
    np.testing.assert_array_equal(t.grad.data, [0.5, 0.5])


def test_an_empty_list_index_selects_nothing_as_numpy():
    t = tg.Tensor(np.ones((2, 3)))
    assert t[[]].shape == (0, 3) == np.ones((2, 3))[[]].shape


@pytest.mark.parametrize("p", [2, float("inf"), -float("inf"), 1, 3, 0.5])
def test_norm_gradient_at_nan_and_zero_vectors_as_pytorch(torch, p):
    for x in (np.array([np.nan, 1.0, -2.0]), np.zeros(2), np.array([0.0, 0.0, 1.0]),
              np.array([3.0, -4.0])):
        ours = tg.Tensor(x, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            ours.norm(p).backward()
        theirs = torch.tensor(x, requires_grad=True)
        torch.linalg.vector_norm(theirs, p).backward()
        np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), equal_nan=True,
                                   err_msg=f"p={p} x={x}")
