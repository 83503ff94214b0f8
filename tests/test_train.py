"""The training loop: learning, TBPTT, clipping, bit-identical resume, NaN guard, interrupts."""
import csv
import os
import signal

import numpy as np
import pytest

import tinygrad_rnn
from tinygrad_rnn import optim
from tinygrad_rnn.checkpoint import load_checkpoint
from tinygrad_rnn.data import CharVocab, TBPTTBatcher
from tinygrad_rnn.models import CharRNN
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.tensor import Tensor
from tinygrad_rnn.train import Trainer, TrainingDiverged, evaluate

TEXT = "the quick brown fox jumps over the lazy dog. " * 12


def _setup(tmp_path=None, *, seed=0, cell="lstm", layers=2, dropout=0.3, schedule=True,
           val=True, quiet=True, **kw):
    tinygrad_rnn.manual_seed(seed)
    vocab = CharVocab(TEXT)
    ids = vocab.encode(TEXT)
    train = TBPTTBatcher(ids[:400], 4, 8)      # 12 windows per epoch: the runs below wrap
    val_w = TBPTTBatcher(ids[400:], 2, 8) if val else None
    model = CharRNN(len(vocab), hidden_size=12, num_layers=layers, cell=cell, dropout=dropout,
                    embedding_dim=6)
    opt = optim.Adam(list(model.parameters()), lr=1e-2)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=30) if schedule else None
    trainer = Trainer(model, opt, F.cross_entropy, train, scheduler=sched, val_windows=val_w,
                      clip_norm=1.0, val_every=5, out_dir=tmp_path, quiet=quiet,
                      meta={"model_config": model.config, "vocab": vocab.to_list()}, **kw)
    return trainer


def _arrays(trainer):
    """Every array that decides the next weights: parameters, optimizer state, carried state."""
    out = {f"p.{k}": np.array(v) for k, v in trainer.model.state_dict().items()}
    for i, entry in trainer.optimizer.state_dict()["state"].items():
        for k, v in entry.items():
            out[f"o.{i}.{k}"] = np.asarray(v)
    state = trainer.state
    for i, s in enumerate(state if isinstance(state, tuple) else (state,)):
        out[f"s.{i}"] = s.data
    return out


def test_loss_decreases_and_history_is_recorded():
    trainer = _setup(dropout=0.0, layers=1, schedule=False)
    result = trainer.fit(steps=30)
    first = np.mean([r["loss"] for r in result.history[:3]])
    last = np.mean([r["loss"] for r in result.history[-3:]])
    assert result.step == 30 and len(result.history) == 30
    assert last < first - 0.5, (first, last)
    assert result.val_loss is not None and np.isfinite(result.val_loss)
    assert all(r["chars_per_s"] > 0 for r in result.history)


def test_state_is_carried_detached_and_reset_each_epoch(monkeypatch):
    trainer = _setup(layers=1, dropout=0.0, val=False)
    incoming = []
    original = CharRNN.forward

    def spy(self, idx, state=None):
        incoming.append(state)
        return original(self, idx, state)
    monkeypatch.setattr(CharRNN, "forward", spy)
    trainer.fit(steps=14)
    assert len(trainer.train_windows) == 12
    assert incoming[0] is None and incoming[12] is None  # each epoch starts from zeros
    h, c = incoming[1]
    assert h._ctx is None and not h.requires_grad and c._ctx is None  # the graph is cut
    assert h.shape == (1, 4, 12)
    assert incoming[13] is not None


def test_clip_value_bounds_every_update():
    tinygrad_rnn.manual_seed(0)
    vocab = CharVocab(TEXT)
    windows = TBPTTBatcher(vocab.encode(TEXT), 4, 8)
    model = CharRNN(len(vocab), hidden_size=8, cell="rnn")
    before = {k: v.copy() for k, v in model.state_dict().items()}
    trainer = Trainer(model, optim.SGD(list(model.parameters()), lr=1.0), F.cross_entropy,
                      windows, clip_value=1e-3, quiet=True)
    trainer.fit(steps=1)
    worst = max(np.abs(v - before[k]).max() for k, v in model.state_dict().items())
    assert 0.9e-3 < worst <= 1e-3 + 1e-6  # float32 rounding of w - 1e-3


def test_clip_norm_bounds_the_update_norm():
    tinygrad_rnn.manual_seed(0)
    vocab = CharVocab(TEXT)
    windows = TBPTTBatcher(vocab.encode(TEXT), 4, 8)
    model = CharRNN(len(vocab), hidden_size=8, cell="gru")
    before = {k: v.copy() for k, v in model.state_dict().items()}
    trainer = Trainer(model, optim.SGD(list(model.parameters()), lr=1.0), F.cross_entropy,
                      windows, clip_norm=1e-2, quiet=True)
    trainer.fit(steps=1)
    norm = np.sqrt(sum(((v - before[k]) ** 2).sum() for k, v in model.state_dict().items()))
    assert 0.9e-2 < norm <= 1e-2 * (1 + 1e-4)


@pytest.mark.slow
def test_interrupted_and_resumed_run_is_bit_identical(tmp_path):
    """N steps straight == N/2 steps, Ctrl-C, resume for N/2: every array equal, bit for bit.

    Dropout (2-layer LSTM, p=0.3) draws from the package RNG, the cosine schedule and Adam
    carry state, and 30 steps over 12-window epochs cross two epoch boundaries."""
    straight = _setup(tmp_path / "a")
    straight.fit(steps=30)

    first = _setup(tmp_path / "b")

    def ctrl_c(t):
        if t.step == 15:
            raise KeyboardInterrupt
    first.hooks.append(ctrl_c)
    res = first.fit(steps=30)
    assert res.interrupted and res.step == 15
    assert load_checkpoint(tmp_path / "b" / "checkpoint.npz").step == 15

    tinygrad_rnn.manual_seed(999)  # a different seed and fresh weights: all must come from disk
    second = _setup(tmp_path / "b", seed=999)
    second.resume(tmp_path / "b" / "checkpoint.npz")
    assert second.step == 15
    res2 = second.fit(steps=30)
    assert res2.step == 30 and not res2.interrupted

    want, got = _arrays(straight), _arrays(second)
    assert sorted(want) == sorted(got)
    for k in want:
        assert want[k].dtype == got[k].dtype and np.array_equal(want[k], got[k]), k
    assert straight.optimizer.param_groups[0]["lr"] == second.optimizer.param_groups[0]["lr"]
    assert straight.val_loss == second.val_loss
    # the resumed run's loss.csv continues the first one's rows
    with open(tmp_path / "b" / "loss.csv") as f:
        steps = [int(r["step"]) for r in csv.DictReader(f)]
    assert steps == list(range(1, 31))


def test_resume_without_restoring_rng_would_differ(tmp_path):
    """The bit-identical test above can fail: skipping the RNG restore changes the weights."""
    straight = _setup(tmp_path / "a")
    straight.fit(steps=8)
    first = _setup(tmp_path / "b")
    first.fit(steps=4)
    second = _setup(tmp_path / "b", seed=999)
    second.resume(tmp_path / "b" / "checkpoint.npz")
    tinygrad_rnn.manual_seed(12345)  # lose the dropout stream
    second.fit(steps=8)
    want, got = _arrays(straight), _arrays(second)
    assert not all(np.array_equal(want[k], got[k]) for k in want)


def test_real_sigint_finishes_the_step_saves_and_stops(tmp_path):
    trainer = _setup(tmp_path, val=False)
    trainer.hooks.append(lambda t: os.kill(os.getpid(), signal.SIGINT) if t.step == 3 else None)
    result = trainer.fit(steps=50)
    assert result.interrupted and result.step == 3
    ckpt = load_checkpoint(tmp_path / "checkpoint.npz")
    assert ckpt.step == 3 and ckpt.meta["data_position"] == 3
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored


def test_nan_loss_stops_with_step_number_and_keeps_last_good_checkpoint(tmp_path):
    trainer = _setup(tmp_path, checkpoint_every=2, val=False)

    def poison(t):
        if t.step == 5:  # weights go bad after step 5: step 6's loss is NaN
            t.model.decoder.weight.data[:] = np.nan
    trainer.hooks.append(poison)
    with pytest.raises(TrainingDiverged, match=r"diverged at step 6: the loss is nan.*"
                                               r"last good checkpoint is .*checkpoint.npz \(step 4\)"):
        trainer.fit(steps=20)
    ckpt = load_checkpoint(tmp_path / "checkpoint.npz")
    assert ckpt.step == 4
    assert all(np.isfinite(v).all() for v in ckpt.params.values())


def test_huge_learning_rate_diverges_with_a_clear_error(tmp_path):
    tinygrad_rnn.manual_seed(0)
    vocab = CharVocab(TEXT)
    windows = TBPTTBatcher(vocab.encode(TEXT), 4, 8)
    model = CharRNN(len(vocab), hidden_size=8, cell="rnn", nonlinearity="relu")
    trainer = Trainer(model, optim.SGD(list(model.parameters()), lr=1e30), F.cross_entropy,
                      windows, quiet=True, out_dir=tmp_path)
    with pytest.raises(TrainingDiverged, match=r"diverged at step \d+: the (loss is (nan|inf)|gradient)"):
        trainer.fit(steps=50)
    assert not (tmp_path / "checkpoint.npz").exists()  # nothing bad was saved


def test_non_finite_gradient_is_caught_before_the_update(tmp_path):
    trainer = _setup(tmp_path, val=False, layers=1, dropout=0.0)

    def loss_fn(out, y):  # finite loss, NaN gradient: d sqrt(x)/dx at x = 0 times 0
        return F.cross_entropy(out, y) + (out * 0.0).sum().sqrt()
    trainer.loss_fn = loss_fn
    before = {k: v.copy() for k, v in trainer.model.state_dict().items()}
    with pytest.raises(TrainingDiverged, match=r"step 1: the gradient of .* is not finite"):
        trainer.fit(steps=3)
    assert all(np.array_equal(before[k], v) for k, v in trainer.model.state_dict().items())


def test_time_budget_stops_training():
    trainer = _setup(val=False)
    result = trainer.fit(time_budget=0.3)
    assert 0 < result.step and result.elapsed < 5


def test_outputs_csv_and_checkpoints(tmp_path):
    trainer = _setup(tmp_path, checkpoint_every=4)
    saved = []
    trainer.hooks.append(lambda t: saved.append(t.last_checkpoint_step))
    trainer.fit(steps=10)
    assert saved[3] == 4 and saved[7] == 8
    assert load_checkpoint(tmp_path / "checkpoint.npz").step == 10  # and one at the end
    with open(tmp_path / "loss.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == list(range(1, 11))
    assert rows[4]["val_loss"] and not rows[3]["val_loss"]
    assert set(rows[0]) == {"step", "loss", "smooth_loss", "val_loss", "lr", "chars_per_s", "elapsed_s"}
    assert [p for p in os.listdir(tmp_path) if p.endswith(".tmp")] == []


def test_loss_png_only_when_matplotlib_is_installed(tmp_path):
    trainer = _setup(tmp_path)
    trainer.fit(steps=2)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert not (tmp_path / "loss.png").exists()
    else:
        assert (tmp_path / "loss.png").stat().st_size > 0


def test_evaluate_restores_training_mode_and_records_nothing():
    trainer = _setup(val=True)
    loss = evaluate(trainer.model, trainer.val_windows, F.cross_entropy)
    assert trainer.model.training and np.isfinite(loss)
    assert all(p.grad is None for p in trainer.model.parameters())


def test_bad_arguments_are_refused():
    trainer = _setup()
    with pytest.raises(ValueError, match="give steps, time_budget or both"):
        trainer.fit()
    with pytest.raises(ValueError, match="time_budget must be positive"):
        trainer.fit(time_budget=0)
    with pytest.raises(ValueError, match="clip_norm must be positive"):
        Trainer(trainer.model, trainer.optimizer, F.cross_entropy, trainer.train_windows,
                clip_norm=-1)
    with pytest.raises(ValueError, match="no complete window"):
        Trainer(trainer.model, trainer.optimizer, F.cross_entropy, [])


def test_resume_refuses_another_models_checkpoint(tmp_path):
    from tinygrad_rnn.checkpoint import CheckpointError
    trainer = _setup(tmp_path)
    trainer.fit(steps=2)
    other = _setup(None, cell="gru")
    before = {k: v.copy() for k, v in other.model.state_dict().items()}
    with pytest.raises(CheckpointError, match="another model: cell='lstm'"):
        other.resume(tmp_path / "checkpoint.npz")
    assert other.step == 0
    assert all(np.array_equal(before[k], v) for k, v in other.model.state_dict().items())


def test_sine_regression_with_mse_and_float_windows():
    """The loop is not tied to characters: float inputs, MSE, an RNN with a linear head."""
    from tinygrad_rnn import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.RNN(1, 8)
            self.out = nn.Linear(8, 1)

        def forward(self, x, h=None):
            hs, h = self.rnn(Tensor(x), h)
            return self.out(hs), h

    series = np.sin(0.2 * np.arange(401)).astype(np.float32)
    windows = [(series[i:i + 20].reshape(20, 1, 1), series[i + 1:i + 21].reshape(20, 1, 1))
               for i in range(0, 380, 20)]
    net = Net()
    trainer = Trainer(net, optim.Adam(list(net.parameters()), lr=0.02), F.mse_loss, windows,
                      clip_value=1.0, quiet=True)
    result = trainer.fit(steps=60)
    assert np.mean([r["loss"] for r in result.history[-5:]]) < 0.1 * result.history[0]["loss"]


class _Terminal:
    """A stderr stand-in that says it is a terminal and keeps what is written."""

    def __init__(self, tty):
        self.tty, self.parts = tty, []

    def isatty(self):
        return self.tty

    def write(self, s):
        self.parts.append(s)

    def flush(self):
        pass

    @property
    def text(self):
        return "".join(self.parts)


@pytest.mark.parametrize("tty,quiet", [(True, False), (False, False), (True, True)])
def test_progress_bar_on_a_terminal_log_lines_otherwise(monkeypatch, tty, quiet):
    import sys
    term = _Terminal(tty)
    monkeypatch.setattr(sys, "stderr", term)
    trainer = _setup(quiet=quiet)
    trainer.fit(steps=10)
    if quiet:
        assert term.text == ""
    elif tty:  # tqdm: step count, smoothed loss, validation loss, speed
        assert "10/10" in term.text and "loss=" in term.text and "chars/s=" in term.text
    else:      # one plain line per validation
        lines = [l for l in term.text.splitlines() if l]
        assert len(lines) == 2 and lines[0].startswith("step      5 | loss ")
        assert "val " in lines[0] and "chars/s" in lines[0]
