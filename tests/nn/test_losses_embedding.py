"""ignore_index and label_smoothing of the classification losses, padding_idx of Embedding:
PyTorch's numbers (float64), edge cases and errors."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinygrad_rnn import Tensor, nn, ops
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.optim import SGD


@st.composite
def class_problems(draw):
    """logits (*lead, C) and targets (*lead) where some targets equal ignore_index (outside
    the classes or one of them), with options for the losses."""
    lead = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=2)))
    C = draw(st.integers(1, 5))
    ignore = draw(st.sampled_from([-100, -1, 0, C - 1, 7]))
    n = int(np.prod(lead))
    t = np.array(draw(st.lists(st.integers(0, C - 1), min_size=n, max_size=n)))
    drop = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    t = np.where(drop, ignore, t).reshape(lead)
    x = np.random.default_rng(draw(st.integers(0, 999))).standard_normal(lead + (C,)) * 3
    return x, t, ignore


def _torch_loss(torch, name, x, t, **kw):
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    out = getattr(torch.nn.functional, name)(tx.movedim(-1, 1), torch.from_numpy(t), **kw)
    return tx, out


def _compare(torch, ours_x, ours, tx, theirs):
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-12, atol=1e-13)
    seed = np.random.default_rng(0).standard_normal(ours.shape)
    if np.isnan(ours.data).any():
        seed = np.ones(ours.shape)
    ours.backward(seed)
    theirs.backward(torch.from_numpy(np.asarray(seed)))
    np.testing.assert_allclose(ours_x.grad.data, tx.grad.numpy(), rtol=1e-12, atol=1e-13)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(problem=class_problems(), reduction=st.sampled_from(["mean", "sum", "none"]),
       smoothing=st.sampled_from([0.0, 0.1, 0.5, 1.0]))
def test_cross_entropy_matches_torch(torch, problem, reduction, smoothing):
    x, t, ignore = problem
    ours_x = Tensor(x, requires_grad=True)
    ours = F.cross_entropy(ours_x, t, reduction, ignore_index=ignore, label_smoothing=smoothing)
    tx, theirs = _torch_loss(torch, "cross_entropy", x, t, reduction=reduction,
                             ignore_index=ignore, label_smoothing=smoothing)
    _compare(torch, ours_x, ours, tx, theirs)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(problem=class_problems(), reduction=st.sampled_from(["mean", "sum", "none"]),
       smoothing=st.sampled_from([0.0, 0.1, 1.0]), seed=st.integers(0, 99),
       as_tensor=st.booleans())
def test_cross_entropy_with_class_weights_matches_torch(torch, problem, reduction, smoothing,
                                                        seed, as_tensor):
    """PyTorch's weight=: each target's loss times its class's weight, the mean divided by
    the kept targets' summed weights, the smoothing term weighted class by class."""
    x, t, ignore = problem
    w = np.random.default_rng(seed).uniform(0.1, 3.0, x.shape[-1])
    ours_x = Tensor(x, requires_grad=True)
    ours = F.cross_entropy(ours_x, t, reduction, ignore_index=ignore, label_smoothing=smoothing,
                           weight=Tensor(w) if as_tensor else w)
    tx, theirs = _torch_loss(torch, "cross_entropy", x, t, reduction=reduction,
                             ignore_index=ignore, label_smoothing=smoothing,
                             weight=torch.from_numpy(w))
    _compare(torch, ours_x, ours, tx, theirs)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(problem=class_problems(), reduction=st.sampled_from(["mean", "sum", "none"]),
       seed=st.integers(0, 99))
def test_nll_loss_with_class_weights_matches_torch(torch, problem, reduction, seed):
    x, t, ignore = problem
    x = x - np.log(np.exp(x).sum(-1, keepdims=True))
    w = np.random.default_rng(seed).uniform(0.1, 3.0, x.shape[-1])
    ours_x = Tensor(x, requires_grad=True)
    ours = F.nll_loss(ours_x, t, reduction, ignore_index=ignore, weight=w)
    tx, theirs = _torch_loss(torch, "nll_loss", x, t, reduction=reduction, ignore_index=ignore,
                             weight=torch.from_numpy(w))
    _compare(torch, ours_x, ours, tx, theirs)
    module = nn.NLLLoss(reduction, ignore, weight=w)
    assert list(module.state_dict()) == ["weight"]
    np.testing.assert_allclose(module(Tensor(x), t).data, ours.data, rtol=1e-15)


def test_cross_entropy_class_weights_are_checked_and_the_module_takes_them():
    x, t = Tensor(np.zeros((2, 3))), np.array([0, 2])
    with pytest.raises(ValueError, match=r"weight must have one entry per class, shape \(3,\)"):
        F.cross_entropy(x, t, weight=np.ones(4))
    with pytest.raises(TypeError, match="weight.*no gradient"):
        F.cross_entropy(x, t, weight=Tensor(np.ones(3), requires_grad=True))
    w = np.array([1.0, 2.0, 3.0])
    module = nn.CrossEntropyLoss(weight=w, reduction="sum")
    np.testing.assert_allclose(module(x, t).data,
                               F.cross_entropy(x, t, "sum", weight=w).data, rtol=1e-15)
    assert list(module.state_dict()) == ["weight"]  # a buffer, as in PyTorch
    assert list(nn.CrossEntropyLoss().state_dict()) == []


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(problem=class_problems(), reduction=st.sampled_from(["mean", "sum", "none"]))
def test_nll_loss_matches_torch(torch, problem, reduction):
    x, t, ignore = problem
    x = x - np.log(np.exp(x).sum(-1, keepdims=True))
    ours_x = Tensor(x, requires_grad=True)
    ours = F.nll_loss(ours_x, t, reduction, ignore_index=ignore)
    tx, theirs = _torch_loss(torch, "nll_loss", x, t, reduction=reduction, ignore_index=ignore)
    _compare(torch, ours_x, ours, tx, theirs)


def test_ignored_targets_add_nothing_and_leave_the_mean():
    x = np.random.default_rng(0).standard_normal((4, 3))
    t = np.array([2, -100, 0, -100])
    full = F.cross_entropy(Tensor(x), t, "none").data
    np.testing.assert_array_equal(full[[1, 3]], 0.0)
    kept = F.cross_entropy(Tensor(x[[0, 2]]), t[[0, 2]]).data
    np.testing.assert_allclose(F.cross_entropy(Tensor(x), t).data, kept, rtol=1e-14)
    np.testing.assert_allclose(F.nll_loss(Tensor(x), t).data,
                               F.nll_loss(Tensor(x[[0, 2]]), t[[0, 2]]).data, rtol=1e-14)


@pytest.mark.parametrize("loss", [F.cross_entropy, F.nll_loss])
def test_all_targets_ignored_give_nan_mean_and_zero_gradient(loss):
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    out = loss(x, np.array([-100, -100]))
    assert np.isnan(out.data)
    out.backward()
    np.testing.assert_array_equal(x.grad.data, 0.0)
    assert loss(Tensor(np.ones((2, 3))), np.array([-100, -100]), "sum").data == 0


@pytest.mark.parametrize("loss,kw", [
    (F.cross_entropy, {}), (F.cross_entropy, dict(label_smoothing=0.2)),
    (lambda x, t, **kw: F.nll_loss(x.log_softmax(-1), t, **kw), {})])
def test_kept_targets_whose_weights_sum_to_zero_give_nan_gradients_as_in_pytorch(loss, kw):
    # (all targets ignored: zero gradient, above; kept ones of weight 0: 0 / 0 in PyTorch's
    # gradient too, so NaN everywhere, also where label smoothing makes a row's loss nonzero)
    x = Tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    out = loss(x, np.array([0, 0, 0]), weight=np.array([0.0, 1, 1, 1]), **kw)
    assert np.isnan(out.data)
    out.backward()
    assert np.isnan(x.grad.data).all()
    x.grad = None
    loss(x, np.array([0, 0, 0]), ignore_index=0, weight=np.ones(4), **kw).backward()
    np.testing.assert_array_equal(x.grad.data, 0.0)  # every target ignored: zeros


def test_probability_targets_refuse_an_ignore_index_that_could_name_a_class():
    x, t = Tensor(np.zeros((3, 4))), np.full((3, 4), 0.25)
    with pytest.raises(ValueError, match=r"ignore_index \(0\) does not apply to "
                                         r"class-probability targets"):
        F.cross_entropy(x, t, ignore_index=0)
    assert np.isfinite(F.cross_entropy(x, t, ignore_index=-1).data)  # as PyTorch


def test_label_smoothing_formula_by_hand():
    x = np.array([[1.0, 2.0, 0.5]])
    logp = x - np.log(np.exp(x).sum())
    e = 0.3
    expected = (1 - e) * -logp[0, 1] + e * -logp[0].mean()
    np.testing.assert_allclose(F.cross_entropy(Tensor(x), np.array([1]),
                                               label_smoothing=e).data, expected, rtol=1e-14)


def test_the_common_case_is_one_plain_fused_node():
    x = Tensor(np.zeros((3, 4)), requires_grad=True)
    loss = F.cross_entropy(x, np.array([0, 1, 2]), "none")
    node = loss._ctx.parents[0]._ctx if not isinstance(loss._ctx, ops.CrossEntropy) \
        else loss._ctx
    assert isinstance(node, ops.CrossEntropy)
    assert node.smoothing == 0.0


def test_options_keep_float32():
    x = Tensor(np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32),
               requires_grad=True)
    t = np.array([0, -100, 2, 1, 1])
    for loss in (F.cross_entropy(x, t, label_smoothing=0.2), F.nll_loss(x, t)):
        assert loss.dtype == np.float32
        x.grad = None
        loss.backward()
        assert x.grad.dtype == np.float32


def test_loss_argument_errors():
    x = Tensor(np.zeros((2, 3)))
    with pytest.raises(IndexError, match=r"\[0, 3\).*got min -1, max -1 .*ignore_index=-100"):
        F.cross_entropy(x, np.array([0, -1]))
    with pytest.raises(IndexError, match=r"\[0, 3\).*got min 5, max 5"):
        F.nll_loss(x, np.array([5, -100]))
    with pytest.raises(TypeError, match="ignore_index must be an int"):
        F.cross_entropy(x, np.array([0, 1]), ignore_index=1.5)
    with pytest.raises(ValueError, match="label_smoothing must be in \\[0.0, 1.0\\]"):
        F.cross_entropy(x, np.array([0, 1]), label_smoothing=1.5)
    with pytest.raises(TypeError, match="label_smoothing must be a number"):
        nn.CrossEntropyLoss(label_smoothing="0.1")
    with pytest.raises(TypeError, match="ignore_index"):
        nn.NLLLoss(ignore_index=None)


def test_loss_modules_pass_their_options(torch):
    rng = np.random.default_rng(2)
    x, t = rng.standard_normal((6, 4)), np.array([0, 3, 3, 1, 2, 3])
    ce = nn.CrossEntropyLoss(ignore_index=3, label_smoothing=0.25)
    ref = torch.nn.CrossEntropyLoss(ignore_index=3, label_smoothing=0.25)
    np.testing.assert_allclose(ce(Tensor(x), t).data,
                               ref(torch.from_numpy(x), torch.from_numpy(t)).numpy(), rtol=1e-13)
    nll = nn.NLLLoss(reduction="sum", ignore_index=3)
    np.testing.assert_allclose(
        nll(Tensor(x), t).data,
        torch.nn.NLLLoss(reduction="sum", ignore_index=3)(torch.from_numpy(x),
                                                         torch.from_numpy(t)).numpy())
    assert repr(ce) == "CrossEntropyLoss(ignore_index=3, label_smoothing=0.25)"
    assert repr(nn.CrossEntropyLoss()) == "CrossEntropyLoss()"
    assert repr(nll) == "NLLLoss(reduction='sum', ignore_index=3)"


# ----- Embedding padding_idx ---------------------------------------------------------------
@pytest.mark.parametrize("padding_idx", [0, 3, -1, -5])
def test_embedding_padding_row_starts_at_zero_and_gets_no_gradient(torch, padding_idx):
    emb = nn.Embedding(5, 3, padding_idx=padding_idx).double()
    row = padding_idx % 5
    assert emb.padding_idx == row
    np.testing.assert_array_equal(emb.weight.data[row], 0.0)
    assert np.all(np.delete(emb.weight.data, row, axis=0) != 0)
    idx = np.array([[row, 1, row], [4, 0, 2]])
    ref = torch.nn.Embedding(5, 3, padding_idx=padding_idx).double()
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(emb.weight.data))
    out, tout = emb(idx), ref(torch.from_numpy(idx))
    np.testing.assert_array_equal(out.data, tout.detach().numpy())
    seed = np.random.default_rng(0).standard_normal(out.shape)
    out.backward(seed)
    tout.backward(torch.from_numpy(seed))
    np.testing.assert_allclose(emb.weight.grad.data, ref.weight.grad.numpy(), rtol=1e-14)
    np.testing.assert_array_equal(emb.weight.grad.data[row], 0.0)


def test_padding_row_stays_put_under_training():
    emb = nn.Embedding(4, 2, padding_idx=1)
    emb.weight.data[1] = 0.5  # a changed padding vector is used, and kept
    opt = SGD(emb.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        out = emb(np.array([1, 2, 1, 0]))
        np.testing.assert_array_equal(out.data[0], 0.5)
        (out * out).sum().backward()
        opt.step()
    np.testing.assert_array_equal(emb.weight.data[1], 0.5)


def test_functional_embedding_padding_idx():
    w = Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    out = F.embedding(np.array([2, 0, 2]), w, padding_idx=-1)
    np.testing.assert_array_equal(out.data, [[4, 5], [0, 1], [4, 5]])  # forward unchanged
    out.sum().backward()
    np.testing.assert_array_equal(w.grad.data, [[1, 1], [0, 0], [0, 0]])


def test_embedding_padding_idx_errors():
    with pytest.raises(ValueError, match="padding_idx must be within num_embeddings"):
        nn.Embedding(5, 2, padding_idx=5)
    with pytest.raises(ValueError, match="padding_idx must be within num_embeddings"):
        nn.Embedding(5, 2, padding_idx=-6)
    with pytest.raises(TypeError, match="padding_idx must be an int"):
        nn.Embedding(5, 2, padding_idx=1.0)
    with pytest.raises(ValueError, match="within num_embeddings"):
        F.embedding(np.array([0]), Tensor(np.ones((2, 2))), padding_idx=2)
    assert repr(nn.Embedding(5, 2, padding_idx=-1)) == "Embedding(5, 2, padding_idx=4)"
    assert repr(nn.Embedding(5, 2)) == "Embedding(5, 2)"


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(v=st.integers(1, 6), d=st.integers(1, 4), n=st.integers(0, 12),
       max_norm=st.one_of(st.none(), st.floats(0.05, 3.0)),
       norm_type=st.sampled_from([1.0, 2.0, 3.0, float("inf")]), freq=st.booleans(),
       pad=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_embedding_max_norm_and_scale_grad_by_freq_match_torch(torch, v, d, n, max_norm,
                                                               norm_type, freq, pad, seed):
    """max_norm renormalises, in place, each row the indices pick whose norm exceeds it
    (to max_norm / (norm + 1e-7) times itself, as torch.embedding_renorm_), before the
    lookup; scale_grad_by_freq divides each row's gradient by how often the batch picks it."""
    rng = np.random.default_rng(seed)
    w0 = rng.standard_normal((v, d)) * 2
    idx = rng.integers(0, v, size=(n,) if n % 2 else (n // 2, 2))
    g = rng.standard_normal(idx.shape + (d,))
    padding_idx = int(rng.integers(0, v)) if pad else None
    opts = dict(padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type,
                scale_grad_by_freq=freq)
    w, tw = Tensor(w0.copy(), requires_grad=True), torch.tensor(w0, requires_grad=True)
    out = F.embedding(idx, w, **opts)
    tout = torch.nn.functional.embedding(torch.from_numpy(idx), tw, **opts)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(w.data, tw.detach().numpy(), rtol=1e-12, atol=1e-15)
    if n:
        out.backward(g)
        tout.backward(torch.from_numpy(g))
        np.testing.assert_allclose(w.grad.data, tw.grad.numpy(), rtol=1e-12, atol=1e-15)
    emb = nn.Embedding(v, d, **opts).double()
    ref = torch.nn.Embedding(v, d, **opts).double()
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(emb.weight.data))
    np.testing.assert_allclose(emb(idx).data, ref(torch.from_numpy(idx)).detach().numpy(),
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(emb.weight.data, ref.weight.detach().numpy(), rtol=1e-12,
                               atol=1e-15)


def test_embedding_options_print_refuse_and_pass_through_from_pretrained(torch):
    emb = nn.Embedding(5, 2, max_norm=1.0, scale_grad_by_freq=True)
    assert repr(emb) == repr(torch.nn.Embedding(5, 2, max_norm=1.0, scale_grad_by_freq=True))
    assert repr(nn.Embedding(5, 2, max_norm=2.0, norm_type=1.0)) == \
        repr(torch.nn.Embedding(5, 2, max_norm=2.0, norm_type=1.0))
    with pytest.raises(ValueError, match="sparse gradients are not supported"):
        nn.Embedding(5, 2, sparse=True)
    with pytest.raises(ValueError, match="sparse gradients are not supported"):
        F.embedding(np.array([0]), Tensor(np.ones((2, 2))), sparse=True)
    with pytest.raises(ValueError, match=r"max_norm must be in \[0, inf\]"):
        nn.Embedding(5, 2, max_norm=-1.0)
    assert repr(nn.Embedding(5, 2, max_norm=1, norm_type=1)) == \
        repr(torch.nn.Embedding(5, 2, max_norm=1, norm_type=1))  # values as given
    w, tw = Tensor(np.ones((3, 2)), requires_grad=True), torch.ones(3, 2, dtype=torch.float64)
    np.testing.assert_array_equal(F.embedding(np.array([1]), w, max_norm=0).data,
                                  torch.nn.functional.embedding(torch.tensor([1]), tw,
                                                                max_norm=0).numpy())
    np.testing.assert_array_equal(w.data, tw.numpy())  # row 1 scaled to 0, as there
    with pytest.raises(ValueError, match=r"embedding: weight must be a 2-D Tensor"):
        F.embedding(np.array([0]), Tensor(np.ones(3)), max_norm=1.0)
    frozen = np.ones((3, 2))
    frozen.flags.writeable = False
    with pytest.raises(RuntimeError, match=r"embedding \(max_norm renormalises in place\)"):
        F.embedding(np.array([0]), Tensor.from_numpy(frozen), max_norm=0.5)
    with pytest.raises(TypeError, match="scale_grad_by_freq must be a bool"):
        nn.Embedding(5, 2, scale_grad_by_freq=1)
    data = np.full((3, 2), 4.0)
    pre = nn.Embedding.from_pretrained(data, max_norm=1.0)
    out = pre(np.array([0, 0, 2]))
    np.testing.assert_allclose(np.linalg.norm(out.data, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(pre.weight.data[1], [4.0, 4.0])  # not picked: kept
    assert pre.max_norm == 1.0 and pre.weight.requires_grad is False


def test_max_norm_renormalises_under_no_grad_and_marks_the_change():
    """The renormalisation is an in-place change of the weight: a graph that saved the weight
    before it refuses to backward (the numbers it would use are gone), as in PyTorch."""
    w = Tensor(np.full((3, 2), 5.0), requires_grad=True)
    x = Tensor(np.ones((4, 3)), requires_grad=True)
    y = (x @ w).sum()  # MatMul saved w for x's gradient
    F.embedding(np.array([1]), w, max_norm=1.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_class_weights_where_pytorch_takes_them_get_a_clear_error():
    x = Tensor(np.zeros((2, 3)))
    w = np.array([1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="class weights"):
        F.cross_entropy(x, np.array([0, 1]), Tensor(w))
    with pytest.raises(TypeError, match="class weights"):
        F.nll_loss(x, np.array([0, 1]), w)
    with pytest.raises(TypeError, match="class weights"):
        nn.CrossEntropyLoss(w)


def test_nll_loss_refuses_integer_inputs_and_list_weights_are_float32():
    with pytest.raises(TypeError, match="nll_loss: log_probs must be floating-point"):
        F.nll_loss(Tensor(np.array([[1, 2, 3]])), np.array([0]), weight=[0.5, 1.5, 2.5])
    assert nn.CrossEntropyLoss(weight=[1.0, 2.0]).weight.dtype == np.float32
