"""detect_anomaly: the first op whose output or gradient is not finite raises AnomalyError
naming the op, its inputs, and the user's line that created it; inside fused layers and the
compiled cell path too (with the time step)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
    with pytest.raises(AnomalyError, match=r"forward of Log in _LogCell \(NaN first at index "
                                           r"\(0, 0\)\): inputs \(1, 2\) in \[-4, -4\]; created "
                                           r".*\(at time step 6 of a sequence, replayed by the "
                                           r"compiled path of Recurrent"):
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
        with pytest.raises(AnomalyError, match=r"backward of Sqrt \(Inf first at index \(0, 0\)"
                                               r"\).*\(at time step 6 of a sequence, replayed "
                                               r"by the compiled path of Recurrent"):
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


# ----- the time step and the index within it, eager and compiled alike ---------------------
def _step_and_index(msg: str) -> tuple:
    """(time step, index within the step) an anomaly report names."""
    import re
    step = re.search(r"at time step (\d+)", msg)
    index = re.search(r"first at index (\([^)]*\))", msg)
    return (None if step is None else int(step.group(1)),
            None if index is None else index.group(1))


def _before_the_step(msg: str) -> str:
    """The report up to the time step it ends with: what eager and compiled share."""
    return msg.split(" (at time step")[0]


def _forward_report(run) -> str:
    with pytest.raises(AnomalyError) as e:
        with tg.detect_anomaly():
            run()
    return str(e.value)


@settings(max_examples=30, deadline=None)
@given(T=st.integers(4, 9), B=st.integers(1, 3), data=st.data(), nan=st.booleans())
def test_an_inf_in_the_input_names_its_time_step_and_index_compiled_and_eager(T, B, data, nan):
    # the compiled path slices steps 3.. of the input once (a hoisted op): the report names
    # the time step and the index within it, as the eager loop's x[t] does
    t, b, j = data.draw(st.integers(0, T - 1)), data.draw(st.integers(0, B - 1)), \
        data.draw(st.integers(0, 2))
    x = np.random.default_rng(t).standard_normal((T, B, 3))
    x[t, b, j] = np.nan if nan else np.inf
    reports = {}
    for compiled in (True, False):
        rnn = nn.Recurrent(lambda n: nn.LSTMCell(n, 4), input_size=3, compiled=compiled).double()
        reports[compiled] = _forward_report(lambda: rnn(Tensor(x)))  # MARK-rnn-call
        assert _step_and_index(reports[compiled]) == (t, f"({b}, {j})"), reports[compiled]
        assert reports[compiled].startswith(
            f"forward of GetItem in Recurrent ({'NaN' if nan else 'Inf'} first at index")
        assert f"created at {THIS}:{_line_of('MARK-' + 'rnn-call')}" in reports[compiled]
    assert _before_the_step(reports[True]) == _before_the_step(reports[False])


@settings(max_examples=20, deadline=None)
@given(T=st.integers(4, 8), data=st.data(), reverse=st.booleans())
def test_a_scan_in_either_direction_names_the_time_step_of_its_input(T, data, reverse):
    t, b = data.draw(st.integers(0, T - 1)), data.draw(st.integers(0, 1))
    x = np.random.default_rng(0).standard_normal((T, 2, 3))
    x[t, b, 1] = np.inf
    w = Tensor(np.eye(3) * 0.5, requires_grad=True)
    found = {}
    for compiled in (True, False):
        msg = _forward_report(lambda: tg.scan(
            lambda x, h: x.tanh() if h is None else (x + h @ w).tanh(), Tensor(x),
            reverse=reverse, compiled=compiled))
        found[compiled] = _step_and_index(msg)
    assert found[True] == found[False] == (t, f"({b}, 1)")


class _HoistedLogCell(nn.Module):
    """log(x + 1) depends on the step input only: the compiled path runs it once (hoisted)."""
    hidden_size = 3

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(np.eye(3) * 0.5)

    def forward(self, x, h=None):
        a = (x + 1.0).log()  # MARK-hoisted-log
        return a.tanh() if h is None else (a + h @ self.w).tanh()


@settings(max_examples=20, deadline=None)
@given(T=st.integers(4, 8), B=st.integers(1, 3), data=st.data())
def test_a_hoisted_op_that_makes_a_nan_reports_as_the_eager_loop_does(T, B, data):
    t, b, j = data.draw(st.integers(0, T - 1)), data.draw(st.integers(0, B - 1)), \
        data.draw(st.integers(0, 2))
    x = np.random.default_rng(1).random((T, B, 3))
    x[t, b, j] = -5.0
    reports = {}
    for compiled in (True, False):
        rnn = nn.Recurrent([_HoistedLogCell()], compiled=compiled)
        reports[compiled] = _forward_report(lambda: rnn(Tensor(x)))
        msg = reports[compiled]
        assert _step_and_index(msg) == (t, f"({b}, {j})"), msg
        assert msg.startswith(f"forward of Log in _HoistedLogCell (NaN first at index "), msg
        assert f"created at {THIS}:{_line_of('MARK-' + 'hoisted-log')}" in msg, msg
        assert f"inputs ({B}, 3) in [" in msg, msg  # the step's input, not all steps'
    assert _before_the_step(reports[True]) == _before_the_step(reports[False])
    if t >= 3:
        assert "compiled=False" in reports[True]


class _RootCell(nn.Module):
    """sqrt(x W + h): NaN where the pre-activation goes below zero."""
    hidden_size = 4

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 4)
        self.lin.weight.data[...] = 0.1
        self.lin.bias.data[...] = 0.1

    def forward(self, x, h=None):
        pre = self.lin(x)
        if h is not None:
            pre = pre + h
        return pre.sqrt()  # MARK-root


@settings(max_examples=20, deadline=None)
@given(T=st.integers(4, 9), B=st.integers(1, 3), data=st.data())
def test_a_nan_made_in_a_replayed_step_reports_the_cell_line_inputs_and_step(T, B, data):
    t, b = data.draw(st.integers(0, T - 1)), data.draw(st.integers(0, B - 1))
    x = np.abs(np.random.default_rng(2).standard_normal((T, B, 3)))
    x[t, b, :] = -100.0
    reports = {}
    for compiled in (True, False):
        rnn = nn.Recurrent([_RootCell()], compiled=compiled).double()
        reports[compiled] = msg = _forward_report(lambda: rnn(Tensor(x)))  # MARK-root-call
        assert _step_and_index(msg) == (t, f"({b}, 0)"), msg
        assert msg.startswith("forward of Sqrt in _RootCell (NaN first at index"), msg
        assert f"created at {THIS}:{_line_of('MARK-' + 'root')}" in msg, msg
        assert "value 0" not in msg and "inputs (" in msg, msg
        path = tg.compiled.scan_info()["path"]
        assert path == ("compiled" if compiled and t >= 3 else "eager"), (path, msg)
    # the inputs' ranges, the op, its line and the index: the same report
    assert _before_the_step(reports[True]) == _before_the_step(reports[False])
    if t >= 3:
        assert "compiled=False" in reports[True]
        assert f"{THIS}:{_line_of('MARK-' + 'root-call')}" in reports[True]


class _RootGradCell(nn.Module):
    """sqrt(relu(x W)): finite forward, infinite gradient where x W <= 0."""
    hidden_size = 4

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 4, bias=False)
        self.lin.weight.data[...] = 0.1

    def forward(self, x, h=None):
        pre = self.lin(x)
        if h is not None:
            pre = pre + 0.5 * h
        return pre.relu().sqrt()  # MARK-root-grad


@settings(max_examples=20, deadline=None)
@given(T=st.integers(4, 9), B=st.integers(1, 3), data=st.data())
def test_a_backward_anomaly_in_a_replayed_step_reports_as_the_eager_loop(T, B, data):
    t, b = data.draw(st.integers(1, T - 1)), data.draw(st.integers(0, B - 1))
    x = np.abs(np.random.default_rng(3).standard_normal((T, B, 3)))
    x[t, b, :] = -100.0  # relu gives 0 at step t only (h from step t-1 is small)
    x[t - 1] = 0.0
    reports = {}
    for compiled in (True, False):
        rnn = nn.Recurrent([_RootGradCell()], compiled=compiled).double()
        with tg.detect_anomaly():
            out, _ = rnn(Tensor(x))
            with pytest.raises(AnomalyError) as e:
                out.sum().backward()
        reports[compiled] = msg = str(e.value)
        assert msg.startswith("backward of Sqrt (Inf first at index"), msg
        assert _step_and_index(msg) == (t, f"({b}, 0)"), msg
        assert f"created at {THIS}:{_line_of('MARK-' + 'root-grad')}" in msg, msg
    assert _before_the_step(reports[True]) == _before_the_step(reports[False])


@settings(max_examples=20, deadline=None)
@given(T=st.integers(2, 8), B=st.integers(1, 3), data=st.data(),
       kind=st.sampled_from(["LSTM", "GRU", "RNN"]))
def test_a_fused_layer_names_time_only_for_arrays_with_a_time_axis(T, B, data, kind):
    # the Inf in x saturates the gates (a finite forward); dW_ih = da^T x is NaN: the
    # report names the weight's index (its axis 0 is a gate row, not time) and the input
    # that already held the Inf in the forward, with its time step
    t, b, j = data.draw(st.integers(0, T - 1)), data.draw(st.integers(0, B - 1)), \
        data.draw(st.integers(0, 2))
    x = np.random.default_rng(4).standard_normal((T, B, 3))
    x[t, b, j] = np.inf
    layer = getattr(nn, kind)(3, 4).double()
    w_ih = {"LSTM": 3, "GRU": 2, "RNN": 2}[kind]
    with tg.detect_anomaly():
        out, _ = layer(Tensor(x))
        with pytest.raises(AnomalyError) as e:
            out.sum().backward()
    msg = str(e.value)
    assert msg.startswith(f"backward of {kind}Sequence (NaN first at index ("), msg
    assert f"the gradient of input {w_ih} " in msg, msg
    assert msg.split(": the gradient")[0].count("time step") == 0, msg
    assert f"input 0 already held an Inf in the forward (first at time step {t}, index " \
           f"({b}, {j}))" in msg, msg


def test_a_fused_layer_names_the_time_step_and_the_index_within_it():
    lstm = nn.LSTM(2, 3).double()
    xs = np.random.default_rng(0).random((5, 2, 2))
    xs[3, 1, 1] = np.nan
    msg = _forward_report(lambda: lstm(Tensor(xs)))
    assert "(NaN first at time step 3, index (1, 0))" in msg, msg


class _HoistedRootCell(nn.Module):
    """sqrt(x) depends on the step input only (hoisted): an infinite gradient where x = 0."""
    hidden_size = 3

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(np.eye(3) * 0.5)

    def forward(self, x, h=None):
        a = x.sqrt()  # MARK-hoisted-root
        return a.tanh() if h is None else (a + h @ self.w).tanh()


@settings(max_examples=20, deadline=None)
@given(T=st.integers(4, 8), B=st.integers(1, 3), data=st.data())
def test_a_hoisted_op_whose_gradient_is_not_finite_reports_as_the_eager_loop(T, B, data):
    t, b, j = data.draw(st.integers(0, T - 1)), data.draw(st.integers(0, B - 1)), \
        data.draw(st.integers(0, 2))
    x = np.random.default_rng(5).random((T, B, 3)) + 0.1
    x[t, b, j] = 0.0
    reports = {}
    for compiled in (True, False):
        rnn = nn.Recurrent([_HoistedRootCell()], compiled=compiled)
        with tg.detect_anomaly():
            out, _ = rnn(Tensor(x, requires_grad=True))
            with pytest.raises(AnomalyError) as e:
                out.sum().backward()
        reports[compiled] = msg = str(e.value)
        assert msg.startswith(f"backward of Sqrt (Inf first at index ({b}, {j})): the gradient "
                              f"of input 0 is not finite (incoming gradient ({B}, 3) in "), msg
        assert _step_and_index(msg) == (t, f"({b}, {j})"), msg
        assert f"input shapes [({B}, 3)]" in msg, msg
        assert f"created at {THIS}:{_line_of('MARK-' + 'hoisted-root')}" in msg, msg
    assert _before_the_step(reports[True]) == _before_the_step(reports[False])


def test_a_backward_in_anomaly_mode_after_a_forward_outside_it_still_names_the_step():
    xs = np.ones((8, 1, 2))
    xs[6] = -5.0
    rec = nn.Recurrent([_SqrtCell()])
    out, _ = rec(Tensor(xs))
    assert tg.compiled.scan_info()["path"] == "compiled"
    with tg.detect_anomaly(), pytest.raises(AnomalyError, match=r"backward of Sqrt \(Inf first "
                                            r"at index \(0, 0\)\).*\(at time step 6 of a "
                                            r"sequence, replayed by the compiled path; "):
        out.sum().backward()


def test_scan_info_says_which_path_raised():
    xs = np.zeros((8, 1, 2))
    for bad, path in ((6, "compiled"), (1, "eager")):
        xs[:] = 0.0
        xs[bad] = -5.0
        with pytest.raises(AnomalyError, match=f"at time step {bad} of a sequence"):
            with tg.detect_anomaly():
                nn.Recurrent([_LogCell()])(Tensor(xs))
        assert tg.compiled.scan_info()["path"] == path
        if path == "compiled":  # the generated replay that raised
            assert "def forward" in tg.compiled.scan_info()["source"]["forward"]
        else:
            assert "steps 0-2" in tg.compiled.scan_info()["why"]


def test_detach_and_comparisons_of_a_nan_pass_it_on_as_in_pytorch():
    x = Tensor(np.array([np.nan, 1.0]), requires_grad=True)
    with tg.detect_anomaly():
        d = x.detach()  # (the NaN was made before: torch's anomaly mode does not look here)
        m = x > 0
    assert np.isnan(d.data[0]) and not m.data[0]
