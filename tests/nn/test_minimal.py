"""Cells without a matrix product in the time loop: linear_recurrence, MinGRU, MinLSTM,
IndRNN. The op against a NumPy loop and gradcheck; the cells against a NumPy transcription
of SPEC's equations, in nn.Recurrent on the compiled path; the layers against nn.Recurrent
over the cells (outputs, h_n, every gradient), with h0, lengths, layouts, directions."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn, ops
from tinygrad_rnn import testing as tt
from tinygrad_rnn.compiled import scan_info
from tinygrad_rnn.nn.recurrent import RNNBase
from tinygrad_rnn.testing.modules import gradcheck_module
from tinygrad_rnn.testing.op_db import BY_NAME
from tinygrad_rnn.testing.opinfo import bind


def rnd(*shape, seed=0, lo=None, hi=None):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape) if lo is None else rng.uniform(lo, hi, shape)


def np_recurrence(a, b, h0=None, reverse=False):
    T = np.broadcast_shapes(a.shape, b.shape)[0]
    a, b = np.broadcast_to(a, np.broadcast_shapes(a.shape, b.shape)), \
        np.broadcast_to(b, np.broadcast_shapes(a.shape, b.shape))
    out, h = [None] * T, h0
    for t in (reversed(range(T)) if reverse else range(T)):
        h = b[t] if h is None else a[t] * h + b[t]
        out[t] = h
    return np.stack(np.broadcast_arrays(*out))


# ----- linear_recurrence --------------------------------------------------------------------
@settings(max_examples=60)
@given(data=st.data())
@pytest.mark.parametrize("name", ["linear_recurrence", "indrnn recurrence"])
def test_op_matches_numpy_and_gradchecks_over_shapes_h0_and_reverse(name, data):
    """T, shapes, broadcasting between a, b and h0, h0 given or not, reverse: drawn."""
    spec = BY_NAME[name]
    inputs, params = data.draw(tt.op_cases(spec), label="inputs, params")
    fn, ref, free = bind(spec, inputs, params)
    tt.check_op(fn, ref, *free)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("T", [1, 64, 700])
def test_long_sequences_match_a_plain_loop_and_keep_float32(T, reverse):
    a, b, h0 = rnd(T, 3, 5, lo=0.5, hi=1.0), rnd(T, 3, 5, seed=1), rnd(3, 5, seed=2)
    for dtype in (np.float64, np.float32):
        y = tg.linear_recurrence(a.astype(dtype), b.astype(dtype), h0.astype(dtype), reverse)
        assert y.dtype == dtype
        np.testing.assert_allclose(y.data, np_recurrence(a, b, h0, reverse),
                                   rtol=1e-12 if dtype == np.float64 else 1e-4, atol=1e-5)


def test_backward_is_the_adjoint_recurrence():
    """da_t = dh_t h_{t-1}, db_t = dh_t, dh0 = a_0 dh_0 with dh_t = g_t + a_{t+1} dh_{t+1}."""
    T = 6
    a, b, h0, g = rnd(T, 4, lo=0.2, hi=1), rnd(T, 4, seed=1), rnd(4, seed=2), rnd(T, 4, seed=3)
    at, bt, ht = (Tensor(v, requires_grad=True) for v in (a, b, h0))
    (tg.linear_recurrence(at, bt, ht) * Tensor(g)).sum().backward()
    h = np_recurrence(a, b, h0)
    dh = np.zeros_like(g)
    for t in reversed(range(T)):
        dh[t] = g[t] + (a[t + 1] * dh[t + 1] if t + 1 < T else 0)
    prev = np.concatenate([h0[None], h[:-1]])
    np.testing.assert_allclose(at.grad.data, dh * prev, rtol=1e-13)
    np.testing.assert_allclose(bt.grad.data, dh, rtol=1e-13)
    np.testing.assert_allclose(ht.grad.data, a[0] * dh[0], rtol=1e-13)


def test_broadcast_a_constant_over_time_and_batch_gets_summed_gradients():
    a, b = rnd(1, 1, 3, lo=0.2, hi=0.9), rnd(5, 2, 3, seed=1)
    assert tg.gradcheck(lambda a, b: tg.linear_recurrence(a, b, None, True),
                        [Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)])
    y = tg.linear_recurrence(a, b)
    assert y.shape == (5, 2, 3)
    np.testing.assert_allclose(y.data, np_recurrence(a, b), rtol=1e-13)


def test_numbers_and_arrays_are_accepted_and_h0_none_means_zeros():
    b = rnd(4, 3)
    np.testing.assert_allclose(tg.linear_recurrence(0.5, b).data, np_recurrence(
        np.full((4, 3), 0.5), b), rtol=1e-14)
    np.testing.assert_array_equal(tg.linear_recurrence(0.5, b, np.zeros(3)).data,
                                  tg.linear_recurrence(0.5, b).data)


def test_errors_name_the_op():
    with pytest.raises(ValueError, match="linear_recurrence.*broadcast"):
        tg.linear_recurrence(rnd(4, 3), rnd(4, 2))
    with pytest.raises(ValueError, match="linear_recurrence.*h0"):
        tg.linear_recurrence(rnd(4, 3), rnd(4, 3), rnd(2))
    with pytest.raises(ValueError, match="linear_recurrence.*time axis"):
        tg.linear_recurrence(np.float64(0.5), np.float64(1.0))
    with pytest.raises(ValueError, match="linear_recurrence.*empty"):
        tg.linear_recurrence(rnd(0, 3), rnd(0, 3))
    with pytest.raises(TypeError, match="linear_recurrence: reverse"):
        tg.linear_recurrence(rnd(4, 3), rnd(4, 3), reverse=1)
    with pytest.raises(TypeError, match="linear_recurrence: a must be floating"):
        tg.linear_recurrence(np.ones((4, 3), np.int64), rnd(4, 3))
    with pytest.raises(ValueError, match="nonlinearity"):
        ops.IndRecurrence.apply(Tensor(rnd(3, 2)), Tensor(rnd(2)), nonlinearity="sigmoid")


def test_both_ops_declare_that_they_already_run_over_time():
    for op in (ops.LinearRecurrence, ops.IndRecurrence):
        assert op.over_time({}, ((3, 2), (3, 2)), (True, True)) is None


# ----- the cells ----------------------------------------------------------------------------
def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def np_mingru(x, h, weight, bias):
    H = weight.shape[0] // 2
    g = x @ weight.T + bias
    z = _sigmoid(g[:, :H])
    return (1 - z) * h + z * g[:, H:]


def np_minlstm(x, h, weight, bias):
    H = weight.shape[0] // 3
    g = x @ weight.T + bias
    f, i = _sigmoid(g[:, :H]), _sigmoid(g[:, H:2 * H])
    return f / (f + i) * h + i / (f + i) * g[:, 2 * H:]


def np_indrnn(x, h, weight_ih, weight_hh, bias_ih, nonlinearity="relu"):
    pre = x @ weight_ih.T + bias_ih + weight_hh * h
    return np.maximum(pre, 0) if nonlinearity == "relu" else np.tanh(pre)


CELLS = {
    "mingru": (nn.MinGRUCell, {}, np_mingru, ("weight", "bias")),
    "minlstm": (nn.MinLSTMCell, {}, np_minlstm, ("weight", "bias")),
    "indrnn": (nn.IndRNNCell, {}, np_indrnn, ("weight_ih", "weight_hh", "bias_ih")),
    "indrnn tanh": (nn.IndRNNCell, {"nonlinearity": "tanh"},
                    lambda *a: np_indrnn(*a, nonlinearity="tanh"),
                    ("weight_ih", "weight_hh", "bias_ih")),
}
LAYERS = {"mingru": nn.MinGRU, "minlstm": nn.MinLSTM, "indrnn": nn.IndRNN,
          "indrnn tanh": nn.IndRNN}


@pytest.mark.parametrize("kind", list(CELLS))
def test_cell_matches_the_spec_equations_in_numpy(kind):
    cls, kw, ref, names = CELLS[kind]
    cell = cls(3, 4, **kw).double()
    assert [n for n, _ in cell.named_parameters()] == list(names)
    x, h = rnd(5, 3), rnd(5, 4, seed=1)
    w = [p.data for p in cell.parameters()]
    np.testing.assert_allclose(cell(Tensor(x), Tensor(h)).data, ref(x, h, *w), rtol=1e-13)
    # no state: zeros; unbatched (input_size,) input gives (hidden_size,)
    np.testing.assert_allclose(cell(Tensor(x)).data, ref(x, 0 * h, *w), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(cell(Tensor(x[0]), Tensor(h[0])).data, ref(x, h, *w)[0],
                               rtol=1e-13)


@pytest.mark.parametrize("kind", list(CELLS))
def test_cell_shapes_init_and_no_bias(kind):
    cls, kw, _, names = CELLS[kind]
    cell = cls(7, 16, **kw)
    shapes = {"weight": (cls is nn.MinGRUCell and 32 or 48, 7), "bias": (cls is nn.MinGRUCell
                                                                         and 32 or 48,),
              "weight_ih": (16, 7), "weight_hh": (16,), "bias_ih": (16,)}
    for n, p in cell.named_parameters():
        assert p.shape == shapes[n] and p.dtype == np.float32
        assert np.abs(p.data).max() <= 0.25 and np.abs(p.data).max() > 0.2  # U(-1/4, 1/4)
    bare = cls(7, 16, bias=False, **kw)
    assert [n for n, _ in bare.named_parameters()] == [n for n in names if "bias" not in n]
    assert bare(Tensor(rnd(2, 7).astype(np.float32))).shape == (2, 16)


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("with_state", [False, True])
def test_cell_gradcheck(kind, with_state):
    cls, kw, _, _ = CELLS[kind]
    cell = cls(3, 4, **kw).double()
    x = Tensor(rnd(2, 3), requires_grad=True)
    h = Tensor(rnd(2, 4, seed=1), requires_grad=True) if with_state else None
    assert gradcheck_module(cell, x, h)


def test_cell_errors():
    cell = nn.MinGRUCell(3, 4)
    with pytest.raises(TypeError, match="MinGRUCell: input dtype float64"):
        cell(Tensor(rnd(2, 3)))
    with pytest.raises(ValueError, match="MinGRUCell: input has 2 features"):
        cell(Tensor(rnd(2, 2).astype(np.float32)))
    with pytest.raises(ValueError, match="MinGRUCell: h has shape"):
        cell(Tensor(rnd(2, 3).astype(np.float32)), Tensor(np.zeros((3, 4), np.float32)))
    with pytest.raises(ValueError, match="IndRNNCell: nonlinearity"):
        nn.IndRNNCell(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="MinLSTMCell: hidden_size"):
        nn.MinLSTMCell(3, 0)


@pytest.mark.parametrize("kind", list(CELLS))
def test_cells_run_compiled_in_recurrent(kind):
    cls, kw, ref, _ = CELLS[kind]
    rec = nn.Recurrent(lambda n: cls(n, 4, **kw), input_size=3).double()
    x = rnd(6, 2, 3)
    out, h_n = rec(Tensor(x))
    assert scan_info()["path"] == "compiled"
    w = [p.data for p in rec.cell(0).parameters()]
    h, outs = np.zeros((2, 4)), []
    for t in range(6):
        h = ref(x[t], h, *w)
        outs.append(h)
    np.testing.assert_allclose(out.data, np.stack(outs), rtol=1e-12, atol=1e-14)


# ----- the layers ---------------------------------------------------------------------------
def twin(layer: nn.Module) -> nn.Recurrent:
    """nn.Recurrent over the cells holding the layer's weights."""
    kw = {"nonlinearity": layer.nonlinearity} if isinstance(layer, nn.IndRNN) else {}
    cells = []
    for k in range(layer.num_layers):
        for d in range(layer.num_directions):
            width = layer.input_size if k == 0 else layer.hidden_size * layer.num_directions
            c = layer._cell(width, layer.hidden_size, bias=layer.bias, **kw).double()
            sfx = RNNBase._suffix(k, d)
            c.load_state_dict({n: layer.state_dict()[n + sfx] for n in c.state_dict()})
            cells.append(c)
    return nn.Recurrent(cells, num_layers=layer.num_layers, bidirectional=layer.bidirectional,
                        batch_first=layer.batch_first)


def make_layer(kind, I=3, H=4, **kw):
    if kind == "indrnn tanh":
        kw["nonlinearity"] = "tanh"
    tg.manual_seed(3)
    return LAYERS[kind](I, H, **kw).double()


def run(model, x, h0, lengths=None, seed=5):
    """(output, h_n, dx, dh0, parameter gradients by name) of a random projection loss."""
    model.zero_grad()
    xt = Tensor(x.copy(), requires_grad=True)
    ht = None if h0 is None else Tensor(h0.copy(), requires_grad=True)
    out, h_n = model(xt, ht, lengths=lengths)
    loss = (out * Tensor(rnd(*out.shape, seed=seed))).sum() + \
        (h_n * Tensor(rnd(*h_n.shape, seed=seed + 1))).sum()
    loss.backward()
    grads = {n: p.grad.data.copy() for n, p in model.named_parameters()}
    return out.data, h_n.data, xt.grad.data, None if ht is None else ht.grad.data, grads


def same(ours, theirs, layer, tol=1e-12):
    for a, b in zip(ours[:4], theirs[:4]):
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    for k in range(layer.num_layers):
        for d in range(layer.num_directions):
            sfx = RNNBase._suffix(k, d)
            for n in twin(layer).cell(k, d).state_dict():
                np.testing.assert_allclose(ours[4][n + sfx], theirs[4][f"cell{sfx}.{n}"],
                                           rtol=tol, atol=tol)


@pytest.mark.parametrize("kind", list(LAYERS))
@pytest.mark.parametrize("layers,bidirectional,batch_first,with_h0", [
    (1, False, False, False), (1, False, False, True), (1, True, True, True),
    (2, True, False, True), (3, False, True, False), (2, True, True, False),
])
def test_layer_equals_recurrent_over_the_cells(kind, layers, bidirectional, batch_first,
                                               with_h0):
    layer = make_layer(kind, num_layers=layers, bidirectional=bidirectional,
                       batch_first=batch_first)
    rec = twin(layer)
    T, B = 5, 3
    x = rnd(B, T, 3, seed=7) if batch_first else rnd(T, B, 3, seed=7)
    h0 = rnd(layers * layer.num_directions, B, 4, seed=8) if with_h0 else None
    ours, theirs = run(layer, x, h0), run(rec, x, h0)
    assert scan_info()["path"] == "compiled"
    same(ours, theirs, layer)


@pytest.mark.parametrize("kind", list(LAYERS))
def test_parallel_and_sequential_agree_with_a_nonzero_h0(kind):
    """lucidrains/minGRU-pytorch#9: the parallel form must start from h0 like the loop;
    here the layer against its cell looped by hand, and two chunks carrying h_n against
    one run of the whole sequence."""
    layer = make_layer(kind)
    cell = twin(layer).cell(0)
    x, h0 = rnd(8, 2, 3, seed=1), 3.0 * rnd(1, 2, 4, seed=2)
    out, h_n = layer(Tensor(x), Tensor(h0))
    h, outs = Tensor(h0[0]), []
    for t in range(8):
        h = cell(Tensor(x[t]), h)
        outs.append(h.data)
    np.testing.assert_allclose(out.data, np.stack(outs), rtol=1e-12, atol=1e-14)
    first, h_mid = layer(Tensor(x[:3]), Tensor(h0))
    second, h_end = layer(Tensor(x[3:]), h_mid)
    np.testing.assert_allclose(np.concatenate([first.data, second.data]), out.data,
                               rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h_end.data, h_n.data, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h_n.data[0], outs[-1], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", list(LAYERS))
@pytest.mark.parametrize("bidirectional", [False, True])
def test_layer_gradcheck(kind, bidirectional):
    layer = make_layer(kind, I=2, H=3, num_layers=2, bidirectional=bidirectional)
    D = 2 if bidirectional else 1
    x = Tensor(rnd(4, 2, 2), requires_grad=True)
    h0 = Tensor(rnd(2 * D, 2, 3, seed=1), requires_grad=True)
    assert gradcheck_module(layer, x, h0)
    assert gradcheck_module(layer, x)


@settings(max_examples=20)
@given(kind=st.sampled_from(list(LAYERS)), T=st.integers(2, 6), B=st.integers(1, 4),
       layers=st.integers(1, 2), bidirectional=st.booleans(), batch_first=st.booleans(),
       with_h0=st.booleans(), data=st.data())
def test_lengths_equal_each_sequence_alone_and_recurrent(kind, T, B, layers, bidirectional,
                                                         batch_first, with_h0, data):
    lengths = np.asarray(data.draw(st.lists(st.integers(1, T), min_size=B, max_size=B)))
    layer = make_layer(kind, num_layers=layers, bidirectional=bidirectional,
                       batch_first=batch_first)
    D = layer.num_directions
    x = rnd(B, T, 3, seed=int(lengths.sum())) if batch_first else rnd(T, B, 3, seed=T)
    h0 = rnd(layers * D, B, 4, seed=9) if with_h0 else None
    out, h_n, dx, dh0, grads = run(layer, x, h0, lengths)
    same((out, h_n, dx, dh0, grads), run(twin(layer), x, h0, lengths), layer)
    # each sequence alone, cut to its length (same loss on its part)
    for b, n in enumerate(lengths):
        xb = x[b:b + 1, :n] if batch_first else x[:n, b:b + 1]
        hb = None if h0 is None else h0[:, b:b + 1]
        ob, hnb = layer(Tensor(xb), None if hb is None else Tensor(hb))
        got = out[b:b + 1, :n] if batch_first else out[:n, b:b + 1]
        np.testing.assert_allclose(got, ob.data, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(h_n[:, b], hnb.data[:, 0], rtol=1e-12, atol=1e-13)
        pad = out[b, n:] if batch_first else out[n:, b]
        assert np.all(pad == 0)
        dpad = dx[b, n:] if batch_first else dx[n:, b]
        assert np.all(dpad == 0)


def test_layer_shapes_names_unbatched_and_packed():
    layer = nn.MinGRU(5, 8, num_layers=2, bidirectional=True)
    names = [n for n, _ in layer.named_parameters()]
    assert names == ["weight_l0", "bias_l0", "weight_l0_reverse", "bias_l0_reverse",
                     "weight_l1", "bias_l1", "weight_l1_reverse", "bias_l1_reverse"]
    assert layer.weight_l1.shape == (16, 16)
    ind = nn.IndRNN(5, 8, num_layers=2, bias=False)
    assert [n for n, _ in ind.named_parameters()] == ["weight_ih_l0", "weight_hh_l0",
                                                      "weight_ih_l1", "weight_hh_l1"]
    assert nn.MinLSTM(5, 8).weight_l0.shape == (24, 5)
    x = Tensor(rnd(6, 5).astype(np.float32))
    out, h_n = layer(x)
    assert out.shape == (6, 16) and h_n.shape == (4, 8) and out.dtype == np.float32
    batched, hb = layer(x.reshape(6, 1, 5))
    np.testing.assert_allclose(out.data, batched.data[:, 0], rtol=1e-6)
    seqs = [Tensor(rnd(n, 5, seed=n).astype(np.float32)) for n in (4, 2, 3)]
    packed = nn.utils.rnn.pack_sequence(seqs, enforce_sorted=False)
    out_p, h_p = layer(packed)
    padded, lens = nn.utils.rnn.pad_packed_sequence(out_p)
    ref, h_ref = layer(nn.utils.rnn.pad_sequence(seqs), lengths=[4, 2, 3])
    np.testing.assert_allclose(padded.data, ref.data, rtol=1e-6)
    np.testing.assert_allclose(h_p.data, h_ref.data, rtol=1e-6)


def test_dropout_between_layers_as_in_lstm():
    layer = make_layer("mingru", num_layers=2, dropout=0.5)
    x = Tensor(rnd(5, 2, 3))
    layer.eval()
    a, _ = layer(x)
    b, _ = make_layer("mingru", num_layers=2)(x)
    np.testing.assert_array_equal(a.data, b.data)  # no dropout in eval mode
    layer.train()
    c, _ = layer(x)
    assert not np.allclose(c.data, a.data)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        nn.MinGRU(3, 4, dropout=0.5)
    assert any("no effect with num_layers=1" in str(m.message) for m in w)


def test_layer_errors():
    layer = nn.MinLSTM(3, 4)
    with pytest.raises(ValueError, match="MinLSTM: input has 2 features"):
        layer(Tensor(np.zeros((5, 2, 2), np.float32)))
    with pytest.raises(TypeError, match="MinLSTM: input dtype float64"):
        layer(Tensor(np.zeros((5, 2, 3))))
    with pytest.raises(ValueError, match=r"MinLSTM: h0 has shape \(2, 2, 4\)"):
        layer(Tensor(np.zeros((5, 2, 3), np.float32)), Tensor(np.zeros((2, 2, 4), np.float32)))
    with pytest.raises(ValueError, match="MinLSTM: lengths must be in 1..5"):
        layer(Tensor(np.zeros((5, 2, 3), np.float32)), lengths=[6, 1])
    with pytest.raises(ValueError, match="IndRNN: nonlinearity"):
        nn.IndRNN(3, 4, nonlinearity="sigmoid")
    assert repr(nn.IndRNN(3, 4, 2, nonlinearity="tanh")) == \
        "IndRNN(3, 4, num_layers=2, nonlinearity='tanh')"


def test_a_relu_layer_passes_the_gradient_through_nan_as_its_cells_and_pytorch_do():
    """nn.IndRNN's own loop and nn.RNN(relu)'s kernel against the cells run by the loop (and
    torch.nn.RNN): ReLU's gradient passes through a NaN pre-activation."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 2, 3)).astype(np.float32)
    x[2, 0, 0] = np.nan
    layer = nn.IndRNN(3, 4)
    loop = nn.Recurrent([nn.IndRNNCell(3, 4)], compiled=False)
    cell = loop.cell_l0
    for name in ("weight_ih", "weight_hh", "bias_ih"):
        getattr(cell, name).data[...] = getattr(layer, name + "_l0").data
    for module in (layer, loop):
        out, _ = module(Tensor(x))
        out[2].sum().backward()
    np.testing.assert_allclose(layer.bias_ih_l0.grad.data, cell.bias_ih.grad.data, rtol=1e-6)
    assert np.isfinite(cell.bias_ih.grad.data).all()
    rnn, trnn = nn.RNN(3, 4, nonlinearity="relu"), torch.nn.RNN(3, 4, nonlinearity="relu")
    with torch.no_grad():
        for name, p in rnn.named_parameters():
            getattr(trnn, name).copy_(torch.from_numpy(p.data))
    out, _ = rnn(Tensor(x))
    out[2].sum().backward()
    tout, _ = trnn(torch.from_numpy(x))
    tout[2].sum().backward()
    np.testing.assert_allclose(rnn.bias_hh_l0.grad.data, trnn.bias_hh_l0.grad.numpy(),
                               rtol=1e-5)
