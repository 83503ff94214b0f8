"""The `tinygrad-rnn` command: train | sample | gradcheck | bench.

Every user error (bad argument, missing file, unusable corpus, bad checkpoint, diverged
training) ends as one line on stderr and a non-zero exit status, never a traceback.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

import tinygrad_rnn
from tinygrad_rnn import optim
from tinygrad_rnn.checkpoint import CheckpointError, load_checkpoint
from tinygrad_rnn.data.batching import TBPTTBatcher, train_val_split
from tinygrad_rnn.data.text import CharVocab, default_corpus, load_text
from tinygrad_rnn.models import CharRNN
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.sample import sample
from tinygrad_rnn.train import CHECKPOINT_NAME, Trainer, TrainingDiverged, limit_blas_threads

PROG = "tinygrad-rnn"
DEFAULT_TIME_BUDGET = 150.0
OPTIMIZERS = {"sgd": optim.SGD, "adam": optim.Adam, "adamw": optim.AdamW,
              "adagrad": optim.Adagrad, "rmsprop": optim.RMSprop}


class UsageError(Exception):
    """A bad command line, reported as one line with exit status 2."""


class _Parser(argparse.ArgumentParser):
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
_positive_float = _number(float, lambda v: 0 < v < float("inf"), "a positive number")
_dropout = _number(float, lambda v: 0 <= v < 1, "a number in [0, 1)")


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
    t.add_argument("--cell", choices=("rnn", "lstm", "gru"), default="lstm",
                   help="recurrent cell (default lstm)")
    t.add_argument("--hidden", type=_positive_int, default=128,
                   help="hidden units per layer (default 128)")
    t.add_argument("--layers", type=_positive_int, default=1, help="stacked layers (default 1)")
    t.add_argument("--embedding", type=_nonneg_int, default=0,
                   help="embedding size; 0 feeds one-hot vectors (default 0)")
    t.add_argument("--dropout", type=_dropout, default=0.0,
                   help="dropout between layers and before the output (default 0)")
    t.add_argument("--seq-len", type=_positive_int, default=32,
                   help="BPTT window length T (default 32)")
    t.add_argument("--batch-size", type=_positive_int, default=32,
                   help="parallel streams B (default 32)")
    t.add_argument("--steps", type=_positive_int,
                   help="optimizer steps to reach (total, also when resuming)")
    t.add_argument("--time-budget", type=_positive_float, metavar="SECONDS",
                   help=f"stop after this many seconds (default {DEFAULT_TIME_BUDGET:.0f} when "
                   "--steps is not given)")
    t.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam", help="default adam")
    t.add_argument("--lr", type=_positive_float, default=3e-3, help="learning rate (default 3e-3)")
    clip = t.add_mutually_exclusive_group()
    clip.add_argument("--clip-norm", type=_positive_float, default=5.0,
                      help="clip the global gradient norm (default 5)")
    clip.add_argument("--clip-value", type=_positive_float,
                      help="clip each gradient entry to +-VALUE instead")
    t.add_argument("--lr-schedule", choices=("none", "step", "cosine"), default="none",
                   help="step: halve every --lr-step-size steps; cosine: anneal to 0 over --steps")
    t.add_argument("--lr-step-size", type=_positive_int, default=500,
                   help="steps between halvings (default 500)")
    t.add_argument("--val-fraction", type=float, default=0.1,
                   help="tail of the text held out (default 0.1)")
    t.add_argument("--val-every", type=_nonneg_int, default=100,
                   help="validate every N steps, 0 = only at the end (default 100)")
    t.add_argument("--checkpoint-every", type=_nonneg_int, default=500,
                   help="checkpoint every N steps, 0 = only at the end (default 500)")
    t.add_argument("--out", metavar="DIR",
                   help="output folder (default runs/<data>-<cell>-h<hidden>)")
    t.add_argument("--resume", nargs="?", const="", metavar="CHECKPOINT",
                   help=f"continue from CHECKPOINT (default <out>/{CHECKPOINT_NAME}); "
                   "give the same options as the first run")
    t.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    t.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                   help="dtype of parameters and activations (default float32)")
    t.add_argument("--sample-length", type=_nonneg_int, default=300,
                   help="characters printed at the end (default 300)")
    t.add_argument("--threads", type=_nonneg_int, default=1,
                   help="BLAS threads; 0 leaves the library's default (default 1: an RNN's small "
                   "matrices run faster on one)")
    t.add_argument("--quiet", action="store_true", help="no progress bar or log lines")

    s = sub.add_parser("sample", help="generate text from a checkpoint",
                       description="Generate text from a trained checkpoint.")
    s.add_argument("--checkpoint", required=True, metavar="FILE",
                   help="a checkpoint.npz written by train")
    s.add_argument("--length", type=_nonneg_int, default=500,
                   help="characters to generate (default 500)")
    s.add_argument("--temperature", type=_positive_float, default=0.8,
                   help="softmax temperature (default 0.8)")
    s.add_argument("--top-k", type=_positive_int,
                   help="draw only from the K most likely characters")
    s.add_argument("--greedy", action="store_true", help="always take the most likely character")
    s.add_argument("--prime", default="", help="text the model reads first (printed too)")
    s.add_argument("--seed", type=int, help="random seed for repeatable samples")

    g = sub.add_parser("gradcheck",
                       help="check every built-in op, cell and layer against finite differences",
                       description="Run every built-in op, cell and recurrent layer through "
                       "tinygrad_rnn.gradcheck in float64 and print a table.")
    g.add_argument("--seed", type=int, default=0)

    b = sub.add_parser("bench", help="run the benchmarks (benchmarks/run.py --quick)",
                       description="Run benchmarks/run.py from a source checkout.")
    b.add_argument("--full", action="store_true", help="the full run instead of --quick")
    return p


# ----- train --------------------------------------------------------------------------------
def _default_out(args: argparse.Namespace) -> Path:
    name = Path(args.data).stem if args.data else "corpus"
    return Path("runs") / f"{name}-{args.cell}-h{args.hidden}"


def _make_scheduler(args: argparse.Namespace, opt: optim.Optimizer):
    if args.lr_schedule == "step":
        return optim.lr_scheduler.StepLR(opt, step_size=args.lr_step_size, gamma=0.5)
    if args.lr_schedule == "cosine":
        if args.steps is None:
            raise ValueError("--lr-schedule cosine needs --steps (the length of the anneal)")
        return optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.steps)
    return None


def cmd_train(args: argparse.Namespace) -> int:
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
    train_ids, val_ids = train_val_split(ids, args.val_fraction)
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

    out = Path(args.out) if args.out else _default_out(args)
    resume_path = None
    if args.resume is not None:
        resume_path = Path(args.resume) if args.resume else out / CHECKPOINT_NAME
        if not args.out and args.resume:
            out = resume_path.parent
        ckpt_vocab = load_checkpoint(resume_path).vocab
        if ckpt_vocab is not None and ckpt_vocab != vocab.to_list():
            raise CheckpointError(f"checkpoint {resume_path} was trained on a text with another "
                                  "vocabulary; resume with the same --data")

    if args.threads:
        limit_blas_threads(args.threads)
    tinygrad_rnn.manual_seed(args.seed)
    model = CharRNN(len(vocab), hidden_size=args.hidden, num_layers=args.layers, cell=args.cell,
                    dropout=args.dropout, embedding_dim=args.embedding)
    model.to(np.dtype(args.dtype))
    opt = OPTIMIZERS[args.optimizer](list(model.parameters()), lr=args.lr)
    scheduler = _make_scheduler(args, opt)
    steps, budget = args.steps, args.time_budget
    if steps is None and budget is None:
        budget = DEFAULT_TIME_BUDGET
    trainer = Trainer(
        model, opt, F.cross_entropy, train_windows, scheduler=scheduler, val_windows=val_windows,
        clip_norm=None if args.clip_value is not None else args.clip_norm,
        clip_value=args.clip_value,
        val_every=args.val_every, val_windows_max=50, checkpoint_every=args.checkpoint_every,
        out_dir=out, meta={"model_config": model.config, "vocab": vocab.to_list(),
                           "dtype": args.dtype, "seed": args.seed},
        units_per_step=args.seq_len * args.batch_size, quiet=args.quiet)
    if resume_path is not None:
        trainer.resume(resume_path)
        if not args.quiet:
            print(f"resumed from {resume_path} at step {trainer.step}", file=sys.stderr)
    info = print if not args.quiet else (lambda *a, **k: None)
    info(f"training {args.cell.upper()} ({args.layers}x{args.hidden}, "
         f"{sum(p.size for p in model.parameters()):,} parameters) on {source}: "
         f"{len(text):,} characters, vocabulary {len(vocab)}, "
         + (f"{steps} steps" if steps else f"{budget:.0f} s") + f", output in {out}",
         file=sys.stderr)
    result = trainer.fit(steps=steps, time_budget=budget)
    val = f"{result.val_loss:.4f}" if result.val_loss is not None else "n/a"
    smooth = f"{result.smooth_loss:.4f}" if result.smooth_loss is not None else "n/a"
    print(f"step {result.step}: train loss {smooth}, validation loss {val} nats/char, "
          f"{result.elapsed:.1f} s; checkpoint {result.checkpoint}")
    if result.interrupted:
        print(f"interrupted: checkpoint saved at step {result.step}; continue with the same "
              f"options plus --resume {result.checkpoint}", file=sys.stderr)
        return 130
    if args.sample_length:
        text = sample(model, vocab, length=args.sample_length, prime="", temperature=0.8,
                      seed=args.seed)
        print("--- sample (temperature 0.8) ---")
        print(text)
    return 0


# ----- sample -------------------------------------------------------------------------------
def model_from_checkpoint(path: str | os.PathLike) -> tuple:
    """(model, vocab) rebuilt from a checkpoint written by `train`."""
    ckpt = load_checkpoint(path)
    if ckpt.model_config is None or ckpt.vocab is None:
        raise CheckpointError(f"checkpoint {path} has no model config or vocabulary; "
                              "it was not written by `tinygrad-rnn train`")
    try:
        model = CharRNN.from_config(ckpt.model_config)
        vocab = CharVocab.from_list(ckpt.vocab)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"checkpoint {path} has an unusable model config: {e}") from None
    model.to(np.dtype(ckpt.meta.get("dtype", "float32")))
    ckpt.restore(model)
    return model, vocab


def cmd_sample(args: argparse.Namespace) -> int:
    model, vocab = model_from_checkpoint(args.checkpoint)
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
    for root in (Path.cwd(), Path(__file__).resolve().parents[1]):
        script = root / "benchmarks" / "run.py"
        if script.is_file():
            return script
    return None


def cmd_bench(args: argparse.Namespace) -> int:
    script = _bench_script()
    if script is None:
        print("the benchmarks live in a source checkout: clone the repository and run "
              "`python benchmarks/run.py --quick` from its root")
        return 0
    cmd = [sys.executable, str(script)] + ([] if args.full else ["--quick"])
    print("running", " ".join(cmd), file=sys.stderr)
    return subprocess.call(cmd, cwd=script.parent.parent)


COMMANDS = {"train": cmd_train, "sample": cmd_sample, "gradcheck": cmd_gradcheck,
            "bench": cmd_bench}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `tinygrad-rnn` and `python -m tinygrad_rnn`; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as e:
        print(e, file=sys.stderr)
        return 2
    except SystemExit as e:  # --help and --version
        return int(e.code or 0)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command](args)
    except (ValueError, OSError, TrainingDiverged) as e:  # CheckpointError is a ValueError
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        if isinstance(e, OSError) and e.filename and e.strerror:
            msg = f"{e.strerror}: {e.filename}"
        print(f"{PROG} {args.command}: error: {msg}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
