"""record_grad_flow: ||dL/dh_t|| per step, per layer and direction, equal to hooks on a cell
loop's h_t, on the kernels, the compiled path and the eager loop, without changing numbers."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn


def _reference(kind: str, model, x: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """||dL/dh_t|| from tinygrad_rnn.grad on every h_t of a loop over the layer's cell."""
    cell = {"RNN": nn.RNNCell, "LSTM": nn.LSTMCell, "GRU": nn.GRUCell}[kind]
    weights = model._layer_weights(0, 0)
    state = tuple(Tensor(np.zeros((x.shape[1], model.hidden_size))) for _ in
                  range(2 if kind == "LSTM" else 1))
    state = state if kind == "LSTM" else state[0]
    hs = []
    for t in range(x.shape[0]):
        state = cell.step(Tensor(x[t]), state, *weights)
        hs.append(state[0] if kind == "LSTM" else state)
    loss = (tg.stack(hs) * Tensor(seed)).sum()
    return np.array([np.linalg.norm(g.data) for g in tg.grad(loss, hs)])


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("path", ["kernel", "compiled", "eager"])
def test_norms_equal_the_gradients_of_a_cell_loop(kind, path):
    tg.manual_seed(0)
    model = getattr(nn, kind)(3, 4, fused=path == "kernel",
                              compiled=path == "compiled").double()
    rng = np.random.default_rng(0)
    x, seed = rng.standard_normal((7, 2, 3)), rng.standard_normal((7, 2, 4))
    with nn.record_grad_flow(model) as flow:
        out, _ = model(Tensor(x))
        (out * Tensor(seed)).sum().backward()
    got = flow.norms["layer 0"] if "layer 0" in flow.norms else next(iter(flow.norms.values()))
    np.testing.assert_allclose(got, _reference(kind, model, x, seed), rtol=1e-10)


def test_every_layer_and_direction_is_recorded_and_numbers_do_not_change():
    tg.manual_seed(1)
    model = nn.Sequential(nn.GRU(2, 3, num_layers=2, bidirectional=True).double())
    x = Tensor(np.random.default_rng(1).standard_normal((5, 2, 2)))
    plain, _ = model[0](x)
    with nn.record_grad_flow(model) as flow:
        out, _ = model[0](x)
        (out * out).sum().backward()
    np.testing.assert_array_equal(out.data, plain.data)
    assert sorted(flow.norms) == ["0 layer 0", "0 layer 0 reverse", "0 layer 1",
                                  "0 layer 1 reverse"]
    assert all(v.shape == (5,) and np.all(np.isfinite(v)) for v in flow.norms.values())


def test_layers_outside_the_model_and_after_the_block_are_not_recorded():
    tg.manual_seed(2)
    a, b = nn.LSTM(2, 3).double(), nn.LSTM(2, 3).double()
    x = Tensor(np.ones((4, 1, 2)))
    with pytest.warns(UserWarning, match=r"record_grad_flow\(LSTM\): no recurrent layer "
                                         r"inside it ran forward"):
        with nn.record_grad_flow(a) as flow:
            out_b, _ = b(x)
            out_b.sum().backward()
    assert flow.norms == {}
    out_a, _ = a(x)
    out_a.sum().backward()
    assert flow.norms == {}


# ----- every layer, every path: t counts the steps as the direction runs them ----------------
class _ElmanCell(nn.Module):
    """A user's own cell (written with ops, no kernel): h' = tanh(x W + h U + b)."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        rng = np.random.default_rng(input_size)
        self.hidden_size = hidden_size
        self.W = nn.Parameter(rng.standard_normal((input_size, hidden_size)) * 0.7)
        self.U = nn.Parameter(rng.standard_normal((hidden_size, hidden_size)) * 0.7)
        self.b = nn.Parameter(rng.standard_normal(hidden_size) * 0.1)

    def forward(self, x, h=None):
        pre = x @ self.W + self.b
        return (pre if h is None else pre + h @ self.U).tanh()


LAYERS = {
    "RNN kernel": lambda: nn.RNN(3, 4, bidirectional=True),
    "LSTM kernel": lambda: nn.LSTM(3, 4, bidirectional=True),
    "GRU kernel": lambda: nn.GRU(3, 4, bidirectional=True),
    "GRU compiled": lambda: nn.GRU(3, 4, bidirectional=True, fused=False),
    "LSTM eager": lambda: nn.LSTM(3, 4, bidirectional=True, fused=False, compiled=False),
    "Recurrent(own cell) compiled": lambda: nn.Recurrent(lambda n: _ElmanCell(n, 4),
                                                         input_size=3, bidirectional=True),
    "Recurrent(own cell) eager": lambda: nn.Recurrent(lambda n: _ElmanCell(n, 4), input_size=3,
                                                      bidirectional=True, compiled=False),
    "Recurrent(MinGRUCell)": lambda: nn.Recurrent(lambda n: nn.MinGRUCell(n, 4), input_size=3,
                                                  bidirectional=True),
    "MinGRU": lambda: nn.MinGRU(3, 4, bidirectional=True),
    "MinLSTM": lambda: nn.MinLSTM(3, 4, bidirectional=True),
    "IndRNN relu": lambda: nn.IndRNN(3, 4, bidirectional=True),
    "IndRNN tanh": lambda: nn.IndRNN(3, 4, bidirectional=True, nonlinearity="tanh"),
}


def _step_and_start(model, d):
    """The layer's own equations for one step of direction d (layer 0), and the state before
    the first step: what the reference loop below runs, one sequence at a time."""
    from tinygrad_rnn.nn.minimal import _ElementwiseLayer
    if isinstance(model, _ElementwiseLayer):
        weights, options = model._layer_weights(0, d), model._options()
        return (lambda x, s: model._cell.step(x, s, *weights, **options)), None
    start = model._initial_states(None, 1, np.float64, False)[d]
    return (lambda x, s: model._step(0, d, x, s)), start


def _run_order_reference(model, d, x, lengths, seed):
    """||dL/dh_k|| for k = 0, 1, ... the steps direction d runs, L = sum(out * seed), from a
    plain loop of the step over each sequence on its own (retain_grad on every h_k): the
    reverse direction's step k reads input time len-1-k. Zero past a sequence's length."""
    T, B, _ = x.shape
    H = model.hidden_size
    lengths = [T] * B if lengths is None else list(lengths)
    step, start = _step_and_start(model, d)
    sq = np.zeros(T)
    for b in range(B):
        n, state, hs, loss = lengths[b], start, [], 0.0
        for k in range(n):
            s = n - 1 - k if d else k
            state = step(Tensor(x[s, b:b + 1]), state)
            h = state[0] if isinstance(state, tuple) else state
            h.retain_grad()
            hs.append(h)
            loss = loss + (h * Tensor(seed[s, b:b + 1, d * H:(d + 1) * H])).sum()
        loss.backward()
        sq[:n] += [float(np.sum(h.grad.data ** 2)) for h in hs]
    return np.sqrt(sq)


@settings(max_examples=40, deadline=None)
@given(kind=st.sampled_from(sorted(LAYERS)), T=st.integers(1, 7), B=st.integers(1, 3),
       which=st.sampled_from(["none", "all full", "drawn"]), data=st.data())
def test_norms_count_the_steps_as_each_direction_runs_them(kind, T, B, which, data):
    """Both directions of every layer kind and path, with and without lengths: the norms
    equal a plain loop's in run order (a reverse direction's t = 0 is each sequence's end),
    whether the layer was given no lengths, all-full ones or unequal ones."""
    tg.manual_seed(T * 10 + B)
    model = LAYERS[kind]().double()
    lengths = {"none": None, "all full": [T] * B,
               "drawn": data.draw(st.lists(st.integers(1, T), min_size=B, max_size=B),
                                  label="lengths")}[which]
    rng = np.random.default_rng(T * 7 + B)
    x, seed = rng.standard_normal((T, B, 3)), rng.standard_normal((T, B, 8))
    with nn.record_grad_flow(model) as flow:
        out, _ = model(Tensor(x), lengths=lengths)
        (out * Tensor(seed)).sum().backward()
    names = sorted(flow.norms)
    assert len(names) == 2 and names[1] == names[0] + " reverse", names
    for d, name in enumerate(names):
        want = _run_order_reference(model, d, x, lengths, seed)
        got = flow.norms[name]
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12, err_msg=f"{kind}: {name}")


def test_the_walks_repro_gives_one_order_for_every_lengths():
    """nn.GRU bidirectional, loss on the last output: the reverse direction's gradient
    enters at its first step (input time T-1) with or without lengths."""
    tg.manual_seed(0)
    m, x = nn.GRU(4, 5, bidirectional=True), tg.randn(8, 3, 4)
    for lengths in [None, [8, 8, 8], [8, 3, 5]]:
        with nn.record_grad_flow(m) as flow:
            out, _ = m(x, lengths=lengths)
            out[-1].sum().backward()
        rev = flow.norms["gru layer 0 reverse"]
        assert rev[0] > 0 and np.all(rev[1:] == 0), (lengths, rev)


# ----- several backward passes in one block: one record each, `norms` the latest -----------
PASS_LAYERS = {"GRU kernel": lambda: nn.GRU(3, 4), "GRU eager": lambda: nn.GRU(
    3, 4, fused=False, compiled=False), "LSTM compiled": lambda: nn.LSTM(3, 4, fused=False),
    "MinGRU": lambda: nn.MinGRU(3, 4)}


def _one_pass(model, x, seed):
    """The norms of one forward and backward in a block of its own."""
    with nn.record_grad_flow(model) as flow:
        out, _ = model(Tensor(x))
        (out * Tensor(seed)).sum().backward()
    return flow.norms[next(iter(flow.norms))]


@settings(max_examples=25, deadline=None)
@given(kind=st.sampled_from(sorted(PASS_LAYERS)),
       passes=st.lists(st.tuples(st.integers(1, 9), st.booleans()), min_size=1, max_size=4))
def test_each_backward_pass_is_its_own_record_and_norms_the_latest(kind, passes):
    """Forward and backward passes of drawn lengths inside one block (some a second backward
    on the graph before, retain_graph=True): `history` holds each pass's norms as a block of
    its own records them, in order, and `norms` the last one: never a splice of two."""
    tg.manual_seed(1)
    model = PASS_LAYERS[kind]().double()
    rng = np.random.default_rng(len(passes))
    ran, graph = [], None
    with nn.record_grad_flow(model) as flow:
        for T, again in passes:
            if again and graph is not None:  # another backward through the last graph
                out, x = graph
            else:
                x = rng.standard_normal((T, 2, 3))
                out, _ = model(Tensor(x))
                graph = (out, x)
            seed = rng.standard_normal(out.shape)
            (out * Tensor(seed)).sum().backward(retain_graph=True)
            ran.append((x, seed))
    expected = [_one_pass(model, x, seed) for x, seed in ran]
    (name,) = flow.norms
    assert len(flow.history[name]) == len(expected)
    for got, want in zip(flow.history[name], expected):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_array_equal(flow.norms[name], flow.history[name][-1])


def test_the_walks_thirty_then_ten_steps_gives_the_ten():
    tg.manual_seed(0)
    gru = nn.GRU(3, 4)
    with nn.record_grad_flow(gru) as flow:
        out, _ = gru(tg.randn(30, 2, 3))
        out[-1].sum().backward()
        first = flow.norms["gru layer 0"].copy()
        out, _ = gru(tg.randn(10, 2, 3))
        out[-1].sum().backward()
    assert flow.norms["gru layer 0"].shape == (10,)
    assert [len(v) for v in flow.history["gru layer 0"]] == [30, 10]
    np.testing.assert_array_equal(flow.history["gru layer 0"][0], first)


def test_two_calls_in_one_graph_are_two_records_the_later_call_in_norms():
    tg.manual_seed(0)
    gru = nn.GRU(3, 4).double()
    x1, x2 = tg.randn(6, 2, 3).double(), tg.randn(4, 2, 3).double()
    with nn.record_grad_flow(gru) as flow:
        out1, _ = gru(x1)
        out2, _ = gru(x2)
        (out1.sum() + (out2 * out2).sum()).backward()
    assert [len(v) for v in flow.history["gru layer 0"]] == [6, 4]  # in call order
    np.testing.assert_array_equal(flow.norms["gru layer 0"], flow.history["gru layer 0"][1])


@pytest.mark.parametrize("path", ["kernel", "compiled", "eager"])
def test_nested_blocks_both_record_and_leave_the_gradients_alone(path):
    """Two recordings at once share each step's tap; on the hooked paths a tap's value must
    not become the gradient."""
    tg.manual_seed(4)
    gru = nn.GRU(3, 4, fused=path == "kernel", compiled=path == "compiled").double()
    x = tg.randn(6, 2, 3).double()
    out, _ = gru(x)
    (out * out).sum().backward()
    want = [p.grad.data.copy() for p in gru.parameters()]
    gru.zero_grad()
    with nn.record_grad_flow() as outer, nn.record_grad_flow(gru) as inner:
        out, _ = gru(x)
        (out * out).sum().backward()
    for p, g in zip(gru.parameters(), want):
        np.testing.assert_array_equal(p.grad.data, g)
    np.testing.assert_array_equal(outer.norms["gru layer 0"], inner.norms["gru layer 0"])


def test_a_forward_without_backward_records_nothing():
    gru = nn.GRU(3, 4)
    with nn.record_grad_flow(gru) as flow:
        gru(tg.randn(5, 2, 3))
    assert flow.norms == {} and flow.history == {}
    assert "gru layer 0" in flow.why_empty and "no backward" in flow.why_empty


# ----- the layers without a step loop record too; an empty record says why ------------------
@pytest.mark.parametrize("make", [lambda: nn.MinGRU(3, 4, num_layers=2, bidirectional=True),
                                  lambda: nn.MinLSTM(3, 4, num_layers=2, bidirectional=True),
                                  lambda: nn.IndRNN(3, 4, num_layers=2, bidirectional=True)])
def test_elementwise_layers_record_every_layer_and_direction_without_changing_numbers(make):
    tg.manual_seed(3)
    model = make().double()
    x = Tensor(np.random.default_rng(3).standard_normal((5, 2, 3)))
    plain, _ = model(x)
    (plain * plain).sum().backward()
    grads = [p.grad.data.copy() for p in model.parameters()]
    model.zero_grad()
    with nn.record_grad_flow(model) as flow:
        out, _ = model(x)
        (out * out).sum().backward()
    np.testing.assert_array_equal(out.data, plain.data)
    for p, g in zip(model.parameters(), grads):
        np.testing.assert_array_equal(p.grad.data, g)
    prefix = type(model).__name__.lower()
    assert sorted(flow.norms) == [f"{prefix} layer {k}{r}" for k in (0, 1) for r in ("", " reverse")]
    assert all(v.shape == (5,) and np.all(np.isfinite(v)) and np.all(v > 0)
               for v in flow.norms.values())
    assert flow.why_empty is None


class _HandLoop(nn.Module):
    """A loop over a cell written by hand: nothing for record_grad_flow to tap."""

    def __init__(self):
        super().__init__()
        self.cell = nn.GRUCell(3, 4)

    def forward(self, x):
        h = None
        for t in range(x.shape[0]):
            h = self.cell(x[t], h)
        return h


def test_an_empty_record_says_which_module_and_why():
    model = _HandLoop()
    with pytest.warns(UserWarning, match=r"_HandLoop.*no recurrent layer.*ran forward"):
        with nn.record_grad_flow(model) as flow:
            model(tg.randn(4, 2, 3)).sum().backward()
    assert flow.norms == {}
    assert "_HandLoop" in flow.why_empty and "nn.Recurrent" in flow.why_empty
    from tinygrad_rnn.debug import plot_grad_flow
    with pytest.raises(ValueError, match=r"_HandLoop.*no recurrent layer"):
        plot_grad_flow(flow)


@settings(max_examples=12, deadline=None)
@given(kind=st.sampled_from(["RNN", "LSTM", "GRU"]), seed=st.integers(0, 999),
       lengths=st.lists(st.integers(1, 6), min_size=2, max_size=3))
def test_with_lengths_and_a_loss_on_the_final_state_every_path_records_the_same(kind, seed,
                                                                                lengths):
    # past its length a sequence holds its state on the scan path; what reaches the held
    # copy is no step of it, and the kernels never see it: it must not count
    x0 = np.random.default_rng(seed).standard_normal((6, len(lengths), 3))
    records = []
    for kw in (dict(fused=True), dict(fused=False, compiled=False), dict(fused=False)):
        tg.manual_seed(seed)
        m = getattr(nn, kind)(3, 4, bidirectional=True, **kw).double()
        with nn.record_grad_flow(m) as flow:
            out, state = m(Tensor(x0), lengths=lengths)
            h = state[0] if kind == "LSTM" else state
            ((h * 3).sum() + (out * out).sum()).backward()
        records.append(flow.norms)
    for other in records[1:]:
        assert other.keys() == records[0].keys()
        for name in records[0]:
            np.testing.assert_allclose(other[name], records[0][name], rtol=1e-12, atol=1e-12)
