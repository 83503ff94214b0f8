"""PyTorch names that code written for torch reaches for: each against torch itself (the op
table in tinygrad_rnn/testing/op_db checks their gradients against finite differences)."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn
from tinygrad_rnn.nn import functional as F


def _leaf(x):
    return Tensor(np.array(x, dtype=np.float64), requires_grad=True)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape,pad", [((2, 3, 5), (2, 1)), ((1, 2, 4, 5), (1, 2, 3, 0)),
                                       ((1, 1, 3, 3, 4), (1, 1, 2, 0, 1, 2)),
                                       ((2, 3, 5), (-1, 2)), ((2, 3, 5), (1, -2)),
                                       ((1, 2, 4, 5), (-1, 1, 2, -1)),  # (negative: crop)
                                       ((2, 3, 5), (-3, 2))])  # (reflect reaches the crop)
def test_pad_modes_match_torch_values_and_gradients(torch, mode, shape, pad):
    x = np.random.default_rng(0).standard_normal(shape)
    ours, theirs = _leaf(x), torch.tensor(x, requires_grad=True)
    out, tout = F.pad(ours, pad, mode=mode), torch.nn.functional.pad(theirs, pad, mode=mode)
    g = np.random.default_rng(1).standard_normal(tuple(tout.shape))
    np.testing.assert_array_equal(out.data, tout.detach().numpy())
    out.backward(g)
    tout.backward(torch.from_numpy(g))
    np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert F.pad(ours, pad, mode).shape == out.shape  # PyTorch's positional mode


def test_pad_modes_refuse_widths_they_cannot_fill():
    x = Tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="mode 'reflect' pads axis 1 of size 3 by at most 2"):
        F.pad(x, (3, 0), mode="reflect")
    with pytest.raises(ValueError, match=r"size 3 \(after cropping: 0\)"):
        F.pad(x, (-2, -1), mode="replicate")


def test_pad_takes_torchs_positional_mode_and_value_and_value_none(torch):
    x = np.arange(6.0).reshape(2, 3)
    theirs = torch.nn.functional.pad(torch.tensor(x), (1, 1), "constant", 2.0).numpy()
    np.testing.assert_array_equal(F.pad(Tensor(x), (1, 1), "constant", 2.0).data, theirs)
    np.testing.assert_array_equal(F.pad(Tensor(x), (1, 1), value=None).data,
                                  torch.nn.functional.pad(torch.tensor(x), (1, 1), value=None))
    with pytest.raises(TypeError, match="a fourth positional argument is the value"):
        F.pad(Tensor(x), (1, 1), 0.0, 2.0)


@pytest.mark.parametrize("descending", [False, True])
def test_sort_and_topk_give_torchs_values_indices_and_gradients(torch, descending):
    x = np.array([[3.0, np.nan, 1.0, 3.0, np.inf, -2.0], [0.0, -1.0, 2.0, 2.0, 5.0, 2.0]])
    v, i = tg.sort(_leaf(x), dim=1, descending=descending)
    tv, ti = torch.from_numpy(x).sort(dim=1, descending=descending, stable=True)
    np.testing.assert_array_equal(v.data, tv.numpy())
    np.testing.assert_array_equal(i.data, ti.numpy())
    assert i.dtype == np.int64
    finite = np.array([[3.0, 0.5, 1.0, 3.5, 4.0, -2.0], [0.0, -1.0, 2.0, 2.5, 5.0, 1.5]])  # (no
    # ties: which of equal values torch.topk takes is not specified)
    for largest in (True, False):
        ours = _leaf(finite)
        theirs = torch.tensor(finite, requires_grad=True)
        out = ours.topk(3, axis=1, largest=largest)
        tout = theirs.topk(3, dim=1, largest=largest)
        np.testing.assert_array_equal(out.values.data, tout.values.detach().numpy())
        g = np.arange(6.0).reshape(2, 3)
        out.values.backward(g)
        tout.values.backward(torch.from_numpy(g))
        np.testing.assert_array_equal(ours.grad.data, theirs.grad.numpy())
    with pytest.raises(ValueError, match="k=7 is more than the 6 entries"):
        Tensor(x).topk(7)


def test_binary_cross_entropy_with_logits_module_keeps_weights_as_buffers(torch):
    pw = np.array([1.0, 2.0, 3.0])
    ours = nn.BCEWithLogitsLoss(pos_weight=pw, reduction="sum")
    theirs = torch.nn.BCEWithLogitsLoss(pos_weight=torch.from_numpy(pw), reduction="sum")
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["pos_weight"]
    x, t = np.random.default_rng(0).standard_normal((4, 3)), np.full((4, 3), 0.3)
    assert ours(Tensor(x), Tensor(t)).item() == pytest.approx(
        theirs(torch.from_numpy(x), torch.from_numpy(t)).item(), rel=1e-12)
    assert nn.BCEWithLogitsLoss("sum").reduction == "sum"  # (the earlier positional order)


def test_cross_entropy_with_probabilities_gives_the_target_its_gradient(torch):
    rng = np.random.default_rng(0)
    x, p = rng.standard_normal((3, 4)), rng.dirichlet(np.ones(4), 3)
    ox, op = _leaf(x), _leaf(p)
    tx, tp = torch.tensor(x, requires_grad=True), torch.tensor(p, requires_grad=True)
    F.cross_entropy(ox, op, label_smoothing=0.1).backward()
    torch.nn.functional.cross_entropy(tx, tp, label_smoothing=0.1).backward()
    np.testing.assert_allclose(op.grad.data, tp.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ox.grad.data, tx.grad.numpy(), rtol=1e-12)
    with pytest.raises(TypeError, match="integer class indices"):  # (nor probabilities)
        F.cross_entropy(ox, p[:, :2])


def test_spellings_of_shape_and_dtype(torch):
    x = np.arange(24.0).reshape(2, 3, 4)
    t, tt = Tensor(x), torch.from_numpy(x)
    np.testing.assert_array_equal(t.mT.data, tt.mT.numpy())
    assert t.permute(dims=(2, 0, 1)).shape == tuple(tt.permute(dims=(2, 0, 1)).shape)
    np.testing.assert_array_equal(t.flip(dims=(0, 2)).data, tt.flip(dims=(0, 2)).numpy())
    for name in ("int", "bool", "half", "long"):
        assert str(getattr(t, name)().dtype) == str(getattr(tt, name)().dtype).replace("torch.", "")
    c = t.mT.contiguous()
    assert c.data.flags.c_contiguous and t.contiguous() is t
    np.testing.assert_array_equal(t.amax(dim=(0, 2)).data, tt.amax(dim=(0, 2)).numpy())
    np.testing.assert_array_equal(t.amin(dim=1, keepdim=True).data,
                                  tt.amin(dim=1, keepdim=True).numpy())
    np.testing.assert_array_equal(Tensor(np.array([True, False])).sign().data,
                                  torch.tensor([True, False]).sign().numpy())


def test_cumprod_matches_torch_with_zeros(torch):
    x = np.array([[2.0, 0.0, 3.0, 0.0, 1.5], [0.5, -1.0, 2.0, 4.0, 0.0]])
    ours, theirs = _leaf(x), torch.tensor(x, requires_grad=True)
    out, tout = ours.cumprod(dim=1), theirs.cumprod(dim=1)
    np.testing.assert_array_equal(out.data, tout.detach().numpy())
    g = np.arange(10.0).reshape(2, 5)
    out.backward(g)
    tout.backward(torch.from_numpy(g))
    np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-12)


def test_masked_fill_in_place_casts_as_torch(torch):
    for data, value in ((np.arange(4.0), 7.5), (np.arange(4), 2.7)):
        t, tt = Tensor(data.copy()), torch.from_numpy(data.copy())
        mask = np.array([True, False, False, True])
        assert t.masked_fill_(mask, value) is t
        tt.masked_fill_(torch.from_numpy(mask), value)
        np.testing.assert_array_equal(t.data, tt.numpy())
    p = Tensor(np.zeros(2), requires_grad=True)
    with pytest.raises(RuntimeError, match="masked_fill_: a leaf tensor that requires grad"):
        p.masked_fill_(np.array([True, False]), 1.0)


def test_module_conveniences(torch):
    w = np.arange(6.0, dtype=np.float32).reshape(3, 2)
    e = nn.Embedding.from_pretrained(w)
    te = torch.nn.Embedding.from_pretrained(torch.from_numpy(w))
    assert e.weight.requires_grad == te.weight.requires_grad is False
    np.testing.assert_array_equal(e(np.array([2, 0])).data, te(torch.tensor([2, 0])).numpy())
    assert nn.Embedding.from_pretrained(w, freeze=False, padding_idx=1).weight.requires_grad
    m = nn.ModuleList([nn.Linear(1, 1), nn.Linear(2, 2)])
    m.insert(1, nn.Linear(3, 3))
    m.insert(-1, nn.Linear(4, 4))
    assert [layer.in_features for layer in m] == [1, 3, 4, 2]
    assert list(m.state_dict())[:4] == ["0.weight", "0.bias", "1.weight", "1.bias"]
    frozen = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1)).requires_grad_(False)
    assert not any(p.requires_grad for p in frozen.parameters())


def test_descending_sort_of_extreme_integers_as_torch(torch):
    for x in (np.array([np.iinfo(np.int64).min, 0, 5, 5, -3], dtype=np.int64),
              np.array([True, False, True])):
        v, i = Tensor(x).sort(descending=True)
        tv, ti = torch.from_numpy(x).sort(descending=True, stable=True)
        np.testing.assert_array_equal(v.data, tv.numpy())
        np.testing.assert_array_equal(i.data, ti.numpy())
    u = np.array([1, 2 ** 63 + 5, 3], dtype=np.uint64)  # (torch has no such uint64 sort)
    np.testing.assert_array_equal(Tensor(u).sort(descending=True).values.data,
                                  [2 ** 63 + 5, 3, 1])
    assert Tensor(np.float32(3)).topk(0).values.shape == (0,)


def test_integer_sums_and_products_accumulate_in_int64_as_torch(torch):
    for x in (np.array([200, 100], np.uint8), np.array([True, True]), np.array([3, 4], np.int8)):
        for name, args in (("sum", ()), ("prod", ()), ("cumsum", (0,)), ("cumprod", (0,))):
            ours = getattr(Tensor(x), name)(*args)
            theirs = getattr(torch.from_numpy(x), name)(*args)
            assert str(ours.dtype) == str(theirs.dtype).replace("torch.", ""), (x.dtype, name)
            np.testing.assert_array_equal(ours.data, theirs.numpy())


def test_masked_fill_refuses_a_value_the_dtype_cannot_hold(torch):
    mask = np.array([True, False])
    for data, value in ((np.array([1, 2]), float("inf")), (np.array([1, 2]), float("nan")),
                        (np.array([1.0, 2.0], np.float32), 1e300),
                        (np.array([1, 2], np.uint8), 300)):
        with pytest.raises(RuntimeError):
            torch.from_numpy(data).masked_fill(torch.from_numpy(mask), value)
        with pytest.raises(ValueError, match="cannot be converted to .* without overflow"):
            Tensor(data).masked_fill(mask, value)
        with pytest.raises(ValueError, match="cannot be converted"):
            Tensor(data.copy()).masked_fill_(mask, value)
    assert Tensor(np.array([1.0], np.float32)).masked_fill(np.array([True]), float("inf")) \
        .data[0] == np.inf  # (an infinity is a float32 value)


def test_more_spellings(torch):
    x = np.array([[1, 5, 9], [0, 2, 7]])
    _ = torch  # (the module functions and bounds as torch takes them)
    assert Tensor(x).clip(Tensor(2.5), 7).dtype == np.float32  # a 0-d bound: its value
    with pytest.raises(TypeError, match="for elementwise bounds use maximum / minimum"):
        Tensor(x).clip(Tensor(np.ones(3)), None)
    f = Tensor(x.astype(np.float64))
    np.testing.assert_array_equal(tg.amax(f, dim=1).data, [9.0, 7.0])
    np.testing.assert_array_equal(tg.amin(f, 0).data, [0.0, 2.0, 7.0])
    assert f.amax(axis=()).item() == 9.0  # PyTorch: () is every axis
    with pytest.raises(ValueError, match="mode 'reflect' takes no value"):
        F.pad(f, (1, 1), value=2.0, mode="reflect")


def test_loss_weights_that_require_grad_are_refused():
    x, t = Tensor(np.zeros((2, 3))), Tensor(np.full((2, 3), 0.5))
    w = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(TypeError, match=r"cross_entropy: weight requires grad.*weight\.detach\(\)"):
        F.cross_entropy(x, np.array([0, 1]), weight=w)
    with pytest.raises(TypeError, match="pos_weight requires grad"):
        F.binary_cross_entropy_with_logits(x, t, pos_weight=w)
    with pytest.raises(ValueError, match=r"weight of shape \(2,\) does not broadcast"):
        F.binary_cross_entropy_with_logits(x, t, weight=np.ones(2))


def test_creation_functions_take_torchs_argument_forms(torch):
    assert tg.randint(5, (3,)).shape == tuple(torch.randint(5, (3,)).shape)
    assert tg.randint(0, 5, size=(2, 2)).shape == (2, 2) and tg.randint(5, (3,)).dtype == np.int64
    assert tg.randint(3, 9, (50,)).data.min() >= 3
    for make in (lambda: tg.randn(4, dtype=np.int64), lambda: tg.rand(4, dtype=bool)):
        with pytest.raises(TypeError, match="dtype must be floating, got .*; for integers use "
                                            "randint"):
            make()
    with pytest.raises(ValueError, match="arange: step must be nonzero"):
        tg.arange(0, 5, 0)


def test_grad_modes_as_decorators_and_reusable_contexts_as_torch():
    x = Tensor(np.ones(1), requires_grad=True)

    @tg.no_grad
    def bare(t):
        return t * 2

    @tg.no_grad()
    def generator(t):
        yield t * 2
        yield t * 3

    assert not bare(x).requires_grad
    assert [y.requires_grad for y in generator(x)] == [False, False]
    assert (x * 2).requires_grad  # (the mode ends with each resumption)
    mode = tg.no_grad()
    with mode:
        with mode:
            assert not (x * 2).requires_grad
        assert not (x * 2).requires_grad
    with mode:  # reusable
        with tg.enable_grad():
            assert (x * 2).requires_grad
    tg.set_grad_enabled(False)
    assert not tg.is_grad_enabled()
    tg.set_grad_enabled(True)
    with tg.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert tg.is_grad_enabled()


def test_grad_assignment_is_checked_as_torch(torch):
    w = Tensor(np.ones(2), requires_grad=True)
    tw = torch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError):
        tw.grad = torch.ones(1)
    with pytest.raises(ValueError, match=r"grad of shape \(1,\) does not fit this tensor of "
                                         r"shape \(2,\)"):
        w.grad = Tensor(np.ones(1))
    with pytest.raises(TypeError, match="grad must be a Tensor or None, got ndarray"):
        w.grad = np.ones(2)
    w.grad = Tensor(np.ones(2))
    (w * 2).sum().backward()
    np.testing.assert_array_equal(w.grad.data, [3.0, 3.0])


def test_set_grad_enabled_as_function_context_and_decorator_as_torch(torch):
    @tg.set_grad_enabled(False)
    def ours():
        return tg.is_grad_enabled()

    @torch.set_grad_enabled(False)
    def theirs():
        return torch.is_grad_enabled()

    assert tg.is_grad_enabled() and (ours(), theirs()) == (False, False) and tg.is_grad_enabled()
    mode = tg.set_grad_enabled(False)
    tg.set_grad_enabled(True)
    for _ in range(2):  # reusable: each block sets the mode and restores it
        with mode:
            assert not tg.is_grad_enabled()
        assert tg.is_grad_enabled()
    with pytest.raises(TypeError, match="mode must be a bool"):
        tg.set_grad_enabled(1)


def test_a_decorated_generator_throws_and_closes_inside_the_mode():
    log = []

    @tg.no_grad()
    def gen():
        try:
            yield 1
        except ValueError:
            yield 2
        finally:
            log.append(tg.is_grad_enabled())

    it = gen()
    assert next(it) == 1 and it.throw(ValueError()) == 2
    it.close()
    assert log == [False] and tg.is_grad_enabled()


def test_small_forms_as_torch(torch):
    from tinygrad_rnn.nn.minimal import IndRNNCell, MinGRUCell
    assert repr(IndRNNCell(3, 4)) == "IndRNNCell(3, 4)"
    assert repr(MinGRUCell(3, 4, bias=False)) == "MinGRUCell(3, 4, bias=False)"
    t = Tensor(np.ones(2), requires_grad=True)
    (t * 2).sum().backward()
    del t.grad
    assert t.grad is None
    np.testing.assert_array_equal(tg.arange(5, step=2).data, np.arange(0, 5, 2))  # (NumPy's)
    with pytest.raises(TypeError, match="shape twice"):
        tg.randint(0, 5, (2,), size=(3,))
    with pytest.raises(TypeError, match="pass dtype= by keyword"):
        tg.randint(5, (3,), np.int32)
    x = np.array([np.nan, 0.0, 1.0])
    for p in (3.0, 0.5):
        ours, theirs = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ours.norm(p).backward()
        torch.linalg.vector_norm(theirs, p).backward()
        np.testing.assert_array_equal(ours.grad.data, theirs.grad.numpy())


def test_a_scalar_boolean_beside_an_index_array_is_not_hoisted():
    xs = np.random.default_rng(0).standard_normal((6, 3, 4, 2))
    idx = (np.array([0, 2]), slice(None), slice(None), True)
    outs = [tg.scan(lambda x_t, s: x_t[idx] * 1.0, Tensor(xs), None, compiled=c)[0].data
            for c in (True, False)]
    np.testing.assert_array_equal(outs[0], outs[1])


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int64, bool])
def test_an_integer_tensor_to_a_negative_integer_power_is_refused_as_in_torch(torch, dtype):
    with pytest.raises(RuntimeError, match="negative integer powers"):
        torch.ones(2, dtype=getattr(torch, np.dtype(dtype).name)) ** -3
    with pytest.raises(ValueError, match=r"integer tensor .* negative integer power \(-3\)"):
        tg.Tensor(np.array([1, 2], dtype)) ** -3  # uint8 wrapped -3 to 253 before
    np.testing.assert_array_equal((tg.Tensor(np.array([1, 2], np.uint8)) ** 2).data, [1, 4])


def test_binary_cross_entropy_target_gradient_at_the_ends_is_torchs(torch):
    x, t = np.array([0.0, 1.0, 0.3]), np.array([1.0, 0.0, 0.5])
    ours_t = tg.Tensor(t, requires_grad=True)
    F.binary_cross_entropy(tg.Tensor(x), ours_t, reduction="sum").backward()
    theirs_t = torch.tensor(t, requires_grad=True)
    torch.nn.functional.binary_cross_entropy(torch.tensor(x), theirs_t,
                                             reduction="sum").backward()
    np.testing.assert_allclose(ours_t.grad.data, theirs_t.grad.numpy(), rtol=1e-14)  # inf, -inf


@pytest.mark.parametrize("name", ["sum", "mean", "var", "std", "norm"])
def test_dim_empty_reduces_every_axis_as_torch_and_axis_empty_none_as_numpy(torch, name):
    x = np.arange(6.0).reshape(2, 3)
    ours = getattr(tg.Tensor(x), name)(dim=())
    theirs = getattr(torch.tensor(x), name)(dim=())
    assert ours.shape == tuple(theirs.shape) == ()
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-12)
    assert getattr(tg, name)(tg.Tensor(x), dim=[]).shape == ()
    if name == "sum":  # NumPy's axis=() reduces nothing
        assert tg.Tensor(x).sum(axis=()).shape == np.sum(x, axis=()).shape == (2, 3)


def test_dtype_of_softmax_log_softmax_mean_cumsum_and_tuple_axes_of_any_all_as_torch(torch):
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    t = torch.tensor(x)
    for name in ("softmax", "log_softmax", "cumsum"):
        ours = getattr(tg.Tensor(x), name)(dim=1, dtype=np.float64)
        theirs = getattr(t, name)(dim=1, dtype=torch.float64)
        assert ours.dtype == np.float64
        np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-12)
    assert F.softmax(tg.Tensor(x), -1, dtype=np.float64).dtype == np.float64
    m = tg.Tensor(np.array([1, 2, 4])).mean(dtype=np.float64)  # an int tensor's mean
    assert m.dtype == np.float64 and m.item() == torch.tensor([1, 2, 4]).mean(
        dtype=torch.float64).item()
    b = np.array([[0, 1], [0, 0]])
    for name, dim in (("any", (0, 1)), ("all", (0,)), ("any", ())):
        ours = getattr(tg.Tensor(b), name)(dim=dim)
        theirs = getattr(torch.tensor(b), name)(dim=dim)
        np.testing.assert_array_equal(ours.data, theirs.numpy())


@pytest.mark.parametrize("make_index", [
    lambda i, m: (0, slice(None), i),           # an integer, a slice, then an index array
    lambda i, m: (i, slice(None), 1),
    lambda i, m: (1, Ellipsis, i),
    lambda i, m: (0, None, slice(None), i),
    lambda i, m: (2, None, m),                  # an integer beside a boolean mask
    lambda i, m: (slice(None), 0, i),           # (adjacent: NumPy agrees)
    lambda i, m: (True, 0, slice(None), i),     # a boolean scalar: an index array, no axis
    lambda i, m: (np.array(1), slice(None), i),  # a 0-d integer array: an integer
    lambda i, m: (0, slice(None), (2, 0, 1)),   # a tuple inside the index: an index array
])
def test_integers_beside_index_arrays_select_first_as_in_torch(torch, make_index):
    x = np.arange(3 * 4 * 5, dtype=np.float64).reshape(3, 4, 5)
    i, m = np.array([2, 0, 1, 1]), np.array([True, False, True, True, False])
    index = make_index(i, m)
    if index[-1] is m:
        x = x[:, 0, :].reshape(3, 5)
    if index[0] is True:
        x = x.reshape(1, 3, 4, 5)
    t = torch.tensor(x, requires_grad=True)
    ours = tg.Tensor(x, requires_grad=True)
    tindex = tuple(torch.tensor(k) if isinstance(k, np.ndarray) else k for k in index)
    expected = t[tindex]
    got = ours[index]
    assert got.shape == tuple(expected.shape)
    np.testing.assert_array_equal(got.data, expected.detach().numpy())
    seed = np.random.default_rng(0).standard_normal(got.shape)
    (got * tg.Tensor(seed)).sum().backward()
    (expected * torch.tensor(seed)).sum().backward()
    np.testing.assert_array_equal(ours.grad.data, t.grad.numpy())
    a, ta = np.zeros_like(x), torch.zeros(x.shape, dtype=torch.float64)  # t[index] = v
    v = np.arange(got.size, dtype=np.float64).reshape(got.shape)
    tt = tg.Tensor(a)
    tt[index] = v
    ta[tindex] = torch.tensor(v)
    np.testing.assert_array_equal(tt.data, ta.numpy())


@pytest.mark.parametrize("use,index", [
    (lambda x, i: x.gather(1, i), [[0, 1], [2, 0], [1, 1]]),
    (lambda x, i: x.index_select(1, i), [0, 2]),
    (lambda x, i: x[:, i], [0, 2]),
    (lambda x, i: x[i, 1:], [2, 0]),
    (lambda x, i: x[i], [True, False, True]),
])
def test_an_index_changed_in_place_before_backward_is_an_error_as_in_torch(use, index):
    x = tg.Tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    idx = tg.Tensor(np.array(index))
    out = use(x, idx)
    idx.fill_(1)  # (the gradient would silently use the new index)
    with pytest.raises(RuntimeError, match="modified in place"):
        out.sum().backward()


def test_dropout_refuses_an_integer_tensor_in_training_as_torch(torch):
    x = tg.Tensor(np.full(10, 10))
    with pytest.raises(TypeError, match="dropout: input must be a floating tensor"):
        F.dropout(x, 0.3, True)  # (it dropped elements and never scaled the rest)
    with pytest.raises(RuntimeError):
        torch.nn.functional.dropout(torch.full((10,), 10), 0.3, True)
    assert F.dropout(x, 0.3, False) is x


def test_containers_take_torchs_list_and_dict_operations(torch):
    def build(lib):
        return lib.nn.Sequential(lib.nn.Linear(2, 3), lib.nn.Tanh(), lib.nn.Linear(3, 1))
    ours, theirs = build(tg), build(torch)
    for seq, lib in ((ours, tg), (theirs, torch)):  # the same edits on both
        seq[1] = lib.nn.ReLU()
        seq.insert(1, lib.nn.Tanh())
        del seq[2]
        seq.append(lib.nn.Sigmoid())
        assert type(seq.pop(1)).__name__ == "Tanh"
        seq += lib.nn.Sequential(lib.nn.Linear(1, 2))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs]
    assert len(ours + ours[:1]) == len(theirs + theirs[:1])
    ml, tml = tg.nn.ModuleList([tg.nn.Linear(1, 1)]), torch.nn.ModuleList([torch.nn.Linear(1, 1)])
    for lst, lib in ((ml, tg), (tml, torch)):
        lst += [lib.nn.Linear(1, 2), lib.nn.Linear(2, 3)]
        lst[0] = lib.nn.Linear(1, 4)
        del lst[1]
        lst.pop(-1)
        assert len(lst + lst) == 2 * len(lst)
    assert list(ml.state_dict()) == list(tml.state_dict())
    md, tmd = tg.nn.ModuleDict({"b": tg.nn.Linear(1, 1)}), torch.nn.ModuleDict(
        {"b": torch.nn.Linear(1, 1)})
    for d, lib in ((md, tg), (tmd, torch)):
        d["a"] = lib.nn.Linear(2, 2)
        d.update([("c", lib.nn.Linear(1, 3))])
        d.pop("b")
    assert list(md) == list(tmd) and list(md.state_dict()) == list(tmd.state_dict())
    assert "a" in md and len(md) == 2 and isinstance(md["c"], tg.nn.Linear)
    with pytest.raises(KeyError, match="no module 'zz'; it has"):
        md["zz"]
    assert ours.to("cpu") is ours and ours.half()[0].weight.dtype == np.float16
    with pytest.raises(ValueError, match="no cuda device"):
        ours.to("cuda")


def test_in_place_ops_refuse_what_torch_refuses_and_say_what_to_do(torch):
    t = tg.Tensor(np.arange(3))
    with pytest.raises(TypeError, match=r"div_: cannot store the result \(dtype float64\)"):
        t.div_(2)
    with pytest.raises(TypeError, match="clamp_: bounds 0.5, 1.5 give a result"):
        t.clamp_(0.5, 1.5)
    with pytest.raises(RuntimeError):
        torch.arange(3).clamp_(0.5, 1.5)
    np.testing.assert_array_equal(t.clamp_(tg.Tensor(np.array(1)), tg.Tensor(np.array(2))).data,
                                  torch.arange(3).clamp_(torch.tensor(1), torch.tensor(2)))
    z = tg.Tensor(np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="fill_: value must be a number or a 0-d tensor"):
        z.fill_(tg.Tensor(np.ones(3)))
    with pytest.raises(ValueError, match="cannot be converted to float32 without overflow"):
        z.fill_(1e300)
    assert z.fill_(tg.Tensor(np.array(2.5))).data.tolist() == [2.5] * 3


def test_reshape_refuses_negative_sizes_other_than_minus_one_as_torch(torch):
    with pytest.raises(ValueError, match=r"reshape: invalid size -2 in shape \(-2, 12\)"):
        tg.Tensor(np.zeros((2, 12))).view(-2, 12)
    with pytest.raises(RuntimeError):
        torch.zeros(2, 12).view(-2, 12)


# ----- roll narrow unbind movedim expand_as repeat_interleave tensor_split flip H ----------------
def _vocab_env(lib, torch):
    """x (2, 3, 4), s 0-d, e (0, 3), all requiring grad; I(v) an integer tensor."""
    rng = np.random.default_rng(0)
    arrays = {"x": rng.standard_normal((2, 3, 4)), "s": np.array(1.5), "e": np.zeros((0, 3))}
    if lib == "tg":
        env = {k: Tensor(v.copy(), requires_grad=True) for k, v in arrays.items()}
        env["I"] = lambda v: Tensor(np.array(v))
    else:
        env = {k: torch.tensor(v, requires_grad=True) for k, v in arrays.items()}
        env["I"] = torch.tensor
    return env


_EDGES = ["x.roll(5, 1)", "x.roll((1, 1), (0, 0))", "x.roll(-7)", "x.roll((3,))",
          "x.roll(shifts=(1, -2), dims=(2, 0))", "s.roll(2)", "e.roll(1, 0)", "e.roll(2)",
          "x.narrow(1, -1, 1)", "x.narrow(1, 3, 0)", "x.narrow(-1, 0, 4)",
          "x.narrow(dim=2, start=-3, length=2)", "e.narrow(0, 0, 0)",
          "x.unbind(1)", "x.unbind(dim=-1)", "e.unbind(0)", "e.unbind(1)",
          "x.movedim(0, -1)", "x.movedim((0, 2), (2, 0))", "x.moveaxis([1], [0])",
          "x.movedim((), ())", "s.movedim(0, -1)", "e.movedim(1, 0)",
          "x[:, :1].expand_as(x)", "s.expand_as(x)", "x.expand_as(I(np.zeros((5, 2, 3, 4))))",
          "x.repeat_interleave(3)", "x.repeat_interleave(0, 1)",
          "x.repeat_interleave(I([2, 0, 3]), dim=1)", "x.repeat_interleave(I([2]))",
          "x.repeat_interleave(I(2), -1)", "x.repeat_interleave(I([0, 0, 0]), 1)",
          "s.repeat_interleave(3)", "s.repeat_interleave(I([2]))", "e.repeat_interleave(2, 0)",
          "x.tensor_split(2)", "x.tensor_split(7, 1)", "x.tensor_split([1, 2], 2)",
          "x.tensor_split([2, 1], 2)", "x.tensor_split([-1], 2)", "x.tensor_split([-5, 9], 2)",
          "x.tensor_split((3, -1), dim=2)", "x.tensor_split([])", "x.tensor_split(I([1, 3]), 2)",
          "x.tensor_split(I(2), 1)", "e.tensor_split(2)", "e.tensor_split([1], 1)",
          "x.flip(0, 2)", "x.flip(-1, 0, 1)", "x.flip(dims=(0, 1))", "x.flip([0, 2])",
          "x.flip(())", "x[0].H", "x[:, 1].H.H"]


@pytest.mark.parametrize("expr", _EDGES)
def test_shape_vocabulary_gives_torchs_values_and_gradients_at_the_edges(torch, expr):
    ours, theirs = _vocab_env("tg", torch), _vocab_env("torch", torch)
    out, tout = eval(expr, {"np": np}, ours), eval(expr, {"np": np}, theirs)
    outs, touts = (out, tout) if isinstance(tout, tuple) else ((out,), (tout,))
    assert isinstance(out, tuple) == isinstance(tout, tuple) and len(outs) == len(touts)
    rng = np.random.default_rng(1)
    loss, tloss = 0.0, 0.0
    for o, t in zip(outs, touts):
        assert o.shape == tuple(t.shape) and o.dtype == np.float64
        np.testing.assert_array_equal(o.data, t.detach().numpy())
        seed = rng.standard_normal(o.shape)
        loss, tloss = loss + (o * Tensor(seed)).sum(), tloss + (t * torch.from_numpy(seed)).sum()
    if not outs:
        return
    loss.backward()
    tloss.backward()
    for name in ("x", "s", "e"):
        g, tg_ = ours[name].grad, theirs[name].grad
        assert (g is None) == (tg_ is None), name
        if g is not None:
            np.testing.assert_allclose(g.data, tg_.numpy(), rtol=1e-12, atol=1e-12)


_REFUSED = [  # (expr, our exception, what our message says); torch refuses each too
    ("x.roll(1.5)", TypeError, "shifts must be an int or a tuple of ints, got float"),
    ("x.roll((1, 2), 0)", ValueError, r"shifts \(1, 2\) and axis \(0,\) must pair up"),
    ("x.roll(1, (0, 1))", ValueError, "must pair up, one shift per axis"),
    ("x.roll((1, 2))", ValueError, "without an axis shifts must be one int"),
    ("x.roll((), ())", ValueError, "at least one"),
    ("x.roll(1, 3)", ValueError, "axis 3 is out of range for a tensor of 3 dimensions"),
    ("s.roll(1, 0)", ValueError, "0-d tensor has no axis 0; roll it with axis=None"),
    ("x.roll(True, 0)", TypeError, "got bool True"),
    ("x.narrow(1, -4, 1)", IndexError, r"start -4 is out of range for axis 1 of size 3 "
                                       r"\(expected -3 .. 3\)"),
    ("x.narrow(1, 4, 0)", IndexError, "start 4 is out of range"),
    ("x.narrow(1, 2, 2)", ValueError, r"start 2 \+ length 2 exceeds the size 3 of axis 1"),
    ("x.narrow(1, 0, -1)", ValueError, "length must be at least 0, got -1"),
    ("x.narrow(3, 0, 1)", ValueError, "axis 3 is out of range"),
    ("x.narrow(1, 1.0, 1)", TypeError, "start must be an int, got float"),
    ("s.narrow(0, 0, 1)", ValueError, "at least 1 dimension, got a 0-d tensor"),
    ("x.unbind(3)", ValueError, "axis 3 is out of range"),
    ("s.unbind()", ValueError, "at least 1 dimension"),
    ("x.unbind(1.0)", TypeError, "axis must be one int"),
    ("x.movedim(0, (1,))", TypeError, "must both be ints or both sequences of ints"),
    ("x.movedim((0, 0), (1, 2))", ValueError, r"repeated axis in source \(0, 0\)"),
    ("x.movedim((0, 1), (1, 1))", ValueError, r"repeated axis in destination \(1, 1\)"),
    ("x.movedim((0, 1), (2,))", ValueError, "must name as many axes"),
    ("x.moveaxis(0, 5)", ValueError, "axis 5 is out of range"),
    ("x.expand_as(3)", TypeError, "other must be a Tensor, got int"),
    ("x.expand_as(I(np.zeros((3, 4))))", ValueError,
     r"cannot expand shape \(2, 3, 4\) to \(3, 4\)"),
    ("x.expand_as(I(np.zeros((2, 5, 4))))", ValueError, "only axes of size 1 can change size"),
    ("x.repeat_interleave(-1)", ValueError, "repeats must be at least 0, got -1"),
    ("x.repeat_interleave(I([1, 0]), 1)", ValueError, r"2 repeats for axis 1 of size 3"),
    ("x.repeat_interleave(I([2] * 3))", ValueError, r"3 repeats for axis 0 of size 24"),
    ("x.repeat_interleave(I([1, -1, 2]), 1)", ValueError, "must be non-negative, got -1"),
    ("x.repeat_interleave(I([1.0, 1.0, 2.0]), 1)", TypeError, "must hold integers, got dtype"),
    ("x.repeat_interleave(I([[1, 1, 2]]), 1)", ValueError, r"0-d or 1-D integer tensor, got "
                                                          r"shape \(1, 3\)"),
    ("x.repeat_interleave(2, 3)", ValueError, "axis 3 is out of range"),
    ("s.repeat_interleave(3, 0)", ValueError, "0-d tensor has no axis 0"),
    ("x.repeat_interleave(2.0)", TypeError, "repeats must be an int, got float"),
    ("x.tensor_split(0)", ValueError, "the number of sections must be at least 1, got 0"),
    ("x.tensor_split(2, 3)", ValueError, "axis 3 is out of range"),
    ("s.tensor_split(1)", ValueError, "at least 1 dimension"),
    ("x.tensor_split(2.0)", TypeError, r"an int \(a number of sections\) or a list of ints"),
    ("x.tensor_split([1.0])", TypeError, "each index must be an int, got float"),
    ("x.tensor_split(I([[1]]), 2)", ValueError, "0-d or 1-D integer tensor"),
    ("x.tensor_split(I([1.0]), 2)", TypeError, "must hold integers"),
    ("x.flip(0, 0)", ValueError, "repeated axis"),
    ("x.flip((0,), 1)", TypeError, "as one tuple or as separate ints"),
    ("x.flip(0, 3)", ValueError, "axis 3 is out of range"),
    ("x.flip(0, 1.0)", TypeError, "axis must be None, an int or a tuple of ints"),
    ("x.H", ValueError, r"H needs a matrix \(a 2-D tensor\), got a tensor of shape \(2, 3, 4\); "
                        r"for a stack of matrices use mT"),
    ("x[0, 0].H", ValueError, r"got a tensor of shape \(4,\)"),
]


@pytest.mark.parametrize("expr, error, message", _REFUSED, ids=[r[0] for r in _REFUSED])
def test_shape_vocabulary_refuses_what_torch_refuses_and_says_why(torch, expr, error, message):
    with pytest.raises(error, match=message):
        eval(expr, {"np": np}, _vocab_env("tg", torch))
    with pytest.raises(Exception):
        eval(expr, {"np": np}, _vocab_env("torch", torch))


def test_roll_narrow_and_unbind_stay_in_the_graph_as_one_node_each():
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert type(x.roll(1, 1)._ctx).__name__ == "Roll"
    assert type(x.narrow(1, 1, 2)._ctx).__name__ == "GetItem"
    first, second = x.unbind(0)
    assert first._ctx.parents[0]._ctx is second._ctx.parents[0]._ctx  # one Split node
    assert tg.moveaxis(x, 0, 1).shape == tg.movedim(x, 0, 1).shape == (3, 2)
    assert [p.shape for p in tg.tensor_split(x, 2, dim=1)] == [(2, 2), (2, 1)]


def test_mean_of_bool_and_integer_tensors_is_float32_as_their_other_arithmetic():
    for dtype in (bool, np.uint8, np.int32, np.int64):
        assert tg.Tensor(np.array([1, 0, 1], dtype)).mean().dtype == np.float32, dtype
