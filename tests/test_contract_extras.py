"""Contract details across the package: keyword names of the recurrent layers' initial state,
input checks of the functional layers, boolean-mask indexing, memory over an LSTM training
loop, Tensor truthiness and conversions, and Sequential slicing."""
from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn, optim
from tinygrad_rnn.nn import functional as F


def _x(*shape: int, seed: int = 0) -> Tensor:
    return Tensor(np.random.default_rng(seed).standard_normal(shape))


# ----- recurrent layers: forward(x, h0=None), PyTorch's hx= accepted too ----------------------
@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
def test_layers_take_the_initial_state_as_h0_or_hx(kind):
    layer = getattr(nn, kind)(3, 4, num_layers=2).double()
    x = _x(5, 2, 3)
    h = _x(2, 2, 4, seed=1)
    state = (h, _x(2, 2, 4, seed=2)) if kind == "LSTM" else h
    positional, _ = layer(x, state)
    by_h0, _ = layer(x, h0=state)
    by_hx, _ = layer(x, hx=state)
    default, _ = layer(x)
    np.testing.assert_array_equal(by_h0.data, positional.data)
    np.testing.assert_array_equal(by_hx.data, positional.data)
    assert not np.allclose(default.data, positional.data)  # the state was really used
    with pytest.raises(TypeError, match=f"{kind}.forward: got both h0 and hx"):
        layer(x, h0=state, hx=state)


# ----- functional layers name what is wrong with their input ---------------------------------
def test_embedding_rejects_float_indices_by_dtype():
    with pytest.raises(TypeError, match="embedding: indices must hold integer row numbers, "
                                        "got dtype float64"):
        nn.Embedding(4, 2)(np.array([0.0, 1.0]))


def test_linear_rejects_integer_input_by_dtype():
    with pytest.raises(TypeError, match="linear: input must be floating-point, got dtype int64"):
        nn.Linear(3, 2)(Tensor(np.zeros((1, 3), dtype=np.int64)))


def test_linear_rejects_non_tensor_input_and_accepts_an_ndarray():
    layer = nn.Linear(3, 2)
    with pytest.raises(TypeError, match="linear: input must be a Tensor .* got list"):
        layer([1.0, 2.0, 3.0])
    x = np.ones((1, 3), dtype=np.float32)
    np.testing.assert_allclose(layer(x).data, layer(Tensor(x)).data)


# ----- boolean-mask indexing: NumPy's selection, gradient scattered back ---------------------
@pytest.mark.parametrize("make_mask", [
    lambda x: x > 0,                                        # a full mask, as ndarray
    lambda x: Tensor(x > 0),                                # the same, as a bool Tensor
    lambda x: x[:, 0, 0] > 0,                               # a mask over the first axis
    lambda x: (slice(None), np.array([True, False, True])),  # a mask inside a tuple
], ids=["full", "tensor", "first-axis", "in-tuple"])
@pytest.mark.parametrize("through_op", [False, True], ids=["leaf", "intermediate"])
def test_boolean_mask_indexing_and_its_gradient(make_mask, through_op):
    data = np.random.default_rng(3).standard_normal((4, 3, 2))
    index = make_mask(data)
    np_index = index.data if isinstance(index, Tensor) else index
    x = Tensor(data, requires_grad=True)
    y = (x * 2.0 if through_op else x)[index]
    np.testing.assert_array_equal(y.data, (data * 2.0 if through_op else data)[np_index])
    g = np.random.default_rng(4).standard_normal(y.shape)
    y.backward(g)
    expected = np.zeros_like(data)
    expected[np_index] = g * (2.0 if through_op else 1.0)
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-12)


# ----- memory: the graph of each training step is freed --------------------------------------
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "cell-loop"])
def test_lstm_training_loop_does_not_grow_memory(fused):
    tg.manual_seed(0)
    lstm = nn.LSTM(4, 8, fused=fused)
    head = nn.Linear(8, 3)
    opt = optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=1e-2)
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((6, 2, 4)).astype(np.float32))
    y = rng.integers(0, 3, (6, 2))

    def step():
        out, _ = lstm(x)
        loss = F.cross_entropy(head(out), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(10):  # optimizer state and free lists settle first
        step()
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()  # freed by reference counting alone: the graph holds no cycles
    tracemalloc.start()
    try:
        step()
        start = tracemalloc.get_traced_memory()[0]
        for _ in range(200):
            step()
        end = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
        if was_enabled:
            gc.enable()
    # a retained step graph takes about 12 kB (fused) or 55 kB (cell loop), so a leak adds
    # 2.5 MB or more over 200 steps; the slack covers CPython's free lists of small tuples,
    # which tracemalloc counts as allocated and which fill up slowly (to 2000 per length)
    assert end - start < 1_000_000, f"grew by {end - start} bytes over 200 steps"


# ----- Tensor truthiness, softmax axes, comparison and data errors ----------------------------
def test_bool_of_a_one_element_comparison():
    assert bool(Tensor(0.5) < 1.0) is True
    assert bool(Tensor([0.0]) > 1.0) is False


def test_bool_of_a_multi_element_tensor_is_ambiguous():
    with pytest.raises((RuntimeError, ValueError, TypeError), match="(?i)ambiguous|one element"):
        bool(Tensor([1.0, 0.0]))


def test_softmax_rejects_a_tuple_axis():
    x = Tensor(np.ones((2, 3)))
    with pytest.raises((ValueError, TypeError), match="axis"):
        x.log_softmax(axis=(0, 1))


def test_comparison_shape_mismatch_names_the_op_and_both_shapes():
    with pytest.raises(ValueError, match=r"(?i)(less|lt|<|compar).*\(2, 3\).*\(3, 2\)"):
        Tensor(np.ones((2, 3))) < np.ones((3, 2))


def test_tensor_refuses_non_numeric_data_naming_the_dtype():
    with pytest.raises(TypeError, match="<U1"):
        Tensor(np.array(["a", "b"]))


# ----- Sequential slices keep their children's names (PyTorch's state_dict keys) --------------
def test_sequential_slice_keeps_names_and_append_does_not_overwrite(torch):
    ours = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 4))[1:]
    theirs = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 4))[1:]
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["2.weight", "2.bias"]
    last = ours[1]
    ours.append(nn.Linear(4, 1))
    assert ours[1] is last and len(ours) == 3
    assert list(ours.state_dict()) == ["2.weight", "2.bias", "3.weight", "3.bias"]
    assert ours(Tensor(np.ones((1, 3), dtype=np.float32))).shape == (1, 1)
