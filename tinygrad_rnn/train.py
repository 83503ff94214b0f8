"""The training loop: truncated BPTT with the carried state detached between windows.

`Trainer.fit` runs optimizer steps over a window source (anything with `len()` giving the
windows per epoch and `[i]` giving the i-th `(inputs, targets)` window, consecutive windows
continuing the same streams). Each step: forward from the carried state, loss, backward,
NaN/Inf guard, clipping, optimizer and schedule step, then the state is detached so the
next window's backward stops here. Around that: periodic validation, a smoothed training
loss, chars (or samples) per second, a tqdm bar, `loss.csv`, `loss.png` and atomic
checkpoints, including one on Ctrl-C. Everything that decides the next weights (parameters,
optimizer and schedule state, RNG, data position, carried state) is in the checkpoint, so
a resumed run gives the same weights as an uninterrupted one.
"""
from __future__ import annotations

import csv
import math
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

import tinygrad_rnn
from tinygrad_rnn._validate import check_int, check_number, check_positive
from tinygrad_rnn.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from tinygrad_rnn.function import no_grad
from tinygrad_rnn.nn.utils import clip_grad_norm_, clip_grad_value_, detach_state
from tinygrad_rnn.optim import optimizer_state_to_arrays
from tinygrad_rnn.tensor import Tensor

CHECKPOINT_NAME = "checkpoint.npz"
CSV_FIELDS = ("step", "loss", "smooth_loss", "val_loss", "lr", "chars_per_s", "elapsed_s")


def limit_blas_threads(n: int = 1) -> bool:
    """Ask the BLAS library NumPy loaded (OpenBLAS) to use `n` threads; True if it could.

    The matrices of a small RNN are tiny: several BLAS threads on two busy cores spend more
    time waking each other than multiplying (5-10x slower steps measured). Environment
    variables such as OPENBLAS_NUM_THREADS only work before NumPy is imported, so this
    calls the library's own setter. Best effort: False where it is not found.
    """
    import ctypes
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower() and "/" in line}
    except OSError:
        return False
    names = ("openblas_set_num_threads", "openblas_set_num_threads64_",
             "scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads")
    done = False
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in names:
            setter = getattr(lib, name, None)
            if setter is not None:
                setter(ctypes.c_int(int(n)))
                done = True
                break
    return done


class TrainingDiverged(RuntimeError):
    """The loss or a gradient became NaN or infinite."""


@dataclass
class TrainResult:
    """What a call to `Trainer.fit` did."""

    step: int
    smooth_loss: float | None
    val_loss: float | None
    history: list = field(default_factory=list)
    interrupted: bool = False
    elapsed: float = 0.0
    checkpoint: str | None = None


def _state_arrays(state: Any, prefix: str = "h") -> dict:
    """The carried state (Tensor, tuple of Tensors, or None) as named arrays."""
    if state is None:
        return {}
    if isinstance(state, Tensor):
        return {prefix: state.data}
    out = {}
    for i, s in enumerate(state):
        out.update(_state_arrays(s, f"{prefix}{i}"))
    return out


def _state_from_arrays(arrays: dict, like: str) -> Any:
    """Inverse of `_state_arrays` given the structure tag saved beside it."""
    if like == "none":
        return None
    if like == "tensor":
        return Tensor(arrays["h"])
    n = int(like.split(":")[1])
    return tuple(Tensor(arrays[f"h{i}"]) for i in range(n))


def _state_kind(state: Any) -> str:
    if state is None:
        return "none"
    if isinstance(state, Tensor):
        return "tensor"
    if all(isinstance(s, Tensor) for s in state):
        return f"tuple:{len(state)}"
    raise TypeError(f"cannot checkpoint a carried state of type {type(state).__name__}")


def evaluate(model: Any, windows: Any, loss_fn: Callable, max_windows: int | None = None) -> float:
    """Mean loss over consecutive windows, carrying the state, in eval mode without a graph."""
    n = len(windows) if max_windows is None else min(len(windows), max_windows)
    if n == 0:
        raise ValueError("evaluate: no validation windows")
    was_training = model.training
    model.eval()
    total, state = 0.0, None
    try:
        with no_grad():
            for i in range(n):
                x, y = windows[i]
                out, state = model(x, state)
                total += float(loss_fn(out, Tensor(y)).item())
    finally:
        model.train(was_training)
    return total / n


class Trainer:
    """Truncated-BPTT training of `model(x, state) -> (output, state)` with `loss_fn(out, y)`.

    Arguments not obvious from their names:
      scheduler        stepped once per optimizer step (`None` for a constant rate)
      units_per_step   characters (or samples) one step consumes, for the speed figure
      out_dir          where `checkpoint.npz`, `loss.csv` and `loss.png` go (None: nowhere)
      meta             JSON-able facts stored in every checkpoint (model config, vocabulary)
      smoothing        EMA factor of the smoothed training loss
    """

    def __init__(self, model: Any, optimizer: Any, loss_fn: Callable, train_windows: Any, *,
                 scheduler: Any = None, val_windows: Any = None, clip_norm: float | None = None,
                 clip_value: float | None = None, val_every: int = 0,
                 val_windows_max: int | None = None,
                 checkpoint_every: int = 0, out_dir: str | os.PathLike | None = None,
                 meta: dict | None = None, units_per_step: int | None = None,
                 smoothing: float = 0.98, quiet: bool = False,
                 log: Callable[[str], None] | None = None):
        if len(train_windows) == 0:
            raise ValueError("Trainer: the training data holds no complete window")
        for name, v in (("clip_norm", clip_norm), ("clip_value", clip_value)):
            if v is not None:
                check_positive(v, name, "Trainer")
        check_number(smoothing, "smoothing", "Trainer", 0, 1, interval="[)")
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.train_windows, self.val_windows = train_windows, val_windows
        self.scheduler = scheduler
        self.clip_norm, self.clip_value = clip_norm, clip_value
        self.val_every, self.val_windows_max = val_every, val_windows_max
        self.checkpoint_every = checkpoint_every
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.meta = dict(meta or {})
        self.units_per_step = units_per_step
        self.smoothing = smoothing
        self.quiet = quiet
        self.log = log if log is not None else (lambda s: print(s, file=sys.stderr))
        self.step = 0            # optimizer steps done
        self.position = 0        # windows consumed (the next window is position % len)
        self.state: Any = None   # hidden state carried into the next window
        self.smooth_loss: float | None = None
        self.val_loss: float | None = None
        self.last_checkpoint: str | None = None
        self.last_checkpoint_step: int | None = None
        self.history: list = []
        self.hooks: list = []    # called as hook(trainer) after every completed step

    # ----- checkpoints ------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path | None:
        return self.out_dir / CHECKPOINT_NAME if self.out_dir is not None else None

    def checkpoint(self) -> Checkpoint:
        """Everything needed to continue bit-identically from the current step."""
        meta = dict(self.meta)
        meta.update(
            step=self.step, data_position=self.position, state_kind=_state_kind(self.state),
            rng_state=tinygrad_rnn.get_rng().bit_generator.state,
            optimizer_class=type(self.optimizer).__name__,
            scheduler=self.scheduler.state_dict() if self.scheduler is not None else None,
            smooth_loss=self.smooth_loss, val_loss=self.val_loss,
        )
        return Checkpoint(
            params={k: np.asarray(v) for k, v in self.model.state_dict().items()},
            optimizer=optimizer_state_to_arrays(self.optimizer.state_dict()),
            state=_state_arrays(self.state), meta=meta)

    def save(self) -> str | None:
        if self.checkpoint_path is None:
            return None
        path = save_checkpoint(self.checkpoint_path, self.checkpoint())
        self.last_checkpoint, self.last_checkpoint_step = str(path), self.step
        return str(path)

    def resume(self, path: str | os.PathLike) -> Checkpoint:
        """Load model, optimizer, schedule, RNG, data position and carried state from `path`."""
        ckpt = load_checkpoint(path)
        meta = ckpt.meta
        for key in ("step", "data_position", "rng_state", "state_kind"):
            if key not in meta:
                raise CheckpointError(f"checkpoint {path} cannot be resumed: it has no {key!r}")
        if (meta.get("scheduler") is None) != (self.scheduler is None):
            raise CheckpointError(f"checkpoint {path} was saved "
                                  f"{'without' if meta.get('scheduler') is None else 'with'} a "
                                  f"learning-rate schedule; this run differs (check --lr-schedule)")
        try:
            state = _state_from_arrays(ckpt.state, meta["state_kind"])
        except (KeyError, ValueError, IndexError) as e:
            raise CheckpointError(f"checkpoint {path}: carried state is incomplete ({e})") from None
        ckpt.restore(self.model, self.optimizer)
        if self.scheduler is not None:
            self.scheduler.load_state_dict(meta["scheduler"])
        tinygrad_rnn.get_rng().bit_generator.state = meta["rng_state"]
        self.step, self.position, self.state = int(meta["step"]), int(meta["data_position"]), state
        self.smooth_loss, self.val_loss = meta.get("smooth_loss"), meta.get("val_loss")
        self.last_checkpoint, self.last_checkpoint_step = str(path), self.step
        return ckpt

    # ----- one step ---------------------------------------------------------------------
    def _train_step(self) -> float:
        n = len(self.train_windows)
        i = self.position % n
        if i == 0:  # a new pass over the streams starts from a zero state
            self.state = None
        x, y = self.train_windows[i]
        self.optimizer.zero_grad()
        step = self.step + 1
        with np.errstate(all="ignore"):  # overflow is caught below, with the step number
            out, state = self.model(x, self.state)
            loss = self.loss_fn(out, Tensor(y))
            value = float(loss.item())
            if not math.isfinite(value):
                raise TrainingDiverged(self._diverged_message(step, f"the loss is {value}"))
            loss.backward()
        params = [p for p in self.model.parameters() if p.grad is not None]
        for name, p in self.model.named_parameters():
            if p.grad is not None and not np.isfinite(p.grad.data).all():
                raise TrainingDiverged(self._diverged_message(step, f"the gradient of {name} "
                                                                    "is not finite"))
        if self.clip_norm is not None:
            clip_grad_norm_(params, self.clip_norm)
        if self.clip_value is not None:
            clip_grad_value_(params, self.clip_value)
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        self.state = detach_state(state)  # truncate BPTT: the next backward stops here
        self.step, self.position = step, self.position + 1
        return value

    def _diverged_message(self, step: int, what: str) -> str:
        keep = (f"the last good checkpoint is {self.last_checkpoint} (step "
                f"{self.last_checkpoint_step})" if self.last_checkpoint
                else "no checkpoint was written")
        return (f"training diverged at step {step}: {what}; stopped before updating the weights, "
                f"{keep}. Try a lower --lr or --clip-norm.")

    def _lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    # ----- the loop ---------------------------------------------------------------------
    def fit(self, steps: int | None = None, time_budget: float | None = None) -> TrainResult:
        """Train until `steps` optimizer steps are done in total or `time_budget` seconds pass.

        Ctrl-C (or a KeyboardInterrupt from a hook) between steps saves a checkpoint and
        returns with `interrupted=True`.
        """
        if steps is None and time_budget is None:
            raise ValueError("fit: give steps, time_budget or both")
        if steps is not None:
            check_int(steps, "steps", "fit", minimum=0)
        if time_budget is not None:
            check_positive(time_budget, "time_budget", "fit")
        csv_file, writer = self._open_csv()
        bar = self._progress(steps)
        interrupted, consistent = False, True
        pending = threading.Event()
        old_handler = self._install_sigint(pending)
        start = time.perf_counter()
        start_step = self.step
        try:
            while (steps is None or self.step < steps) and not pending.is_set():
                elapsed = time.perf_counter() - start
                if time_budget is not None and elapsed >= time_budget:
                    break
                consistent = False
                loss = self._train_step()
                consistent = True
                b = self.smoothing
                self.smooth_loss = (loss if self.smooth_loss is None
                                    else b * self.smooth_loss + (1 - b) * loss)
                val = None
                if (self.val_windows is not None and self.val_every
                        and self.step % self.val_every == 0):
                    val = self.val_loss = evaluate(self.model, self.val_windows, self.loss_fn,
                                                   self.val_windows_max)
                elapsed = time.perf_counter() - start
                speed = ((self.step - start_step) * (self.units_per_step or 1)) / max(elapsed, 1e-9)
                row = dict(step=self.step, loss=loss, smooth_loss=self.smooth_loss, val_loss=val,
                           lr=self._lr(), chars_per_s=speed, elapsed_s=elapsed)
                self.history.append(row)
                if writer is not None:
                    writer.writerow({k: ("" if v is None else f"{v:.6g}"
                                         if isinstance(v, float) else v) for k, v in row.items()})
                self._report(bar, row)
                if self.checkpoint_every and self.step % self.checkpoint_every == 0:
                    self.save()
                for hook in self.hooks:
                    hook(self)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            self._restore_sigint(old_handler)
            if bar is not None:
                bar.close()
            if csv_file is not None:
                csv_file.close()
        interrupted = interrupted or pending.is_set()
        if interrupted and not consistent:
            # interrupted inside a step: the weights may be half-updated, keep the last file
            self.log(f"interrupted during step {self.step + 1}; not saving a half-updated model"
                     + (f", last checkpoint: {self.last_checkpoint}"
                        if self.last_checkpoint else ""))
        elif self.last_checkpoint_step != self.step or self.last_checkpoint is None:
            self.save()
        last = self.history[-1] if self.history else None
        if (self.val_windows is not None and consistent and last is not None
                and last["val_loss"] is None):  # report the final weights' validation loss
            self.val_loss = evaluate(self.model, self.val_windows, self.loss_fn,
                                     self.val_windows_max)
        self._plot()
        return TrainResult(step=self.step, smooth_loss=self.smooth_loss, val_loss=self.val_loss,
                           history=self.history, interrupted=interrupted,
                           elapsed=time.perf_counter() - start, checkpoint=self.last_checkpoint)

    # ----- reporting --------------------------------------------------------------------
    def _install_sigint(self, pending: threading.Event) -> Any:
        """First Ctrl-C: finish the current step, then save and stop. Second: stop now."""
        if threading.current_thread() is not threading.main_thread():
            return None

        def handler(signum, frame):
            if pending.is_set():
                raise KeyboardInterrupt
            pending.set()
            self.log("interrupt: finishing this step, saving a checkpoint (Ctrl-C again to abort)")

        try:
            return signal.signal(signal.SIGINT, handler)
        except ValueError:
            return None

    @staticmethod
    def _restore_sigint(old: Any) -> None:
        if old is not None:
            signal.signal(signal.SIGINT, old)

    def _progress(self, steps: int | None) -> Any:
        if self.quiet or not sys.stderr.isatty():
            return None
        from tqdm import tqdm
        return tqdm(total=steps, initial=self.step, unit="step", file=sys.stderr,
                    dynamic_ncols=True, leave=True)

    def _report(self, bar: Any, row: dict) -> None:
        if bar is not None:
            post = {"loss": f"{row['smooth_loss']:.3f}"}
            if self.val_loss is not None:
                post["val"] = f"{self.val_loss:.3f}"
            post["chars/s"] = f"{row['chars_per_s']:.0f}"
            bar.set_postfix(post, refresh=False)
            bar.update(1)
        elif not self.quiet and row["val_loss"] is not None:
            self.log(f"step {row['step']:>6} | loss {row['smooth_loss']:.4f} | "
                     f"val {row['val_loss']:.4f} | lr {row['lr']:.3g} | "
                     f"{row['chars_per_s']:.0f} chars/s | {row['elapsed_s']:.0f}s")

    def _open_csv(self) -> tuple:
        if self.out_dir is None:
            return None, None
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.out_dir / "loss.csv"
        kept: list = []
        if self.step > 0 and path.exists():  # resuming: keep rows up to the checkpoint's step
            with open(path, newline="") as f:
                kept = [r for r in csv.DictReader(f) if r.get("step", "").isdigit()
                        and int(r["step"]) <= self.step]
        f = open(path, "w", newline="")
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(kept)
        return f, writer

    def _plot(self) -> str | None:
        """loss.png beside loss.csv when matplotlib is installed (it is an optional extra)."""
        if self.out_dir is None or not self.history:
            return None
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            return None
        steps = [r["step"] for r in self.history]
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.plot(steps, [r["smooth_loss"] for r in self.history], label="train (smoothed)")
        val = [(r["step"], r["val_loss"]) for r in self.history if r["val_loss"] is not None]
        if val:
            ax.plot(*zip(*val), "o-", label="validation")
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.legend()
        fig.tight_layout()
        path = self.out_dir / "loss.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return str(path)
