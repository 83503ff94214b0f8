"""nn.functional and the loss/activation modules: NumPy references, gradients, stability,
input checks."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn
from tinygrad_rnn.nn import functional as F

from .helpers import randn


def np_log_softmax(x):
    z = x - x.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def _targets(shape, n_classes, seed=0):
    return np.random.default_rng(seed).integers(0, n_classes, size=shape)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("lead", [(), (4,), (3, 2)])
def test_cross_entropy_matches_numpy(reduction, lead):
    logits = randn(*lead, 5, requires_grad=True)
    t = _targets(lead, 5)
    loss = F.cross_entropy(logits, t, reduction=reduction)
    per = -np.take_along_axis(np_log_softmax(logits.data), t[..., None], -1)[..., 0]
    ref = {"mean": per.mean(), "sum": per.sum(), "none": per}[reduction]
    assert loss.shape == np.shape(ref)
    np.testing.assert_allclose(loss.data, ref, rtol=1e-12)
    assert tg.gradcheck(lambda z: F.cross_entropy(z, t, reduction=reduction), [logits])


def test_cross_entropy_is_stable_for_huge_logits():
    logits = Tensor(np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]]), requires_grad=True)
    loss = F.cross_entropy(logits, np.array([1, 2]), reduction="none")
    np.testing.assert_allclose(loss.data, [2e4, np.log(2)], rtol=1e-12)
    loss.sum().backward()
    assert np.isfinite(logits.grad.data).all()
    np.testing.assert_allclose(logits.grad.data, [[1, -1, 0], [0, 0.5, -0.5]], atol=1e-12)
    f32 = F.cross_entropy(Tensor(np.array([[1e4, -1e4]], dtype=np.float32)), np.array([0]))
    assert f32.dtype == np.float32 and f32.item() == 0.0


def test_nll_loss_matches_cross_entropy():
    logits = randn(3, 4, 6, requires_grad=True)
    t = _targets((3, 4), 6)
    for reduction in ("mean", "sum", "none"):
        a = F.nll_loss(F.log_softmax(logits), t, reduction=reduction)
        b = F.cross_entropy(logits, t, reduction=reduction)
        np.testing.assert_allclose(a.data, b.data, rtol=1e-12)
    assert tg.gradcheck(lambda z: F.nll_loss(z, t), [logits])


def test_nll_loss_gradient_accumulates_repeated_targets():
    lp = randn(3, 2, requires_grad=True)
    F.nll_loss(lp, np.array([1, 1, 0]), reduction="sum").backward()
    np.testing.assert_array_equal(lp.grad.data, [[0, -1], [0, -1], [-1, 0]])


def test_class_target_checks():
    logits = tg.randn(3, 4, 5)
    with pytest.raises(ValueError, match=r"target shape \(4, 3\) must equal the input's shape "
                                         r"without its last \(class\) axis: input \(3, 4, 5\) "
                                         r"needs target \(3, 4\)"):
        F.cross_entropy(logits, np.zeros((4, 3), dtype=np.int64))
    with pytest.raises(TypeError, match=r"integer class indices of shape \(3, 4\), or class "
                                        r"probabilities of the logits' shape \(3, 4, 5\); got "
                                        r"a float32 target of shape \(3, 4\)"):
        F.cross_entropy(logits, Tensor(np.zeros((3, 4), dtype=np.float32)))
    with pytest.raises(IndexError, match=r"target values must be in \[0, 5\) for 5 classes, "
                                         r"got min 5, max 5"):
        F.cross_entropy(logits, np.full((3, 4), 5))
    with pytest.raises(IndexError, match="got min -1"):
        F.nll_loss(logits, np.full((3, 4), -1))
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        F.cross_entropy(logits, np.zeros((3, 4), dtype=np.int64), reduction="avg")
    with pytest.raises(ValueError, match="0-d tensor"):
        F.cross_entropy(Tensor(1.0), 0)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss(reduction):
    a, b = randn(3, 4, requires_grad=True), randn(3, 4, requires_grad=True)
    loss = F.mse_loss(a, b, reduction=reduction)
    sq = (a.data - b.data) ** 2
    ref = {"mean": sq.mean(), "sum": sq.sum(), "none": sq}[reduction]
    np.testing.assert_allclose(loss.data, ref)
    assert tg.gradcheck(lambda u, v: F.mse_loss(u, v, reduction=reduction), [a, b])
    with pytest.raises(ValueError, match=r"mse_loss: target shape \(4, 3\) must equal input "
                                         r"shape \(3, 4\)"):
        F.mse_loss(a, randn(4, 3))


def test_bce_with_logits_matches_numpy_is_stable_and_smooth_at_zero():
    x = Tensor(np.array([-1e4, -3.0, 0.0, 0.5, 1e4]), requires_grad=True)
    t = Tensor(np.array([1.0, 0.0, 1.0, 0.3, 0.0]))
    loss = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    ref = np.logaddexp(0, x.data) - x.data * t.data
    np.testing.assert_allclose(loss.data, ref, rtol=1e-12)
    loss.sum().backward()
    sig = 0.5 * (1 + np.tanh(x.data / 2))
    np.testing.assert_allclose(x.grad.data, sig - t.data, atol=1e-12)  # 0.5 - 1 at x = 0
    y = randn(2, 3, requires_grad=True)
    assert tg.gradcheck(lambda z: F.binary_cross_entropy_with_logits(z, np.full((2, 3), 0.25)), [y])


def test_dropout():
    x = Tensor(np.ones((200, 100)), requires_grad=True)
    y = F.dropout(x, 0.3, training=True)
    zero = y.data == 0
    assert 0.25 < zero.mean() < 0.35
    np.testing.assert_allclose(y.data[~zero], 1 / 0.7)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, np.where(zero, 0, 1 / 0.7))
    assert F.dropout(x, 0.3, training=False) is x
    assert F.dropout(x, 0.0) is x
    np.testing.assert_array_equal(F.dropout(x, 1.0).data, 0)
    tg.manual_seed(3)
    a = F.dropout(x, 0.5).data
    tg.manual_seed(3)
    np.testing.assert_array_equal(a, F.dropout(x, 0.5).data)
    with pytest.raises(ValueError, match=r"dropout probability must be in \[0, 1\], got 1.2"):
        F.dropout(x, 1.2)


def test_dropout_module_follows_train_and_eval():
    d = nn.Dropout(0.5)
    x = tg.ones(10, 10)
    assert (d(x).data == 0).any()
    d.eval()
    assert d(x) is x
    assert repr(d) == "Dropout(p=0.5)"


@settings(max_examples=10)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3))
def test_softmax_log_softmax_activations(shape):
    x = randn(*shape, requires_grad=True)
    np.testing.assert_allclose(F.log_softmax(x).data, np_log_softmax(x.data), rtol=1e-12)
    np.testing.assert_allclose(F.softmax(x).data, np.exp(np_log_softmax(x.data)), rtol=1e-12)
    np.testing.assert_allclose(F.softmax(x, axis=0).data.sum(0), 1.0)
    np.testing.assert_allclose(F.tanh(x).data, np.tanh(x.data))
    np.testing.assert_allclose(F.sigmoid(x).data, 1 / (1 + np.exp(-x.data)))
    np.testing.assert_allclose(F.relu(x).data, np.maximum(x.data, 0))
    assert tg.gradcheck(lambda z: F.softmax(z), [x])


def test_linear_and_embedding():
    x, w, b = randn(2, 3, 4, requires_grad=True), randn(5, 4, requires_grad=True), \
        randn(5, requires_grad=True)
    np.testing.assert_allclose(F.linear(x, w, b).data, x.data @ w.data.T + b.data, rtol=1e-12)
    assert tg.gradcheck(F.linear, [x, w, b])
    with pytest.raises(ValueError, match=r"linear: input of shape \(2, 3\) needs last dimension "
                                         r"4 to match weight of shape \(5, 4\)"):
        F.linear(randn(2, 3), w)
    idx = np.array([[0, 2], [2, 1]])
    e = F.embedding(idx, w)
    np.testing.assert_array_equal(e.data, w.data[idx])
    e.sum().backward()
    np.testing.assert_array_equal(w.grad.data[:, 0], [1, 1, 2, 0, 0])
    np.testing.assert_array_equal(F.embedding([1, 0], w).data, w.data[[1, 0]])
    with pytest.raises(TypeError, match="integer"):
        F.embedding(np.array([0.0]), w)
    with pytest.raises(IndexError, match="out of range"):
        F.embedding(np.array([5]), w)


def test_layer_modules():
    lin = nn.Linear(4, 3)
    assert lin.weight.shape == (3, 4) and lin.bias.shape == (3,)
    assert np.abs(lin.weight.data).max() <= 0.5 and np.abs(lin.bias.data).max() <= 0.5
    assert repr(lin) == "Linear(in_features=4, out_features=3, bias=True)"
    assert nn.Linear(4, 3, bias=False).bias is None
    x = tg.randn(2, 4)
    np.testing.assert_allclose(lin(x).data, x.data @ lin.weight.data.T + lin.bias.data, rtol=1e-6)
    emb = nn.Embedding(1000, 8)
    assert abs(emb.weight.data.std() - 1) < 0.05 and abs(emb.weight.data.mean()) < 0.05
    assert emb(np.array([[1, 2, 3]])).shape == (1, 3, 8)
    logits, t = randn(4, 3), np.array([0, 1, 2, 0])
    np.testing.assert_allclose(nn.CrossEntropyLoss()(logits, t).data,
                               F.cross_entropy(logits, t).data)
    np.testing.assert_allclose(nn.CrossEntropyLoss(reduction="sum")(logits, t).data,
                               F.cross_entropy(logits, t, reduction="sum").data)
    np.testing.assert_allclose(nn.NLLLoss()(logits, t).data, F.nll_loss(logits, t).data)
    np.testing.assert_allclose(nn.MSELoss()(logits, logits * 0).data, (logits.data ** 2).mean())
    np.testing.assert_allclose(nn.BCEWithLogitsLoss()(logits, logits * 0).data,
                               np.logaddexp(0, logits.data).mean())
    for act, ref in ((nn.Tanh(), np.tanh), (nn.ReLU(), lambda a: np.maximum(a, 0)),
                     (nn.Sigmoid(), lambda a: 1 / (1 + np.exp(-a))), (nn.Identity(), lambda a: a)):
        np.testing.assert_allclose(act(logits).data, ref(logits.data))
    with pytest.raises(ValueError, match="reduction must be"):
        nn.MSELoss(reduction="max")
    with pytest.raises(ValueError, match="num_embeddings must be positive"):
        nn.Embedding(0, 3)
