"""RNNCell, LSTMCell, GRUCell: the equations (against NumPy), gradients, unbatched input,
input checks."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn

from .helpers import gradcheck_module, randn


def _sig(a):
    return 1 / (1 + np.exp(-a))


def numpy_rnn(x, h, w_ih, w_hh, b_ih, b_hh, act):
    f = {"tanh": np.tanh, "relu": lambda a: np.maximum(a, 0), "sigmoid": _sig}[act]
    return f(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh)


def numpy_lstm(x, h, c, w_ih, w_hh, b_ih, b_hh):
    i, f, g, o = np.split(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh, 4, axis=-1)
    c2 = _sig(f) * c + _sig(i) * np.tanh(g)
    return _sig(o) * np.tanh(c2), c2


def numpy_gru(x, h, w_ih, w_hh, b_ih, b_hh):
    ir, iz, in_ = np.split(x @ w_ih.T + b_ih, 3, axis=-1)
    hr, hz, hn = np.split(h @ w_hh.T + b_hh, 3, axis=-1)
    r, z = _sig(ir + hr), _sig(iz + hz)
    n = np.tanh(in_ + r * hn)
    return (1 - z) * n + z * h


def _weights(cell):
    zeros = np.zeros(cell.weight_ih.shape[0])
    b_ih = cell.bias_ih.data if cell.bias_ih is not None else zeros
    b_hh = cell.bias_hh.data if cell.bias_hh is not None else zeros
    return cell.weight_ih.data, cell.weight_hh.data, b_ih, b_hh


@pytest.mark.parametrize("act", ["tanh", "relu", "sigmoid"])
@pytest.mark.parametrize("bias", [True, False])
def test_rnn_cell_matches_numpy(act, bias):
    cell = nn.RNNCell(3, 4, bias=bias, nonlinearity=act).double()
    x, h = randn(5, 3), randn(5, 4)
    np.testing.assert_allclose(cell(x, h).data, numpy_rnn(x.data, h.data, *_weights(cell), act),
                               rtol=1e-12)


@pytest.mark.parametrize("bias", [True, False])
def test_lstm_cell_matches_numpy(bias):
    cell = nn.LSTMCell(3, 4, bias=bias).double()
    x, h, c = randn(5, 3), randn(5, 4), randn(5, 4)
    h2, c2 = cell(x, (h, c))
    rh, rc = numpy_lstm(x.data, h.data, c.data, *_weights(cell))
    np.testing.assert_allclose(h2.data, rh, rtol=1e-12)
    np.testing.assert_allclose(c2.data, rc, rtol=1e-12)


@pytest.mark.parametrize("bias", [True, False])
def test_gru_cell_matches_numpy(bias):
    cell = nn.GRUCell(3, 4, bias=bias).double()
    x, h = randn(5, 3), randn(5, 4)
    np.testing.assert_allclose(cell(x, h).data, numpy_gru(x.data, h.data, *_weights(cell)),
                               rtol=1e-12)


def test_gru_reset_gate_multiplies_the_hidden_bias_too():
    """n = tanh(W_in x + b_in + r * (W_hn h + b_hn)): b_hn sits inside the reset product."""
    cell = nn.GRUCell(1, 1).double()
    for p in cell.parameters():
        p.data[...] = 0.0
    cell.bias_hh.data[2] = 1.0      # b_hn
    cell.bias_ih.data[0] = -50.0    # r = sigmoid(-50) ~ 0 hides b_hn entirely
    h = cell(Tensor(np.zeros((1, 1))), Tensor(np.zeros((1, 1))))
    # z = 0.5, n = tanh(~0) -> h' ~ 0; with b_hn outside the product n would be tanh(1)
    assert abs(h.item()) < 1e-12


def test_default_state_is_zeros():
    x = randn(2, 3)
    for cell in (nn.RNNCell(3, 4), nn.GRUCell(3, 4)):
        cell.double()
        np.testing.assert_array_equal(cell(x).data, cell(x, Tensor(np.zeros((2, 4)))).data)
    lstm = nn.LSTMCell(3, 4).double()
    zeros = Tensor(np.zeros((2, 4)))
    for a, b in zip(lstm(x), lstm(x, (zeros, zeros))):
        np.testing.assert_array_equal(a.data, b.data)


def test_unbatched_input():
    x = randn(3)
    for cell in (nn.RNNCell(3, 4), nn.GRUCell(3, 4)):
        cell.double()
        h = randn(4)
        out = cell(x, h)
        assert out.shape == (4,)
        batched = cell(Tensor(x.data[None]), Tensor(h.data[None]))
        np.testing.assert_allclose(out.data, batched.data[0])
    lstm = nn.LSTMCell(3, 4).double()
    h, c = lstm(x)
    assert h.shape == (4,) and c.shape == (4,)


def test_parameter_names_shapes_init():
    cell = nn.LSTMCell(3, 5)
    assert [(n, p.shape) for n, p in cell.named_parameters()] == [
        ("weight_ih", (20, 3)), ("weight_hh", (20, 5)), ("bias_ih", (20,)), ("bias_hh", (20,))]
    assert nn.GRUCell(3, 5).weight_hh.shape == (15, 5)
    assert nn.RNNCell(3, 5, bias=False).bias_ih is None
    assert [n for n, _ in nn.RNNCell(3, 5, bias=False).named_parameters()] == \
        ["weight_ih", "weight_hh"]
    k = 1 / np.sqrt(5)
    assert all(np.abs(p.data).max() <= k for p in cell.parameters())
    assert repr(nn.RNNCell(3, 5, nonlinearity="relu")) == "RNNCell(3, 5, nonlinearity='relu')"
    assert repr(nn.LSTMCell(3, 5, bias=False)) == "LSTMCell(3, 5, bias=False)"


@settings(max_examples=10)
@given(kind=st.sampled_from(["rnn_tanh", "rnn_sigmoid", "lstm", "gru"]),
       batch=st.integers(1, 3), input_size=st.integers(1, 3), hidden=st.integers(1, 3),
       bias=st.booleans(), unbatched=st.booleans())
def test_cell_gradcheck(kind, batch, input_size, hidden, bias, unbatched):
    if kind.startswith("rnn"):
        cell = nn.RNNCell(input_size, hidden, bias=bias, nonlinearity=kind[4:])
    else:
        cell = {"lstm": nn.LSTMCell, "gru": nn.GRUCell}[kind](input_size, hidden, bias=bias)
    cell.double()
    lead = () if unbatched else (batch,)
    x = randn(*lead, input_size, requires_grad=True)
    h = randn(*lead, hidden, requires_grad=True)
    state = (h, randn(*lead, hidden, requires_grad=True)) if kind == "lstm" else h
    assert gradcheck_module(cell, x, state)


def test_relu_cell_gradcheck_away_from_the_kink():
    cell = nn.RNNCell(2, 3, nonlinearity="relu").double()
    x = randn(2, 2, requires_grad=True)
    h = randn(2, 3, requires_grad=True)
    pre = x.data @ cell.weight_ih.data.T + cell.bias_ih.data + h.data @ cell.weight_hh.data.T \
        + cell.bias_hh.data
    assert np.abs(pre).min() > 1e-4
    assert gradcheck_module(cell, x, h)


def test_cell_input_errors():
    cell = nn.GRUCell(3, 4)
    with pytest.raises(ValueError, match=r"GRUCell: input has 5 features \(shape \(2, 5\)\), "
                                         r"expected input_size=3"):
        cell(tg.randn(2, 5))
    with pytest.raises(ValueError, match=r"expected input of shape \(batch, input_size\) or "
                                         r"\(input_size,\), got a 3-D tensor"):
        cell(tg.randn(1, 2, 3))
    with pytest.raises(ValueError, match=r"GRUCell: h has shape \(3, 4\), expected \(2, 4\) "
                                         r"\(batch, hidden_size\)"):
        cell(tg.randn(2, 3), tg.randn(3, 4))
    with pytest.raises(ValueError, match=r"h has shape \(1, 4\), expected \(4,\) "
                                         r"\(hidden_size,\) for unbatched input"):
        cell(tg.randn(3), tg.randn(1, 4))
    with pytest.raises(TypeError, match="floating-point, got dtype int64"):
        cell(Tensor(np.zeros((2, 3), dtype=np.int64)))
    lstm = nn.LSTMCell(3, 4)
    with pytest.raises(TypeError, match=r"state must be a tuple \(h, c\) or None"):
        lstm(tg.randn(2, 3), tg.randn(2, 4))
    with pytest.raises(ValueError, match=r"LSTMCell: c has shape \(2, 5\), expected \(2, 4\)"):
        lstm(tg.randn(2, 3), (tg.randn(2, 4), tg.randn(2, 5)))
    with pytest.raises(ValueError, match="nonlinearity must be one of"):
        nn.RNNCell(2, 3, nonlinearity="softsign")
    with pytest.raises(ValueError, match="input_size must be a positive int, got -1"):
        nn.LSTMCell(-1, 3)


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_cells_take_the_state_as_hx_as_pytorch(kind):
    tg.manual_seed(0)
    cell = {"rnn": nn.RNNCell, "gru": nn.GRUCell, "lstm": nn.LSTMCell}[kind](3, 4).double()
    x = tg.Tensor(np.random.default_rng(0).standard_normal((2, 3)))
    h = tg.Tensor(np.random.default_rng(1).standard_normal((2, 4)))
    hx = (h, h * 0.5) if kind == "lstm" else h
    by_name, by_place = cell(x, hx=hx), cell(x, hx)
    for a, b in zip(by_name if kind == "lstm" else (by_name,),
                    by_place if kind == "lstm" else (by_place,)):
        np.testing.assert_array_equal(a.data, b.data)
