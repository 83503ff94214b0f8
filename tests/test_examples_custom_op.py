"""examples/custom_op.py runs as a script: its op passes gradcheck and its model trains."""
from __future__ import annotations

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_rnn as tg

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "custom_op.py"


def test_example_runs_as_a_script(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", [str(EXAMPLE)])  # as `python examples/custom_op.py`
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    out = capsys.readouterr().out
    assert "gradcheck: ok" in out
    assert "property test: 30 generated cases ok" in out
    losses = [float(line.split()[-1]) for line in out.splitlines() if line.startswith("step")]
    assert len(losses) >= 2 and losses[-1] < 0.2 * losses[0]


def test_example_softplus_is_stable_and_its_backward_is_checked():
    ns = runpy.run_path(str(EXAMPLE))  # not __main__: defines the op without training
    softplus, Softplus = ns["softplus"], ns["Softplus"]
    x = tg.Tensor(np.array([-800.0, -1.0, 0.0, 2.0, 800.0]), requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = softplus(x)
        y.sum().backward()
    np.testing.assert_allclose(y.data, [0.0, np.log1p(np.exp(-1.0)), np.log(2.0),
                                        np.log1p(np.exp(2.0)), 800.0])
    with np.errstate(over="ignore"):  # the reference itself overflows to 1/inf = 0 at -800
        expected = 1 / (1 + np.exp(-x.data))
    np.testing.assert_allclose(x.grad.data, expected)
    assert issubclass(Softplus, tg.Function)


def test_example_matches_torch_softplus(torch):
    ns = runpy.run_path(str(EXAMPLE))
    data = np.linspace(-5, 5, 11)
    x = tg.Tensor(data, requires_grad=True)
    ns["softplus"](x).sum().backward()
    tx = torch.tensor(data, requires_grad=True)
    ty = torch.nn.functional.softplus(tx)
    ty.sum().backward()
    np.testing.assert_allclose(ns["softplus"](tg.Tensor(data)).data, ty.detach().numpy())
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy())


def test_help_describes_the_options_and_runs_nothing(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", [str(EXAMPLE), "--help"])
    with pytest.raises(SystemExit) as stop:
        runpy.run_path(str(EXAMPLE), run_name="__main__")
    out = capsys.readouterr().out
    assert stop.value.code == 0 and "--steps" in out and "Softplus" in out
    assert "gradcheck: ok" not in out and not any(l.startswith("step") for l in out.splitlines())


def test_options_shorten_the_run(capsys):
    first, last = runpy.run_path(str(EXAMPLE))["main"](["--steps", "3", "--examples", "2"])
    out = capsys.readouterr().out
    assert "property test: 2 generated cases ok" in out or "skipped" in out
    assert len([l for l in out.splitlines() if l.startswith("step")]) == 2  # steps 0 and 2
