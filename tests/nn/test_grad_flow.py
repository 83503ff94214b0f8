"""record_grad_flow: ||dL/dh_t|| per step, per layer and direction, equal to hooks on a cell
loop's h_t, on the kernels, the compiled path and the eager loop, without changing numbers."""
from __future__ import annotations

import numpy as np
import pytest

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
    with nn.record_grad_flow(a) as flow:
        out_b, _ = b(x)
        out_b.sum().backward()
    assert flow.norms == {}
    out_a, _ = a(x)
    out_a.sum().backward()
    assert flow.norms == {}
