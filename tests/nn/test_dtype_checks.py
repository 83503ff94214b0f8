"""An input (or initial state) whose floating dtype differs from the module's parameters is a
TypeError naming both dtypes and the fix, as in PyTorch; before, a float64 batch silently ran
a float32 model in float64."""
from __future__ import annotations

import numpy as np
import pytest

from tinygrad_rnn import Tensor, nn
from tinygrad_rnn.nn import functional as F


def t(shape, dtype=np.float64):
    return Tensor(np.random.default_rng(0).standard_normal(shape).astype(dtype))


CELLS = [nn.RNNCell, nn.LSTMCell, nn.GRUCell]
LAYERS = [nn.RNN, nn.LSTM, nn.GRU]


@pytest.mark.parametrize("cls", CELLS)
def test_cells_refuse_an_input_of_another_dtype(cls):
    cell = cls(3, 4)
    with pytest.raises(TypeError, match=rf"{cls.__name__}: input dtype float64 but parameters "
                                        r"float32: convert the input with "
                                        r"\.astype\(np\.float32\) or the module with "
                                        r"\.double\(\)"):
        cell(t((2, 3)))
    with pytest.raises(TypeError, match=r"input dtype float64 but parameters float32"):
        cell(t(3))  # unbatched too
    cell.double()
    with pytest.raises(TypeError, match=r"input dtype float32 but parameters float64: .*"
                                        r"\.astype\(np\.float64\) or the module with \.float\(\)"):
        cell(t((2, 3), np.float32))
    cell(t((2, 3)))  # matching dtypes run


@pytest.mark.parametrize("cls", CELLS)
def test_cells_refuse_a_state_of_another_dtype(cls):
    cell = cls(3, 4).double()
    h = t((2, 4), np.float32)
    state = (h, t((2, 4))) if cls is nn.LSTMCell else h
    with pytest.raises(TypeError, match=rf"{cls.__name__}: h dtype float32 but parameters "
                                        r"float64: convert h with \.astype\(np\.float64\)"):
        cell(t((2, 3)), state)
    if cls is nn.LSTMCell:
        with pytest.raises(TypeError, match=r"LSTMCell: c dtype float32 but parameters float64"):
            cell(t((2, 3)), (t((2, 4)), t((2, 4), np.float32)))


@pytest.mark.parametrize("cls", LAYERS)
@pytest.mark.parametrize("fused", [True, False])
def test_layers_refuse_an_input_of_another_dtype(cls, fused):
    layer = cls(3, 4, num_layers=2, fused=fused)
    with pytest.raises(TypeError, match=rf"{cls.__name__}: input dtype float64 but parameters "
                                        r"float32: convert the input with "
                                        r"\.astype\(np\.float32\) or the module with "
                                        r"\.double\(\)"):
        layer(t((5, 2, 3)))
    with pytest.raises(TypeError, match=r"input dtype float64 but parameters float32"):
        layer(t((5, 3)))  # unbatched


@pytest.mark.parametrize("cls", LAYERS)
def test_layers_refuse_an_initial_state_of_another_dtype(cls):
    layer = cls(3, 4, bidirectional=True).double()
    h0 = t((2, 2, 4), np.float32)
    hx = (h0, t((2, 2, 4))) if cls is nn.LSTM else h0
    with pytest.raises(TypeError, match=rf"{cls.__name__}: h0 dtype float32 but parameters "
                                        r"float64: convert h0 with \.astype\(np\.float64\)"):
        layer(t((5, 2, 3)), hx)
    if cls is nn.LSTM:
        with pytest.raises(TypeError, match=r"LSTM: c0 dtype float32 but parameters float64"):
            layer(t((5, 2, 3)), (t((2, 2, 4)), t((2, 2, 4), np.float32)))
    layer(t((5, 2, 3)), (t((2, 2, 4)), t((2, 2, 4))) if cls is nn.LSTM else t((2, 2, 4)))


def test_recurrent_checks_against_the_first_cells_parameters():
    rec = nn.Recurrent([nn.LSTMCell(3, 4), nn.LSTMCell(4, 4)], num_layers=2)
    with pytest.raises(TypeError, match=r"Recurrent: input dtype float64 but parameters float32: "
                                        r"convert the input with \.astype\(np\.float32\) or "
                                        r"the module with \.double\(\)"):
        rec(t((5, 2, 3)))
    rec.double()
    with pytest.raises(TypeError, match=r"Recurrent: hx\[0\] dtype float32 but parameters "
                                        r"float64"):
        rec(t((5, 2, 3)), (t((2, 2, 4), np.float32), t((2, 2, 4))))
    out, _ = rec(t((5, 2, 3)))
    assert out.dtype == np.float64


def test_recurrent_over_a_cell_without_parameters_follows_the_input():
    class Decay(nn.Module):
        hidden_size = 3

        def forward(self, x, h=None):
            return x * 0.5 if h is None else x * 0.5 + h * 0.5

    rec = nn.Recurrent([Decay()])
    for dtype in (np.float32, np.float64):
        out, h_n = rec(t((4, 2, 3), dtype))
        assert out.dtype == dtype
    with pytest.raises(TypeError, match=r"Recurrent: hx dtype float32 but input float64: "
                                        r"convert hx with \.astype\(np\.float64\)"):
        rec(t((4, 2, 3)), t((1, 2, 3), np.float32))


def test_linear_refuses_an_input_of_another_dtype():
    lin = nn.Linear(3, 2)
    with pytest.raises(TypeError, match=r"Linear: input dtype float64 but parameters float32: "
                                        r"convert the input with \.astype\(np\.float32\) or "
                                        r"the module with \.double\(\)"):
        lin(t((4, 3)))
    assert lin.double()(t((4, 3))).dtype == np.float64


def test_functional_linear_refuses_mismatched_dtypes():
    w = t((2, 3), np.float32)
    with pytest.raises(TypeError, match=r"linear: input dtype float64 but weight float32: "
                                        r"convert the input with \.astype\(np\.float32\)"):
        F.linear(t((4, 3)), w)
    with pytest.raises(TypeError, match=r"linear: bias dtype float64 but weight float32"):
        F.linear(t((4, 3), np.float32), w, t(2))
    assert F.linear(t((4, 3), np.float32), w, t(2, np.float32)).dtype == np.float32


def test_float16_names_to_as_the_module_fix():
    cell = nn.RNNCell(3, 4)
    with pytest.raises(TypeError, match=r"input dtype float16 but parameters float32: .*"
                                        r"or the module with \.to\(np\.float16\)"):
        cell(t((2, 3), np.float16))
