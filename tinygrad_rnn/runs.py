"""The run folder of `tinygrad-rnn train`, and what a resume takes over from it.

A run lives in one folder (`--out`): its checkpoint, the weights of its best validation,
loss.csv and the plots. This module decides where a run goes and what it may replace:

- a new run never lands in a folder that holds another run's files, unless --overwrite;
- resuming into another folder than the checkpoint's own never lands on another run
  either (with --overwrite that run's files go first, and the resumed run's loss.csv and
  best.npz come along so that its history and its best weights continue);
- resuming a file that is not the folder's own checkpoint (its best.npz, say) rewinds the
  run: the later checkpoint and rows of loss.csv would be replaced, so it needs --overwrite.

A resume takes the options that define the run (`KEPT`: the model, the data layout, the
optimizer, the schedule, the seed, and the text) from the checkpoint: an option left out
is the run's own, and one given with another value is refused, all differences named at
once. Where neither --steps nor --time-budget is given, the run's own target stands; the
options a resume may change (`CADENCE`: --val-every, --checkpoint-every, --patience,
--sample-length) are the run's too where they are left out. The text is recorded by path, length and SHA-256, so another text of the same
vocabulary is refused too.
"""
from __future__ import annotations

import argparse
import hashlib
import shutil
import time
from pathlib import Path
from typing import Any

from tinygrad_rnn.callbacks import BEST_NAME, CHECKPOINT_NAME, GRAD_FLOW_NAME
from tinygrad_rnn.checkpoint import CheckpointError, get

#: options a resume takes from the checkpoint: the model, the data layout, the optimizer,
#: the schedule and the seed (argparse's names)
KEPT = ("cell", "hidden", "layers", "embedding", "dropout", "dtype", "seq_len", "batch_size",
        "val_fraction", "optimizer", "lr", "clip_norm", "clip_value", "lr_schedule",
        "lr_step_size", "seed")
#: options a resume may change, and otherwise takes from the checkpoint (argparse's names)
CADENCE = ("val_every", "checkpoint_every", "patience", "sample_length")
RUN_FILES = (CHECKPOINT_NAME, BEST_NAME, "loss.csv", "loss.png", GRAD_FLOW_NAME)


def flag(option: str) -> str:
    return "--" + option.replace("_", "-")


def options(args: argparse.Namespace) -> dict:
    """The run-defining options of `args`, as the checkpoint records them."""
    opts = {k: getattr(args, k) for k in KEPT}
    if args.clip_value is not None:
        opts["clip_norm"] = None  # the two are exclusive; the default norm is not in use
    return opts


def cadence(args: argparse.Namespace) -> dict:
    """The options of `args` that a resume may change (`CADENCE`), as the checkpoint records
    them: a resume that leaves one out takes the run's."""
    return {k: getattr(args, k) for k in CADENCE}


def default_out(args: argparse.Namespace) -> Path:
    """runs/<data>-<cell>-h<hidden>-<date>-<time>: a new folder for every run."""
    name = Path(args.data).stem if args.data else "corpus"
    base = Path("runs") / f"{name}-{args.cell}-h{args.hidden}-{time.strftime('%Y%m%d-%H%M%S')}"
    out, n = base, 1
    while out.exists():
        n += 1
        out = base.with_name(f"{base.name}-{n}")
    return out


def _held(out: Path) -> list:
    return [n for n in RUN_FILES if (out / n).exists()]


def prepare_out(args: argparse.Namespace) -> tuple:
    """(output folder, checkpoint to resume or None, the file changes the run needs) and
    never silently replaces a run. Nothing is changed here: `apply(changes)` does it once
    everything else has been checked (the checkpoint, the options, the text)."""
    if args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        raise ValueError(f"--out {args.out} is a file, not a folder: give a folder for the "
                         "run's files (it is created when missing)")
    if args.resume is None:
        out = Path(args.out) if args.out else default_out(args)
        held = [n for n in (CHECKPOINT_NAME, BEST_NAME) if (out / n).exists()]
        if held and not args.overwrite:
            raise ValueError(f"{out} already holds {held[0]} of an earlier run: continue it with "
                             "--resume, choose another --out, or pass --overwrite to replace it")
        return out, None, [("unlink", out / name) for name in _held(out)] if args.overwrite \
            else []
    if not args.resume and not args.out:
        raise ValueError("--resume without a CHECKPOINT needs --out DIR (the default output "
                         "folder is new for every run)")
    path = Path(args.resume) if args.resume else Path(args.out)
    if path.is_dir() or not args.resume:
        path = path / CHECKPOINT_NAME
    if not path.exists():
        best = path.parent / BEST_NAME
        hint = (f"; {best} is there (the weights of the best validation, saved as the run "
                f"went): resume it with --resume {best}" if best.exists() else "")
        raise CheckpointError(f"checkpoint {path} does not exist{hint}")
    out = Path(args.out) if args.out else path.parent
    changes: list = []
    if out.resolve() != path.parent.resolve():
        held = _held(out)
        if held and not args.overwrite:
            raise ValueError(f"--out {out} holds another run ({held[0]}): resuming {path} there "
                             "would replace it; give an empty --out, leave --out out to continue "
                             "in the checkpoint's own folder, or pass --overwrite to replace it")
        changes = [("unlink", out / name) for name in held]
        for name in ("loss.csv", BEST_NAME):  # the resumed run's history and best weights
            if (path.parent / name).exists():  # go on in its new folder
                changes.append(("copy", path.parent / name, out / name))
    elif path.resolve() != (out / CHECKPOINT_NAME).resolve() and \
            (out / CHECKPOINT_NAME).exists() and not args.overwrite:
        raise ValueError(f"resuming {path} in its own folder rewinds the run: {CHECKPOINT_NAME} "
                         f"there and the rows of loss.csv after {path.name}'s step would be "
                         f"replaced; pass --overwrite to rewind, resume {out / CHECKPOINT_NAME} "
                         "instead, or give another --out")
    return out, path, changes


def apply(changes: list) -> None:
    """Carry out prepare_out's file changes: ("unlink", path) and ("copy", source, target)."""
    for change in changes:
        if change[0] == "unlink":
            change[1].unlink(missing_ok=True)
        else:
            change[2].parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(change[1], change[2])


def _shown(value: Any) -> str:
    return "not set" if value is None else str(value)


def adopt(args: argparse.Namespace, given: set, saved: dict, path: Path) -> None:
    """Take the run's options (and its text) from the checkpoint `saved` where the command
    line leaves them out; refuse, naming every difference, where it gives another value."""
    meta = get(saved, "meta", dict, f"checkpoint {path}")
    recorded = meta.get("options")
    if isinstance(recorded, dict):
        clip_given = bool({"clip_norm", "clip_value"} & given)
        now = options(args)
        wrong = []
        for key in KEPT:
            if key not in recorded:
                continue
            explicit = key in given or (key in ("clip_norm", "clip_value") and clip_given)
            if not explicit:
                setattr(args, key, recorded[key])
            elif now[key] != recorded[key] and (key in given or key == "clip_value"):
                wrong.append(f"{flag(key)} {_shown(now[key])} (the run's: "
                             f"{_shown(recorded[key])})")
        if wrong:
            raise CheckpointError(
                f"cannot resume {path}: {', '.join(wrong)}; a resume keeps the run's model, "
                "data layout, optimizer and schedule: leave these options out to take the run's, "
                "or start a new run with another --out")
    kept = meta.get("cadence")  # validation, checkpoints, patience: the run's, unless given
    if isinstance(kept, dict):
        for key in CADENCE:
            value = kept.get(key)
            if key not in given and isinstance(value, int) and not isinstance(value, bool) \
                    and value >= 0:
                setattr(args, key, value)
    target = meta.get("target")  # how long the run was to train, unless given anew
    if isinstance(target, dict) and not {"steps", "time_budget"} & given:
        args.steps, args.time_budget = target.get("steps"), target.get("time_budget")
    data = meta.get("data")
    if isinstance(data, dict) and "data" not in given:
        args.data = data.get("path")
        if args.data is not None and not Path(args.data).exists():
            raise CheckpointError(f"checkpoint {path} was trained on {args.data}, which is not "
                                  "there any more: give --data with the same text")


def fingerprint(text: str, data: str | None) -> dict:
    """What a checkpoint records of its text: the file (absolute; None for the built-in
    corpus), its length in characters and the SHA-256 of its UTF-8 bytes."""
    return {"path": None if data is None else str(Path(data).resolve()), "chars": len(text),
            "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}


def check_text(saved: dict, path: Path, text: str, data: str | None, vocab_list: list) -> None:
    """Refuse a resume on another text than the run's (another vocabulary, or another text
    of the same vocabulary where the checkpoint recorded its fingerprint)."""
    where = f"checkpoint {path}"
    meta = get(saved, "meta", dict, where)
    source = data or "the built-in corpus"
    if meta.get("vocab") is not None and meta["vocab"] != vocab_list:
        was, now = set(map(str, meta["vocab"])), set(vocab_list)
        only = "; ".join(f"only in {name}: {''.join(sorted(chars))[:20]!r}"
                         for name, chars in (("the run's", was - now), (source, now - was))
                         if chars)
        raise CheckpointError(f"{where} was trained on a text with another vocabulary than "
                              f"{source} ({only or 'the same characters in another order'}); "
                              "resume with the same --data")
    recorded = meta.get("data")
    if isinstance(recorded, dict) and recorded.get("sha256") not in (
            None, fingerprint(text, data)["sha256"]):
        was = recorded.get("path") or "the built-in corpus"
        raise CheckpointError(f"{where} was trained on {was} ({recorded.get('chars')} "
                              f"characters); {source} ({len(text)} characters) is another "
                              "text: resume with the same --data")
