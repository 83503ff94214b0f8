"""The fused whole-sequence kernels give their cells' own step's numbers, looped over time:
outputs, states and gradients."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn
from tinygrad_rnn.nn.fused import gru_sequence, lstm_sequence, rnn_sequence

RTOL, ATOL = 1e-10, 1e-12


# ----- references: the cells' own step functions, looped over time --------------------------
# (the kernels are registered for exactly these functions: no third copy of the equations)
def _steps(n: int, reverse: bool) -> list:
    return list(range(n - 1, -1, -1) if reverse else range(n))


def graph_rnn(x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity="tanh", reverse=False):
    outs, h = {}, h0
    for t in _steps(x.shape[0], reverse):
        h = outs[t] = nn.RNNCell.step(x[t], h, w_ih, w_hh, b_ih, b_hh, nonlinearity=nonlinearity)
    return tg.stack([outs[t] for t in range(x.shape[0])]), h


def graph_lstm(x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse=False):
    outs, state = {}, (h0, c0)
    for t in _steps(x.shape[0], reverse):
        state = nn.LSTMCell.step(x[t], state, w_ih, w_hh, b_ih, b_hh)
        outs[t] = state[0]
    return (tg.stack([outs[t] for t in range(x.shape[0])]),) + tuple(state)


def graph_gru(x, h0, w_ih, w_hh, b_ih, b_hh, reverse=False):
    outs, h = {}, h0
    for t in _steps(x.shape[0], reverse):
        h = outs[t] = nn.GRUCell.step(x[t], h, w_ih, w_hh, b_ih, b_hh)
    return tg.stack([outs[t] for t in range(x.shape[0])]), h


def test_the_references_are_the_registered_steps():
    from tinygrad_rnn.nn.fused import KERNELS
    assert set(KERNELS) == {nn.RNNCell.step, nn.LSTMCell.step, nn.GRUCell.step}


FUSED = {"rnn": rnn_sequence, "lstm": lstm_sequence, "gru": gru_sequence}
GRAPH = {"rnn": graph_rnn, "lstm": graph_lstm, "gru": graph_gru}
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def _problem(kind, t, b, i, h, bias, seed, dtype=np.float64, frozen=()):
    """Random inputs for one layer: (positional tensors, the ones that require grad).

    The inputs whose positions are in `frozen` are constants (requires_grad=False).
    """
    rng = np.random.default_rng(seed)
    g = GATES[kind]
    count = iter(range(100))

    def leaf(*shape):
        data = (rng.standard_normal(shape) * 0.6).astype(dtype)
        return Tensor(data, requires_grad=next(count) not in frozen)

    x, h0 = leaf(t, b, i), leaf(b, h)
    states = [h0, leaf(b, h)] if kind == "lstm" else [h0]
    w_ih, w_hh = leaf(g * h, i), leaf(g * h, h)
    b_ih = leaf(g * h) if bias in ("both", "ih") else None
    b_hh = leaf(g * h) if bias in ("both", "hh") else None
    args = [x, *states, w_ih, w_hh, b_ih, b_hh]
    w_hh.requires_grad = w_hh.requires_grad or not any(a is not None and a.requires_grad
                                                       for a in args)
    return args, [a for a in args if a is not None and a.requires_grad]


def _run(fn, args, kwargs, leaves, seed):
    """Outputs of fn and the gradients of a random projection of all of them."""
    outs = fn(*args, **kwargs)
    rng = np.random.default_rng(seed + 1)
    loss = sum((o * rng.standard_normal(o.shape).astype(o.dtype)).sum() for o in outs)
    grads = tg.grad(loss, leaves)
    return [o.data for o in outs], [g.data for g in grads]


def _assert_same(fused, graph, names):
    assert len(fused[0]) == len(graph[0]) and len(fused[1]) == len(graph[1])
    assert len(fused[0]) + len(fused[1]) == len(names)
    for what, a, b in zip(names, fused[0] + fused[1], graph[0] + graph[1]):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=what)


sizes = st.tuples(st.integers(1, 6), st.integers(1, 3), st.integers(1, 4), st.integers(1, 5))
biases = st.sampled_from(["both", "none", "ih", "hh"])
# positions of inputs that are constants: each gradient must not depend on the others' flags
frozen_inputs = st.one_of(st.just(frozenset()), st.frozensets(st.integers(0, 6), max_size=5))


@settings(max_examples=60)
@given(sizes=sizes, reverse=st.booleans(), bias=biases,
       nonlinearity=st.sampled_from(["tanh", "relu", "sigmoid"]), seed=st.integers(0, 2**16),
       frozen=frozen_inputs)
def test_rnn_sequence_matches_graph(sizes, reverse, bias, nonlinearity, seed, frozen):
    args, leaves = _problem("rnn", *sizes, bias, seed, frozen=frozen)
    kw = {"nonlinearity": nonlinearity, "reverse": reverse}
    fused = _run(rnn_sequence, args, kw, leaves, seed)
    graph = _run(graph_rnn, args, kw, leaves, seed)
    _assert_same(fused, graph, ["out", "h_n"] + [f"grad {k}" for k in range(len(leaves))])


@settings(max_examples=60)
@given(sizes=sizes, reverse=st.booleans(), bias=biases, seed=st.integers(0, 2**16),
       frozen=frozen_inputs)
def test_lstm_sequence_matches_graph(sizes, reverse, bias, seed, frozen):
    args, leaves = _problem("lstm", *sizes, bias, seed, frozen=frozen)
    fused = _run(lstm_sequence, args, {"reverse": reverse}, leaves, seed)
    graph = _run(graph_lstm, args, {"reverse": reverse}, leaves, seed)
    _assert_same(fused, graph, ["out", "h_n", "c_n"] + [f"grad {k}" for k in range(len(leaves))])


@settings(max_examples=60)
@given(sizes=sizes, reverse=st.booleans(), bias=biases, seed=st.integers(0, 2**16),
       frozen=frozen_inputs)
def test_gru_sequence_matches_graph(sizes, reverse, bias, seed, frozen):
    args, leaves = _problem("gru", *sizes, bias, seed, frozen=frozen)
    fused = _run(gru_sequence, args, {"reverse": reverse}, leaves, seed)
    graph = _run(graph_gru, args, {"reverse": reverse}, leaves, seed)
    _assert_same(fused, graph, ["out", "h_n"] + [f"grad {k}" for k in range(len(leaves))])


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("reverse", [False, True])
def test_gradcheck(kind, reverse):
    args, leaves = _problem(kind, 3, 2, 3, 2, "both", seed=7)

    def fn(*ts):
        it = iter(ts)
        call = [next(it) if a is not None else None for a in args]
        outs = FUSED[kind](*call, reverse=reverse)
        # weigh the outputs differently so a gradient routed to the wrong one shows
        return tg.concatenate([(o * (k + 1.0)).reshape(-1) for k, o in enumerate(outs)])

    assert tg.gradcheck(fn, leaves)


def test_gradcheck_catches_a_wrong_state_gradient(monkeypatch):
    """The comparison above can fail: break dh0 and it must."""
    from tinygrad_rnn.nn import fused as fused_mod
    original = fused_mod.GRUSequence.backward

    def broken(ctx, g):
        grads = list(original(ctx, g))
        grads[1] = grads[1] * 1.01
        return tuple(grads)

    monkeypatch.setattr(fused_mod.GRUSequence, "backward", staticmethod(broken))
    args, leaves = _problem("gru", 3, 2, 3, 2, "both", seed=3)
    assert not tg.gradcheck(lambda *ts: gru_sequence(*ts)[0], leaves, raise_exception=False)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_float32_stays_float32(kind):
    args, leaves = _problem(kind, 4, 2, 3, 5, "both", seed=1, dtype=np.float32)
    outs = FUSED[kind](*args)
    assert all(o.dtype == np.float32 for o in outs)
    sum(o.sum() for o in outs).backward()
    assert all(p.grad.dtype == np.float32 for p in leaves)
    # and it agrees with the float64 graph to float32 precision
    args64 = [None if a is None else Tensor(a.data.astype(np.float64)) for a in args]
    ref = GRAPH[kind](*args64)
    for o, r in zip(outs, ref):
        np.testing.assert_allclose(o.data, r.data, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_one_graph_node_per_sequence(kind):
    args, leaves = _problem(kind, 50, 2, 3, 4, "both", seed=2)
    results = FUSED[kind](*args)
    node = results[0]._ctx
    if kind == "lstm":  # out and c_n are the two outputs of the one node
        assert results[2]._ctx is node
    assert type(node).__name__ == {"rnn": "RNNSequence", "lstm": "LSTMSequence",
                                   "gru": "GRUSequence"}[kind]
    assert all(p._ctx is None for p in node.parents)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_backward_twice_with_retain_graph_gives_the_same_gradients(kind):
    """backward must not consume the saved activations."""
    args, leaves = _problem(kind, 5, 2, 3, 4, "both", seed=4)
    loss = sum((o * o).sum() for o in FUSED[kind](*args))
    first = [g.data.copy() for g in tg.grad(loss, leaves, retain_graph=True)]
    second = [g.data for g in tg.grad(loss, leaves)]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_reverse_runs_the_steps_backwards():
    """With reverse=True, out[t] depends on x[t:], not on x[:t]."""
    args, leaves = _problem("gru", 4, 1, 2, 3, "both", seed=5)
    out, h_n = gru_sequence(*args, reverse=True)
    np.testing.assert_array_equal(h_n.data, out.data[0])
    (gx,) = tg.grad(out[2].sum(), [args[0]])
    assert np.all(gx.data[:2] == 0) and np.any(gx.data[2:] != 0)


@pytest.mark.parametrize("call, match", [
    (lambda a: rnn_sequence(a["x"][0], a["h0"], a["w1"], a["wh1"]), r"time-major \(T, B, I\)"),
    (lambda a: rnn_sequence(a["x"][:0], a["h0"], a["w1"], a["wh1"]), "at least one step"),
    (lambda a: rnn_sequence(a["x"], a["h0"], a["w1"], a["wh1"], nonlinearity="gelu"),
     "nonlinearity must be one of"),
    (lambda a: lstm_sequence(a["x"], a["h0"], a["h0"], a["w1"], a["wh1"]),
     r"weight_hh must have shape \(4\*H, H\)"),
    (lambda a: gru_sequence(a["x"], a["h0"], a["w1"][:, :2], a["wh3"]),
     r"weight_ih must have shape \(12, 3\)"),
    (lambda a: gru_sequence(a["x"], a["h0"][:1], a["w3"], a["wh3"]),
     r"h0 must have shape \(B, H\) = \(2, 4\)"),
    (lambda a: gru_sequence(a["x"], a["h0"], a["w3"], a["wh3"], a["b1"]),
     r"bias_ih must have shape \(12,\)"),
])
def test_bad_shapes_are_refused(call, match):
    rng = np.random.default_rng(0)
    a = {"x": Tensor(rng.standard_normal((5, 2, 3))), "h0": Tensor(np.zeros((2, 4))),
         "w1": Tensor(rng.standard_normal((4, 3))), "wh1": Tensor(rng.standard_normal((4, 4))),
         "w3": Tensor(rng.standard_normal((12, 3))), "wh3": Tensor(rng.standard_normal((12, 4))),
         "b1": Tensor(np.zeros(4))}
    with pytest.raises(ValueError, match=match):
        call(a)


# ----- the layers: fused=True and the cell loop (fused=False) agree -----------------------
LAYERS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def _layer_run(layer, x, hx, seed):
    out, state = layer(x, hx)
    states = list(state) if isinstance(state, tuple) else [state]
    rng = np.random.default_rng(seed)
    loss = sum((o * rng.standard_normal(o.shape)).sum() for o in [out] + states)
    leaves = [x] + ([hx] if isinstance(hx, Tensor) else list(hx or [])) + list(layer.parameters())
    grads = tg.grad(loss, leaves)
    return [out.data] + [s.data for s in states], [g.data for g in grads]


@settings(max_examples=20)
@given(kind=st.sampled_from(["rnn", "lstm", "gru"]), num_layers=st.integers(1, 2),
       bidirectional=st.booleans(), batch_first=st.booleans(), bias=st.booleans(),
       with_state=st.booleans(), sizes=sizes, seed=st.integers(0, 2**16))
def test_layer_fused_matches_cell_loop(kind, num_layers, bidirectional, batch_first, bias,
                                       with_state, sizes, seed):
    t, b, i, h = sizes
    kw = dict(input_size=i, hidden_size=h, num_layers=num_layers, bias=bias,
              batch_first=batch_first, bidirectional=bidirectional)
    if kind == "rnn":
        kw["nonlinearity"] = ["tanh", "relu"][seed % 2]
    fused = LAYERS[kind](**kw, fused=True).to(np.float64)
    loop = LAYERS[kind](**kw, fused=False).to(np.float64)
    loop.load_state_dict(fused.state_dict())
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((b, t, i) if batch_first else (t, b, i))
    n = num_layers * (2 if bidirectional else 1)
    hs = [rng.standard_normal((n, b, h)) * 0.5 for _ in range(2 if kind == "lstm" else 1)]

    def inputs():
        states = [Tensor(s.copy(), requires_grad=True) for s in hs] if with_state else None
        hx = None if states is None else (tuple(states) if kind == "lstm" else states[0])
        return Tensor(x.copy(), requires_grad=True), hx

    a = _layer_run(fused, *inputs(), seed)
    ref = _layer_run(loop, *inputs(), seed)
    names = ["output", "h_n", "c_n"][:len(a[0])] + ["grad"] * len(a[1])
    _assert_same(a, ref, names)
