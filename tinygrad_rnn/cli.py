"""The `tinygrad-rnn` command: train | sample | gradcheck | bench.

Every user error (bad argument, missing file, unusable corpus, bad checkpoint, diverged
training) ends as one line on stderr and a non-zero exit status, never a traceback. Output
piped into a reader that stops early (`| head`) ends quietly with status 141 (128 + SIGPIPE).
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

import tinygrad_rnn
from tinygrad_rnn import optim
from tinygrad_rnn import callbacks as cb
from tinygrad_rnn.callbacks import BEST_NAME, CHECKPOINT_NAME
from tinygrad_rnn.checkpoint import CheckpointError, get, load_checkpoint
from tinygrad_rnn.data.batching import TBPTTBatcher, train_val_split
from tinygrad_rnn.data.text import CharVocab, default_corpus, load_text
from tinygrad_rnn.models import CELLS, CharRNN
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.sample import load_model, sample
from tinygrad_rnn import parallel, runs
from tinygrad_rnn.train import Trainer, TrainingDiverged

PROG = "tinygrad-rnn"
BROKEN_PIPE_STATUS = 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader left
DEFAULT_TIME_BUDGET = 150.0
PROFILE_STEPS, PROFILE_WARMUP = 5, 2  # bench --profile
OPTIMIZERS = {"sgd": optim.SGD, "adam": optim.Adam, "adamw": optim.AdamW,
              "adagrad": optim.Adagrad, "rmsprop": optim.RMSprop}


class UsageError(Exception):
    """A bad command line, reported as one line with exit status 2."""


class _Formatter(argparse.HelpFormatter):
    """argparse's help, but lines never break inside an option (`--val-every`)."""

    def _split_lines(self, text: str, width: int) -> list:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # one line instead of usage + message
        raise UsageError(f"{self.prog}: error: {message} (see {self.prog} --help)")


def _number(cast: type, ok, expected: str):
    """An argparse type: `cast` the text, then require ok(value), else say what was expected."""
    def parse(s: str):
        try:
            v = cast(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {s!r}") from None
        if not ok(v):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {v}")
        return v
    return parse


_positive_int = _number(int, lambda v: v >= 1, "a positive integer")
_nonneg_int = _number(int, lambda v: v >= 0, "an integer >= 0")
_positive_float = _number(float, lambda v: 0 < v < float("inf"), "a positive finite number")
_dropout = _number(float, lambda v: 0 <= v < 1, "a number in [0, 1)")
_fraction = _number(float, lambda v: 0 < v < 1, "a number in (0, 1)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="Train, sample and check recurrent networks built on "
                "tinygrad_rnn, a small autodiff engine on NumPy.")
    p.add_argument("--version", action="version", version=f"%(prog)s {tinygrad_rnn.__version__}")
    sub = p.add_subparsers(dest="command", metavar="{train,sample,gradcheck,bench}",
                           parser_class=_Parser)

    t = sub.add_parser("train", help="train a character model and print a sample",
                       description="Train a character-level language model with truncated BPTT. "
                       "With no options: an LSTM on the built-in corpus (Python's help topics) "
                       f"for {DEFAULT_TIME_BUDGET:.0f} seconds, then a sample.")
    t.add_argument("--data", metavar="FILE", help="UTF-8 text file (default: the built-in corpus)")
    t.add_argument("--cell", choices=CELLS, default="lstm",
                   help="recurrent cell (default lstm); mingru, minlstm and indrnn have no "
                        "product in the time loop (every product runs once over the window)")
    t.add_argument("--hidden", type=_positive_int, default=256,
                   help="hidden units per layer (default 256)")
    t.add_argument("--layers", type=_positive_int, default=1, help="stacked layers (default 1)")
    t.add_argument("--embedding", type=_nonneg_int, default=32,
                   help="embedding size; 0 feeds one-hot vectors (default 32)")
    t.add_argument("--dropout", type=_dropout, default=0.25,
                   help="dropout between layers and before the output (default 0.25)")
    t.add_argument("--seq-len", type=_positive_int, default=32,
                   help="BPTT window length T (default 32)")
    t.add_argument("--batch-size", type=_positive_int, default=32,
                   help="parallel streams B (default 32)")
    t.add_argument("--steps", type=_positive_int,
                   help="optimizer steps to reach in total (a resumed run continues up to this "
                   "number; with --lr-schedule cosine it is the length of the anneal)")
    t.add_argument("--time-budget", type=_positive_float, metavar="SECONDS",
                   help="stop when the whole run has trained this many seconds (a resumed run "
                   "counts the time before the interruption and gets what is left; default "
                   f"{DEFAULT_TIME_BUDGET:.0f} when --steps is not given)")
    t.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam", help="default adam")
    t.add_argument("--lr", type=_positive_float,
                   help="learning rate (default: 5e-3 for adam and adamw, 2e-3 for rmsprop, "
                   "0.1 for adagrad and sgd)")
    clip = t.add_mutually_exclusive_group()
    clip.add_argument("--clip-norm", type=_positive_float, default=5.0,
                      help="clip the global gradient norm (default 5)")
    clip.add_argument("--clip-value", type=_positive_float,
                      help="clip each gradient entry to +-VALUE instead")
    t.add_argument("--lr-schedule", choices=("none", "step", "cosine"), default="step",
                   help="step: halve every --lr-step-size steps (the default); cosine: anneal to "
                   "0 over --steps; none: a constant rate")
    t.add_argument("--lr-step-size", type=_positive_int, default=1000,
                   help="steps between halvings (default 1000)")
    t.add_argument("--val-fraction", type=_fraction, default=0.1,
                   help="tail of the text held out (default 0.1)")
    t.add_argument("--val-every", type=_nonneg_int, default=100,
                   help="validate every N steps, 0 = only at the end (default 100)")
    t.add_argument("--checkpoint-every", type=_nonneg_int, default=500,
                   help="checkpoint every N steps, 0 = only at the end (default 500)")
    t.add_argument("--patience", type=_nonneg_int, default=0,
                   help="stop when N validations in a row bring no better validation loss "
                   "(default 0: never)")
    t.add_argument("--out", metavar="DIR",
                   help="output folder (default runs/<data>-<cell>-h<hidden>-<date>-<time>, new "
                   f"for every run); it receives {CHECKPOINT_NAME}, {BEST_NAME} (the weights of "
                   "the best validation loss), loss.csv, loss.png and grad_flow.png (the "
                   "gradient flow through time at the validations)")
    t.add_argument("--overwrite", action="store_true",
                   help="replace the run in --out (without it, a folder holding a checkpoint "
                   "is refused)")
    t.add_argument("--resume", nargs="?", const="", metavar="CHECKPOINT",
                   help=f"continue the run in CHECKPOINT (a file or run folder; default "
                   f"<out>/{CHECKPOINT_NAME}, which needs --out; the run goes on in --out, by "
                   "default the checkpoint's folder). Resume keeps the model "
                   "(--cell, --hidden, --layers, --embedding, --dropout, --dtype), the data "
                   "(--data, --seq-len, --batch-size, --val-fraction), the optimizer (--optimizer, "
                   "--lr, --clip-norm/--clip-value), the schedule (--lr-schedule, --lr-step-size) "
                   "and --seed: they are taken from the checkpoint (one given with another value "
                   "is refused, every difference named). It may change --steps, --time-budget, "
                   "--val-every, --checkpoint-every, --patience, --sample-length and --threads "
                   "(each left out is the run's own) and --quiet; with "
                   "--lr-schedule cosine a new --steps re-targets the anneal: from the resumed "
                   "step on the rate follows the cosine that reaches 0 at the new total")
    t.add_argument("--seed", type=_nonneg_int, default=0, help="random seed (default 0)")
    t.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                   help="dtype of parameters and activations (default float32)")
    t.add_argument("--sample-length", type=_nonneg_int, default=300,
                   help="characters printed at the end (default 300)")
    t.add_argument("--threads", type=int, choices=(1, 2), default=None,
                   help="threads the products (BLAS) run on: 1 or 2; default: 2 where the load "
                   "average leaves a CPU free, else 1 (on a busy machine a second thread costs "
                   "more than it gains). At a hidden size that is not a multiple of 32 the two "
                   "may differ in the last bits: give 1 for the same bits on any machine")
    t.add_argument("--quiet", action="store_true", help="no progress bar or log lines (the final line, "
                   "and why a run stopped early, are still printed)")

    s = sub.add_parser("sample", help="generate text from a checkpoint",
                       description="Generate text from a trained checkpoint.")
    s.add_argument("--checkpoint", required=True, metavar="FILE|DIR",
                   help=f"a checkpoint written by train, or a run folder: its {BEST_NAME} (the "
                   f"best validation loss), else its {CHECKPOINT_NAME}")
    s.add_argument("--length", type=_nonneg_int, default=500,
                   help="characters to generate (default 500)")
    s.add_argument("--temperature", type=_positive_float, default=0.8,
                   help="softmax temperature (default 0.8)")
    s.add_argument("--top-k", type=_positive_int,
                   help="draw only from the K most likely characters")
    s.add_argument("--greedy", action="store_true", help="always take the most likely character "
                   "(--temperature and --top-k do not apply then)")
    s.add_argument("--prime", default="", help="text the model reads first (printed too)")
    s.add_argument("--seed", type=_nonneg_int, help="random seed for repeatable samples")

    g = sub.add_parser("gradcheck",
                       help="check every built-in op, cell and layer against finite differences",
                       description="Run every built-in op, cell and recurrent layer, "
                       "nn.Recurrent and tinygrad_rnn.scan through tinygrad_rnn.gradcheck in "
                       "float64 and print a table.")
    g.add_argument("--seed", type=_nonneg_int, default=0, help="random seed (default 0)")

    b = sub.add_parser("bench", help="run the benchmarks (benchmarks/run.py --quick), or "
                       "profile training steps (--profile)",
                       description="Run benchmarks/run.py from a source checkout; with --profile "
                       "(works from an installed package too) time a few training steps of the "
                       "model `train` builds by default, on the built-in corpus, and print a "
                       "table per op: calls, forward and backward time, bytes saved for backward.")
    how = b.add_mutually_exclusive_group()
    how.add_argument("--full", action="store_true", help="the full run instead of --quick")
    how.add_argument("--profile", action="store_true",
                     help="profile training steps of the default model instead of benchmarking")
    b.add_argument("--steps", type=_positive_int,
                   help=f"steps profiled with --profile (default {PROFILE_STEPS}, after "
                   f"{PROFILE_WARMUP} unprofiled ones)")
    return p


# ----- train --------------------------------------------------------------------------------
#: the learning rate of each --optimizer when --lr is not given
DEFAULT_LR = {"adam": 5e-3, "adamw": 5e-3, "rmsprop": 2e-3, "adagrad": 0.1, "sgd": 0.1}


def _given_in(args: argparse.Namespace) -> set:
    """The options main() found on the command line; every option with a value other than
    its default where cmd_train is called without main (the whole Namespace is explicit)."""
    given = getattr(args, "given", None)
    if given is None:
        defaults = vars(build_parser().parse_args(["train"]))
        given = {k for k, v in vars(args).items() if k in defaults and v != defaults[k]}
    return given


def _given(words: Sequence[str]) -> set:
    """The `train` options the command line gives (argparse's names), whatever their
    values: a second parse in which no option has a default."""
    parser = build_parser()
    train = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for action in train.choices["train"]._actions:
        action.default = argparse.SUPPRESS
    try:
        return set(vars(parser.parse_known_args(list(words))[0])) - {"command"}
    except (UsageError, SystemExit):
        return set()


def _make_scheduler(args: argparse.Namespace, opt: optim.Optimizer):
    if args.lr_schedule == "step":
        return optim.lr_scheduler.StepLR(opt, step_size=args.lr_step_size, gamma=0.5)
    if args.lr_schedule == "cosine":
        if args.steps is None:
            raise ValueError("--lr-schedule cosine needs --steps (the length of the anneal)")
        return optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.steps)
    return None


def _retarget_cosine(scheduler: Any, total: int) -> None:
    """A resumed cosine schedule anneals to its minimum over the new total number of steps:
    the rate continues from the new curve's value at the resumed step."""
    if isinstance(scheduler, optim.lr_scheduler.CosineAnnealingLR) and scheduler.T_max != total:
        scheduler.T_max = total
        scheduler.step(scheduler.last_epoch)  # closed form at the current step


def _data(args: argparse.Namespace) -> tuple:
    """(text, its name, vocabulary, training windows, validation windows) of `train`'s options;
    ValueError naming the option when the text cannot fill them."""
    if not 0 < args.val_fraction < 1:
        raise ValueError(f"--val-fraction must be in (0, 1), got {args.val_fraction}")
    text = load_text(args.data) if args.data else default_corpus()
    source = args.data or "the built-in corpus"
    if len(text) < 2:
        raise ValueError(f"{source} holds {len(text)} character(s); a corpus needs at least 2")
    vocab = CharVocab(text)
    if len(vocab) < 2:
        raise ValueError(f"{source} uses a single distinct character ({vocab.to_list()[0]!r}); "
                         "there is nothing to predict")
    ids = vocab.encode(text)
    try:
        train_ids, val_ids = train_val_split(ids, args.val_fraction)
    except ValueError:  # too few characters for two parts: say it in the options' terms
        n_val = int(len(ids) * args.val_fraction)
        fix = "a longer text or a " + ("larger" if n_val < 2 else "smaller") + " --val-fraction"
        raise ValueError(f"{source} holds {len(ids)} characters; --val-fraction "
                         f"{args.val_fraction:g} holds out {n_val} of them for validation and "
                         f"leaves {len(ids) - n_val} for training, each part needs at least 2: "
                         f"use {fix}") from None
    if len(train_ids) < args.seq_len + 1:
        raise ValueError(f"--seq-len {args.seq_len} is longer than the training text of {source} "
                         f"({len(train_ids)} characters after holding out "
                         f"{args.val_fraction:.0%}); use a shorter --seq-len or a longer text")
    if len(val_ids) < args.seq_len + 1:
        raise ValueError(f"--seq-len {args.seq_len} is longer than the validation text of "
                         f"{source} ({len(val_ids)} characters, the last {args.val_fraction:.0%}); "
                         "use a shorter --seq-len, a larger --val-fraction or a longer text")
    train_windows = TBPTTBatcher(
        train_ids, min(args.batch_size, len(train_ids) // (args.seq_len + 1)), args.seq_len)
    # the held-out tail is short: fewer parallel streams so that each holds a whole window
    val_windows = TBPTTBatcher(val_ids, min(args.batch_size, len(val_ids) // (args.seq_len + 1)),
                               args.seq_len)
    if train_windows.batch_size < args.batch_size:
        raise ValueError(f"--batch-size {args.batch_size} x --seq-len {args.seq_len} needs at "
                         f"least {args.batch_size * (args.seq_len + 1)} training characters, "
                         f"{source} has {len(train_ids)}; use smaller values or a longer text")
    return text, source, vocab, train_windows, val_windows


def _threads(args: argparse.Namespace, saved: dict | None) -> int:
    """--threads; else, resuming, the count the run recorded (at some sizes two threads give
    other last bits than one, so a resume keeps the run's arithmetic whatever the load is
    now); else the count the machine's load suggests (parallel.default_num_threads)."""
    if args.threads is not None:
        return args.threads
    recorded = None if saved is None else saved.get("meta", {}).get("threads")
    if recorded in (1, 2) and not isinstance(recorded, bool):
        return int(recorded)
    return parallel.default_num_threads()


def _model(args: argparse.Namespace, vocab: CharVocab) -> tuple:
    """(model, optimizer, schedule) of `train`'s options, from --seed (args.lr becomes the
    optimizer's default rate where it is not given)."""
    if args.lr is None:
        args.lr = DEFAULT_LR[args.optimizer]
    parallel.set_num_threads(args.threads)  # None: chosen by the load average; BLAS follows it
    tinygrad_rnn.manual_seed(args.seed)
    model = CharRNN(len(vocab), hidden_size=args.hidden, num_layers=args.layers, cell=args.cell,
                    dropout=args.dropout, embedding_dim=args.embedding)
    model.to(np.dtype(args.dtype))
    opt = OPTIMIZERS[args.optimizer](list(model.parameters()), lr=args.lr)
    return model, opt, _make_scheduler(args, opt)


def _trainer(args: argparse.Namespace, model: Any, opt: Any, scheduler: Any, windows: Any,
             callbacks: Sequence[Any] = ()) -> Trainer:
    return Trainer(model, opt, F.cross_entropy, windows, scheduler=scheduler,
                   clip_norm=None if args.clip_value is not None else args.clip_norm,
                   clip_value=args.clip_value, callbacks=callbacks)


def cmd_train(args: argparse.Namespace) -> int:
    out, resume_path, changes = runs.prepare_out(args)
    saved = None
    if resume_path is not None:
        saved = load_checkpoint(resume_path)
        runs.adopt(args, _given_in(args), saved, resume_path)
    text, source, vocab, train_windows, val_windows = _data(args)
    if saved is not None:
        runs.check_text(saved, resume_path, text, args.data, vocab.to_list())
    args.threads = _threads(args, saved)

    model, opt, scheduler = _model(args, vocab)
    steps, budget = args.steps, args.time_budget
    if steps is None and budget is None:
        budget = DEFAULT_TIME_BUDGET
    meta = {"model_config": model.config, "vocab": vocab.to_list(), "dtype": args.dtype,
            "seed": args.seed, "options": runs.options(args), "threads": args.threads,
            "data": runs.fingerprint(text, args.data),
            "target": {"steps": steps, "time_budget": args.time_budget},
            "cadence": runs.cadence(args)}
    callbacks = [cb.Validation(val_windows, every=args.val_every, max_windows=50),
                 cb.GradientFlow(val_windows, out / cb.GRAD_FLOW_NAME)]
    if args.patience:
        callbacks.append(cb.EarlyStopping(args.patience))
    saver = cb.Checkpoint(out, every=args.checkpoint_every, meta=meta)
    callbacks += [cb.CSVLogger(out / "loss.csv"), saver]
    if not args.quiet:
        callbacks.append(cb.ProgressBar())
    callbacks.append(cb.Plot(out / "loss.png", out / "loss.csv"))
    trainer = _trainer(args, model, opt, scheduler, train_windows, callbacks)
    if saved is not None:
        try:
            trainer.load_state_dict(saved)
        except CheckpointError as e:
            raise CheckpointError(f"cannot resume from {resume_path}: {e}") from None
        trainer.checkpoint = (str(resume_path), trainer.step)
        if steps is not None and steps <= trainer.step:
            if "steps" in _given_in(args):
                raise ValueError(f"the run in {resume_path} is at step {trainer.step} already: "
                                 f"--steps {steps} leaves nothing to train; give --steps above "
                                 f"{trainer.step} (the total to reach)")
            print(f"the run in {resume_path} has reached its {steps} steps: nothing to train; "
                  "give --steps with a larger total to train further", file=sys.stderr)
            return 0
        if steps is not None:
            _retarget_cosine(scheduler, steps)
    left = None if budget is None else budget - trainer.elapsed  # the budget is the run's
    if left is not None and left <= 0 and "time_budget" not in _given_in(args):
        print(f"the run in {resume_path} has used its {budget:g} s time budget: nothing to "
              "train; give a larger --time-budget (for the whole run) to train further",
              file=sys.stderr)
        return 0
    if left is not None and left <= 0:
        raise ValueError(f"the run has trained {trainer.elapsed:.0f} s, its --time-budget "
                         f"{budget:g} is spent; give a larger --time-budget (for the whole run) "
                         "to continue it")
    info = print if not args.quiet else (lambda *a, **k: None)
    if saved is not None:
        info(f"resumed from {resume_path} at step {trainer.step}", file=sys.stderr)
    info(f"training {args.cell.upper()} ({args.layers}x{args.hidden}, "
         f"{sum(p.size for p in model.parameters()):,} parameters) on {source}: "
         f"{len(text):,} characters, vocabulary {len(vocab)}, "
         + (f"{steps} steps" if steps else f"{budget:.0f} s")
         + (f" ({left:.0f} s of the time budget left)" if saved is not None and left else "")
         + f", output in {out}", file=sys.stderr)
    resumed_at = trainer.elapsed  # (the training time of the sessions before this one)
    runs.apply(changes)  # (everything checked: now an --overwrite replaces, a copy arrives)
    result = trainer.fit(steps=steps, time_budget=left)
    val = f"{result.val_loss:.4f}" if result.val_loss is not None else "n/a"
    smooth = f"{result.smooth_loss:.4f}" if result.smooth_loss is not None else "n/a"
    best_text = (f", best validation loss {saver.best:.4f} at step {saver.best_step} "
                 f"({out / BEST_NAME})" if saver.best is not None else "")
    took = f"{trainer.elapsed:.1f} s"  # the run's training time, as the progress lines count
    if saved is not None:
        took += f" in all ({trainer.elapsed - resumed_at:.1f} s in this session)"
    print(f"step {result.step}: smoothed train loss {smooth}, validation loss {val} nats/char"
          f"{best_text}, {took}; checkpoint {result.checkpoint}"
          + (f" (step {result.checkpoint_step})" if result.checkpoint_step is not None else ""))
    if result.stopped:  # why the run ended early: shown with --quiet too
        print(result.stopped, file=sys.stderr)
    if result.interrupted:
        if result.checkpoint_step is None:
            print("interrupted before any checkpoint was written", file=sys.stderr)
        else:
            print(f"interrupted: the checkpoint on disk is at step {result.checkpoint_step}; "
                  f"continue it with --resume {result.checkpoint} (the run's options come from "
                  "the checkpoint)",
                  file=sys.stderr)
        return 128 + int(result.signal or signal.SIGINT)  # 130 for Ctrl-C, 143 for SIGTERM
    if args.sample_length:
        text = sample(model, vocab, length=args.sample_length, prime="", temperature=0.8,
                      seed=args.seed)
        print("--- sample (temperature 0.8) ---")
        print(text)
    return 0


# ----- sample -------------------------------------------------------------------------------
def cmd_sample(args: argparse.Namespace) -> int:
    model, vocab = load_model(args.checkpoint)
    print(sample(model, vocab, length=args.length, prime=args.prime, temperature=args.temperature,
                 top_k=args.top_k, greedy=args.greedy, seed=args.seed))
    return 0


# ----- gradcheck, bench -----------------------------------------------------------------------
def cmd_gradcheck(args: argparse.Namespace) -> int:
    from tinygrad_rnn._checks import run_checks
    rows = run_checks(seed=args.seed)
    w = max(len(r["name"]) for r in rows)
    ws = max(len(r["shapes"]) for r in rows)
    print(f"{'op':<{w}}  {'shapes':<{ws}}  {'max error':>10}  result")
    for r in rows:
        print(f"{r['name']:<{w}}  {r['shapes']:<{ws}}  {r['error']:>10.2e}  "
              f"{'pass' if r['ok'] else 'FAIL'}")
    failed = [r["name"] for r in rows if not r["ok"]]
    print(f"{len(rows) - len(failed)} of {len(rows)} passed")
    if failed:
        print(f"{PROG} gradcheck: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _bench_script() -> Path | None:
    """benchmarks/run.py of the source checkout this package was imported from, if it is one.

    Only the checkout holding this very package counts (its pyproject.toml names this
    project): never a benchmarks/ folder of the current directory or of site-packages."""
    root = Path(__file__).resolve().parents[1]
    script, project = root / "benchmarks" / "run.py", root / "pyproject.toml"
    try:
        ours = project.is_file() and 'name = "tinygrad-rnn"' in project.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        ours = False
    return script if ours and script.is_file() else None


def _profile_training(steps: int) -> str:
    """The profile table of `steps` training steps of what a plain `train` would run."""
    targs = build_parser().parse_args(["train"])  # train's defaults, whatever they become
    _, source, vocab, train_windows, _ = _data(targs)
    model, opt, scheduler = _model(targs, vocab)
    trainer = _trainer(targs, model, opt, scheduler, train_windows)
    for _ in range(PROFILE_WARMUP):  # first calls allocate and warm caches
        trainer.train_step()
    with tinygrad_rnn.profile() as p:
        for _ in range(steps):
            trainer.train_step()
    n = sum(p.size for p in model.parameters())
    head = (f"profile of {steps} training steps of {targs.cell.upper()} {targs.layers}x"
            f"{targs.hidden} ({n:,} parameters, embedding {targs.embedding}, dropout "
            f"{targs.dropout}) on {source}: batch {train_windows.batch_size} x "
            f"{targs.seq_len} characters, {targs.optimizer}, clip-norm {targs.clip_norm}; "
            f"{p.wall / steps * 1e3:.1f} ms per step")
    return head + "\n" + p.table()


def cmd_bench(args: argparse.Namespace) -> int:
    if args.profile:
        print(_profile_training(args.steps or PROFILE_STEPS))
        return 0
    if args.steps is not None:
        raise ValueError("--steps counts profiled steps: it needs --profile")
    script = _bench_script()
    if script is None:
        print(f"{PROG} bench: error: the benchmarks need a source checkout (this is an installed "
              "package): clone the repository and run `python benchmarks/run.py --quick` from "
              "its root", file=sys.stderr)
        return 1
    cmd = [sys.executable, str(script)] + ([] if args.full else ["--quick"])
    print("running", " ".join(cmd), file=sys.stderr)
    return subprocess.call(cmd, cwd=script.parent.parent)


COMMANDS = {"train": cmd_train, "sample": cmd_sample, "gradcheck": cmd_gradcheck,
            "bench": cmd_bench}


def _silence_stdout() -> None:
    """Point stdout at devnull, so that the interpreter's last flush of what is still
    buffered for a closed pipe raises nothing (the recipe of Python's signal docs, SIGPIPE)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (a captured stream)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `tinygrad-rnn` and `python -m tinygrad_rnn`; returns the exit status."""
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:  # the subcommand's own help lists what it takes (an option given
            words = list(sys.argv[1:] if argv is None else argv)  # before it: the top's)
            before = args.command in words and extra[0] in words and \
                words.index(extra[0]) < words.index(args.command)
            where = f"{PROG} {args.command}" if args.command and not before else PROG
            raise UsageError(f"{where}: error: unrecognized arguments: {' '.join(extra)} "
                             f"(see {where} --help)")
    except UsageError as e:
        print(e, file=sys.stderr)
        return 2
    except SystemExit as e:  # --help and --version
        return int(e.code or 0)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "train":  # which options the command line gives (a resume takes
        args.given = _given(sys.argv[1:] if argv is None else argv)  # the others' from the run)
    try:
        code = COMMANDS[args.command](args)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly
        _silence_stdout()
        return BROKEN_PIPE_STATUS
    except (ValueError, OSError, TrainingDiverged) as e:  # CheckpointError is a ValueError
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        if isinstance(e, OSError) and e.filename and e.strerror:
            msg = f"{e.strerror}: {e.filename}"
        print(f"{PROG} {args.command}: error: {msg}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as e:  # 143 where a SIGTERM came first (train.Interrupted)
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 128 + getattr(e, "signum", signal.SIGINT)


if __name__ == "__main__":
    sys.exit(main())
