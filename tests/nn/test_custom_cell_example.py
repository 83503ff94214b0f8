"""examples/custom_cell.py runs (reduced): gradchecks pass and the loss goes down."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "custom_cell.py"


def _load():
    spec = importlib.util.spec_from_file_location("custom_cell_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_custom_cell_example_reduced(capsys):
    losses = _load().main(["--steps", "25"])
    out = capsys.readouterr().out
    assert "gradcheck passed" in out
    assert len(losses) == 25 and np.isfinite(losses).all()
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:5])


def test_custom_cell_runs_in_the_generic_runner_and_gradchecks_catch_errors(monkeypatch):
    import tinygrad_rnn as tg
    from tinygrad_rnn import nn

    ex = _load()
    net = nn.Recurrent(lambda n: ex.PeepholeLSTMCell(n, 3), num_layers=2, bidirectional=True,
                       input_size=2)
    out, (h_n, c_n) = net(tg.randn(4, 5, 2))
    assert out.shape == (4, 5, 6) and h_n.shape == c_n.shape == (4, 5, 3)
    assert "cell_l1_reverse.weight_co" in dict(net.named_parameters())
    # a cell with a wrong gradient makes the example's gradcheck fail
    real = ex.PeepholeLSTMCell.forward

    def broken(self, x, state=None):
        h, c = real(self, x, state)
        return h + (h.detach() - h) * 0.3, c

    monkeypatch.setattr(ex.PeepholeLSTMCell, "forward", broken)
    with pytest.raises(tg.GradcheckError):
        ex.gradcheck_all()
