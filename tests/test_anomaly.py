"""detect_anomaly: the first op whose output or gradient is not finite raises AnomalyError
naming the op, its inputs, and the user's line that created it; inside fused layers and the
compiled cell path too (with the time step)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import AnomalyError, Tensor, nn

THIS = __file__


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield
    tg.set_detect_anomaly(False)


def _line_of(marker: str) -> int:
    with open(THIS) as f:
        return next(i for i, line in enumerate(f, 1) if marker in line)


def test_forward_names_the_op_the_inputs_and_the_line():
    x = Tensor(np.array([1.0, -1.0, 2.0]), requires_grad=True)
    with pytest.raises(AnomalyError) as e:
        with tg.detect_anomaly():
            y = x * 2
            y.sqrt()  # MARK-forward
    msg = str(e.value)
    assert msg.startswith("forward of Sqrt (NaN first at index (1,))")
    assert "(3,) in [-2, 4]" in msg
    assert f"{THIS}:{_line_of('MARK-' + 'forward')}" in msg
    assert isinstance(e.value, RuntimeError)


def test_backward_names_the_op_and_its_forward_line():
    x = Tensor(np.array([0.0, 4.0]), requires_grad=True)
    tg.set_detect_anomaly(True)
    y = x.sqrt()  # MARK-backward
    z = y * 3
    with pytest.raises(AnomalyError) as e:
        z.sum().backward()
    msg = str(e.value)
    assert msg.startswith("backward of Sqrt (Inf first at index (0,))")
    assert f"{THIS}:{_line_of('MARK-' + 'backward')}" in msg
    tg.set_detect_anomaly(False)
    assert not tg.anomaly.is_anomaly_enabled()


def test_nothing_is_raised_for_finite_values_or_when_off():
    x = Tensor(np.array([1.0, -1.0]), requires_grad=True)
    with tg.detect_anomaly():
        (x * x).sum().backward()
    y = x.log()  # NaN, but detection is off
    assert np.isnan(y.data[1])


def test_inside_a_fused_layer_the_time_step_is_named():
    lstm = nn.LSTM(2, 3).double()
    xs = np.random.default_rng(0).random((5, 1, 2))
    xs[3, 0, 1] = np.nan
    with pytest.raises(AnomalyError, match=r"forward of LSTMSequence output 0 in LSTM "
                                           r"\(NaN first at time step 3"):
        with tg.detect_anomaly():
            lstm(Tensor(xs))


class _LogCell(nn.Module):
    hidden_size = 2

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(np.eye(2))

    def forward(self, x, h=None):
        h = x if h is None else x + h @ self.w
        return (h + 1.0).log()  # NaN once h + 1 < 0


def test_inside_the_compiled_path_the_op_and_time_step_are_named():
    xs = np.zeros((8, 1, 2))
    xs[6] = -5.0  # only step 6 goes below -1: recorded steps 1 and 2 are fine
    rec = nn.Recurrent([_LogCell()])
    with pytest.raises(AnomalyError, match=r"forward of Log at time step 6 \(inside a compiled "
                                           r"sequence of Recurrent\)"):
        with tg.detect_anomaly():
            rec(Tensor(xs))


class _SqrtCell(nn.Module):
    hidden_size = 2

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(np.eye(2) * 0.5)

    def forward(self, x, h=None):
        pre = x if h is None else x + h @ self.w
        return pre.relu().sqrt()  # sqrt(0) = 0: fine forward, infinite gradient backward


def test_inside_the_compiled_path_backward_names_the_op_and_step():
    xs = np.ones((8, 1, 2))
    xs[6] = -5.0  # relu gives 0 at step 6 only
    rec = nn.Recurrent([_SqrtCell()])
    with tg.detect_anomaly():
        out, _ = rec(Tensor(xs))
        assert tg.compiled.scan_info()["path"] == "compiled"
        with pytest.raises(AnomalyError, match=r"backward of Sqrt at time step 6 \(inside a "
                                               r"compiled sequence of Recurrent\)"):
            out.sum().backward()


@pytest.mark.parametrize("make", [lambda: (Tensor(np.array([1.0, -1.0])) * 2).log(),
                                  lambda: Tensor(np.array([0.0, 1.0])).log()])
def test_the_anomaly_error_is_the_report_not_a_numpy_warning(make):
    # NumPy's own warning for the same value would come first and say less
    with np.errstate(all="warn"), warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning would fail the test
        with pytest.raises(AnomalyError, match="forward of Log"):
            with tg.detect_anomaly():
                make()
        assert np.geterr()["invalid"] == "warn" and np.geterr()["divide"] == "warn"
