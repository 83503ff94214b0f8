"""The training loop: truncated BPTT with the carried state detached between windows.

`Trainer` knows one step (forward from the carried state, loss, backward, NaN/Inf guard,
clipping, optimizer and schedule step, the parameters checked again, the state detached so
the next window's backward stops here) and the state that defines a run
(`state_dict()` / `load_state_dict()`: parameters, optimizer, schedule, RNG, data position,
carried state, callbacks), so a resumed run gives the same weights as an uninterrupted one.
Everything else (validation, `loss.csv`, progress, plot, checkpoints, early stopping) is a
callback from `tinygrad_rnn.callbacks`, called in the order given.

The window source is anything with `len()` (windows per epoch) and `[i]` (the i-th
`(inputs, targets)` window, consecutive windows continuing the same streams).
"""
from __future__ import annotations

import math
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

import tinygrad_rnn
from tinygrad_rnn._validate import check_int, check_number, check_positive
from tinygrad_rnn.checkpoint import CheckpointError, check_model_state, get
from tinygrad_rnn.function import no_grad
from tinygrad_rnn.nn.utils import clip_grad_norm_, clip_grad_value_, detach_state
from tinygrad_rnn.profiler import section
from tinygrad_rnn.tensor import Tensor


class TrainingDiverged(RuntimeError):
    """The loss, a gradient or a parameter became NaN or infinite."""


@dataclass
class TrainResult:
    """What a call to `Trainer.fit` did. `consistent` is False when it stopped inside a step
    (the in-memory weights may be half-updated and were not saved)."""

    step: int
    smooth_loss: float | None
    val_loss: float | None
    history: list = field(default_factory=list)
    interrupted: bool = False
    elapsed: float = 0.0
    checkpoint: str | None = None
    checkpoint_step: int | None = None
    stopped: str | None = None
    consistent: bool = True
    signal: int | None = None  # the signal that interrupted it (SIGINT, SIGTERM), if any


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


def _carried_arrays(state: Any) -> Any:
    """The carried state (None, a Tensor or nested tuples of Tensors) with arrays for Tensors."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.data.copy()
    if isinstance(state, (tuple, list)):
        return tuple(_carried_arrays(s) for s in state)
    raise TypeError(f"Trainer: cannot save a carried state of type {type(state).__name__}")


def _carried_tensors(saved: Any) -> Any:
    if saved is None:
        return None
    if isinstance(saved, np.ndarray) and saved.dtype.kind == "f":
        return Tensor(saved.copy())
    if isinstance(saved, (tuple, list)):
        return tuple(_carried_tensors(s) for s in saved)
    raise CheckpointError(f"the carried state holds a {type(saved).__name__}, expected float "
                          "arrays in tuples")


class Trainer:
    """Truncated-BPTT training of `model(x, state) -> (output, state)` with `loss_fn(out, y)`.

    scheduler   stepped once per optimizer step (None: a constant rate)
    callbacks   `tinygrad_rnn.callbacks.Callback`s, called in this order
    smoothing   EMA factor of the smoothed training loss
    """

    def __init__(self, model: Any, optimizer: Any, loss_fn: Callable, train_windows: Any, *,
                 scheduler: Any = None, clip_norm: float | None = None,
                 clip_value: float | None = None, callbacks: Sequence[Any] = (),
                 smoothing: float = 0.98):
        if len(train_windows) == 0:
            raise ValueError("Trainer: the training data holds no complete window")
        for name, v in (("clip_norm", clip_norm), ("clip_value", clip_value)):
            if v is not None:
                check_positive(v, name, "Trainer")
        check_number(smoothing, "smoothing", "Trainer", 0, 1, interval="[)")
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.train_windows, self.scheduler = train_windows, scheduler
        self.clip_norm, self.clip_value, self.smoothing = clip_norm, clip_value, smoothing
        self.callbacks = list(callbacks)
        self.step = 0            # optimizer steps done
        self.position = 0        # windows consumed (the next window is position % len)
        self.state: Any = None   # hidden state carried into the next window
        self.smooth_loss: float | None = None
        self.elapsed = 0.0       # seconds of training over all resumed runs
        self.val_loss: float | None = None   # set by callbacks.Validation
        self.val_step: int | None = None
        self.checkpoint: tuple | None = None  # (path, step) of the file on disk, from callbacks
        self.history: list = []  # this fit's rows (what loss.csv holds)
        self.max_steps: int | None = None
        self.should_stop: str | None = None   # a callback sets a reason to stop after this step
        self.log: Callable[[str], None] = lambda s: print(s, file=sys.stderr)

    # ----- the state that defines a run --------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything that decides the next weights, as a nested dict of arrays and JSON values."""
        return {
            "model": dict(self.model.state_dict()),
            "model_config": getattr(self.model, "config", None),
            "optimizer": self.optimizer.state_dict(),
            "optimizer_class": type(self.optimizer).__name__,
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "rng": tinygrad_rnn.get_rng().bit_generator.state,
            "step": self.step, "position": self.position, "carried": _carried_arrays(self.state),
            "smooth_loss": self.smooth_loss, "elapsed": self.elapsed,
            "val_loss": self.val_loss, "val_step": self.val_step,
            "callbacks": {_key(cb): cb.state_dict() for cb in self.callbacks},
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue the run `state` describes; CheckpointError (nothing changed) if it does not fit."""
        step = get(state, "step", int)
        position = get(state, "position", int)
        if step < 0 or position < 0:
            raise CheckpointError(f"step {step} and position {position} must be >= 0")
        smooth = get(state, "smooth_loss", (float, int, type(None)))
        elapsed = get(state, "elapsed", (float, int))
        val_loss = get(state, "val_loss", (float, int, type(None)))
        val_step = get(state, "val_step", (int, type(None)))
        check_model_state(self.model, get(state, "model", dict), state.get("model_config"))
        kind = get(state, "optimizer_class", str)
        if kind != type(self.optimizer).__name__:
            raise CheckpointError(f"saved with optimizer {kind}, this run uses "
                                  f"{type(self.optimizer).__name__}")
        saved_sched = get(state, "scheduler", (dict, type(None)))
        if (saved_sched is None) != (self.scheduler is None):
            raise CheckpointError(f"saved {'without' if saved_sched is None else 'with'} a "
                                  "learning-rate schedule; this run differs (check --lr-schedule)")
        if saved_sched is not None:
            _check_like(saved_sched, self.scheduler.state_dict(), "the schedule's state")
        rng = tinygrad_rnn.get_rng().bit_generator
        try:  # on a scratch generator: a crafted state must not touch the real one
            type(rng)().state = get(state, "rng", dict)
        except (TypeError, ValueError, KeyError) as e:
            raise CheckpointError(f"the random generator's state is unusable ({e})") from None
        carried = _carried_tensors(state.get("carried"))
        saved_cbs = get(state, "callbacks", dict)
        missing = [_key(cb) for cb in self.callbacks
                   if cb.state_dict() is not None and _key(cb) not in saved_cbs]
        if missing:
            raise CheckpointError(f"holds no state for the callbacks {missing}")

        # every check passed; the loads below check again and undo each other on failure
        undo = [(self.optimizer, self.optimizer.state_dict())]
        if self.scheduler is not None:
            undo.append((self.scheduler, self.scheduler.state_dict()))
        undo += [(cb, cb.state_dict()) for cb in self.callbacks]
        loaded: list = []
        try:
            self.optimizer.load_state_dict(state["optimizer"])
            if self.scheduler is not None:
                self.scheduler.load_state_dict(saved_sched)
            for cb in self.callbacks:  # what a callback saved, also when it holds none now
                if cb.state_dict() is not None or saved_cbs.get(_key(cb)) is not None:
                    cb.load_state_dict(saved_cbs[_key(cb)])
                    loaded.append(cb)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
            for obj, backup in undo:
                if backup is not None:
                    obj.load_state_dict(backup)
                elif obj in loaded:  # it held nothing before: back to nothing
                    obj.load_state_dict(None)
            raise CheckpointError(f"its state does not fit this run: {e}") from None
        self.model.load_state_dict({k: v.copy() for k, v in state["model"].items()})
        rng.state = state["rng"]
        self.step, self.position, self.state = step, position, carried
        self.smooth_loss = None if smooth is None else float(smooth)
        self.elapsed, self.val_step = float(elapsed), val_step
        self.val_loss = None if val_loss is None else float(val_loss)

    # ----- one step ------------------------------------------------------------------------
    def train_step(self) -> dict:
        """One optimizer step on the next window; its row (step, loss, lr it used, gradient
        norm before clipping, whether it was clipped, update/weight ratio, ...)."""
        n = len(self.train_windows)
        i = self.position % n
        if i == 0:  # a new pass over the streams starts from a zero state
            self.state = None
        with section("Trainer.next_window"):
            x, y = self.train_windows[i]
            self.optimizer.zero_grad()
        step = self.step + 1
        with np.errstate(all="ignore"):  # overflow is caught below, with the step number
            out, state = self.model(x, self.state)
            loss = self.loss_fn(out, Tensor(y))
            value = float(loss.item())
            if not math.isfinite(value):
                raise TrainingDiverged(self._diverged(step, f"the loss is {value}", True))
            loss.backward()
        named = list(self.model.named_parameters())
        with section("Trainer.checks+clip"):
            for name, p in named:
                if p.grad is not None and not np.isfinite(p.grad.data).all():
                    raise TrainingDiverged(self._diverged(step, f"the gradient of {name} is not "
                                                                "finite", True))
            params = [p for _, p in named if p.grad is not None]
            grad_norm, clipped = self._clip(params)
            before = [p.data.copy() for p in params]  # for the update/weight ratio
        lr = float(self.optimizer.param_groups[0]["lr"])  # the rate this step uses
        self.optimizer.step()
        with section("Trainer.checks+clip"):
            for name, p in named:
                if not np.isfinite(p.data).all():
                    raise TrainingDiverged(self._diverged(step, f"{name} is not finite after "
                                                                "the update", False))
            ratio = _update_ratio(params, before, [p for _, p in named])
        if self.scheduler is not None:
            self.scheduler.step()
        self.state = detach_state(state)  # truncate BPTT: the next backward stops here
        self.step, self.position = step, self.position + 1
        b = self.smoothing
        self.smooth_loss = value if self.smooth_loss is None else b * self.smooth_loss + (1 - b) * value
        units = x.shape[0] * x.shape[1] if np.ndim(x) >= 2 else np.size(x)
        return dict(step=step, loss=value, smooth_loss=self.smooth_loss, val_loss=None, lr=lr,
                    grad_norm=grad_norm, clipped=int(clipped), update_ratio=ratio,
                    units=int(units))

    def _clip(self, params: list) -> tuple:
        """Clip the gradients as configured: (global norm before clipping, whether it clipped)."""
        if self.clip_norm is not None:
            total = clip_grad_norm_(params, self.clip_norm).item()
            clipped = self.clip_norm / (total + 1e-6) < 1  # clip_grad_norm_'s own rule
        else:
            total = _global_norm(params)
            clipped = False
        if self.clip_value is not None:
            v = self.clip_value
            clipped = clipped or any(bool(np.any(np.abs(p.grad.data) > v)) for p in params)
            clip_grad_value_(params, v)
        return total, clipped

    def _diverged(self, step: int, what: str, before: bool) -> str:
        keep = (f"the last good checkpoint is {self.checkpoint[0]} (step {self.checkpoint[1]})"
                if self.checkpoint else "no checkpoint was written")
        when = "stopped before updating the weights" if before else "nothing was saved"
        return f"training diverged at step {step}: {what}; {when}, {keep}. Try a lower --lr or --clip-norm."

    # ----- the loop ------------------------------------------------------------------------
    def fit(self, steps: int | None = None, time_budget: float | None = None) -> TrainResult:
        """Train until `steps` optimizer steps are done in total, `time_budget` seconds pass or
        a callback sets `should_stop`.

        Ctrl-C finishes the current step, lets the callbacks save, and returns with
        `interrupted=True`; a second Ctrl-C stops at once (inside a step nothing is saved).
        SIGTERM (`kill`, `timeout`, a job scheduler) does the same as Ctrl-C. A
        KeyboardInterrupt raised by a callback counts as a Ctrl-C between steps.
        """
        if steps is None and time_budget is None:
            raise ValueError("fit: give steps, time_budget or both")
        if steps is not None:
            check_int(steps, "steps", "fit", minimum=0)
        if time_budget is not None:
            check_positive(time_budget, "time_budget", "fit")
        self.max_steps, self.should_stop, self.history = steps, None, []
        pending = threading.Event()
        caught: list = []  # the signals received, in order
        old_handlers = self._install_signals(pending, caught)
        start, start_step, before = time.perf_counter(), self.step, self.elapsed
        interrupted, consistent, units = False, True, 0
        try:
            try:
                for cb in self.callbacks:
                    cb.on_fit_start(self)
                while not pending.is_set() and self.should_stop is None:
                    if steps is not None and self.step >= steps:
                        break
                    if time_budget is not None and time.perf_counter() - start >= time_budget:
                        break
                    consistent = False
                    row = self.train_step()
                    consistent = True
                    units += row.pop("units")
                    now = time.perf_counter() - start
                    self.elapsed = before + now
                    row.update(chars_per_s=units / max(now, 1e-9), elapsed_s=self.elapsed)
                    self.history.append(row)
                    for cb in self.callbacks:
                        cb.on_step_end(self, row)
            except KeyboardInterrupt:
                interrupted = True
            except BaseException:  # a diverged run or a bug: callbacks close files, save nothing
                self._end(start, start_step, False, False)
                raise
            interrupted = interrupted or pending.is_set()
            if interrupted and not consistent:
                self.log(f"interrupted during step {self.step + 1}; not saving a half-updated "
                         f"model; {self._on_disk()}")
            try:
                result = self._end(start, start_step, interrupted, consistent)
            except KeyboardInterrupt:  # a second Ctrl-C during the final validation or save
                self.log(f"interrupted while finishing the run at step {self.step}; "
                         f"{self._on_disk()}")
                raise
            if interrupted:
                result.signal = caught[0] if caught else signal.SIGINT
            return result
        finally:
            self._restore_signals(old_handlers)

    def _on_disk(self) -> str:
        """Which checkpoint the callbacks last wrote (the files are written atomically)."""
        if not self.checkpoint:
            return "no checkpoint was written"
        return f"the checkpoint on disk is {self.checkpoint[0]} (step {self.checkpoint[1]})"

    def _end(self, start: float, start_step: int, interrupted: bool, consistent: bool) -> TrainResult:
        result = TrainResult(step=self.step, smooth_loss=self.smooth_loss, val_loss=None,
                             history=self.history, interrupted=interrupted,
                             stopped=self.should_stop, consistent=consistent)
        for cb in self.callbacks:
            cb.on_fit_end(self, result)
        result.val_loss = self.val_loss
        result.elapsed = time.perf_counter() - start
        if self.checkpoint:
            result.checkpoint, result.checkpoint_step = self.checkpoint
        return result

    # ----- Ctrl-C and SIGTERM --------------------------------------------------------------
    def _install_signals(self, pending: threading.Event, caught: list) -> dict:
        """First Ctrl-C (or SIGTERM): finish the current step, then save and stop. Second:
        stop now. An ignored signal (nohup, background jobs) stays ignored. The handlers
        replaced, by signal."""
        if threading.current_thread() is not threading.main_thread():
            return {}

        def handler(signum, frame):
            caught.append(signum)
            if pending.is_set():
                raise Interrupted(caught[0])
            pending.set()
            what = "interrupt" if signum == signal.SIGINT else "terminate signal"
            self.log(f"{what}: finishing this step, saving a checkpoint (Ctrl-C again to abort)")

        old = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(sig) is signal.SIG_IGN:
                continue
            try:
                old[sig] = signal.signal(sig, handler)
            except ValueError:
                pass
        return old

    @staticmethod
    def _restore_signals(old: dict) -> None:
        for sig, handler in old.items():
            signal.signal(sig, handler)


class Interrupted(KeyboardInterrupt):
    """The second signal's abort; `signum` is the first signal, the reason the run stopped
    (its exit status is 128 + signum, as for a process that signal killed)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _sq(a: np.ndarray) -> float:
    """sum(a**2): one BLAS dot (fast), in float64 when float32 would overflow."""
    v = float(np.vdot(a, a))
    return v if math.isfinite(v) else float(np.sum(np.square(a, dtype=np.float64)))


def _global_norm(params: list) -> float:
    """The 2-norm of all gradient entries together (what clip_grad_norm_ measures)."""
    return math.sqrt(sum(_sq(p.grad.data) for p in params))


def _update_ratio(updated: list, before: list, every: list) -> float | None:
    """||w_new - w_old|| / ||w_old|| over all parameters (None when the weights are all 0)."""
    delta = sum(_sq(p.data - b) for p, b in zip(updated, before))
    old = {id(p): b for p, b in zip(updated, before)}
    norm = sum(_sq(old.get(id(p), p.data)) for p in every)
    return math.sqrt(delta / norm) if norm > 0 else None


def _key(callback: Any) -> str:
    return getattr(callback, "name", None) or type(callback).__name__


def _check_like(saved: dict, own: dict, what: str) -> None:
    """`saved` has `own`'s keys with values of the same kinds (ints may stand for floats)."""
    if set(saved) != set(own):
        raise CheckpointError(f"{what} has keys {sorted(saved)}, expected {sorted(own)}")
    for k, v in own.items():
        got = saved[k]
        if isinstance(v, (list, tuple)) and isinstance(got, (list, tuple)) and len(got) == len(v):
            pairs = list(zip(got, v))  # per-group rates: each entry like ours
        else:
            pairs = [(got, v)]
        for g, o in pairs:
            want = (int, float) if isinstance(o, float) else type(o)
            if not isinstance(g, want) or (isinstance(g, bool) and not isinstance(o, bool)):
                raise CheckpointError(f"{what}: {k!r} holds {g!r}, expected {type(o).__name__}")
