"""RNN / LSTM / GRU layers and the generic Recurrent runner: gradients, loop == layer, shapes,
dropout, truncated BPTT, bad input."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn
from tinygrad_rnn.nn.utils import detach_state

from .helpers import flatten_state, gradcheck_module, make_layer, make_state, randn

MODES = ["rnn_tanh", "rnn_relu", "rnn_sigmoid", "lstm", "gru"]
CELLS = {"rnn_tanh": nn.RNNCell, "rnn_relu": nn.RNNCell, "rnn_sigmoid": nn.RNNCell,
         "lstm": nn.LSTMCell, "gru": nn.GRUCell}


def _cell_for(mode: str, layer: nn.Module, k: int, d: int) -> nn.Module:
    """A cell module holding copies of layer k, direction d's weights."""
    kwargs = {"nonlinearity": mode[4:]} if mode.startswith("rnn_") else {}
    in_features = layer.input_size if k == 0 else layer.hidden_size * layer.num_directions
    cell = CELLS[mode](in_features, layer.hidden_size, bias=layer.bias, **kwargs).double()
    sfx = f"_l{k}" + ("_reverse" if d else "")
    sd = layer.state_dict()
    cell.load_state_dict({n: sd[n + sfx] for n in cell.state_dict()})
    return cell


def _hand_loop(mode: str, layer: nn.Module, x_tbi: Tensor, state) -> tuple:
    """The layer written out as Python loops over cells (time-major, batched, eval mode)."""
    L, D = layer.num_layers, layer.num_directions
    T = x_tbi.shape[0]
    seq = [x_tbi[t] for t in range(T)]
    finals = []
    for k in range(L):
        outs = []
        for d in range(D):
            cell = _cell_for(mode, layer, k, d)
            i = k * D + d
            if state is None:
                s = None
            elif mode == "lstm":
                s = (state[0][i], state[1][i])
            else:
                s = state[i]
            out = [None] * T
            for t in (reversed(range(T)) if d else range(T)):
                s = cell(seq[t], s)
                out[t] = s[0] if mode == "lstm" else s
            outs.append(out)
            finals.append(s)
        seq = outs[0] if D == 1 else [tg.concatenate([a, b], axis=1) for a, b in zip(*outs)]
    output = tg.stack(seq)
    if mode == "lstm":
        return output, (tg.stack([h for h, _ in finals]), tg.stack([c for _, c in finals]))
    return output, tg.stack(finals)


# ----- gradients ------------------------------------------------------------------------
@settings(max_examples=6)
@given(mode=st.sampled_from(MODES), batch=st.integers(1, 2), time=st.integers(1, 3),
       input_size=st.integers(1, 3), hidden=st.integers(1, 2), layers=st.integers(1, 2),
       bidirectional=st.booleans(), batch_first=st.booleans(), bias=st.booleans(),
       with_state=st.booleans())
def test_layer_gradcheck(mode, batch, time, input_size, hidden, layers, bidirectional,
                         batch_first, bias, with_state):
    model = make_layer(mode, input_size, hidden, layers, bias=bias, batch_first=batch_first,
                       bidirectional=bidirectional, fused=False).double()
    shape = (batch, time, input_size) if batch_first else (time, batch, input_size)
    x = randn(*shape, requires_grad=True)
    n = layers * model.num_directions
    state = make_state(mode, n, batch, hidden, requires_grad=True) if with_state else None
    assert gradcheck_module(model, x, state)


@pytest.mark.parametrize("mode", ["lstm", "rnn_tanh"])  # GRU: the Recurrent test below
def test_layer_gradcheck_unbatched_two_layers_bidirectional(mode):
    model = make_layer(mode, 1, 2, 2, bidirectional=True, fused=False).double()
    x = randn(2, 1, requires_grad=True)
    state = make_state(mode, 4, None, 2, requires_grad=True)
    assert gradcheck_module(model, x, state)


def test_gradcheck_catches_a_wrong_gradient(monkeypatch):
    """The module gradcheck can fail: break the cell's tanh gradient and it must."""
    model = nn.GRU(2, 2, fused=False).double()
    x = randn(2, 1, 2, requires_grad=True)
    real_step = nn.GRUCell.step

    def broken_step(x, h, *w):
        out = real_step(x, h, *w)
        return out + (out.detach() - out) * 0.5  # same value, half the gradient

    monkeypatch.setattr(nn.GRUCell, "step", staticmethod(broken_step))
    with pytest.raises(tg.GradcheckError, match="input 0"):
        gradcheck_module(model, x, None)


# ----- loop over cells == layer --------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_loop_of_cells_equals_layer_exactly(mode, bidirectional):
    layer = make_layer(mode, 3, 4, 2, bidirectional=bidirectional, fused=False).double()
    x = randn(5, 2, 3, requires_grad=True)
    state = make_state(mode, 2 * layer.num_directions, 2, 4)
    out, final = layer(x, state)
    ref_out, ref_final = _hand_loop(mode, layer, x, state)
    assert out.shape == (5, 2, 4 * layer.num_directions)
    np.testing.assert_array_equal(out.data, ref_out.data)
    for a, b in zip(flatten_state(final), flatten_state(ref_final)):
        np.testing.assert_array_equal(a.data, b.data)
    # and the input gradients agree
    g = np.random.default_rng(3).standard_normal(out.shape)
    (gx,) = tg.grad(out, [x], g)
    (gx_ref,) = tg.grad(ref_out, [x], g)
    np.testing.assert_allclose(gx.data, gx_ref.data, rtol=1e-12, atol=1e-14)


def test_cell_forward_is_its_step():
    cell = nn.LSTMCell(3, 2).double()
    x, h, c = randn(4, 3), randn(4, 2), randn(4, 2)
    a = cell(x, (h, c))
    b = nn.LSTMCell.step(x, (h, c), cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u.data, v.data)


# ----- layouts -------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_relu"])
def test_batch_first_equals_time_major(mode):
    tm = make_layer(mode, 3, 2, 2, bidirectional=True, fused=False).double()
    bf = make_layer(mode, 3, 2, 2, bidirectional=True, batch_first=True, fused=False).double()
    bf.load_state_dict(tm.state_dict())
    x = randn(4, 3, 3)
    out_tm, s_tm = tm(x)
    out_bf, s_bf = bf(Tensor(np.ascontiguousarray(x.data.transpose(1, 0, 2))))
    assert out_bf.shape == (3, 4, 4)
    np.testing.assert_allclose(out_bf.data.transpose(1, 0, 2), out_tm.data, rtol=1e-12)
    for a, b in zip(flatten_state(s_tm), flatten_state(s_bf)):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-12)


@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_tanh"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_unbatched_input_is_a_batch_of_one(mode, batch_first):
    layer = make_layer(mode, 3, 2, 2, bidirectional=True, batch_first=batch_first,
                       fused=False).double()
    x = randn(5, 3)
    state = make_state(mode, 4, None, 2)
    out, final = layer(x, state)
    assert out.shape == (5, 4)
    batched_state = (tuple(Tensor(s.data[:, None]) for s in state) if mode == "lstm"
                     else Tensor(state.data[:, None]))
    xb = Tensor(x.data[None] if batch_first else x.data[:, None])
    out_b, final_b = layer(xb, batched_state)
    np.testing.assert_allclose(out.data, out_b.data.reshape(5, 4), rtol=1e-12)
    for a, b in zip(flatten_state(final), flatten_state(final_b)):
        assert a.shape == (4, 2)
        np.testing.assert_allclose(a.data, b.data[:, 0], rtol=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_output_and_state_shapes(mode):
    layer = make_layer(mode, 3, 5, 3, bidirectional=True, batch_first=True)
    out, final = layer(tg.randn(2, 7, 3))
    assert out.shape == (2, 7, 10) and out.dtype == np.float32
    for s in flatten_state(final):
        assert s.shape == (6, 2, 5)
    if mode == "lstm":
        assert isinstance(final, tuple) and len(final) == 2


def test_reverse_direction_reads_the_sequence_backwards():
    """The reverse half of a bidirectional layer's output at t=T-1 has seen only x[T-1]."""
    layer = nn.GRU(2, 3, bidirectional=True, fused=False).double()
    x = randn(4, 1, 2)
    out, h_n = layer(x)
    single, _ = layer(Tensor(x.data[3:]))
    np.testing.assert_allclose(out.data[3, :, 3:], single.data[0, :, 3:], rtol=1e-12)
    np.testing.assert_allclose(h_n.data[1], out.data[0, :, 3:], rtol=1e-12)
    np.testing.assert_allclose(h_n.data[0], out.data[3, :, :3], rtol=1e-12)


def test_parameter_names_shapes_and_init():
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    shapes = dict((n, p.shape) for n, p in lstm.named_parameters())
    assert shapes["weight_ih_l0"] == (16, 3) and shapes["weight_hh_l0"] == (16, 4)
    assert shapes["weight_ih_l1_reverse"] == (16, 8) and shapes["bias_hh_l1_reverse"] == (16,)
    assert list(shapes)[:5] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                                "weight_ih_l0_reverse"]
    assert len(shapes) == 16
    k = 1 / np.sqrt(4)
    values = np.concatenate([p.data.ravel() for p in lstm.parameters()])
    assert values.dtype == np.float32 and np.abs(values).max() <= k
    assert abs(values.std() - k / np.sqrt(3)) < 0.1 * k  # U(-k, k), not some narrower law
    no_bias = nn.GRU(3, 4, bias=False)
    assert [n for n, _ in no_bias.named_parameters()] == ["weight_ih_l0", "weight_hh_l0"]


# ----- fused path ----------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("bias", [True, False])
def test_fused_equals_cell_loop(mode, bias):
    loop = make_layer(mode, 3, 4, 2, bias=bias, bidirectional=True, batch_first=True,
                      fused=False).double()
    fast = make_layer(mode, 3, 4, 2, bias=bias, bidirectional=True, batch_first=True,
                      fused=True).double()
    fast.load_state_dict(loop.state_dict())
    results = []
    state0 = make_state(mode, 4, 2, 4) if mode != "gru" else None
    for model in (loop, fast):
        x = Tensor(np.random.default_rng(5).standard_normal((2, 6, 3)), requires_grad=True)
        state = None if state0 is None else \
            [Tensor(s.data, requires_grad=True) for s in flatten_state(state0)]
        state = state if state is None or mode != "lstm" else tuple(state)
        state = state[0] if isinstance(state, list) else state
        tg.manual_seed(1)
        out, final = model(x, state)
        parts = [out] + flatten_state(final)
        loss = sum(((p * p).sum() for p in parts), Tensor(np.float64(0)))
        loss.backward()
        results.append(([p.data for p in parts], x.grad.data,
                        [p.grad.data for p in model.parameters()]))
    (a_out, a_gx, a_gp), (b_out, b_gx, b_gp) = results
    for u, v in zip(a_out, b_out):
        np.testing.assert_allclose(u, v, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(a_gx, b_gx, rtol=1e-9, atol=1e-12)
    for u, v in zip(a_gp, b_gp):
        np.testing.assert_allclose(u, v, rtol=1e-9, atol=1e-12)


def test_fused_and_loop_draw_the_same_dropout_masks():
    loop = nn.LSTM(2, 3, num_layers=3, dropout=0.5, fused=False).double()
    fast = nn.LSTM(2, 3, num_layers=3, dropout=0.5, fused=True).double()
    fast.load_state_dict(loop.state_dict())
    x = randn(5, 2, 2)
    tg.manual_seed(7)
    a, _ = loop(x)
    tg.manual_seed(7)
    b, _ = fast(x)
    np.testing.assert_allclose(a.data, b.data, rtol=1e-10, atol=1e-12)


def test_layers_run_one_fused_node_per_layer_and_direction():
    x = randn(3, 1, 2)
    for cls in (nn.RNN, nn.LSTM, nn.GRU):
        out, _ = cls(2, 3, fused=True).double()(x)
        names = set()
        stack = [out]
        while stack:  # collect the Function classes in the graph
            t = stack.pop()
            if t._ctx is not None:
                names.add(type(t._ctx).__name__)
                stack.extend(t._ctx.parents)
        assert any(n.endswith("Sequence") for n in names), (cls.__name__, names)
        assert not any(n in ("Tanh", "Sigmoid") for n in names), (cls.__name__, names)


def test_the_kernel_registered_for_the_step_is_called(monkeypatch):
    from tinygrad_rnn.nn import fused
    calls = []

    def fake(x, h0, weights, reverse, nonlinearity="tanh"):
        calls.append((x.shape, h0.shape, nonlinearity, reverse))
        T, B = x.shape[:2]
        H = weights[1].shape[1]
        return Tensor(np.zeros((T, B, H))), Tensor(np.zeros((B, H)))

    monkeypatch.setitem(fused.KERNELS, nn.RNNCell.step, fake)
    out, h_n = nn.RNN(2, 3, nonlinearity="relu", bidirectional=True).double()(randn(4, 5, 2))
    assert calls == [((4, 5, 2), (5, 3), "relu", False), ((4, 5, 2), (5, 3), "relu", True)]
    assert out.shape == (4, 5, 6) and h_n.shape == (2, 5, 3)


# ----- dropout between layers ----------------------------------------------------------
def test_dropout_only_between_layers_and_only_in_training():
    model = nn.GRU(2, 3, num_layers=2, dropout=1.0, fused=False).double()
    x = randn(4, 2, 2)
    out_train, _ = model(x)
    # p = 1 zeroes layer 0's output, so layer 1 sees zeros; its own output is not dropped
    top = nn.GRU(3, 3, fused=False).double()
    sd = model.state_dict()
    top.load_state_dict({k.replace("l1", "l0"): v for k, v in sd.items() if "l1" in k})
    ref, _ = top(Tensor(np.zeros((4, 2, 3))))
    np.testing.assert_allclose(out_train.data, ref.data, rtol=1e-12)
    assert np.abs(out_train.data).sum() > 0
    model.eval()
    out_eval, _ = model(x)
    plain = nn.GRU(2, 3, num_layers=2, fused=False).double()
    plain.load_state_dict(sd)
    np.testing.assert_array_equal(out_eval.data, plain(x)[0].data)


def test_dropout_masks_differ_between_calls():
    model = nn.RNN(3, 50, num_layers=2, dropout=0.5, fused=False).double()
    x = randn(2, 4, 3)
    a, _ = model(x)
    b, _ = model(x)
    assert not np.allclose(a.data, b.data)


def test_dropout_with_one_layer_warns():
    with pytest.warns(UserWarning, match="num_layers=1"):
        nn.LSTM(2, 3, dropout=0.3)


# ----- truncated BPTT ------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_truncated_bptt_equals_hand_unrolled(mode):
    """Two chunks with the state detached between them, one backward: the same gradients as
    the cell loop unrolled by hand with the graph cut at the chunk boundary."""
    layer = make_layer(mode, 2, 3, 1, fused=False).double()
    cell = _cell_for(mode, layer, 0, 0)
    x = randn(6, 2, 2)
    w = np.random.default_rng(2).standard_normal((6, 2, 3))

    state, loss = None, Tensor(np.float64(0))
    for lo, hi in ((0, 3), (3, 6)):
        out, state = layer(Tensor(x.data[lo:hi]), state)
        loss = loss + (out * Tensor(w[lo:hi])).sum()
        state = detach_state(state)
    loss.backward()

    s, ref_loss = None, Tensor(np.float64(0))
    for t in range(6):
        if t == 3:
            s = detach_state(s)
        s = cell(Tensor(x.data[t]), s)
        h = s[0] if mode == "lstm" else s
        ref_loss = ref_loss + (h * Tensor(w[t])).sum()
    ref_loss.backward()

    np.testing.assert_allclose(loss.item(), ref_loss.item(), rtol=1e-12)
    for name, p in cell.named_parameters():
        np.testing.assert_allclose(getattr(layer, name + "_l0").grad.data, p.grad.data,
                                   rtol=1e-10, atol=1e-12)


def test_detached_state_blocks_gradient_to_earlier_chunk():
    layer = nn.LSTM(2, 3, fused=False).double()
    x1 = randn(3, 1, 2, requires_grad=True)
    _, state = layer(x1)
    out2, _ = layer(randn(3, 1, 2), detach_state(state))
    out2.sum().backward()
    assert x1.grad is None
    out3, _ = layer(randn(3, 1, 2), state)  # not detached: the gradient reaches x1
    out3.sum().backward()
    assert x1.grad is not None and np.abs(x1.grad.data).sum() > 0


# ----- the generic runner --------------------------------------------------------------
def test_recurrent_with_builtin_cells_equals_lstm():
    rec = nn.Recurrent(lambda n: nn.LSTMCell(n, 4), num_layers=2, bidirectional=True,
                       batch_first=True, input_size=3).double()
    names = [n for n, _ in rec.named_parameters()]
    assert names[:4] == ["cell_l0.weight_ih", "cell_l0.weight_hh", "cell_l0.bias_ih",
                         "cell_l0.bias_hh"]
    assert "cell_l1_reverse.weight_ih" in names
    assert rec.cell(1, 1).weight_ih.shape == (16, 8)
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True,
                   fused=False).double()
    lstm.load_state_dict({k.split(".")[1] + k.split(".")[0][4:]: v
                          for k, v in rec.state_dict().items()})
    x = randn(2, 5, 3)
    state = make_state("lstm", 4, 2, 4)
    out, (h, c) = rec(x, state)
    ref, (h_ref, c_ref) = lstm(x, state)
    np.testing.assert_array_equal(out.data, ref.data)
    np.testing.assert_array_equal(h.data, h_ref.data)
    np.testing.assert_array_equal(c.data, c_ref.data)
    out0, _ = rec(x)  # state None: each cell starts from zeros
    np.testing.assert_array_equal(out0.data, lstm(x)[0].data)


def test_recurrent_accepts_a_list_of_cells_and_gradchecks():
    cells = [nn.GRUCell(2, 2), nn.GRUCell(2, 2), nn.GRUCell(4, 2), nn.GRUCell(4, 2)]
    rec = nn.Recurrent(cells, num_layers=2, bidirectional=True).double()
    assert rec.input_size == 2 and rec.hidden_size == 2
    x = randn(2, 1, 2, requires_grad=True)
    h0 = randn(4, 1, 2, requires_grad=True)
    assert gradcheck_module(rec, x, h0)
    out, h_n = rec(randn(3, 2))  # unbatched
    assert out.shape == (3, 4) and h_n.shape == (4, 2)


def test_recurrent_rejects_bad_cells():
    with pytest.raises(ValueError, match="got 1 cells, expected num_layers \\* num_directions = 2"):
        nn.Recurrent([nn.GRUCell(2, 3)], bidirectional=True)
    with pytest.raises(ValueError, match="needs input_size"):
        nn.Recurrent(lambda n: nn.GRUCell(n, 3))
    with pytest.raises(TypeError, match="hidden_size"):
        nn.Recurrent([nn.Linear(2, 3)])
    with pytest.raises(ValueError, match="same hidden_size"):
        nn.Recurrent([nn.GRUCell(2, 3), nn.GRUCell(3, 4)], num_layers=2)

    class Bad(nn.Module):
        hidden_size = 3

        def forward(self, x, state):
            return x

    with pytest.raises(ValueError, match=r"returned a state whose output h is \(2, 5\), "
                                         r"expected a Tensor of shape \(2, 3\)"):
        nn.Recurrent([Bad()])(randn(4, 2, 5))
    rec = nn.Recurrent([nn.GRUCell(2, 3)]).double()  # randn is float64
    with pytest.raises(ValueError, match=r"hx has shape \(2, 2, 3\), expected \(1, 2, \.\.\.\)"):
        rec(randn(4, 2, 2), randn(2, 2, 3))


# ----- bad input -----------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_tanh"])
def test_bad_inputs_are_rejected_with_clear_messages(mode):
    layer = make_layer(mode, 3, 4, 2)
    name = type(layer).__name__
    with pytest.raises(ValueError, match=rf"{name}: expected a 3-D input \(seq_len, batch, "
                                         rf"input_size\).*got a 4-D tensor of shape "
                                         rf"\(1, 2, 3, 3\)"):
        layer(tg.randn(1, 2, 3, 3))
    with pytest.raises(ValueError, match="got a 1-D tensor"):
        layer(tg.randn(3))
    with pytest.raises(ValueError, match=r"input has 5 features \(last axis of shape "
                                         r"\(2, 4, 5\)\), expected input_size=3"):
        layer(tg.randn(2, 4, 5))
    with pytest.raises(TypeError, match="floating-point, got dtype int64"):
        layer(Tensor(np.zeros((2, 4, 3), dtype=np.int64)))
    with pytest.raises(TypeError, match="must be a Tensor"):
        layer(np.zeros((2, 4, 3)))
    with pytest.raises(ValueError, match="sequence is empty"):
        layer(tg.zeros(0, 4, 3))
    bad = tg.zeros(2, 4, 4)
    state = (bad, bad) if mode == "lstm" else bad
    with pytest.raises(ValueError, match=r"h0 has shape \(2, 4, 4\), expected \(2, 2, 4\) "
                                         r"\(num_layers \* num_directions, batch, hidden_size\)"):
        layer(tg.randn(5, 2, 3), state)
    unb = tg.zeros(2, 1, 4)
    with pytest.raises(ValueError, match=r"h0 has shape \(2, 1, 4\), expected \(2, 4\) "
                                         r"\(num_layers \* num_directions, hidden_size\) for "
                                         r"unbatched input"):
        layer(tg.randn(5, 3), (unb, unb) if mode == "lstm" else unb)


def test_state_structure_errors():
    with pytest.raises(TypeError, match=r"pair \(h0, c0\)"):
        nn.LSTM(3, 4)(tg.randn(2, 1, 3), tg.zeros(1, 1, 4))
    with pytest.raises(TypeError, match=r"only LSTM takes a pair"):
        nn.GRU(3, 4)(tg.randn(2, 1, 3), (tg.zeros(1, 1, 4), tg.zeros(1, 1, 4)))
    with pytest.raises(ValueError, match=r"c0 has shape \(1, 1, 3\), expected \(1, 1, 4\)"):
        nn.LSTM(3, 4)(tg.randn(2, 1, 3), (tg.zeros(1, 1, 4), tg.zeros(1, 1, 3)))


def test_constructor_errors():
    with pytest.raises(ValueError, match="nonlinearity must be one of"):
        nn.RNN(2, 3, nonlinearity="gelu")
    with pytest.raises(ValueError, match="num_layers must be at least 1, got 0"):
        nn.LSTM(2, 3, num_layers=0)
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\], got 1.5"):
        nn.GRU(2, 3, num_layers=2, dropout=1.5)
    with pytest.raises(ValueError, match="hidden_size must be a positive int, got 0"):
        nn.GRU(2, 0)
    with pytest.raises(TypeError, match="input_size must be a positive int, got float 2.0"):
        nn.LSTM(2.0, 3)


def test_repr_matches_pytorch_style():
    assert repr(nn.LSTM(10, 20, num_layers=2, batch_first=True, bidirectional=True)) == \
        "LSTM(10, 20, num_layers=2, batch_first=True, bidirectional=True)"
    assert repr(nn.GRU(3, 4)) == "GRU(3, 4)"
    assert repr(nn.RNN(3, 4, nonlinearity="relu", bias=False)) == \
        "RNN(3, 4, bias=False, nonlinearity='relu')"
