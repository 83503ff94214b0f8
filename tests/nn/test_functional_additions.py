"""layer_norm / LayerNorm and the losses l1, smooth_l1, huber, binary_cross_entropy and kl_div
(with their modules): PyTorch's numbers and gradients in float64, state_dict and repr,
stability at extreme inputs, input checks."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn
from tinygrad_rnn.nn import functional as F


def _rng(seed=0):
    return np.random.default_rng(seed)


def _pair(torch, a: np.ndarray):
    """(ours, theirs): the same float64 values as leaves that require grad."""
    return Tensor(a.copy(), requires_grad=True), torch.tensor(a, requires_grad=True)


def _same(ours: Tensor, theirs, rtol=1e-10, atol=1e-12, what="value"):
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=rtol, atol=atol,
                               err_msg=what)
    assert ours.shape == tuple(theirs.shape), what


def _backward_both(out: Tensor, tout, seed=1):
    """Backward of both results with the same random output gradient."""
    import torch
    g = np.asarray(_rng(seed).standard_normal(out.shape))
    out.backward(g)
    tout.backward(torch.from_numpy(g))


@pytest.fixture
def strict_floats():
    """Overflow, invalid and divide-by-zero raise; warnings are errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            yield


# ----- layer_norm ------------------------------------------------------------------------
AFFINE = ["both", "none", "weight", "bias"]


@pytest.mark.parametrize("affine", AFFINE)
@pytest.mark.parametrize("normalized_shape", [4, (4,), (3, 4)])
def test_layer_norm_matches_torch(torch, normalized_shape, affine):
    tF = torch.nn.functional
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
    rng = _rng()
    x, tx = _pair(torch, rng.standard_normal((2, 3, 4)) * 3 + 1)
    w, tw = _pair(torch, rng.standard_normal(ns)) if affine in ("both", "weight") else (None,) * 2
    b, tb = _pair(torch, rng.standard_normal(ns)) if affine in ("both", "bias") else (None,) * 2
    out = F.layer_norm(x, normalized_shape, w, b, eps=1e-5)
    tout = tF.layer_norm(tx, ns, tw, tb, eps=1e-5)
    _same(out, tout)
    _backward_both(out, tout)
    for name, ours, theirs in (("x", x, tx), ("weight", w, tw), ("bias", b, tb)):
        if ours is not None:
            _same(ours.grad, theirs.grad, rtol=1e-9, what=f"gradient of {name}")


def test_layer_norm_is_one_node_and_gradchecks():
    rng = _rng(1)
    x = Tensor(rng.standard_normal((3, 2, 5)), requires_grad=True)
    w = Tensor(rng.standard_normal((2, 5)), requires_grad=True)
    b = Tensor(rng.standard_normal((2, 5)), requires_grad=True)
    y = F.layer_norm(x, (2, 5), w, b)
    assert type(y._ctx).__name__ == "LayerNorm" and len(y._ctx.parents) == 3
    assert tg.gradcheck(lambda x, w, b: F.layer_norm(x, (2, 5), w, b), [x, w, b])
    assert tg.gradcheck(lambda x: F.layer_norm(x, 5, eps=1e-3), [x])


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(1, 9), n=st.integers(1, 7), affine=st.sampled_from(AFFINE),
       dtype=st.sampled_from([np.float32, np.float64]), block=st.integers(1, 4),
       seed=st.integers(0, 99))
def test_layer_norm_input_gradient_in_blocks_of_rows_is_the_same_to_the_bit(
        rows, n, affine, dtype, block, seed):
    """Large inputs take dx block after block of rows (normalization.BLOCK_BYTES); every row
    must get the same bits as in one block."""
    from tinygrad_rnn.ops import normalization
    rng = _rng(seed)
    x = rng.standard_normal((rows, n)).astype(dtype)
    w = rng.standard_normal(n).astype(dtype) if affine in ("both", "weight") else None
    b = rng.standard_normal(n).astype(dtype) if affine in ("both", "bias") else None
    g = rng.standard_normal((rows, n)).astype(dtype)
    grads, saved = [], normalization.BLOCK_BYTES
    try:
        for size in (1 << 30, block * n * np.dtype(dtype).itemsize):
            normalization.BLOCK_BYTES = size
            xt = Tensor(x, requires_grad=True)
            F.layer_norm(xt, n, None if w is None else Tensor(w),
                         None if b is None else Tensor(b)).backward(g)
            grads.append(xt.grad.data)
    finally:
        normalization.BLOCK_BYTES = saved
    assert grads[0].dtype == dtype
    np.testing.assert_array_equal(grads[0], grads[1])


@pytest.mark.parametrize("n", [7, 768, 8192, 8193, 20000])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layer_norm_numbers_do_not_depend_on_the_thread_count(n, dtype):
    """The row sums go through BLAS dot for rows up to normalization.ROW_DOT_MAX long; its
    numbers (values and every gradient) must be the same at one thread and at two."""
    from tinygrad_rnn import parallel
    rng = _rng(n)
    x = rng.standard_normal((5, n)).astype(dtype)
    w, b = rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)
    g = rng.standard_normal((5, n)).astype(dtype)
    runs = []
    for threads in (1, 2):
        with parallel.num_threads(threads):
            ts = [Tensor(a, requires_grad=True) for a in (x, w, b)]
            y = F.layer_norm(*ts[:1], n, *ts[1:])
            y.backward(g)
            runs.append([y.data] + [t.grad.data for t in ts])
    for one, two in zip(*runs):
        np.testing.assert_array_equal(one, two)


def test_layer_norm_skips_gradients_that_are_not_needed():
    x = Tensor(_rng().standard_normal((2, 3)))  # a constant input, learnable affine
    w = Tensor(np.ones(3), requires_grad=True)
    b = Tensor(np.zeros(3), requires_grad=True)
    F.layer_norm(x, 3, w, b).sum().backward()
    assert x.grad is None
    np.testing.assert_allclose(b.grad.data, [2.0, 2.0, 2.0])


def test_layer_norm_of_a_constant_row_is_the_bias_with_sigma_sqrt_eps(torch, strict_floats):
    eps = 1e-5
    x, tx = _pair(torch, np.full((2, 4), 3.25))
    b, tb = _pair(torch, np.array([0.5, -1.0, 2.0, 0.0]))
    out = F.layer_norm(x, 4, bias=b, eps=eps)
    np.testing.assert_array_equal(out.data, np.broadcast_to(b.data, (2, 4)))
    g = np.arange(8.0).reshape(2, 4)
    out.backward(g)
    # xhat = 0, so dx = (g - mean(g)) / sqrt(eps)
    np.testing.assert_allclose(x.grad.data, (g - g.mean(-1, keepdims=True)) / np.sqrt(eps),
                               rtol=1e-12)
    tout = torch.nn.functional.layer_norm(tx, (4,), None, tb, eps=eps)
    tout.backward(torch.from_numpy(g))
    _same(x.grad, tx.grad, rtol=1e-9, what="gradient of x")


def test_layer_norm_float32_with_a_large_offset_is_accurate(strict_floats):
    rng = _rng(2)
    x32 = (1e4 + 0.1 * rng.standard_normal((8, 32))).astype(np.float32)
    x = Tensor(x32, requires_grad=True)
    y = F.layer_norm(x, 32)
    assert y.dtype == np.float32
    x64 = x32.astype(np.float64)  # the same float32 values, normalized in float64
    ref = (x64 - x64.mean(-1, keepdims=True)) / np.sqrt(x64.var(-1, keepdims=True) + 1e-5)
    # the mean of 1e4 + noise rounds to float32's spacing at 1e4 (~1e-3, i.e. 1e-2 of sigma);
    # the shifted two-pass form does not go through that rounded mean
    np.testing.assert_allclose(y.data, ref, atol=1e-4)
    g = rng.standard_normal((8, 32))
    y.backward(g.astype(np.float32))
    x_ref = Tensor(x64, requires_grad=True)
    F.layer_norm(x_ref, 32).backward(g)
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.data, x_ref.grad.data, rtol=1e-3,
                               atol=1e-3 * np.abs(x_ref.grad.data).max())


def test_layer_norm_of_empty_inputs(strict_floats):
    x = Tensor(np.zeros((0, 4)), requires_grad=True)
    F.layer_norm(x, 4).sum().backward()
    assert x.grad.shape == (0, 4)
    assert F.layer_norm(Tensor(np.zeros((2, 0))), 0).shape == (2, 0)


def test_layer_norm_errors():
    x = Tensor(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"layer_norm: normalized_shape=\(3,\).*\(\*, 3\).*\(2, 4\)"):
        F.layer_norm(x, 3)
    with pytest.raises(ValueError, match=r"layer_norm.*\(3, 2, 4\)"):
        F.layer_norm(x, (3, 2, 4))
    with pytest.raises(ValueError, match="layer_norm: normalized_shape must hold at least one"):
        F.layer_norm(x, ())
    with pytest.raises(TypeError, match="layer_norm: normalized_shape must be an int or a tuple"):
        F.layer_norm(x, 4.0)
    with pytest.raises(ValueError, match=r"layer_norm: weight must have shape .*\(4,\).*\(3,\)"):
        F.layer_norm(x, 4, weight=Tensor(np.ones(3)))
    with pytest.raises(ValueError, match=r"layer_norm: bias must have shape"):
        F.layer_norm(x, 4, bias=Tensor(np.ones((1, 4))))
    with pytest.raises(TypeError, match="layer_norm: input must be floating-point"):
        F.layer_norm(Tensor(np.zeros((2, 4), dtype=np.int64)), 4)
    with pytest.raises(TypeError, match="layer_norm: input must be a Tensor"):
        F.layer_norm([[1.0, 2.0]], 2)
    with pytest.raises(TypeError, match="layer_norm: input dtype float64 but weight float32"):
        F.layer_norm(x, 4, weight=Tensor(np.ones(4, dtype=np.float32)))
    with pytest.raises(ValueError, match="layer_norm: eps must be in"):
        F.layer_norm(x, 4, eps=-1.0)


# ----- nn.LayerNorm --------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [{}, {"eps": 1e-6}, {"elementwise_affine": False},
                                    {"bias": False}])
@pytest.mark.parametrize("normalized_shape", [5, (2, 5)])
def test_layer_norm_module_state_dict_and_repr_match_torch(torch, normalized_shape, kwargs):
    ours = nn.LayerNorm(normalized_shape, **kwargs)
    theirs = torch.nn.LayerNorm(normalized_shape, **kwargs)
    assert repr(ours) == repr(theirs)
    sd, tsd = ours.state_dict(), theirs.state_dict()
    assert list(sd) == list(tsd)
    for k in sd:
        assert sd[k].dtype == np.float32
        np.testing.assert_array_equal(sd[k], tsd[k].numpy())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]


def test_layer_norm_module_forward_matches_torch_with_the_same_weights(torch):
    ours = nn.LayerNorm((3, 4)).double()
    theirs = torch.nn.LayerNorm((3, 4)).double()
    rng = _rng(3)
    state = {"weight": rng.standard_normal((3, 4)), "bias": rng.standard_normal((3, 4))}
    ours.load_state_dict(state)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    x, tx = _pair(torch, rng.standard_normal((2, 3, 4)))
    out, tout = ours(x), theirs(tx)
    _same(out, tout)
    _backward_both(out, tout)
    _same(x.grad, tx.grad, rtol=1e-9, what="gradient of x")
    _same(ours.weight.grad, theirs.weight.grad, rtol=1e-9, what="gradient of weight")
    _same(ours.bias.grad, theirs.bias.grad, rtol=1e-9, what="gradient of bias")


def test_layer_norm_module_defaults_and_errors():
    m = nn.LayerNorm(3)
    assert m.normalized_shape == (3,) and m.eps == 1e-5 and m.elementwise_affine
    np.testing.assert_array_equal(m.weight.data, np.ones(3, np.float32))
    np.testing.assert_array_equal(m.bias.data, np.zeros(3, np.float32))
    y = m(Tensor(np.array([[1.0, 2.0, 3.0]], dtype=np.float32)))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data, [[-1.2247357, 0.0, 1.2247357]], rtol=1e-6)
    with pytest.raises(TypeError, match=r"LayerNorm: input dtype float64 .*\.double\(\)"):
        m(Tensor(np.ones((1, 3))))
    with pytest.raises(ValueError, match="LayerNorm: normalized_shape must hold at least one"):
        nn.LayerNorm([])
    with pytest.raises(TypeError, match="LayerNorm: normalized_shape"):
        nn.LayerNorm("3")
    with pytest.raises(ValueError, match=r"expects input of shape \(\*, 3\)"):
        m(Tensor(np.ones((2, 4), dtype=np.float32)))


# ----- the losses against PyTorch --------------------------------------------------------
REDUCTIONS = ["mean", "sum", "none"]


def _loss_inputs(torch, shape=(3, 4), seed=4):
    rng = _rng(seed)
    x = rng.uniform(-2, 2, shape)
    t = rng.uniform(-2, 2, shape)
    return _pair(torch, x), _pair(torch, t)


def _check_loss(torch, ours_fn, theirs_fn, x_pair, t_pair):
    (x, tx), (t, tt) = x_pair, t_pair
    out, tout = ours_fn(x, t), theirs_fn(tx, tt)
    _same(out, tout)
    _backward_both(out, tout)
    _same(x.grad, tx.grad, rtol=1e-9, what="gradient of input")
    _same(t.grad, tt.grad, rtol=1e-9, what="gradient of target")


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_l1_loss_matches_torch(torch, reduction):
    _check_loss(torch, lambda x, t: F.l1_loss(x, t, reduction),
                lambda x, t: torch.nn.functional.l1_loss(x, t, reduction=reduction),
                *_loss_inputs(torch))


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 2.5])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_smooth_l1_loss_matches_torch(torch, reduction, beta):
    _check_loss(torch, lambda x, t: F.smooth_l1_loss(x, t, reduction, beta=beta),
                lambda x, t: torch.nn.functional.smooth_l1_loss(x, t, reduction=reduction,
                                                                beta=beta),
                *_loss_inputs(torch))


@pytest.mark.parametrize("delta", [0.5, 1.0, 2.5])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_huber_loss_matches_torch(torch, reduction, delta):
    _check_loss(torch, lambda x, t: F.huber_loss(x, t, reduction, delta=delta),
                lambda x, t: torch.nn.functional.huber_loss(x, t, reduction=reduction,
                                                            delta=delta),
                *_loss_inputs(torch))


def test_huber_is_delta_times_smooth_l1_and_smooth_l1_at_beta_0_is_l1():
    x, t = Tensor(np.linspace(-3, 3, 13)), Tensor(np.zeros(13))
    np.testing.assert_allclose(F.huber_loss(x, t, "none", delta=1.5).data,
                               1.5 * F.smooth_l1_loss(x, t, "none", beta=1.5).data)
    np.testing.assert_array_equal(F.smooth_l1_loss(x, t, beta=0.0).data, F.l1_loss(x, t).data)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_matches_torch(torch, reduction, weighted):
    rng = _rng(5)
    x_pair = _pair(torch, rng.uniform(0.02, 0.98, (3, 4)))
    t_pair = _pair(torch, rng.uniform(0, 1, (3, 4)))
    w = rng.uniform(0.5, 2.0, (4,)) if weighted else None
    tw = torch.from_numpy(w) if weighted else None
    _check_loss(torch, lambda x, t: F.binary_cross_entropy(x, t, w, reduction),
                lambda x, t: torch.nn.functional.binary_cross_entropy(x, t, tw,
                                                                      reduction=reduction),
                x_pair, t_pair)


def test_binary_cross_entropy_clamps_the_logs_at_the_edges(torch, strict_floats):
    x, tx = _pair(torch, np.array([0.0, 1.0, 0.0, 1.0, 0.5]))
    t = np.array([1.0, 0.0, 0.0, 1.0, 0.25])
    out = F.binary_cross_entropy(x, t, reduction="none")
    tout = torch.nn.functional.binary_cross_entropy(tx, torch.from_numpy(t), reduction="none")
    np.testing.assert_allclose(out.data[:4], [100.0, 100.0, 0.0, 0.0])
    _same(out, tout)
    out.backward(np.ones(5))
    tout.backward(torch.ones(5, dtype=torch.float64))
    assert np.all(np.isfinite(x.grad.data))
    # PyTorch's floor 1e-12 of x (1 - x) is a float32 constant: 4e-9 apart at the edges
    _same(x.grad, tx.grad, rtol=1e-8, what="gradient of input")


def test_binary_cross_entropy_weight_is_differentiable_here():
    rng = _rng(6)
    x = Tensor(rng.uniform(0.1, 0.9, (2, 3)), requires_grad=True)
    t = Tensor(rng.uniform(0, 1, (2, 3)), requires_grad=True)
    w = Tensor(rng.uniform(0.5, 2, (3,)), requires_grad=True)
    assert tg.gradcheck(lambda x, t, w: F.binary_cross_entropy(x, t, w, "sum"), [x, t, w])


@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "batchmean", "sum", "none"])
def test_kl_div_matches_torch(torch, reduction, log_target):
    rng = _rng(7)
    x_pair = _pair(torch, np.log(rng.dirichlet(np.ones(5), size=3)))
    p = rng.dirichlet(np.ones(5), size=3)
    t_pair = _pair(torch, np.log(p) if log_target else p)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # PyTorch's note on reduction="mean"
        _check_loss(torch, lambda x, t: F.kl_div(x, t, reduction, log_target=log_target),
                    lambda x, t: torch.nn.functional.kl_div(x, t, reduction=reduction,
                                                            log_target=log_target),
                    x_pair, t_pair)


def test_kl_div_target_zero_adds_nothing(torch, strict_floats):
    x, tx = _pair(torch, np.log(np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])))
    t = np.array([[0.0, 0.4, 0.6], [1.0, 0.0, 0.0]])
    out = F.kl_div(x, t, reduction="batchmean")
    tout = torch.nn.functional.kl_div(tx, torch.from_numpy(t), reduction="batchmean")
    per = np.where(t > 0, t * (np.log(np.where(t > 0, t, 1)) - x.data), 0.0)
    np.testing.assert_allclose(out.data, per.sum() / 2, rtol=1e-12)
    _same(out, tout)
    out.backward()
    tout.backward()
    _same(x.grad, tx.grad, rtol=1e-12, what="gradient of input")
    assert np.all(x.grad.data[t == 0] == 0)


def test_kl_div_batchmean_of_a_0d_input_is_the_sum():
    x, t = Tensor(np.array(-0.5)), Tensor(np.array(0.25))
    np.testing.assert_allclose(F.kl_div(x, t, reduction="batchmean").data,
                               0.25 * (np.log(0.25) + 0.5))


def test_l1_loss_is_composed_and_the_others_are_one_node():
    x, t = Tensor(np.ones(3), requires_grad=True), Tensor(np.zeros(3))
    names = {fn: type(fn(x, t, reduction="none")._ctx).__name__ for fn in (
        F.l1_loss, F.smooth_l1_loss, F.huber_loss, F.kl_div)}
    assert names == {F.l1_loss: "Abs", F.smooth_l1_loss: "SmoothL1", F.huber_loss: "Huber",
                     F.kl_div: "KLDiv"}
    p = Tensor(np.full(3, 0.5), requires_grad=True)
    assert type(F.binary_cross_entropy(p, t, reduction="none")._ctx).__name__ == \
        "BinaryCrossEntropy"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_losses_keep_the_dtype(dtype):
    x = Tensor(np.full((2, 3), 0.25, dtype=dtype), requires_grad=True)
    t = np.full((2, 3), 0.5, dtype=dtype)
    for loss in (F.l1_loss(x, t), F.smooth_l1_loss(x, t), F.huber_loss(x, t),
                 F.binary_cross_entropy(x, t), F.kl_div(x, t, reduction="batchmean")):
        assert loss.dtype == dtype
        x.grad = None
        loss.backward()
        assert x.grad.dtype == dtype


# ----- bad input -------------------------------------------------------------------------------
LOSSES = [F.l1_loss, F.smooth_l1_loss, F.huber_loss, F.binary_cross_entropy, F.kl_div]


@pytest.mark.parametrize("fn", LOSSES, ids=lambda f: f.__name__)
def test_losses_refuse_bad_reductions_and_shapes(fn):
    x = Tensor(np.full((2, 3), 0.5))
    with pytest.raises(ValueError, match=f"{fn.__name__}: reduction must be"):
        fn(x, np.full((2, 3), 0.5), reduction="avg")
    with pytest.raises(ValueError, match=fn.__name__ + r": target shape \(3,\) must equal input "
                                         r"shape \(2, 3\)"):
        fn(x, np.full(3, 0.5))
    with pytest.raises(TypeError, match=f"{fn.__name__}: input must be a Tensor"):
        fn("x", np.full((2, 3), 0.5))


def test_loss_argument_errors():
    x, t = Tensor(np.zeros(3)), Tensor(np.zeros(3))
    with pytest.raises(ValueError, match="smooth_l1_loss: beta must be in"):
        F.smooth_l1_loss(x, t, beta=-1.0)
    with pytest.raises(ValueError, match="huber_loss: delta must be positive"):
        F.huber_loss(x, t, delta=0.0)
    with pytest.raises(ValueError, match="huber_loss: delta must be in"):
        F.huber_loss(x, t, delta=-2.0)
    with pytest.raises(TypeError, match="kl_div: log_target must be a bool"):
        F.kl_div(x, t, log_target="yes")
    with pytest.raises(ValueError, match="kl_div: reduction must be one of 'mean', 'batchmean'"):
        F.kl_div(x, t, reduction="batch")


@pytest.mark.parametrize("bad", [1.5, -0.1, np.nan])
def test_binary_cross_entropy_refuses_values_outside_0_1(bad):
    ok = np.array([0.0, 0.5, 1.0])
    with pytest.raises(ValueError, match=r"binary_cross_entropy: all elements of input must be "
                                         r"in \[0, 1\]"):
        F.binary_cross_entropy(Tensor(np.array([0.5, bad, 0.2])), ok)
    with pytest.raises(ValueError, match="binary_cross_entropy: all elements of target"):
        F.binary_cross_entropy(Tensor(ok), np.array([0.5, bad, 0.2]))


def test_binary_cross_entropy_weight_must_broadcast_to_the_input():
    x = Tensor(np.full((2, 3), 0.5))
    with pytest.raises(ValueError, match=r"weight of shape \(2,\) must broadcast to the input's "
                                         r"shape \(2, 3\)"):
        F.binary_cross_entropy(x, np.full((2, 3), 0.5), weight=np.ones(2))
    with pytest.raises(ValueError, match="weight of shape"):
        F.binary_cross_entropy(x, np.full((2, 3), 0.5), weight=np.ones((4, 2, 3)))


# ----- loss modules ------------------------------------------------------------------------------
def test_loss_modules_match_functional_and_torch_repr(torch):
    rng = _rng(8)
    x = Tensor(rng.uniform(0.1, 0.9, (2, 3)))
    t = rng.uniform(0.1, 0.9, (2, 3))
    cases = [
        (nn.L1Loss(), torch.nn.L1Loss(), F.l1_loss(x, t)),
        (nn.SmoothL1Loss(beta=0.5), torch.nn.SmoothL1Loss(beta=0.5),
         F.smooth_l1_loss(x, t, beta=0.5)),
        (nn.HuberLoss(delta=0.3), torch.nn.HuberLoss(delta=0.3), F.huber_loss(x, t, delta=0.3)),
        (nn.BCELoss(), torch.nn.BCELoss(), F.binary_cross_entropy(x, t)),
        (nn.KLDivLoss(reduction="batchmean", log_target=True), None,
         F.kl_div(x, t, reduction="batchmean", log_target=True)),
    ]
    for ours, theirs, expected in cases:
        np.testing.assert_array_equal(ours(x, t).data, expected.data)
        if theirs is not None:
            assert repr(ours) == repr(theirs)
            assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(nn.KLDivLoss()) == repr(torch.nn.KLDivLoss()) == "KLDivLoss()"
    assert nn.L1Loss(reduction="sum")(x, t).item() == pytest.approx(F.l1_loss(x, t, "sum").item())


def test_bce_loss_weight_is_a_buffer_as_in_torch(torch):
    w = np.array([1.0, 2.0, 0.5])
    ours, theirs = nn.BCELoss(weight=w), torch.nn.BCELoss(weight=torch.from_numpy(w))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    np.testing.assert_array_equal(ours.state_dict()["weight"], w)
    assert list(ours.parameters()) == []
    x = Tensor(np.full((2, 3), 0.25))
    t = np.full((2, 3), 1.0)
    np.testing.assert_allclose(ours(x, t).data, theirs(torch.from_numpy(x.data),
                                                       torch.from_numpy(t)).numpy())


def test_loss_module_argument_errors():
    with pytest.raises(ValueError, match="L1Loss: reduction"):
        nn.L1Loss(reduction="batchmean")
    with pytest.raises(ValueError, match="KLDivLoss: reduction must be one of"):
        nn.KLDivLoss(reduction="avg")
    with pytest.raises(TypeError, match="KLDivLoss: log_target must be a bool, got str"):
        nn.KLDivLoss(log_target="no")  # (was taken as True; F.kl_div and torch refuse it)
    with pytest.raises(ValueError, match="SmoothL1Loss: beta"):
        nn.SmoothL1Loss(beta=-1.0)
    with pytest.raises(ValueError, match="HuberLoss: delta must be positive"):
        nn.HuberLoss(delta=0.0)


def test_layer_norm_without_vecdot_gives_the_same_values(monkeypatch):
    """NumPy 1 has no np.vecdot, and other BLAS libraries are not trusted to keep a dot on one
    thread: there the row sums are NumPy's own (einsum, add.reduce)."""
    from tinygrad_rnn.ops import normalization
    rng = _rng(5)
    x, w, b = rng.standard_normal((4, 9)), rng.standard_normal(9), rng.standard_normal(9)
    runs = []
    for vecdot in (normalization._VECDOT, None):
        monkeypatch.setattr(normalization, "_VECDOT", vecdot)
        ts = [Tensor(a, requires_grad=True) for a in (x, w, b)]
        F.layer_norm(ts[0], 9, ts[1], ts[2]).backward(np.cos(x))
        runs.append([t.grad.data for t in ts])
    for a, b_ in zip(*runs):
        np.testing.assert_allclose(a, b_, rtol=1e-12, atol=1e-14)


def test_cross_entropy_refuses_integer_logits_as_pytorch():
    with pytest.raises(TypeError, match="cross_entropy: logits must be floating-point"):
        F.cross_entropy(Tensor(np.array([[1, 2, 3]])), np.array([0]))
