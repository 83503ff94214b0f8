"""The compiled sequence path (tinygrad_rnn.scan, nn.Recurrent, layers without a kernel) gives
the eager loop's numbers: outputs, final states and every gradient, for built-in cells, the
example's peephole cell and cells written with the new vocabulary; and it falls back to the
eager loop, with the same numbers, for steps it cannot compile."""
from __future__ import annotations

import importlib.util
import math
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn import Function, Tensor, nn, scan
from tinygrad_rnn.compiled import Scan, scan_info
from tinygrad_rnn.nn import functional as F

_EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "custom_cell.py"
_spec = importlib.util.spec_from_file_location("custom_cell_example_for_scan", _EXAMPLE)
_example = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_example)
PeepholeLSTMCell = _example.PeepholeLSTMCell


def _uniform(module, *shapes_names):
    k = 1.0 / math.sqrt(module.hidden_size)
    for name, shape in shapes_names:
        setattr(module, name, nn.Parameter(
            tg.get_rng().uniform(-k, k, shape).astype(np.float32)))


class LayerNormGRUCell(nn.Module):
    """GRU whose two projections are layer-normalised (own gains and biases).

        gi = LN(x @ W_ih.T),  gh = LN(h @ W_hh.T)          (B, 3H) each
        r, z = sigmoid(gi_r + gh_r), sigmoid(gi_z + gh_z);  n = tanh(gi_n + r * gh_n)
        h' = (1 - z) * n + z * h
    """

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        H = hidden_size
        _uniform(self, ("weight_ih", (3 * H, input_size)), ("weight_hh", (3 * H, H)))
        self.ln_i, self.ln_h = nn.LayerNorm(3 * H), nn.LayerNorm(3 * H)

    def forward(self, x, h=None):
        if h is None:
            h = tg.zeros(x.shape[0], self.hidden_size, dtype=x.dtype)
        gi = self.ln_i(x @ self.weight_ih.T)
        gh = self.ln_h(h @ self.weight_hh.T)
        i_r, i_z, i_n = gi.chunk(3, dim=-1)
        h_r, h_z, h_n = gh.chunk(3, dim=-1)
        r, z = (i_r + h_r).sigmoid(), (i_z + h_z).sigmoid()
        n = (i_n + r * h_n).tanh()
        return (1 - z) * n + z * h


class IndRNNCell(nn.Module):
    """h' = relu(x @ W.T + u * h + b), u one recurrent weight per unit."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        _uniform(self, ("weight", (hidden_size, input_size)), ("u", (hidden_size,)),
                 ("bias", (hidden_size,)))

    def forward(self, x, h=None):
        pre = F.linear(x, self.weight, self.bias)
        return pre.relu() if h is None else (pre + self.u * h).relu()


class MinGRUCell(nn.Module):
    """z = sigmoid(x W_z^T + b_z), h~ = x W_h^T + b_h, h' = (1 - z) * h + z * h~ (split)."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        _uniform(self, ("weight", (2 * hidden_size, input_size)), ("bias", (2 * hidden_size,)))

    def forward(self, x, h=None):
        a_z, a_h = F.linear(x, self.weight, self.bias).split(self.hidden_size, dim=-1)
        z = a_z.sigmoid()
        return z * a_h if h is None else (1 - z) * h + z * a_h


class GatedGELUCell(nn.Module):
    """A cell from the new vocabulary: h' = LN(h) * softplus(x U) + maximum(gelu(h W), -1)."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        _uniform(self, ("u", (input_size, hidden_size)), ("w", (hidden_size, hidden_size)))

    def forward(self, x, h=None):
        if h is None:
            h = tg.zeros(x.shape[0], self.hidden_size, dtype=x.dtype)
        gate = F.softplus(x @ self.u)
        return F.layer_norm(h, self.hidden_size) * gate + tg.maximum((h @ self.w).gelu(), -1.0)


class ScalarGainCell(nn.Module):
    """h' = tanh(x W + h U) * rsqrt(1 + mean(h * h)): a 0-d value inside the recurrence."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        _uniform(self, ("w", (input_size, hidden_size)), ("u", (hidden_size, hidden_size)))

    def forward(self, x, h=None):
        if h is None:
            h = tg.zeros(x.shape[0], self.hidden_size, dtype=x.dtype)
        return (x @ self.w + h @ self.u).tanh() * ((h * h).mean() + 1).rsqrt()


CELLS = {
    "RNNCell tanh": lambda i, h: nn.RNNCell(i, h),
    "RNNCell relu": lambda i, h: nn.RNNCell(i, h, nonlinearity="relu"),
    "RNNCell sigmoid": lambda i, h: nn.RNNCell(i, h, nonlinearity="sigmoid"),
    "LSTMCell": lambda i, h: nn.LSTMCell(i, h),
    "GRUCell": lambda i, h: nn.GRUCell(i, h),
    "peephole LSTM": lambda i, h: PeepholeLSTMCell(i, h),
    "layer-norm GRU": lambda i, h: LayerNormGRUCell(i, h),
    "IndRNN": lambda i, h: IndRNNCell(i, h),
    "minGRU": lambda i, h: MinGRUCell(i, h),
    "gated GELU": lambda i, h: GatedGELUCell(i, h),
    "scalar gain": lambda i, h: ScalarGainCell(i, h),
}


def _run(model, x, hx, compiled: bool):
    """Outputs, final states and gradients (x, hx, parameters) of one forward + backward."""
    model.zero_grad()
    model.compiled = compiled
    xs = Tensor(x.copy(), requires_grad=True)
    h0 = None if hx is None else tuple(Tensor(h.copy(), requires_grad=True) for h in hx)
    out, state = model(xs, h0 if h0 is None or len(h0) > 1 else h0[0])
    path = scan_info()["path"]
    finals = state if isinstance(state, tuple) else (state,)
    seed = np.random.default_rng(5).standard_normal(out.shape)
    loss = (out * Tensor(seed.astype(out.dtype))).sum()
    for f in finals:
        loss = loss + (f * f).sum()
    loss.backward()
    grads = [xs.grad.data] + ([h.grad.data for h in h0] if h0 else []) + \
        [p.grad.data for p in model.parameters()]
    return path, [out.data] + [f.data for f in finals], grads


def _assert_same(a, b, rtol):
    """Equal to rtol relative to the size of the terms summed: sums taken in another order
    (one GEMM over all steps instead of one per step) differ in the last bits of their terms,
    which are of order 1 here (unit-scale inputs and weights), also where they cancel to a
    tiny result; so the tolerance is rtol times the larger of 1 and the array's largest entry."""
    for u, v in zip(a, b):
        scale = max(float(np.max(np.abs(v), initial=0.0)), 1.0)
        np.testing.assert_allclose(u, v, rtol=rtol, atol=rtol * scale)


@settings(max_examples=int(__import__("os").environ.get("SCAN_EXAMPLES", 40)))
@given(name=st.sampled_from(sorted(CELLS)), T=st.integers(4, 7), B=st.integers(1, 3),
       I=st.integers(1, 4), H=st.integers(1, 4), layers=st.integers(1, 2),
       bidirectional=st.booleans(), batch_first=st.booleans(), with_h0=st.booleans(),
       seed=st.integers(0, 2 ** 16))
def test_compiled_equals_the_eager_loop(name, T, B, I, H, layers, bidirectional, batch_first,
                                         with_h0, seed):
    tg.manual_seed(seed)
    model = nn.Recurrent(lambda n: CELLS[name](n, H), num_layers=layers, input_size=I,
                         bidirectional=bidirectional, batch_first=batch_first).double()
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((B, T, I) if batch_first else (T, B, I))
    hx = None
    if with_h0:
        probe = model.cell(0)(Tensor(x[0] if not batch_first else x[:, 0]), None)
        n_state = len(probe) if isinstance(probe, tuple) else 1
        hx = tuple(rng.standard_normal((layers * (1 + bidirectional), B, H))
                   for _ in range(n_state))
    path, vals_c, grads_c = _run(model, x, hx, compiled=True)
    assert path == "compiled", scan_info()
    _, vals_e, grads_e = _run(model, x, hx, compiled=False)
    _assert_same(vals_c, vals_e, 1e-12)
    _assert_same(grads_c, grads_e, 1e-12)


@settings(max_examples=int(__import__("os").environ.get("SCAN_EXAMPLES", 40)))
@given(name=st.sampled_from(sorted(CELLS)), T=st.integers(4, 7), B=st.integers(2, 4),
       I=st.integers(1, 5), H=st.sampled_from([1, 2, 3, 5, 16, 33]), seed=st.integers(0, 99))
def test_float64_outputs_are_the_eager_loops_to_the_bit(name, T, B, I, H, seed):
    """Outputs and final states in float64 are the eager loop's bits, with two rows or more
    per step: the hoisted products give each row the sum the per-step product gives it (one
    BLAS thread, so that no split of a product over threads enters). With one row a step the
    loop's products are matrix-vector ones and the hoisted one a matrix product: the last
    bits may differ there (test_compiled_equals_the_eager_loop bounds it)."""
    tg.manual_seed(seed)
    model = nn.Recurrent(lambda n: CELLS[name](n, H), input_size=I).double()
    x = np.random.default_rng(seed).standard_normal((T, B, I))
    with tg.parallel.num_threads(1):
        path, vals_c, _ = _run(model, x, None, compiled=True)
        _, vals_e, _ = _run(model, x, None, compiled=False)
    assert path == "compiled"
    for c, e in zip(vals_c, vals_e):
        np.testing.assert_array_equal(c, e)


@pytest.mark.parametrize("name", sorted(CELLS))
def test_float32_and_unbatched_input(name):
    tg.manual_seed(3)
    model = nn.Recurrent(lambda n: CELLS[name](n, 4), input_size=3)
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    path, vals_c, grads_c = _run(model, x, None, compiled=True)
    assert path == "compiled"
    _, vals_e, grads_e = _run(model, x, None, compiled=False)
    assert vals_c[0].dtype == np.float32 and vals_c[0].shape == (5, 4)
    _assert_same(vals_c, vals_e, 1e-5)
    _assert_same(grads_c, grads_e, 1e-4)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_builtin_layers_compiled_equal_their_kernels(kind):
    """Without a kernel (fused=False) the layer runs its cell's step compiled."""
    tg.manual_seed(4)
    cls = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind]
    fused = cls(3, 4, num_layers=2, bidirectional=True).double()
    plain = cls(3, 4, num_layers=2, bidirectional=True, fused=False).double()
    plain.load_state_dict(fused.state_dict())
    x = np.random.default_rng(1).standard_normal((6, 2, 3))
    _, vals_k, grads_k = _run(fused, x, None, compiled=True)
    path, vals_c, grads_c = _run(plain, x, None, compiled=True)
    assert path == "compiled"
    _assert_same(vals_c, vals_k, 1e-10)
    _assert_same(grads_c, grads_k, 1e-10)


def test_scan_as_a_function():
    tg.manual_seed(0)
    w = Tensor(np.random.default_rng(0).standard_normal((3, 3)) * 0.5, requires_grad=True)
    xs = Tensor(np.random.default_rng(1).standard_normal((7, 2, 3)), requires_grad=True)

    def step(x, h):
        return (x + (h @ w if h is not None else 0.0)).tanh()

    results = []
    for compiled in (True, False):
        w.grad = xs.grad = None
        outs, h = scan(step, xs, None, compiled=compiled)
        assert scan_info()["path"] == ("compiled" if compiled else "eager")
        for reverse_outs, _ in [scan(step, xs, h, reverse=True, compiled=compiled)]:
            assert scan_info()["path"] == ("compiled" if compiled else "eager")
            ((outs * outs).sum() + reverse_outs.sum()).backward()
        results.append([outs.data, h.data, w.grad.data, xs.grad.data])
    _assert_same(results[0], results[1], 1e-12)
    assert outs.shape == (7, 2, 3)


def test_the_sequence_is_one_node_and_inputs_are_projected_once():
    tg.manual_seed(0)
    model = nn.Recurrent(lambda n: nn.LSTMCell(n, 4), input_size=3)
    out, _ = model(Tensor(np.ones((9, 2, 3), dtype=np.float32)))
    kinds, seen, todo = [], set(), [out]
    while todo:
        t = todo.pop()
        if t._ctx is None or id(t._ctx) in seen:
            continue
        seen.add(id(t._ctx))
        kinds.append(type(t._ctx).__name__)
        todo.extend(t._ctx.parents)
    assert kinds.count("Scan") == 1
    # steps 0, 1 and 2 run as the loop runs them (1 and 2 recorded on the way: 3 sigmoids
    # and 2 products each); the other 6 steps add no per-step node: the input projection of
    # steps 3..8 is one Linear over all of them
    assert kinds.count("Sigmoid") == 9 and kinds.count("Linear") == 7


# ----- what cannot be compiled runs on the eager loop, with the same numbers -----------------
class _NoTimeAxis(Function):
    """y = 2 x;  dx = 2 g  (a user op that does not declare over_time)"""

    @staticmethod
    def forward(ctx, x):
        return 2 * x

    @staticmethod
    def backward(ctx, g):
        return 2 * g


def _steps():
    w = Tensor(np.full((2, 2), 0.3), requires_grad=True)

    def item_step(x, h):
        h = x if h is None else (x + h @ w).tanh()
        return h * (1.0 if h.sum().item() > -100 else 2.0)

    def bool_step(x, h):
        h = x if h is None else (x + h @ w).tanh()
        return h * 2 if bool((h.sum() > 1000).data) is False and bool(h.sum() < 1000) else h

    def dropout_step(x, h):
        h = x if h is None else (x + h @ w).tanh()
        return F.dropout(h, 0.5)

    def numpy_random_step(x, h):
        h = x if h is None else (x + h @ w).tanh()
        return h * float(np.random.random() < 2)

    def constant_from_data(x, h):
        h = x if h is None else (x + h @ w).tanh()
        return h + Tensor(h.data * 0.5)  # a constant read from the data, through .data

    def user_op(x, h):
        h = x if h is None else (x + h @ w).tanh()
        return _NoTimeAxis.apply(h)

    return w, {"item()": item_step, "bool()": bool_step, "random": dropout_step,
               "random ": numpy_random_step, "builds a tensor": constant_from_data,
               "over_time": user_op}


@pytest.mark.parametrize("why", ["item()", "bool()", "random", "random ", "builds a tensor",
                                 "over_time"])
def test_steps_that_cannot_be_compiled_run_eagerly_with_the_same_numbers(why):
    w, steps = _steps()
    step = steps[why]
    xs = Tensor(np.random.default_rng(2).standard_normal((6, 2, 2)), requires_grad=True)
    results = []
    for compiled in (True, False):
        tg.manual_seed(7)
        np.random.seed(7)
        w.grad = xs.grad = None
        outs, h = scan(step, xs, None, compiled=compiled)
        if compiled:
            info = scan_info()
            assert info["path"] == "eager" and why.strip() in info["why"], info
        (outs * outs).sum().backward()
        results.append([outs.data, h.data, w.grad.data, xs.grad.data])
    _assert_same(results[0], results[1], 0)  # bit for bit: the same eager loop ran


def test_a_data_dependent_branch_that_changes_between_steps_is_caught():
    w = Tensor(np.eye(2), requires_grad=True)

    def step(x, h):
        h = x if h is None else x + h @ w
        return h.tanh() if h.data.sum() > 0 else h.sigmoid()  # branches on .data

    xs = Tensor(np.array([[[1.0, 1.0]], [[-5.0, -5.0]], [[5.0, 5.0]], [[1.0, 1.0]]]))
    scan(step, xs, None)
    assert scan_info()["path"] == "eager" and "not static" in scan_info()["why"]


# ----- an override always runs ------------------------------------------------------------------
def test_a_subclass_that_overrides_the_layer_step_runs_its_own_equations():
    calls = []

    class ScaledLSTM(nn.LSTM):
        def _step(self, layer, direction, x, state):
            calls.append(1)
            h, c = super()._step(layer, direction, x, state)
            return h * 0.5, c

    tg.manual_seed(0)
    base = nn.LSTM(3, 4).double()
    mine = ScaledLSTM(3, 4).double()
    mine.load_state_dict(base.state_dict())
    x = Tensor(np.random.default_rng(0).standard_normal((5, 2, 3)))
    out_base, _ = base(x)
    out_mine, _ = mine(x)
    assert calls  # the override ran (with the compiled path: step 0 and the two recordings)
    assert not np.allclose(out_mine.data, out_base.data)
    calls.clear()
    mine.compiled = False
    out_eager, _ = mine(x)
    assert len(calls) == 5
    np.testing.assert_allclose(out_mine.data, out_eager.data, rtol=1e-12)


def test_a_cell_subclass_with_another_step_never_gets_the_builtin_kernel():
    class DoubledGRUCell(nn.GRUCell):
        @staticmethod
        def step(x, h, *weights):
            return nn.GRUCell.step(x, h, *weights) * 2.0

    class DoubledGRU(nn.GRU):
        _cell = DoubledGRUCell

    tg.manual_seed(0)
    base, mine = nn.GRU(3, 4).double(), DoubledGRU(3, 4).double()
    mine.load_state_dict(base.state_dict())
    assert base._kernel() is not None and mine._kernel() is None
    x = Tensor(np.random.default_rng(0).standard_normal((4, 1, 3)))
    out, _ = mine(x)
    h = Tensor(np.zeros((1, 4)))
    for t in range(4):
        h = DoubledGRUCell.step(x[t], h, *mine._layer_weights(0, 0))
    np.testing.assert_allclose(out.data[-1], h.data, rtol=1e-12)


# ----- memory ---------------------------------------------------------------------------------
def _peak(compiled: bool, T: int = 256, B: int = 4, H: int = 16) -> int:
    tg.manual_seed(0)
    model = nn.Recurrent(lambda n: nn.LSTMCell(n, H), input_size=8, compiled=compiled)
    x = Tensor(np.random.default_rng(0).standard_normal((T, B, 8)).astype(np.float32))
    tracemalloc.start()
    tracemalloc.reset_peak()
    out, _ = model(x)
    (out * out).sum().backward()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


@pytest.mark.parametrize("T,B,H", [(256, 4, 16), (256, 32, 64)])
def test_compiled_peak_memory_is_no_more_than_the_eager_loop(T, B, H):
    # (at 32 x 64 the replay once held every step's contexts through its whole backward,
    # where the eager engine frees each node after its own: 1.06x the loop's peak)
    assert _peak(True, T, B, H) <= _peak(False, T, B, H)


def test_scan_checks_its_input():
    with pytest.raises(TypeError, match="xs must be a Tensor"):
        scan(lambda x, h: x, np.ones((3, 2)))
    with pytest.raises(ValueError, match="at least one step"):
        scan(lambda x, h: x, Tensor(np.ones((0, 2))))
    assert Scan.over_time is None


def test_a_module_hook_inside_the_cell_runs_at_every_step():
    tg.manual_seed(0)
    model = nn.Recurrent(lambda n: nn.GRUCell(n, 3), input_size=2)
    calls = []
    handle = model.cell(0).register_forward_hook(lambda m, args, out: calls.append(1))
    model(Tensor(np.ones((7, 2, 2), dtype=np.float32)))
    assert len(calls) == 7 and scan_info()["path"] == "eager"
    handle.remove()
    model(Tensor(np.ones((7, 2, 2), dtype=np.float32)))
    assert scan_info()["path"] == "compiled"


def test_a_tensor_made_from_the_data_is_never_frozen_even_when_two_steps_agree():
    w = Tensor(np.eye(2) * 0.5, requires_grad=True)

    def step(x, h):
        h = x if h is None else x + h @ w
        keep = Tensor((x.data[:, :1] != 0).astype(np.float64))  # a mask read from the data
        return h * keep

    x = np.ones((6, 1, 2))
    x[4:] = 0.0  # steps 1 and 2 give the same mask; step 4 does not
    outs, h = scan(step, Tensor(x), None)
    assert scan_info()["path"] == "eager" and "pass per-step values in xs" in scan_info()["why"]
    assert not h.data.any()


def test_a_second_backward_through_the_compiled_path_with_retain_graph():
    tg.manual_seed(0)
    model = nn.Recurrent(lambda n: CELLS["peephole LSTM"](n, 3), input_size=2).double()
    out, _ = model(Tensor(np.random.default_rng(0).standard_normal((6, 2, 2))))
    assert scan_info()["path"] == "compiled"
    loss = (out * out).sum()
    loss.backward(retain_graph=True)
    first = [p.grad.data.copy() for p in model.parameters()]
    loss.backward()
    for p, g in zip(model.parameters(), first):
        np.testing.assert_allclose(p.grad.data, 2 * g, rtol=1e-12)


def test_a_hook_inside_a_step_makes_the_step_run_eagerly():
    w = Tensor(np.eye(2) * 0.5, requires_grad=True)
    seen = []

    def step(x, h):
        h = x if h is None else (x + h @ w).tanh()
        h.register_hook(lambda g: seen.append(1))
        return h

    xs = Tensor(np.ones((5, 1, 2)), requires_grad=True)
    outs, _ = scan(step, xs, None)
    assert scan_info()["path"] == "eager" and "register_hook" in scan_info()["why"]
    outs.sum().backward()
    assert len(seen) == 5


def test_inference_without_a_graph_runs_compiled():
    tg.manual_seed(0)
    model = nn.Recurrent(lambda n: nn.LSTMCell(n, 3), input_size=2)
    x = Tensor(np.ones((6, 2, 2), dtype=np.float32))
    with tg.no_grad():
        out, _ = model(x)
    assert scan_info()["path"] == "compiled" and not out.requires_grad
    model.compiled = False
    ref, _ = model(x)
    np.testing.assert_allclose(out.data, ref.data, rtol=1e-6)


def _indrnn_scan():
    """(cell, xs, outputs) of a compiled IndRNN scan over 6 steps."""
    tg.manual_seed(2)
    cell = IndRNNCell(3, 4)
    xs = Tensor(np.random.default_rng(0).standard_normal((6, 2, 3)).astype(np.float32),
                requires_grad=True)
    out, _ = scan(lambda x, s: cell(x, s), xs)
    return cell, xs, out


def test_scan_info_shows_the_generated_replay_of_the_last_compiled_scan():
    cell, xs, out = _indrnn_scan()
    info = scan_info()
    assert info["path"] == "compiled"
    forward = info["source"]["forward"]
    assert forward.startswith("def forward(") and "for k in range(steps):" in forward
    assert info["source"]["backward"] is None  # not generated before a backward
    out.sum().backward()
    backward = scan_info()["source"]["backward"]
    assert backward.startswith("def backward(") and "range(steps - 1, -1, -1)" in backward
    scan(lambda x, s: cell(x, s), xs, compiled=False)
    assert scan_info()["source"] is None


def test_the_replayed_forward_frees_each_value_after_its_last_use_but_keeps_the_state():
    # h' = relu((x W + b) + u * h): u * h, then its sum with the hoisted x W + b, then relu
    # (the new state); the first two are dropped by the op that reads them last, the state
    # never
    from tinygrad_rnn import compiled, replay
    _, xs, out = _indrnn_scan()
    plan = compiled._LAST_PLAN[0]
    assert [op[0].__name__ for op in plan.ops] == ["Mul", "Add", "ReLU"]
    assert replay._last_uses(plan) == [[], ["v0"], ["v1"]]
    forward = scan_info()["source"]["forward"]
    assert "        v1 = None\n" in forward
    # the step input itself (H0) is read only by the hoisted projection: not sliced per step
    assert "h0 = H0[k]" not in forward and "h1 = H1[k]" in forward
    out.sum().backward()  # the values backward needs are the ops' saved arrays, kept
    assert np.isfinite(xs.grad.data).all()


def test_the_replay_is_generated_once_per_structure_and_never_reused_across_them():
    from tinygrad_rnn import replay
    tg.manual_seed(3)
    cell = IndRNNCell(3, 4).double()
    xs = np.random.default_rng(1).standard_normal((6, 2, 3))
    replay._CODE.clear()  # counted from empty: earlier tests may have filled it to its limit

    def grads(freeze_u, compiled):
        cell.zero_grad()
        cell.u.requires_grad = not freeze_u
        x = Tensor(xs.copy(), requires_grad=True)
        out, _ = scan(lambda a, s: cell(a, s), x, compiled=compiled)
        out.sum().backward()
        return [x.grad.data, cell.weight.grad.data] + ([] if freeze_u else [cell.u.grad.data])
    grads(False, True)
    size = len(replay._CODE)
    for freeze in (False, True, False):  # same structure again, then another routing
        mine, eager = grads(freeze, True), grads(freeze, False)
        _assert_same(mine, eager, 1e-12)
    assert len(replay._CODE) == size + 2  # frozen u: another forward and backward, once
    cell.u.requires_grad = True


class _HalfBackward(Function):
    """y = h * c whose backward (wrongly) leaves dc out."""

    @staticmethod
    def over_time(kwargs, shapes, stacked):
        return None  # declared, but never batched: it stays in the loop

    @staticmethod
    def forward(ctx, h, c):
        ctx.c = c
        return h * c

    @staticmethod
    def backward(ctx, g):
        return g * ctx.c


class _AddScalar(Function):
    """y = h + a, a 0-d; da as an IndexedGrad (as a custom op may give)."""

    @staticmethod
    def over_time(kwargs, shapes, stacked):
        return None

    @staticmethod
    def forward(ctx, h, a):
        return h + a

    @staticmethod
    def backward(ctx, g):
        from tinygrad_rnn.function import IndexedGrad
        return g, IndexedGrad((), np.asarray(g.sum()), (), False)


@pytest.mark.parametrize("compiled", [True, False])
def test_a_backward_with_too_few_gradients_is_an_error_on_both_paths(compiled):
    c = Tensor(np.full(3, 0.5), requires_grad=True)

    def step(x, h):  # step 0 does not use the op: only the replay meets it
        return x.tanh() if h is None else (_HalfBackward.apply(h, c) + x).tanh()
    out, _ = scan(step, Tensor(np.ones((5, 3)), requires_grad=True), compiled=compiled)
    with pytest.raises(RuntimeError, match="_HalfBackward.backward returned 1 gradients, "
                                           "expected 2"):
        out.sum().backward()


def test_an_indexed_gradient_of_a_0d_per_step_input_lands_in_its_row():
    def step(x, h):
        return _AddScalar.apply((tg.zeros(3) if h is None else h) * 0.5, x).tanh()
    grads = []
    for compiled in (True, False):
        x = Tensor(np.linspace(-1, 1, 6), requires_grad=True)
        out, _ = scan(step, x, compiled=compiled)
        assert scan_info()["path"] == ("compiled" if compiled else "eager")
        out.sum().backward()
        grads.append(x.grad.data)
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12)


def test_a_subclass_that_overrides_forward_gets_no_inherited_prepare_keywords():
    # MatMul.prepare adds keywords (a contiguous and a widened copy of the fixed weight) that
    # only MatMul.forward knows; a subclass with a forward of its own runs without them
    from tinygrad_rnn.ops import MatMul

    class LoggedMatMul(MatMul):
        calls = 0

        @staticmethod
        def forward(ctx, a, b):
            LoggedMatMul.calls += 1
            ctx.save_for_backward(a, b)
            return np.matmul(a, b)

    tg.manual_seed(5)
    w = nn.Parameter(tg.randn(1024, 6).data.astype(np.float32) * 0.1)  # w.T: (6, 1024)
    xs = Tensor(np.random.default_rng(2).standard_normal((5, 8, 6)).astype(np.float32))
    h0 = Tensor(np.zeros((8, 6), np.float32))

    def run(mm, compiled):
        w.grad = None
        out, _ = scan(lambda x, h: (mm.apply(h, w.T)[:, :6] + x).tanh(), xs, h0,
                      compiled=compiled)
        out.sum().backward()
        return scan_info()["path"], out.data, w.grad.data

    path, out, grad = run(LoggedMatMul, True)
    assert path == "compiled" and LoggedMatMul.calls == 5  # steps 0-2 as the loop, 3-4 replayed
    for mm, compiled in ((LoggedMatMul, False), (MatMul, True)):
        _, out2, grad2 = run(mm, compiled)
        np.testing.assert_allclose(out, out2, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(grad, grad2, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("index", [(np.array([0, 2]), slice(None), 0),
                                   (0, slice(None), np.array([1, 0])),
                                   (np.array([0, 2]), 1), (slice(None), np.array([1, 2]), 0),
                                   (np.array([[0], [2]]), np.array([1, 3]))])
def test_an_index_mixing_arrays_and_integers_hoists_only_where_numpy_keeps_the_axes(index):
    """An index array beside integers (selected first, PyTorch's layout) or other arrays:
    behind a time slice its axes must not land before time (it used to give other numbers
    than the loop, or fail to broadcast)."""
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((6, 3, 4, 2))
    h0 = np.zeros(Tensor(np.zeros((3, 4, 2)))[index].shape)
    results = []
    for compiled in (True, False):
        x, h = Tensor(xs, requires_grad=True), Tensor(h0, requires_grad=True)
        out, last = scan(lambda x_t, s: x_t[index] + 0.5 * s, x, h, compiled=compiled)
        ((out * out).sum() + last.sum()).backward()
        results.append((out.data, x.grad.data, h.grad.data))
        assert not compiled or scan_info()["path"] == "compiled"
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=int(__import__("os").environ.get("SCAN_EXAMPLES", 40)), deadline=None)
@given(T=st.integers(4, 7), B=st.integers(1, 3), H=st.integers(1, 4), reverse=st.booleans(),
       lstm=st.booleans(), mode=st.sampled_from(["hook", "doubling hook", "retain_grad",
                                                  "grad()", "unused final"]),
       seed=st.integers(0, 2**16))
def test_the_final_state_is_the_last_output_for_hooks_retain_grad_and_grad(
        T, B, H, reverse, lstm, mode, seed):
    # eagerly the final state is the tensor the last step returned, so its gradient holds
    # what reaches it through the outputs too: a hook, retain_grad and grad() see that sum on
    # the compiled path as well, and a hook's change flows on into the steps before
    rng = np.random.default_rng(seed)
    xs0, w0 = rng.standard_normal((T, B, H)), rng.standard_normal((H, H)) * 0.5
    weights = rng.standard_normal((B, H))  # of the final state in the loss
    if lstm:
        def step(x, s):
            h, c = s
            c = (c * (x + h @ w).sigmoid() + x.tanh())
            return (c.tanh() * (x - h @ w).sigmoid(), c)
        start = (Tensor(np.zeros((B, H))), Tensor(np.zeros((B, H))))
    else:
        def step(x, h):
            return (x + h @ w).tanh()
        start = Tensor(np.zeros((B, H)))
    results = []
    for compiled in (False, True):
        xs, w = Tensor(xs0, requires_grad=True), Tensor(w0, requires_grad=True)
        outs, final = scan(step, xs, start, reverse=reverse, compiled=compiled)
        assert scan_info()["path"] == ("compiled" if compiled else "eager")
        h = final[0] if lstm else final
        seen = []
        if mode in ("hook", "unused final"):
            h.register_hook(lambda g: seen.append(g.data.copy()))
        elif mode == "doubling hook":
            h.register_hook(lambda g: (seen.append(g.data.copy()), g * 2)[1])
        elif mode == "retain_grad":
            h.retain_grad()
        loss = (outs * outs).sum()
        if mode != "unused final":
            loss = loss + (h * Tensor(weights)).sum()
        if mode == "grad()":
            seen = [g.data for g in tg.grad(loss, [h, w, outs])]  # (outs: its whole gradient)
        else:
            loss.backward()
            seen += [h.grad.data] if mode == "retain_grad" else []
            seen += [w.grad.data, xs.grad.data]
        results.append(seen)
    assert len(results[0]) == len(results[1])
    np.testing.assert_array_equal(results[0][0], results[1][0])  # what reaches the state
    _assert_same(results[0][1:], results[1][1:], 1e-12)  # (w's sums in another order)


class MaskedCells:
    """Steps with the idioms of masks and cut gradients: comparisons, where, masked_fill,
    logical and bitwise ops on masks, detach, all built inside the step from its values."""

    @staticmethod
    def leaky_where(x, h, w):
        pre = x + h @ w
        return tg.where(pre > 0, pre, 0.1 * pre)

    @staticmethod
    def masked_fill(x, h, w):
        pre = (x + h @ w).tanh()
        return pre.masked_fill((pre < -0.5) | (x > 1.0), 0.0)

    @staticmethod
    def logical(x, h, w):
        pre = x + h @ w
        keep = tg.logical_and(pre > -1.0, ~(pre >= 1.0))
        return tg.where(keep, pre, pre.tanh()) * (x != 0).float()

    @staticmethod
    def float_condition(x, h, w):  # (where's condition a float tensor: nonzero is true)
        pre = x + h @ w
        return tg.where((pre > 0).float() * pre, pre, pre.tanh())

    @staticmethod
    def detached_gate(x, h, w):
        gate = (h @ w).sigmoid().detach()  # no gradient through the gate
        return (x + h @ w).tanh() * gate + h * (1 - gate)


@pytest.mark.parametrize("name", ["leaky_where", "masked_fill", "logical", "float_condition",
                                  "detached_gate"])
@settings(max_examples=int(__import__("os").environ.get("SCAN_EXAMPLES", 40)) // 4 + 1,
          deadline=None)
@given(T=st.integers(4, 7), B=st.integers(1, 3), H=st.integers(1, 4), seed=st.integers(0, 999))
def test_masks_where_and_detach_inside_a_step_compile_with_the_eager_numbers(name, T, B, H,
                                                                             seed):
    rng = np.random.default_rng(seed)
    xs0, w0 = rng.standard_normal((T, B, H)) * 1.5, rng.standard_normal((H, H))
    step_of = getattr(MaskedCells, name)
    results = []
    for compiled in (False, True):
        xs, w = Tensor(xs0, requires_grad=True), Tensor(w0, requires_grad=True)
        outs, h = scan(lambda x, h: step_of(x, h, w), xs, Tensor(np.full((B, H), 0.1)),
                       compiled=compiled)
        info = scan_info()
        assert info["path"] == ("compiled" if compiled else "eager"), info["why"]
        ((outs * outs).sum() + h.sum()).backward()
        results.append([outs.data, h.data, xs.grad.data, w.grad.data])
    np.testing.assert_array_equal(results[0][0], results[1][0])
    _assert_same(results[0], results[1], 1e-12)


class ScaledTanh(Function):
    """y = 2 tanh(x);  dx = g 2 (1 - tanh(x)^2): a user's op, declared elementwise over time
    as the README says."""

    over_time = staticmethod(tg.function.same_over_time)

    @staticmethod
    def forward(ctx, x):
        t = np.tanh(x)
        ctx.save_for_backward(t)
        return 2 * t

    @staticmethod
    def backward(ctx, g):
        (t,) = ctx.saved_arrays
        return g * 2 * (1 - t * t)


def test_a_users_function_that_declares_over_time_compiles_with_the_eager_numbers():
    rng = np.random.default_rng(0)
    xs0, w0 = rng.standard_normal((6, 2, 3)), rng.standard_normal((3, 3)) * 0.3
    results = []
    for compiled in (False, True):
        xs, w = Tensor(xs0, requires_grad=True), Tensor(w0, requires_grad=True)
        outs, h = scan(lambda x, h: ScaledTanh.apply(x + h @ w), xs, Tensor(np.zeros((2, 3))),
                       compiled=compiled)
        assert scan_info()["path"] == ("compiled" if compiled else "eager"), scan_info()["why"]
        (outs * outs).sum().backward()
        results.append([outs.data, xs.grad.data, w.grad.data])
    _assert_same(results[0], results[1], 1e-12)


def test_pytorchs_shape_vocabulary_compiles_inside_a_step_with_the_eager_numbers():
    """roll, narrow, unbind, movedim/moveaxis, expand_as, repeat_interleave, tensor_split, flip
    with separate axes and .H, on the step input (hoisted over all steps) and on the state
    (replayed in the recurrence)."""
    rng = np.random.default_rng(4)
    xs0, w0, b0 = rng.standard_normal((7, 3, 4)), rng.standard_normal((4, 4)) * 0.4, \
        rng.standard_normal(4)
    counts = Tensor(np.array([2, 0, 1, 1]))
    per_entry = [False]  # (per-entry counts are values the step reads: the eager loop runs)

    def step(x, h, w, b):
        a, c = x.tensor_split([1], dim=-1)                       # (B, 1), (B, 3)
        xin = tg.cat([c.flip(-1, 0), a], dim=-1).roll(1) + x.narrow(1, -2, 2).repeat_interleave(
            2, -1)
        z = (h @ w).roll((1, -1), dims=(-1, 0)).narrow(-1, -2, 2).repeat_interleave(2, dim=-1)
        z = tg.stack(z.unbind(dim=-1)[::-1], dim=-1)
        z = z.repeat_interleave(counts, dim=1) if per_entry[0] else z.repeat_interleave(
            1, dim=1)
        z = z.H.movedim(0, 1).moveaxis((0, 1), (1, 0)).H + h.tensor_split([1, 0], dim=1)[2]
        return (xin + z.T.T + b.expand_as(z)).tanh()

    results = []
    for compiled in (False, True):
        xs, w, b = (Tensor(a.copy(), requires_grad=True) for a in (xs0, w0, b0))
        h0 = Tensor(np.zeros((3, 4)), requires_grad=True)
        outs, h = scan(lambda x, h: step(x, h, w, b), xs, h0, compiled=compiled)
        assert scan_info()["path"] == ("compiled" if compiled else "eager"), scan_info()["why"]
        (outs * outs).sum().backward()
        results.append([outs.data, h.data, xs.grad.data, w.grad.data, b.grad.data, h0.grad.data])
    _assert_same(results[0], results[1], 1e-12)
    per_entry[0] = True
    scan(lambda x, h: step(x, h, w, b), Tensor(xs0), Tensor(np.zeros((3, 4))))
    assert scan_info()["path"] == "eager" and "per-entry counts" in scan_info()["why"]
