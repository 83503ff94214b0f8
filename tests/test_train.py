"""The training loop: learning, TBPTT, clipping, bit-identical resume, guards, interrupts."""
import csv
import os
import re
import signal
from pathlib import Path

import numpy as np
import pytest

import tinygrad_rnn
from tinygrad_rnn import callbacks as cb
from tinygrad_rnn import optim
from tinygrad_rnn.checkpoint import CheckpointError, load_checkpoint
from tinygrad_rnn.data import CharVocab, TBPTTBatcher
from tinygrad_rnn.models import CharRNN
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.tensor import Tensor
from tinygrad_rnn.train import Trainer, TrainingDiverged, evaluate

TEXT = "the quick brown fox jumps over the lazy dog. " * 12


class At(cb.Callback):
    """Calls fn(trainer) after every step (a user's callback in three lines)."""

    def __init__(self, fn):
        self.fn = fn

    def on_step_end(self, trainer, row):
        self.fn(trainer)


def _setup(out=None, *, seed=0, cell="lstm", layers=2, dropout=0.3, schedule=True, val=True,
           checkpoint_every=0, extra=(), **kw):
    tinygrad_rnn.manual_seed(seed)
    vocab = CharVocab(TEXT)
    ids = vocab.encode(TEXT)
    train = TBPTTBatcher(ids[:400], 4, 8)      # 12 windows per epoch: the runs below wrap
    model = CharRNN(len(vocab), hidden_size=12, num_layers=layers, cell=cell, dropout=dropout,
                    embedding_dim=6)
    opt = optim.Adam(list(model.parameters()), lr=1e-2)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=30) if schedule else None
    callbacks = [cb.Validation(TBPTTBatcher(ids[400:], 2, 8), every=5)] if val else []
    if out is not None:
        callbacks += [cb.CSVLogger(out / "loss.csv"),
                      cb.Checkpoint(out, every=checkpoint_every,
                                    meta={"vocab": vocab.to_list()})]
    return Trainer(model, opt, F.cross_entropy, train, scheduler=sched, clip_norm=1.0,
                   callbacks=callbacks + list(extra), **kw)


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


def _steps(path):
    with open(path, newline="") as f:
        return [int(r["step"]) for r in csv.DictReader(f)]


@pytest.fixture
def sigint_default():
    """Python's own SIGINT handler for the test, whatever this process inherited (nohup and
    background jobs start with SIGINT ignored)."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


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
                      windows, clip_value=1e-3)
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
                      windows, clip_norm=1e-2)
    trainer.fit(steps=1)
    norm = np.sqrt(sum(((v - before[k]) ** 2).sum() for k, v in model.state_dict().items()))
    assert 0.9e-2 < norm <= 1e-2 * (1 + 1e-4)


def test_interrupted_and_resumed_run_is_bit_identical(tmp_path):
    """N steps straight == N/2 steps, Ctrl-C, resume for N/2: every array equal, bit for bit.

    Dropout (2-layer LSTM, p=0.3) draws from the package RNG, the cosine schedule and Adam
    carry state, and 30 steps over 12-window epochs cross two epoch boundaries."""
    straight = _setup(tmp_path / "a")
    straight.fit(steps=30)

    def ctrl_c(t):
        if t.step == 15:
            raise KeyboardInterrupt
    first = _setup(tmp_path / "b", extra=[At(ctrl_c)])
    res = first.fit(steps=30)
    assert res.interrupted and res.step == 15 and res.checkpoint_step == 15
    assert load_checkpoint(tmp_path / "b" / "checkpoint.npz")["step"] == 15

    # a different seed and fresh weights: all must come from disk
    second = _setup(tmp_path / "b", seed=999)
    second.load_state_dict(load_checkpoint(tmp_path / "b" / "checkpoint.npz"))
    assert second.step == 15
    res2 = second.fit(steps=30)
    assert res2.step == 30 and not res2.interrupted

    want, got = _arrays(straight), _arrays(second)
    assert sorted(want) == sorted(got)
    for k in want:
        assert want[k].dtype == got[k].dtype and np.array_equal(want[k], got[k]), k
    assert straight.optimizer.param_groups[0]["lr"] == second.optimizer.param_groups[0]["lr"]
    assert straight.val_loss == second.val_loss
    assert _steps(tmp_path / "b" / "loss.csv") == list(range(1, 31))  # continued, no gap
    a, b = (load_checkpoint(tmp_path / d / "best.npz") for d in "ab")
    assert a["step"] == b["step"] and a["val_loss"] == b["val_loss"]


def test_resume_without_restoring_rng_would_differ(tmp_path):
    """The bit-identical test above can fail: skipping the RNG restore changes the weights."""
    straight = _setup(tmp_path / "a")
    straight.fit(steps=8)
    first = _setup(tmp_path / "b")
    first.fit(steps=4)
    second = _setup(tmp_path / "b", seed=999)
    second.load_state_dict(load_checkpoint(tmp_path / "b" / "checkpoint.npz"))
    tinygrad_rnn.manual_seed(12345)  # lose the dropout stream
    second.fit(steps=8)
    want, got = _arrays(straight), _arrays(second)
    assert not all(np.array_equal(want[k], got[k]) for k in want)


def test_real_sigint_finishes_the_step_saves_and_stops(tmp_path, sigint_default):
    kill = At(lambda t: os.kill(os.getpid(), signal.SIGINT) if t.step == 3 else None)
    trainer = _setup(tmp_path, val=False, extra=[kill])
    result = trainer.fit(steps=50)
    assert result.interrupted and result.step == 3
    state = load_checkpoint(tmp_path / "checkpoint.npz")
    assert state["step"] == 3 and state["position"] == 3
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored


def test_an_ignored_sigint_stays_ignored(tmp_path):
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        kill = At(lambda t: os.kill(os.getpid(), signal.SIGINT) if t.step == 3 else None)
        result = _setup(tmp_path, val=False, extra=[kill]).fit(steps=6)
        assert not result.interrupted and result.step == 6
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, old)


def test_second_ctrl_c_inside_a_step_names_the_step_on_disk(tmp_path, sigint_default):
    trainer = _setup(tmp_path, val=False, checkpoint_every=2)
    logged = []
    trainer.log = logged.append

    def loss_fn(out, y):  # two Ctrl-C inside step 5: the second one aborts the step
        if trainer.step == 4:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
        return F.cross_entropy(out, y)
    trainer.loss_fn = loss_fn
    result = trainer.fit(steps=10)
    assert result.interrupted and not result.consistent and result.checkpoint_step == 4
    assert "interrupted during step 5" in logged[-1]
    assert "checkpoint on disk is" in logged[-1] and "(step 4)" in logged[-1]
    assert load_checkpoint(tmp_path / "checkpoint.npz")["step"] == 4


class _SlowEnd(cb.Callback):
    """A Ctrl-C after step 3, and a second one while the run finishes (the final
    validation and the save after a first Ctrl-C take a while on a big model)."""

    def on_step_end(self, trainer, row):
        if trainer.step == 3:
            os.kill(os.getpid(), signal.SIGINT)

    def on_fit_end(self, trainer, result):
        os.kill(os.getpid(), signal.SIGINT)


def test_second_ctrl_c_while_the_run_finishes_names_the_step_on_disk(tmp_path, sigint_default):
    trainer = _setup(tmp_path, val=False, checkpoint_every=2, extra=[])
    trainer.callbacks.insert(0, _SlowEnd())  # before Checkpoint: the end-of-run save never runs
    logged = []
    trainer.log = logged.append
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(steps=10)
    assert "checkpoint on disk is" in logged[-1] and "(step 2)" in logged[-1], logged
    assert load_checkpoint(tmp_path / "checkpoint.npz")["step"] == 2
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored


def test_nan_loss_stops_with_step_number_and_keeps_last_good_checkpoint(tmp_path):
    def poison(t):
        if t.step == 5:  # weights go bad after step 5: step 6's loss is NaN
            t.model.decoder.weight.data[:] = np.nan
    trainer = _setup(tmp_path, checkpoint_every=2, val=False, extra=[At(poison)])
    with pytest.raises(TrainingDiverged, match=r"diverged at step 6: the loss is nan.*"
                                               r"last good checkpoint is .*checkpoint.npz \(step 4\)"):
        trainer.fit(steps=20)
    state = load_checkpoint(tmp_path / "checkpoint.npz")
    assert state["step"] == 4
    assert all(np.isfinite(v).all() for v in state["model"].values())


def test_non_finite_parameters_after_the_update_are_never_saved(tmp_path):
    class Overflowing(optim.SGD):
        def step(self, closure=None):
            super().step(closure)
            if trainer.step == 2:  # finite loss and gradients, but the update overflows
                self.param_groups[0]["params"][0].data[0] = np.inf
    trainer = _setup(tmp_path, val=False, checkpoint_every=1)
    trainer.optimizer = Overflowing(list(trainer.model.parameters()), lr=0.1)
    trainer.scheduler = None
    with pytest.raises(TrainingDiverged, match=r"diverged at step 3: .* is not finite after the "
                                               r"update.*checkpoint.npz \(step 2\)"):
        trainer.fit(steps=6)
    state = load_checkpoint(tmp_path / "checkpoint.npz")
    assert state["step"] == 2 and all(np.isfinite(v).all() for v in state["model"].values())


def test_huge_learning_rate_diverges_with_a_clear_error(tmp_path):
    tinygrad_rnn.manual_seed(0)
    vocab = CharVocab(TEXT)
    windows = TBPTTBatcher(vocab.encode(TEXT), 4, 8)
    model = CharRNN(len(vocab), hidden_size=8, cell="rnn", nonlinearity="relu")
    trainer = Trainer(model, optim.SGD(list(model.parameters()), lr=1e30), F.cross_entropy,
                      windows, callbacks=[cb.Checkpoint(tmp_path)])
    with pytest.raises(TrainingDiverged, match=r"diverged at step \d+: (the (loss is (nan|inf)|"
                                               r"gradient)|.* is not finite after the update)"):
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
    saved = []
    trainer = _setup(tmp_path, checkpoint_every=4,
                     extra=[At(lambda t: saved.append(t.checkpoint and t.checkpoint[1]))])
    trainer.fit(steps=10)
    assert saved[3] == 4 and saved[7] == 8
    assert load_checkpoint(tmp_path / "checkpoint.npz")["step"] == 10  # and one at the end
    with open(tmp_path / "loss.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == list(range(1, 11))
    assert rows[4]["val_loss"] and not rows[3]["val_loss"]
    assert set(rows[0]) == set(cb.CSV_FIELDS)
    assert [p for p in os.listdir(tmp_path) if p.endswith(".tmp")] == []


def test_csv_lr_of_step_k_is_the_rate_step_k_used(tmp_path):
    trainer = _setup(tmp_path, val=False, schedule=False)
    trainer.scheduler = optim.lr_scheduler.StepLR(trainer.optimizer, step_size=2, gamma=0.5)
    trainer.fit(steps=6)
    with open(tmp_path / "loss.csv") as f:
        lrs = [float(r["lr"]) for r in csv.DictReader(f)]
    assert lrs == [1e-2, 1e-2, 5e-3, 5e-3, 2.5e-3, 2.5e-3]


def test_csv_is_on_disk_before_each_checkpoint(tmp_path, monkeypatch):
    """What a SIGKILL right after a save would leave: the log holds every row up to it."""
    seen = []
    original = cb.save_checkpoint

    def spy(path, state):
        seen.append((state["step"], _steps(tmp_path / "loss.csv")))
        return original(path, state)
    monkeypatch.setattr(cb, "save_checkpoint", spy)
    _setup(tmp_path, checkpoint_every=3, val=False).fit(steps=7)
    assert seen and all(rows == list(range(1, step + 1)) for step, rows in seen)


def test_resumed_log_drops_rows_past_the_checkpoint_and_half_lines(tmp_path):
    _setup(tmp_path, checkpoint_every=4).fit(steps=4)
    with open(tmp_path / "loss.csv", "a") as f:  # a killed run got further than its checkpoint
        f.write("5,2.5,2.5,,0.01,100,1\n6,2.4,2.4,,0.01,100,1\n7,2.")
    second = _setup(tmp_path, seed=5)
    second.load_state_dict(load_checkpoint(tmp_path / "checkpoint.npz"))
    second.fit(steps=9)
    assert _steps(tmp_path / "loss.csv") == list(range(1, 10))


def test_best_npz_holds_the_lowest_validation_loss(tmp_path):
    trainer = _setup(tmp_path, schedule=False)
    trainer.optimizer.param_groups[0]["lr"] = 0.05
    trainer.fit(steps=40)
    vals = [(r["val_loss"], r["step"]) for r in trainer.history if r["val_loss"] is not None]
    best = load_checkpoint(tmp_path / "best.npz")
    assert (best["val_loss"], best["step"]) == min(vals)
    assert load_checkpoint(tmp_path / "checkpoint.npz")["step"] == 40


def test_early_stopping_after_patience_validations_without_progress():
    trainer = _setup(schedule=False, extra=[cb.EarlyStopping(patience=2)])
    trainer.optimizer.param_groups[0]["lr"] = 1e-30  # the validation loss cannot improve
    result = trainer.fit(steps=100)
    assert result.step == 15 and "early stop" in result.stopped


def test_temp_files_of_an_interrupted_save_are_removed_at_the_next_start(tmp_path):
    tmp_path.mkdir(exist_ok=True)
    for name in (".checkpoint.npz.1a2b3c4d.tmp", ".best.npz.ffff0000.tmp", ".loss.csv.0.tmp"):
        (tmp_path / name).write_bytes(b"PK half")
    (tmp_path / "notes.tmp").write_text("not ours")
    _setup(tmp_path, val=False).fit(steps=2)
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.npz", "loss.csv", "notes.tmp"]


def test_checkpoint_files_respect_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        _setup(tmp_path, val=False).fit(steps=2)
    finally:
        os.umask(old)
    assert (tmp_path / "checkpoint.npz").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "loss.csv").stat().st_mode & 0o777 == 0o640


def test_loss_png_only_when_matplotlib_is_installed(tmp_path):
    trainer = _setup(tmp_path, extra=[cb.Plot(tmp_path / "loss.png", tmp_path / "loss.csv")])
    trainer.fit(steps=2)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert not (tmp_path / "loss.png").exists()
    else:
        assert (tmp_path / "loss.png").stat().st_size > 0


def test_evaluate_restores_training_mode_and_records_nothing():
    trainer = _setup(val=True)
    loss = evaluate(trainer.model, trainer.callbacks[0].windows, F.cross_entropy)
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


def _params(trainer):
    return {k: v.copy() for k, v in trainer.model.state_dict().items()}


def test_resume_refuses_another_models_checkpoint(tmp_path):
    _setup(tmp_path).fit(steps=2)
    other = _setup(None, cell="gru")
    before = _params(other)
    with pytest.raises(CheckpointError, match="another model: cell='lstm'"):
        other.load_state_dict(load_checkpoint(tmp_path / "checkpoint.npz"))
    assert other.step == 0
    assert all(np.array_equal(before[k], v) for k, v in other.model.state_dict().items())


@pytest.mark.parametrize("where,value,message", [
    ("rng", {"bit_generator": "PCG64", "state": "x"}, "random generator's state is unusable"),
    ("scheduler", {"T_max": "30"}, "the schedule's state has keys"),
    ("scheduler.base_lrs", ["0.01"], "'base_lrs' holds '0.01', expected float"),
    ("scheduler.T_max", 30.5, "'T_max' holds 30.5, expected int"),
    ("step", "3", "'step' is a str, expected int"),
    ("carried", ("text",), "carried state holds a str"),
    ("callbacks", {}, "no state for the callbacks"),
])
def test_a_state_that_does_not_fit_changes_nothing(tmp_path, where, value, message):
    _setup(tmp_path).fit(steps=3)
    state = load_checkpoint(tmp_path / "checkpoint.npz")
    part, _, key = where.partition(".")
    (state[part] if key else state)[key or part] = value
    other = _setup(tmp_path, seed=4)
    before, opt_before = _params(other), other.optimizer.state_dict()
    rng_before = tinygrad_rnn.get_rng().bit_generator.state
    with pytest.raises(CheckpointError, match=message):
        other.load_state_dict(state)
    assert other.step == 0 and other.optimizer.state_dict()["state"] == opt_before["state"] == {}
    assert all(np.array_equal(before[k], v) for k, v in other.model.state_dict().items())
    assert tinygrad_rnn.get_rng().bit_generator.state == rng_before


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
                      clip_value=1.0)
    result = trainer.fit(steps=60)
    assert np.mean([r["loss"] for r in result.history[-5:]]) < 0.1 * result.history[0]["loss"]


class _Terminal:
    """A stderr stand-in that says whether it is a terminal and keeps what is written."""

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


@pytest.mark.parametrize("tty,bar", [(True, True), (False, True), (True, False)])
def test_progress_bar_on_a_terminal_log_lines_otherwise(monkeypatch, tty, bar):
    import sys
    term = _Terminal(tty)
    monkeypatch.setattr(sys, "stderr", term)
    trainer = _setup(extra=[cb.ProgressBar()] if bar else [])
    trainer.fit(steps=10)
    if not bar:
        assert term.text == ""
    elif tty:  # tqdm: step count, smoothed loss, validation loss, speed
        assert "10/10" in term.text and "loss=" in term.text and "chars/s=" in term.text
    else:      # one plain line per validation
        lines = [l for l in term.text.splitlines() if l]
        assert len(lines) == 2 and lines[0].startswith("step      5 | smooth loss ")
        assert "val " in lines[0] and "chars/s" in lines[0]


# ----- what a step reports: gradient norm, clipping, update/weight ratio ----------------------
def _flat(arrays):
    return np.concatenate([np.ravel(a).astype(np.float64) for a in arrays])


@pytest.mark.parametrize("clip", [None, 1e6, 1e-3])
def test_a_row_reports_the_gradient_norm_before_clipping_and_the_update_ratio(clip):
    trainer = _setup(val=False, schedule=False)
    trainer.clip_norm = clip
    trainer.train_step()                       # Adam's first step is special; look at the second
    params = list(trainer.model.parameters())
    before = [p.data.copy() for p in params]
    row = trainer.train_step()
    after = [p.data for p in params]
    grads = _flat(p.grad.data for p in params)  # what the optimizer used (clipped)
    step = np.linalg.norm(_flat(after) - _flat(before)) / np.linalg.norm(_flat(before))
    assert row["update_ratio"] == pytest.approx(step, rel=1e-4)
    if clip is None or clip == 1e6:
        assert row["grad_norm"] == pytest.approx(np.linalg.norm(grads), rel=1e-5)
        assert row["clipped"] == 0
    else:
        assert np.linalg.norm(grads) == pytest.approx(clip, rel=1e-3)  # clipped to clip ...
        assert row["grad_norm"] > 100 * clip and row["clipped"] == 1  # ... from this norm


def test_clip_value_counts_as_clipped_only_when_an_entry_was_cut():
    trainer = _setup(val=False, schedule=False, clip_value=1e6)
    trainer.clip_norm = None
    assert trainer.train_step()["clipped"] == 0
    trainer.clip_value = 1e-4
    row = trainer.train_step()
    assert row["clipped"] == 1 and row["grad_norm"] > 1e-4
    assert max(np.abs(p.grad.data).max() for p in trainer.model.parameters()) <= 1e-4


def test_csv_holds_the_new_columns_for_every_step(tmp_path):
    trainer = _setup(tmp_path, val=False)
    trainer.fit(steps=4)
    with open(tmp_path / "loss.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[-4:] == ["grad_norm", "clipped", "update_ratio", "clipped_fraction"]
    for r in rows:
        assert float(r["grad_norm"]) > 0 and r["clipped"] in ("0", "1")
        assert 0 < float(r["update_ratio"]) < 1


def test_resuming_an_old_format_log_keeps_its_rows_and_adds_the_columns(tmp_path):
    _setup(tmp_path, checkpoint_every=4, val=False).fit(steps=4)
    old = ("step", "loss", "smooth_loss", "val_loss", "lr", "chars_per_s", "elapsed_s")
    with open(tmp_path / "loss.csv", newline="") as f:
        rows = [{k: r[k] for k in old} for r in csv.DictReader(f)]
    with open(tmp_path / "loss.csv", "w", newline="") as f:  # as the previous release wrote it
        w = csv.DictWriter(f, fieldnames=old)
        w.writeheader()
        w.writerows(rows)
    second = _setup(tmp_path, val=False)
    second.load_state_dict(load_checkpoint(tmp_path / "checkpoint.npz"))
    second.fit(steps=7)
    with open(tmp_path / "loss.csv", newline="") as f:
        now = list(csv.DictReader(f))
    assert [int(r["step"]) for r in now] == list(range(1, 8))
    assert tuple(now[0]) == cb.CSV_FIELDS
    assert [r["loss"] for r in now[:4]] == [r["loss"] for r in rows]
    assert all(r["grad_norm"] == "" for r in now[:4]) and all(r["grad_norm"] for r in now[4:])


# ----- gradient flow through time at each validation --------------------------------------
def test_recording_gradient_flow_changes_no_number():
    """The same seed with and without GradientFlow: the same weights, optimizer state,
    carried state, losses and random stream (dropout draws from it)."""
    plain = _setup(layers=2, dropout=0.3)
    plain.fit(steps=12)
    plain_rng = tinygrad_rnn.get_rng().bit_generator.state
    flow = cb.GradientFlow(plain.callbacks[0].windows)
    watched = _setup(layers=2, dropout=0.3, extra=[flow])
    watched.fit(steps=12)
    assert tinygrad_rnn.get_rng().bit_generator.state == plain_rng
    a, b = _arrays(plain), _arrays(watched)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert [r["loss"] for r in plain.history] == [r["loss"] for r in watched.history]
    assert [r["val_loss"] for r in plain.history] == [r["val_loss"] for r in watched.history]
    assert [s for s, _ in flow.records] == [5, 10, 12]  # every validation, the final one too
    step, norms = flow.records[-1]
    assert sorted(norms) == ["LSTM layer 0", "LSTM layer 1"]  # the cell kind, not the attribute
    assert all(v.shape == (8,) and np.isfinite(v).all() and (v > 0).all() for v in norms.values())


def test_recording_puts_grad_back_and_restores_the_random_stream():
    trainer = _setup(layers=1, dropout=0.3)
    trainer.train_step()
    grads = [p.grad for p in trainer.model.parameters()]
    copies = [g.data.copy() for g in grads]
    state = tinygrad_rnn.get_rng().bit_generator.state
    norms = cb.GradientFlow(trainer.callbacks[0].windows).record(trainer)
    assert norms and tinygrad_rnn.get_rng().bit_generator.state == state
    assert all(p.grad is g for p, g in zip(trainer.model.parameters(), grads))
    assert all(np.array_equal(g.data, c) for g, c in zip(grads, copies))
    assert trainer.model.training


def test_grad_flow_values_match_the_layers_own_recording():
    trainer = _setup(layers=1, dropout=0.0)
    trainer.fit(steps=3)
    windows = trainer.callbacks[0].windows
    got = cb.GradientFlow(windows).record(trainer)
    x, y = windows[0]
    trainer.model.eval()
    with tinygrad_rnn.nn.record_grad_flow(trainer.model) as flow:
        out, _ = trainer.model(x, None)
        F.cross_entropy(out, Tensor(y)).backward()
    trainer.model.train()
    assert list(got) == ["LSTM layer 0"] and list(flow.norms) == ["rnn layer 0"]  # by kind
    np.testing.assert_allclose(got["LSTM layer 0"], flow.norms["rnn layer 0"], rtol=1e-6)


@pytest.mark.parametrize("cell,kind", [("mingru", "MinGRU"), ("minlstm", "MinLSTM"),
                                       ("indrnn", "IndRNN")])
def test_grad_flow_records_the_cells_without_a_step_loop(cell, kind):
    trainer = _setup(cell=cell, layers=2, dropout=0.0)
    norms = cb.GradientFlow(trainer.callbacks[0].windows).record(trainer)
    assert sorted(norms) == [f"{kind} layer 0", f"{kind} layer 1"]
    assert all(v.shape == (8,) and np.all(np.isfinite(v)) for v in norms.values())


def test_grad_flow_png_only_when_matplotlib_is_installed(tmp_path):
    val = _setup().callbacks[0].windows
    trainer = _setup(tmp_path, extra=[cb.GradientFlow(val, tmp_path / "grad_flow.png")])
    trainer.fit(steps=6)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert not (tmp_path / "grad_flow.png").exists()
    else:
        assert (tmp_path / "grad_flow.png").read_bytes()[:4] == b"\x89PNG"


def test_grad_flow_skips_cleanly_without_matplotlib(tmp_path, monkeypatch):
    import builtins
    real = builtins.__import__

    def no_matplotlib(name, *a, **kw):
        if name.split(".")[0] == "matplotlib":
            raise ImportError("No module named 'matplotlib'")
        return real(name, *a, **kw)
    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    val = _setup().callbacks[0].windows
    flow = cb.GradientFlow(val, tmp_path / "grad_flow.png")
    _setup(tmp_path, extra=[flow, cb.Plot(tmp_path / "loss.png")]).fit(steps=5)
    assert flow.records and not (tmp_path / "grad_flow.png").exists()


def test_the_optimizer_step_is_a_profiler_row():
    trainer = _setup(val=False)
    with tinygrad_rnn.profile() as p:
        trainer.train_step()
    assert p.rows["Adam.step"].calls == 1 and p.rows["Adam.step"].forward > 0
    assert p.rows["Trainer.checks+clip"].calls == 2 and "Dropout mask" in p.rows


@pytest.mark.parametrize("cell", ["mingru", "minlstm", "indrnn"])
def test_charrnn_takes_the_cells_without_a_product_in_the_time_loop(cell):
    from tinygrad_rnn import nn as _nn
    from tinygrad_rnn.models import CharRNN
    model = CharRNN(12, hidden_size=6, num_layers=2, cell=cell, embedding_dim=4)
    layer = {"mingru": _nn.MinGRU, "minlstm": _nn.MinLSTM, "indrnn": _nn.IndRNN}[cell]
    assert isinstance(model.rnn, layer) and model.rnn.num_layers == 2
    logits, state = model(np.zeros((5, 3), np.int64))
    assert logits.shape == (5, 3, 12) and state.shape == (2, 3, 6)
    again = CharRNN.from_config(model.config)
    assert sorted(again.state_dict()) == sorted(model.state_dict())


def test_loss_csv_has_the_fraction_of_steps_clipped_so_far(tmp_path):
    from tinygrad_rnn.callbacks import CSVLogger
    log = CSVLogger(tmp_path / "loss.csv")

    class FakeTrainer:
        step = 0
    log.on_fit_start(FakeTrainer())
    for step, clipped in enumerate([1, 0, 1, 1], start=1):
        log.on_step_end(FakeTrainer(), dict(step=step, loss=1.0, clipped=clipped))
    log.on_fit_end(FakeTrainer(), None)
    rows = list(csv.DictReader(open(tmp_path / "loss.csv")))
    assert np.allclose([float(r["clipped_fraction"]) for r in rows], [1.0, 0.5, 2 / 3, 0.75],
                       rtol=1e-5)
    resumed = CSVLogger(tmp_path / "loss.csv")
    FakeTrainer.step = 2
    resumed.on_fit_start(FakeTrainer())
    resumed.on_step_end(FakeTrainer(), dict(step=3, loss=1.0, clipped=0))
    resumed.on_fit_end(FakeTrainer(), None)
    rows = list(csv.DictReader(open(tmp_path / "loss.csv")))
    assert [r["step"] for r in rows] == ["1", "2", "3"]
    assert abs(float(rows[-1]["clipped_fraction"]) - 1 / 3) < 1e-6


def _val_column(path):
    with open(path, newline="") as f:
        return {int(r["step"]): r["val_loss"] for r in csv.DictReader(f)}


@pytest.mark.parametrize("stop", ["steps", "interrupt"])
def test_the_final_validation_is_in_the_csv_row_of_its_step(tmp_path, stop):
    # validation every 5 steps; the run ends at step 7, off that grid, and validates there
    def ctrl_c(t):
        if t.step == 7:
            raise KeyboardInterrupt
    trainer = _setup(tmp_path, extra=[At(ctrl_c)] if stop == "interrupt" else [])
    result = trainer.fit(steps=7 if stop == "steps" else 30)
    assert result.step == 7 and trainer.val_step == 7
    vals = _val_column(tmp_path / "loss.csv")
    assert sorted(vals) == list(range(1, 8))
    assert [s for s, v in vals.items() if v] == [5, 7]
    assert float(vals[7]) == pytest.approx(trainer.val_loss, rel=1e-5)
    assert trainer.history[-1]["val_loss"] == trainer.val_loss  # what Plot draws without a CSV
    best = load_checkpoint(tmp_path / "best.npz")
    assert vals[best["step"]] and float(vals[best["step"]]) == pytest.approx(best["val_loss"],
                                                                             rel=1e-5)

    # the resumed run keeps that row once and logs its own final validation too
    second = _setup(tmp_path, seed=5)
    second.load_state_dict(load_checkpoint(tmp_path / "checkpoint.npz"))
    second.fit(steps=12)
    again = _val_column(tmp_path / "loss.csv")
    assert _steps(tmp_path / "loss.csv") == list(range(1, 13))
    assert again[7] == vals[7] and [s for s, v in again.items() if v] == [5, 7, 10, 12]


def test_gradient_flow_state_is_checked_on_load_and_names_the_cell_kind():
    flow = cb.GradientFlow(None)
    for bad in ({"step": 0, "norms": {"LSTM layer 0": np.ones(3)}}, {"step": 2},
                {"step": 2, "norms": {"LSTM layer 0": [1.0, 2.0]}},
                {"step": 2, "norms": {"LSTM layer 0": np.ones((2, 2))}}):
        with pytest.raises(CheckpointError, match="GradientFlow state"):
            flow.load_state_dict(bad)
    assert flow.first is None and flow.state_dict() is None
    trainer = _setup(cell="lstm", layers=2, val=False)
    flow = cb.GradientFlow(trainer.train_windows)
    trainer.step = 3  # as at a validation of step 3
    norms = flow.record(trainer)
    assert sorted(norms) == ["LSTM layer 0", "LSTM layer 1"]
    again = cb.GradientFlow(None)
    again.load_state_dict(flow.state_dict())
    assert again.first[0] == 3 and sorted(again.first[1]) == sorted(norms)


def test_a_callback_row_holds_the_keys_the_readme_lists():
    rows = []

    class Keep(cb.Callback):
        def on_step_end(self, trainer, row):
            rows.append(dict(row))
    _setup(extra=[Keep()]).fit(steps=5)
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme[readme.index("### Your own callback"):]
    section = section[:section.index("Setting `trainer.should_stop`")]
    listed = set(re.findall(r"`([a-z_]+)`", section)) - {"row", "on_fit_start",
                                                           "on_step_end", "on_fit_end"}
    assert set(rows[-1]) == listed  # (step 5 is validated: val_loss is a number there)
    assert rows[-1]["val_loss"] is not None and rows[0]["val_loss"] is None
