"""plot_grad_flow: one curve per layer/direction on a log axis, saved as PNG (Agg)."""
import builtins

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn.debug import plot_grad_flow


@pytest.fixture
def plt():
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt
    yield plt
    plt.close("all")


def test_curves_log_axis_bands_and_png(plt, tmp_path):
    T = 50
    norms = {"layer 0": 0.5 ** np.arange(T)[::-1],  # fades going back in time
             "layer 0 reverse": 1.3 ** np.arange(T)[::-1],  # grows: exploding
             "layer 1": tg.ones(T)}  # a Tensor works too
    path = tmp_path / "grad_flow.png"
    fig = plot_grad_flow(norms, path, title="demo")
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and ax.get_title() == "demo"
    assert len(ax.get_lines()) == 3
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith("layer 0  (first/last = 1.8e-15)")
    assert any(s.startswith("vanishing (< 1e-06)") for s in labels)
    assert any(s.startswith("exploding (> 1000)") for s in labels)
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), norms["layer 0"])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_zeros_and_nonfinite_are_left_out(plt):
    fig = plot_grad_flow({"a": [0.0, 1.0, np.inf, 2.0]})
    line = fig.axes[0].get_lines()[0]
    assert np.isnan(line.get_ydata()[[0, 2]]).all()
    assert "2 zero or non-finite left out" in fig.axes[0].get_legend().get_texts()[0].get_text()
    with pytest.raises(ValueError, match="nothing to plot"):
        plot_grad_flow({"a": [0.0, 0.0]})


def test_no_bands_when_the_data_stay_far_from_them(plt):
    fig = plot_grad_flow({"a": [1.0, 2.0, 3.0]})
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert not any("vanishing" in s or "exploding" in s for s in labels)


def test_bad_norms(plt):
    with pytest.raises(TypeError, match="non-empty dict"):
        plot_grad_flow([1.0, 2.0])
    with pytest.raises(ValueError, match="norms is empty.*recorded nothing.*GradFlow itself"):
        plot_grad_flow({})
    with pytest.raises(ValueError, match="1-D"):
        plot_grad_flow({"a": np.ones((2, 2))})
    with pytest.raises(ValueError, match="negative"):
        plot_grad_flow({"a": [1.0, -1.0]})


@settings(max_examples=20, deadline=None)
@given(T=st.integers(1, 60))
def test_the_time_axis_has_integer_ticks(T):
    """Time steps are whole: no tick at 2.5 whatever the length."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig = plot_grad_flow({"a": np.arange(1.0, T + 1)})
    try:
        ax = fig.axes[0]
        fig.canvas.draw()
        lo, hi = ax.get_xlim()
        shown = [t for t in ax.get_xticks() if lo <= t <= hi]
        assert shown and all(float(t).is_integer() for t in shown), shown
    finally:
        plt.close(fig)


def test_a_grad_flow_record_plots_and_an_empty_one_says_why(plt):
    gru = tg.nn.GRU(2, 3)
    with tg.nn.record_grad_flow(gru) as flow:
        out, _ = gru(tg.randn(6, 1, 2))
        out.sum().backward()
    fig = plot_grad_flow(flow)  # the GradFlow itself: its `norms`
    np.testing.assert_allclose(fig.axes[0].get_lines()[0].get_ydata(), flow.norms["gru layer 0"])
    with tg.nn.record_grad_flow(gru) as empty:
        gru(tg.randn(6, 1, 2))  # no backward
    with pytest.raises(ValueError, match="GRU.*'gru layer 0' ran forward.*no backward"):
        plot_grad_flow(empty)


def test_clear_error_without_matplotlib(monkeypatch):
    real = builtins.__import__

    def no_mpl(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_mpl)
    with pytest.raises(ImportError, match=r"tinygrad-rnn\[plot\]"):
        plot_grad_flow({"a": [1.0, 2.0]})
