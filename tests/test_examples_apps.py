"""The sine-wave and char-RNN examples, in their reduced (--quick) form."""
import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_sine_wave_quick_beats_the_baselines(capsys):
    result = _load("sine_wave").main(["--quick"])
    out = capsys.readouterr().out
    assert "epoch   1" in out and "validation RMSE" in out
    # repeating the last sample is the trivial predictor to beat (about 0.07 for dt = 0.1)
    assert result["val_rmse"] < 0.5 * result["repeat_rmse"], result
    assert result["val_rmse"] < 0.05 and result["zero_rmse"] > 0.6
    train_losses = [t for t, _ in result["epochs"]]
    val_losses = [v for _, v in result["epochs"]]
    assert train_losses[-1] < train_losses[0] and val_losses[-1] < val_losses[0]


@pytest.mark.slow
def test_sine_wave_tanh_option(capsys):
    result = _load("sine_wave").main(["--quick", "--nonlinearity", "tanh", "--epochs", "6"])
    assert result["val_rmse"] < result["repeat_rmse"], result


def test_sine_wave_plot_is_optional(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    _load("sine_wave").main(["--quick", "--epochs", "1", "--plot", str(tmp_path / "s.png")])
    assert (tmp_path / "s.png").stat().st_size > 0


@pytest.mark.slow
def test_char_rnn_quick_smoothed_loss_decreases(capsys):
    result = _load("char_rnn").main(["--quick"])
    out = capsys.readouterr().out
    smooth = result["smooth_loss"]
    assert result["steps"] == 300 and len(smooth) == 300
    assert smooth[-1] < smooth[0] - 0.5, (smooth[0], smooth[-1])
    assert "--- step 150, smoothed loss" in out and len(result["samples"]) >= 2


@pytest.mark.slow
def test_char_rnn_lstm_option(capsys):
    result = _load("char_rnn").main(["--quick", "--cell", "lstm", "--steps", "60"])
    assert result["smooth_loss"][-1] < result["smooth_loss"][0]


@pytest.mark.parametrize("name,argv,message", [
    ("char_rnn", ["--steps", "0"], "--steps must be positive, got 0"),
    ("char_rnn", ["--seconds", "0"], "--seconds must be positive, got 0.0"),
    ("char_rnn", ["--data", "nope.txt"], "text file not found: 'nope.txt'"),
    ("custom_op", ["--examples", "0"], "--examples must be a positive integer, got 0"),
    ("attention_recall", ["--steps", "0"], "--steps must be a positive integer, got 0"),
    ("custom_cell", ["--steps", "0"], "--steps must be a positive integer, got 0"),
    ("variable_length", ["--steps", "-1"], "--steps must be a positive integer, got -1"),
    ("vanishing_gradients", ["--hidden", "0"], "--hidden must be a positive integer, got 0"),
])
def test_examples_refuse_bad_arguments_in_one_line(capsys, name, argv, message):
    with pytest.raises(SystemExit) as info:
        _load(name).main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
