"""The shared argument checks: a wrong type is a TypeError, a wrong value a ValueError, and
both name the owner, the argument, what it got and what was expected."""
from __future__ import annotations

import numpy as np
import pytest

from tinygrad_rnn import _validate as v
from tinygrad_rnn import nn
from tinygrad_rnn.data import TBPTTBatcher, train_val_split
from tinygrad_rnn.optim import SGD
from tinygrad_rnn.optim.lr_scheduler import StepLR


def test_ints():
    n = v.check_int(np.int64(3), "n", "f")
    assert n == 3 and type(n) is int
    with pytest.raises(TypeError, match=r"f: n must be an int, got bool True"):
        v.check_int(True, "n", "f")
    with pytest.raises(ValueError, match=r"f: n must be at least 0, got -1"):
        v.check_int(-1, "n", "f", minimum=0)
    assert v.check_positive_int(1, "size", "f") == 1
    with pytest.raises(TypeError, match=r"f: size must be a positive int, got float 2.0"):
        v.check_positive_int(2.0, "size", "f")
    with pytest.raises(ValueError, match=r"f: size must be a positive int, got 0"):
        v.check_positive_int(0, "size", "f")


def test_numbers_and_intervals():
    assert v.check_number(np.float32(0.5), "p", "f", 0, 1) == 0.5
    with pytest.raises(TypeError, match=r"f: p must be a number, got str '1'"):
        v.check_number("1", "p", "f")
    with pytest.raises(TypeError, match=r"must be a number, got bool"):
        v.check_number(False, "p", "f")
    for bad, interval, text in [(0, "()", r"\(0, 1\)"), (1, "[)", r"\[0, 1\)"),
                                (0, "(]", r"\(0, 1\]"), (1.5, "[]", r"\[0, 1\]"),
                                (float("nan"), "[]", r"\[0, 1\]")]:
        with pytest.raises(ValueError, match=rf"f: p must be in {text}, got"):
            v.check_number(bad, "p", "f", 0, 1, interval=interval)
    assert v.check_number(0, "p", "f", 0, 1, interval="[)") == 0
    with pytest.raises(ValueError, match=r"must be in \[0, inf\], got -1"):
        v.check_number(-1, "p", "f", low=0)
    assert v.check_positive(1e-9, "lr", "f") == 1e-9
    for bad in (0, -1.0, float("nan")):
        with pytest.raises(ValueError, match=r"f: lr must be positive, got"):
            v.check_positive(bad, "lr", "f")


def test_bools_and_choices():
    assert v.check_bool(np.bool_(True), "flag", "f") is True
    with pytest.raises(TypeError, match=r"f: flag must be a bool, got int 1"):
        v.check_bool(1, "flag", "f")
    with pytest.raises(ValueError, match=r"f: mode must be one of 'a', 'b', got 'c'"):
        v.check_choice("c", "mode", "f", ("a", "b"))


def test_entry_points_share_the_helpers():
    # the same rule reads the same in every package part: a wrong type is a TypeError
    with pytest.raises(TypeError, match=r"GRUCell: hidden_size must be a positive int, got str"):
        nn.GRUCell(2, "3")
    with pytest.raises(TypeError, match=r"LSTM: num_layers must be an int, got float 2.0"):
        nn.LSTM(2, 3, num_layers=2.0)
    with pytest.raises(TypeError, match=r"RNN: dropout must be a number, got str"):
        nn.RNN(2, 3, dropout="0.5")
    with pytest.raises(TypeError, match=r"Recurrent: cell 0 \(Linear\) needs an attribute: "
                                        r"hidden_size must be a positive int, got NoneType"):
        nn.Recurrent([nn.Linear(2, 3)])
    with pytest.raises(TypeError, match=r"train\(mode\): mode must be a bool, got int 1"):
        nn.Linear(2, 2).train(1)
    opt = SGD([nn.Parameter(np.zeros(1))], lr=0.1)
    with pytest.raises(TypeError, match=r"StepLR.step: epoch must be an int, got float 1.0"):
        StepLR(opt, step_size=1).step(1.0)
    with pytest.raises(TypeError, match=r"TBPTTBatcher: batch_size must be a positive int, "
                                        r"got bool True"):
        TBPTTBatcher(np.arange(10), True, 2)
    with pytest.raises(TypeError, match=r"TBPTTBatcher: window index must be an int"):
        TBPTTBatcher(np.arange(10), 1, 2)[1.0]
    with pytest.raises(TypeError, match=r"train_val_split: val_fraction must be a number"):
        train_val_split(np.arange(10), "0.5")
