"""Against PyTorch (skipped when it is not installed): the same weights give the same
outputs, states and gradients; state_dicts move both ways; losses agree."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn
from tinygrad_rnn.nn import functional as F

from .helpers import flatten_state, make_layer, torch_layer

CONFIGS = [
    dict(num_layers=1, bidirectional=False, batch_first=False),
    dict(num_layers=2, bidirectional=True, batch_first=True),
]


def _torch_state(torch, state):
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(torch.tensor(s.data, requires_grad=True) for s in state)
    return torch.tensor(state.data, requires_grad=True)


def _flat_torch(state):
    return list(state) if isinstance(state, tuple) else [state]


@pytest.mark.parametrize("mode", ["rnn_tanh", "rnn_relu", "lstm", "gru"])
@pytest.mark.parametrize("config", CONFIGS, ids=["1layer", "2layer-bi-batchfirst"])
@pytest.mark.parametrize("fused", [False, True])
def test_layer_matches_torch(torch, mode, config, fused):
    ours = make_layer(mode, 3, 4, fused=fused, **config).double()
    twin = torch_layer(torch, ours)
    assert list(twin.state_dict()) == list(ours.state_dict())
    rng = np.random.default_rng(0)
    shape = (2, 5, 3) if config["batch_first"] else (5, 2, 3)
    x_np = rng.standard_normal(shape)
    n = config["num_layers"] * (2 if config["bidirectional"] else 1)
    h_np = [rng.standard_normal((n, 2, 4)) for _ in range(2 if mode == "lstm" else 1)]
    state = tuple(Tensor(h.copy(), requires_grad=True) for h in h_np)
    state = state if mode == "lstm" else state[0]

    x = Tensor(x_np.copy(), requires_grad=True)
    out, final = ours(x, state)
    xt = torch.tensor(x_np, requires_grad=True)
    st = _torch_state(torch, state)
    out_t, final_t = twin(xt, st)

    np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    for a, b in zip(flatten_state(final), _flat_torch(final_t)):
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-10, atol=1e-12)

    # the same scalar of every output, backpropagated on both sides
    weights = [rng.standard_normal(t.shape) for t in [out] + flatten_state(final)]
    loss = sum(((t * Tensor(w)).sum() for t, w in zip([out] + flatten_state(final), weights)),
               Tensor(np.float64(0)))
    loss.backward()
    loss_t = sum((t * torch.from_numpy(w)).sum()
                 for t, w in zip([out_t] + _flat_torch(final_t), weights))
    loss_t.backward()
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    for a, b in zip(flatten_state(state), _flat_torch(st)):
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=1e-9, atol=1e-12)
    torch_grads = dict(twin.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.data, torch_grads[name].grad.numpy(),
                                   rtol=1e-9, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_tanh"])
def test_state_dict_from_torch_and_float32(torch, mode):
    torch.manual_seed(0)
    kind = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn_tanh": torch.nn.RNN}[mode]
    twin = kind(3, 5, num_layers=2, bidirectional=True)
    ours = make_layer(mode, 3, 5, 2, bidirectional=True)
    ours.load_state_dict({k: v.numpy() for k, v in twin.state_dict().items()})
    for k, v in ours.state_dict().items():
        np.testing.assert_array_equal(v, twin.state_dict()[k].numpy())
    x = np.random.default_rng(1).standard_normal((4, 2, 3)).astype(np.float32)
    out, _ = ours(Tensor(x))
    out_t, _ = twin(torch.from_numpy(x))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_unbatched_matches_torch(torch):
    ours = nn.LSTM(3, 4, num_layers=2, bidirectional=True, fused=False).double()
    twin = torch_layer(torch, ours)
    x = np.random.default_rng(2).standard_normal((6, 3))
    out, (h, c) = ours(Tensor(x))
    out_t, (h_t, c_t) = twin(torch.from_numpy(x))
    assert out.shape == tuple(out_t.shape) and h.shape == tuple(h_t.shape)
    np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(c.data, c_t.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cell_kind", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("bias", [True, False])
def test_cells_match_torch(torch, cell_kind, bias):
    ours = getattr(nn, cell_kind)(3, 4, bias=bias).double()
    twin = torch_layer(torch, ours)
    assert list(twin.state_dict()) == list(ours.state_dict())
    rng = np.random.default_rng(0)
    x_np, h_np, c_np = rng.standard_normal((2, 3)), rng.standard_normal((2, 4)), \
        rng.standard_normal((2, 4))
    x, h, c = (Tensor(a.copy(), requires_grad=True) for a in (x_np, h_np, c_np))
    xt, ht, ct = (torch.tensor(a, requires_grad=True) for a in (x_np, h_np, c_np))
    if cell_kind == "LSTMCell":
        outs, outs_t = list(ours(x, (h, c))), list(twin(xt, (ht, ct)))
    else:
        outs, outs_t = [ours(x, h)], [twin(xt, ht)]
    w = [rng.standard_normal((2, 4)) for _ in outs]
    for a, b in zip(outs, outs_t):
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-12)
    sum((o * Tensor(wi)).sum() for o, wi in zip(outs, w)).backward()
    sum((o * torch.from_numpy(wi)).sum() for o, wi in zip(outs_t, w)).backward()
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(h.grad.data, ht.grad.numpy(), rtol=1e-10)
    tp = dict(twin.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.data, tp[name].grad.numpy(), rtol=1e-10, err_msg=name)


def test_default_init_ranges_match_torch(torch):
    """Same laws as PyTorch: compare the spread of many draws."""
    torch.manual_seed(0)
    pairs = [(nn.LSTM(20, 30), torch.nn.LSTM(20, 30)), (nn.Linear(50, 40), torch.nn.Linear(50, 40)),
             (nn.Embedding(100, 20), torch.nn.Embedding(100, 20)),
             (nn.GRUCell(10, 25), torch.nn.GRUCell(10, 25))]
    for ours, theirs in pairs:
        for (n, p), (n_t, p_t) in zip(ours.named_parameters(), theirs.named_parameters()):
            assert n == n_t and p.shape == tuple(p_t.shape)
            a, b = p.data, p_t.detach().numpy()
            assert abs(a.std() - b.std()) < 0.15 * b.std(), n
            assert np.abs(a).max() <= max(np.abs(b).max() * 1.2, 4.0 * b.std()), n


def test_losses_match_torch(torch):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((3, 4, 5)) * 3
    target = rng.integers(0, 5, size=(3, 4))
    lt = torch.tensor(logits, requires_grad=True)
    for reduction in ("mean", "sum", "none"):
        x = Tensor(logits.copy(), requires_grad=True)
        ours = F.cross_entropy(x, target, reduction=reduction)
        # torch puts classes on axis 1: move ours (last) there
        theirs = torch.nn.functional.cross_entropy(lt.permute(0, 2, 1), torch.from_numpy(target),
                                                   reduction=reduction)
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-12)
        ours.sum().backward()
        lt.grad = None
        theirs.sum().backward()
        np.testing.assert_allclose(x.grad.data, lt.grad.numpy(), rtol=1e-10, atol=1e-14)
        ours_nll = F.nll_loss(Tensor(logits), target, reduction=reduction)
        theirs_nll = torch.nn.functional.nll_loss(torch.from_numpy(logits).permute(0, 2, 1),
                                                  torch.from_numpy(target), reduction=reduction)
        np.testing.assert_allclose(ours_nll.data, theirs_nll.numpy(), rtol=1e-12)
    p = rng.random((3, 4))
    np.testing.assert_allclose(
        F.binary_cross_entropy_with_logits(Tensor(logits[..., 0]), Tensor(p)).data,
        torch.nn.functional.binary_cross_entropy_with_logits(
            torch.from_numpy(logits[..., 0]), torch.from_numpy(p)).numpy(), rtol=1e-12)
    np.testing.assert_allclose(
        F.mse_loss(Tensor(logits), Tensor(logits * 0.5), reduction="sum").data,
        torch.nn.functional.mse_loss(torch.from_numpy(logits), torch.from_numpy(logits * 0.5),
                                     reduction="sum").numpy(), rtol=1e-12)


def test_a_small_model_trains_identically(torch):
    """Three hand SGD steps on an LSTM + Linear give the same weights as in PyTorch."""
    tg.manual_seed(0)
    lstm, head = nn.LSTM(2, 3, num_layers=2, fused=False).double(), nn.Linear(3, 4).double()
    lstm_t, head_t = torch_layer(torch, lstm), torch.nn.Linear(3, 4).double()
    head_t.load_state_dict({k: torch.from_numpy(v) for k, v in head.state_dict().items()})
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((5, 2, 2)), rng.integers(0, 4, size=(5, 2))
    params = list(lstm.parameters()) + list(head.parameters())
    params_t = list(lstm_t.parameters()) + list(head_t.parameters())
    for _ in range(3):
        out, _ = lstm(Tensor(x))
        loss = F.cross_entropy(head(out), y)
        for p in params:
            p.grad = None
        loss.backward()
        for p in params:
            p.data -= 0.5 * p.grad.data
        out_t, _ = lstm_t(torch.from_numpy(x))
        loss_t = torch.nn.functional.cross_entropy(head_t(out_t).reshape(-1, 4),
                                                   torch.from_numpy(y).reshape(-1))
        for p in params_t:
            p.grad = None
        loss_t.backward()
        with torch.no_grad():
            for p in params_t:
                p -= 0.5 * p.grad
        assert loss.item() == pytest.approx(loss_t.item(), rel=1e-10)
    for p, q in zip(params, params_t):
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-9, atol=1e-12)
