"""What a training run does besides stepping: small callbacks that `Trainer.fit` calls in order.

    on_fit_start(trainer)         before the first step of a `fit` (also after a resume)
    on_step_end(trainer, row)     after every step; `row` holds step, loss, smooth_loss,
                                  val_loss (None unless validated), lr (the rate the step
                                  used), chars_per_s, elapsed_s; earlier callbacks may add to it
    on_fit_end(trainer, result)   always; `result.consistent` is False when the weights may be
                                  half-updated (stopped inside a step, diverged): save nothing
    state_dict() / load_state_dict(state)   what a resume must restore (None: nothing now;
                                  a state the checkpoint holds is loaded all the same)

A callback stops the run by setting `trainer.should_stop` to a reason. The CLI's order:
Validation, GradientFlow, EarlyStopping, CSVLogger, Checkpoint, ProgressBar, Plot.
"""
from __future__ import annotations

import csv
import io
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_rnn import parallel
from tinygrad_rnn.checkpoint import CheckpointError, atomic_write, remove_temp_files, save_checkpoint
from tinygrad_rnn.nn.grad_flow import record_grad_flow
from tinygrad_rnn.tensor import Tensor, get_rng
from tinygrad_rnn.train import evaluate

CHECKPOINT_NAME = "checkpoint.npz"
BEST_NAME = "best.npz"
CSV_FIELDS = ("step", "loss", "smooth_loss", "val_loss", "lr", "chars_per_s", "elapsed_s",
              "grad_norm", "clipped", "update_ratio", "clipped_fraction")
GRAD_FLOW_NAME = "grad_flow.png"


class Callback:
    """Base class: every hook does nothing."""

    name: str | None = None  # key of its state in a checkpoint (default: the class name)

    def on_fit_start(self, trainer: Any) -> None:
        pass

    def on_step_end(self, trainer: Any, row: dict) -> None:
        pass

    def on_fit_end(self, trainer: Any, result: Any) -> None:
        pass

    def state_dict(self) -> dict | None:
        return None

    def load_state_dict(self, state: dict) -> None:
        pass


class Validation(Callback):
    """Mean loss over (at most `max_windows` of) `windows` every `every` steps and at the end
    (when the last step was not validated): `row["val_loss"]`, `trainer.val_loss`. The final
    one comes after the step's row went to the callbacks: it is written into the last row of
    `trainer.history`, and callbacks after this one find it in `trainer.val_loss` with
    `trainer.val_step == trainer.step` (CSVLogger and Checkpoint record it there)."""

    def __init__(self, windows: Any, every: int = 100, max_windows: int | None = None):
        self.windows, self.every, self.max_windows = windows, every, max_windows

    def _run(self, trainer: Any) -> float:
        trainer.val_loss = evaluate(trainer.model, self.windows, trainer.loss_fn, self.max_windows)
        trainer.val_step = trainer.step
        return trainer.val_loss

    def on_step_end(self, trainer: Any, row: dict) -> None:
        if self.every and trainer.step % self.every == 0:
            row["val_loss"] = self._run(trainer)

    def on_fit_end(self, trainer: Any, result: Any) -> None:
        if result.consistent and trainer.step > 0 and trainer.val_step != trainer.step:
            val = self._run(trainer)
            if trainer.history and trainer.history[-1]["step"] == trainer.step:
                trainer.history[-1]["val_loss"] = val


class GradientFlow(Callback):
    """Gradient flow through time at each validation: ||dL/dh_t|| at every step t of every
    recurrent layer (`nn.record_grad_flow`), from one extra forward and backward of the
    first of `windows` from a zero state, in eval mode (no dropout).

    The run does not notice: the parameters' `.grad` are put back afterwards and the random
    generator's state is restored, so the weights are those of a run without it.
    `records` holds (step, norms) of this fit, `first` the first record of the whole run
    (kept in the checkpoint, so a resumed run still has it); at the end `path` (a PNG, when
    matplotlib is installed) shows the first and the latest. Curves are named by the
    layer's kind ("LSTM layer 0"), with its place in the model when two layers share a kind.
    """

    def __init__(self, windows: Any, path: str | os.PathLike | None = None):
        self.windows, self.path = windows, None if path is None else Path(path)
        self.records: list = []
        self.first: tuple | None = None

    def record(self, trainer: Any) -> dict:
        """The norms for the model as it is now (also appended to `records`)."""
        model = trainer.model
        x, y = self.windows[0]
        params = list(model.parameters())
        grads = [p.grad for p in params]
        rng = get_rng().bit_generator
        rng_state, was_training = rng.state, model.training
        model.eval()
        try:
            for p in params:
                p.grad = None
            with record_grad_flow(model) as flow, np.errstate(all="ignore"):
                out, _ = model(x, None)
                trainer.loss_fn(out, Tensor(y)).backward()
        finally:
            for p, g in zip(params, grads):
                p.grad = g
            model.train(was_training)
            rng.state = rng_state
        norms = _by_kind(model, flow.norms)
        if norms:
            self.records.append((trainer.step, norms))
            if self.first is None:
                self.first = (trainer.step, norms)
        return norms

    def on_fit_start(self, trainer: Any) -> None:
        self.records = []
        if trainer.step == 0:  # a new run (a resume restores `first` from its checkpoint)
            self.first = None

    def on_step_end(self, trainer: Any, row: dict) -> None:
        if row.get("val_loss") is not None:
            self.record(trainer)

    def on_fit_end(self, trainer: Any, result: Any) -> None:
        recorded = self.records and self.records[-1][0] == trainer.step
        if result.consistent and trainer.step > 0 and trainer.val_step == trainer.step \
                and not recorded:
            self.record(trainer)  # the final validation of callbacks.Validation
        if self.path is not None and self.records:
            self.plot(self.path)

    def state_dict(self) -> dict | None:
        """The run's first record (None before the first validation)."""
        if self.first is None:
            return None
        step, norms = self.first
        return {"step": step, "norms": {k: np.asarray(v, np.float64) for k, v in norms.items()}}

    def load_state_dict(self, state: dict | None) -> None:
        """The run's first record from a checkpoint (None: the run has none yet)."""
        if state is None:
            self.first = None
            return
        where = "GradientFlow state"
        if not isinstance(state, dict) or set(state) != {"step", "norms"}:
            raise CheckpointError(f"{where} must have the keys ['norms', 'step']")
        step, norms = state["step"], state["norms"]
        if isinstance(step, bool) or not isinstance(step, int) or step < 1:
            raise CheckpointError(f"{where} 'step' is {step!r}, expected an integer >= 1")
        if not isinstance(norms, dict) or not norms or not all(
                isinstance(k, str) and isinstance(v, np.ndarray) and v.ndim == 1
                and v.dtype.kind == "f" and v.size > 0 for k, v in norms.items()):
            raise CheckpointError(f"{where} 'norms' must map layer names to 1-d float arrays")
        self.first = (step, {k: v.copy() for k, v in norms.items()})

    def plot(self, path: str | os.PathLike) -> bool:
        """Draw the run's first and the latest record to `path`; False without matplotlib."""
        from tinygrad_rnn.debug import plot_grad_flow
        first = [self.first] if self.first is not None else self.records[:1]
        chosen = first + [r for r in self.records[-1:] if not first or r[0] != first[0][0]]
        curves = {f"{name}, step {step}": v for step, norms in chosen for name, v in norms.items()}
        steps = len(next(iter(curves.values())))
        try:
            fig = plot_grad_flow(curves, title=f"Gradient flow through time (a validation "
                                 f"window of {steps} steps)")
        except ImportError:  # matplotlib is an optional extra
            return False
        except ValueError:  # every norm zero: nothing a log axis can show
            return False
        import matplotlib.pyplot as plt
        try:
            atomic_write(Path(path), lambda f: fig.savefig(f, format="png", dpi=100))
        finally:
            plt.close(fig)
        return True


class EarlyStopping(Callback):
    """Stop when the validation loss has not improved for `patience` validations."""

    def __init__(self, patience: int):
        self.patience, self.best, self.best_step, self.bad = patience, None, None, 0

    def on_step_end(self, trainer: Any, row: dict) -> None:
        val = row.get("val_loss")
        if val is None:
            return
        if self.best is None or val < self.best:
            self.best, self.best_step, self.bad = val, trainer.step, 0
            return
        self.bad += 1
        if self.bad >= self.patience:
            trainer.should_stop = (f"early stop: no better validation loss in {self.patience} "
                                   f"validations (best {self.best:.4f} at step {self.best_step})")

    def state_dict(self) -> dict | None:
        """None before the first validation (so that --patience may be added at a resume of
        a run without it: there is nothing to restore)."""
        if self.best is None:
            return None
        return {"best": self.best, "best_step": self.best_step, "bad": self.bad}

    def load_state_dict(self, state: dict | None) -> None:
        if state is None:
            self.best, self.best_step, self.bad = None, None, 0
            return
        _check_numbers(state, ("best", "best_step", "bad"), "EarlyStopping")
        self.best, self.best_step, self.bad = state["best"], state["best_step"], state["bad"]


class CSVLogger(Callback):
    """One `loss.csv` row per step, flushed at once (so it is on disk before any checkpoint
    that follows it). A resumed run keeps the complete rows up to its step and continues.
    The final validation of `Validation` (placed before this callback) is written into the
    row of its step at the end."""

    def __init__(self, path: str | os.PathLike):
        self.path, self._file, self._writer = Path(path), None, None
        self._last: dict | None = None  # the last row written, as text
        self._steps = self._clipped = 0  # for clipped_fraction: the share of steps clipped

    def on_fit_start(self, trainer: Any) -> None:
        remove_temp_files(self.path.parent, self.path.name)
        kept = self._rows_up_to(trainer.step) if trainer.step > 0 else []
        self._steps = len(kept)  # a resumed run counts on from the rows it keeps
        self._clipped = sum(r.get("clipped") == "1" for r in kept)

        def write(f):
            text = io.TextIOWrapper(f, encoding="utf-8", newline="")
            w = csv.DictWriter(text, fieldnames=CSV_FIELDS)
            w.writeheader()
            w.writerows(kept)
            text.flush()
            text.detach()
        atomic_write(self.path, write)  # a kill during this rewrite must not lose the log
        self._file = open(self.path, "a", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._file, fieldnames=CSV_FIELDS)

    def _rows_up_to(self, step: int) -> list:
        """Complete rows of earlier runs with increasing steps <= `step` (a killed run may
        have left rows past its checkpoint and half a line)."""
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines(keepends=True)
        if lines and not lines[-1].endswith("\n"):
            lines.pop()
        kept, last = [], 0
        for r in csv.DictReader(lines):
            s = r.get("step") or ""
            if s.isdigit() and last < int(s) <= step and None not in r.values():
                kept.append({k: r.get(k, "") for k in CSV_FIELDS})
                last = int(s)
        return kept

    def on_step_end(self, trainer: Any, row: dict) -> None:
        self._steps += 1
        self._clipped += bool(row.get("clipped"))
        row = {**row, "clipped_fraction": self._clipped / self._steps}
        self._last = {k: _cell(row.get(k)) for k in CSV_FIELDS}
        self._writer.writerow(self._last)
        self._file.flush()

    def on_fit_end(self, trainer: Any, result: Any) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        last, step = self._last, getattr(trainer, "step", None)
        if (last is not None and last["val_loss"] == "" and last["step"] == step
                and getattr(trainer, "val_step", None) == step and trainer.val_loss is not None):
            self._rewrite_last({**last, "val_loss": _cell(float(trainer.val_loss))})

    def _rewrite_last(self, row: dict) -> None:
        """Replace the last line of the log by `row`, atomically (the checkpoint of this step
        may be on disk already: a kill must leave the old line or the new one)."""
        with open(self.path, newline="", encoding="utf-8") as f:
            lines = f.read().splitlines(keepends=True)
        buf = io.StringIO(newline="")
        csv.DictWriter(buf, fieldnames=CSV_FIELDS).writerow(row)
        lines[-1] = buf.getvalue()
        atomic_write(self.path, lambda f: f.write("".join(lines).encode("utf-8")))
        self._last = row


class Checkpoint(Callback):
    """`checkpoint.npz` in `folder` every `every` steps and at the end, and `best.npz` at each
    new best validation loss (`keep_best`). Each file is the whole `trainer.state_dict()`
    plus `meta` (facts about the run, such as the model config and vocabulary), written
    atomically; temporary files of an interrupted save are removed at the next start."""

    def __init__(self, folder: str | os.PathLike, every: int = 500, keep_best: bool = True,
                 meta: dict | None = None):
        self.folder, self.every, self.keep_best = Path(folder), every, keep_best
        self.meta = dict(meta or {})
        self.best, self.best_step = None, None

    @property
    def path(self) -> Path:
        return self.folder / CHECKPOINT_NAME

    def _state(self, trainer: Any) -> dict:
        return dict(trainer.state_dict(), meta=self.meta)

    def save(self, trainer: Any) -> Path:
        path = save_checkpoint(self.path, self._state(trainer))
        trainer.checkpoint = (str(path), trainer.step)
        return path

    def _maybe_best(self, trainer: Any, val: float | None) -> None:
        if self.keep_best and val is not None and (self.best is None or val < self.best):
            self.best, self.best_step = val, trainer.step
            save_checkpoint(self.folder / BEST_NAME, self._state(trainer))

    def on_fit_start(self, trainer: Any) -> None:
        for name in (CHECKPOINT_NAME, BEST_NAME):
            remove_temp_files(self.folder, name)

    def on_step_end(self, trainer: Any, row: dict) -> None:
        self._maybe_best(trainer, row.get("val_loss"))
        if self.every and trainer.step % self.every == 0:
            self.save(trainer)

    def on_fit_end(self, trainer: Any, result: Any) -> None:
        if not result.consistent:
            return
        if trainer.val_step == trainer.step:
            self._maybe_best(trainer, trainer.val_loss)
        if trainer.checkpoint is None or trainer.checkpoint[1] != trainer.step:
            self.save(trainer)

    def state_dict(self) -> dict:
        return {"best": self.best, "best_step": self.best_step}

    def load_state_dict(self, state: dict) -> None:
        _check_numbers(state, ("best", "best_step"), "Checkpoint")
        self.best, self.best_step = state["best"], state["best_step"]


class ProgressBar(Callback):
    """A tqdm bar on a terminal; elsewhere one log line per validation."""

    def __init__(self):
        self.bar = None

    def on_fit_start(self, trainer: Any) -> None:
        if sys.stderr.isatty():
            from tqdm import tqdm
            self.bar = tqdm(total=trainer.max_steps, initial=trainer.step, unit="step",
                            file=sys.stderr, dynamic_ncols=True, leave=True)

    def on_step_end(self, trainer: Any, row: dict) -> None:
        if self.bar is not None:
            post = {"smooth loss": f"{row['smooth_loss']:.3f}"}
            if trainer.val_loss is not None:
                post["val"] = f"{trainer.val_loss:.3f}"
            post["chars/s"] = f"{row['chars_per_s']:.0f}"
            post["threads"] = parallel.get_num_threads()
            self.bar.set_postfix(post, refresh=False)
            self.bar.update(1)
        elif row["val_loss"] is not None:
            trainer.log(f"step {row['step']:>6} | smooth loss {row['smooth_loss']:.4f} | "
                        f"val {row['val_loss']:.4f} | lr {row['lr']:.3g} | "
                        f"{row['chars_per_s']:.0f} chars/s on {parallel.get_num_threads()} "
                        f"thread(s) | {row['elapsed_s']:.0f}s")

    def on_fit_end(self, trainer: Any, result: Any) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class Plot(Callback):
    """`path` (a PNG) of the smoothed training and the validation loss at the end, from the
    whole `csv_path` log when given (earlier resumed runs included), when matplotlib is
    installed (an optional extra)."""

    def __init__(self, path: str | os.PathLike, csv_path: str | os.PathLike | None = None):
        self.path, self.csv_path = Path(path), csv_path

    def on_fit_end(self, trainer: Any, result: Any) -> None:
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            return
        rows = trainer.history
        if self.csv_path is not None and Path(self.csv_path).exists():
            with open(self.csv_path, newline="", encoding="utf-8") as f:
                rows = [{k: (float(v) if v else None) for k, v in r.items()} for r in csv.DictReader(f)]
        if not rows:
            return
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.plot([r["step"] for r in rows], [r["smooth_loss"] for r in rows], label="train (smoothed)")
        val = [(r["step"], r["val_loss"]) for r in rows if r["val_loss"] is not None]
        if val:
            ax.plot(*zip(*val), "o-", label="validation")
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.legend()
        fig.tight_layout()
        atomic_write(self.path, lambda f: fig.savefig(f, format="png", dpi=100))
        plt.close(fig)


def _by_kind(model: Any, norms: dict) -> dict:
    """`norms` with each layer named by its kind ("rnn layer 0" of an LSTM: "LSTM layer 0");
    "<place> (<kind>) layer 0" where two recurrent layers of the model share a kind."""
    found = {}  # the name record_grad_flow gives a module -> (its place, its kind)
    for place, m in model.named_modules():
        prefix = place or type(m).__name__.lower()
        if any(k.startswith(prefix + " layer ") for k in norms):
            found[prefix] = (place, type(m).__name__)
    kinds = [kind for _, kind in found.values()]
    out = {}
    for name, v in norms.items():
        prefix = max((p for p in found if name.startswith(p + " layer ")), key=len, default=None)
        if prefix is None:
            out[name] = v
            continue
        place, kind = found[prefix]
        label = kind if kinds.count(kind) == 1 or not place else f"{place} ({kind})"
        out[label + name[len(prefix):]] = v
    return out


def _cell(value: Any) -> Any:
    """A loss.csv field: empty for None, floats with 6 significant digits."""
    return "" if value is None else f"{value:.6g}" if isinstance(value, float) else value


def _check_numbers(state: Any, keys: tuple, who: str) -> None:
    if not isinstance(state, dict) or set(state) != set(keys):
        raise CheckpointError(f"{who} state must have the keys {list(keys)}")
    for k in keys:
        v = state[k]
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise CheckpointError(f"{who} state {k!r} is a {type(v).__name__}, expected a number")
