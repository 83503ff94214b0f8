"""Checkpoints: one `.npz` file, written atomically, read without pickle, validated before use.

Layout of the archive (every entry a plain ndarray):

    meta            uint8 bytes of a JSON object: format tag and version, step, model config,
                    vocabulary, RNG state, data position, optimizer class, and a manifest
                    {key: [shape, dtype]} of every other entry
    param.<name>    model parameters, keyed as in `model.state_dict()`
    optim.<key>     the optimizer's state_dict flattened to arrays
    state.<key>     extra arrays such as the hidden state carried between TBPTT windows

Loading reads and checks the whole file (manifest, keys, shapes, dtypes, model config)
before anything is copied into a model or optimizer, so a bad file changes nothing.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_rnn.optim import optimizer_state_from_arrays

FORMAT_TAG = "tinygrad_rnn-checkpoint"
FORMAT_VERSION = 1
_GROUPS = ("param", "optim", "state")


class CheckpointError(ValueError):
    """A checkpoint file that is missing, damaged, not a checkpoint, or for another model."""


@dataclass
class Checkpoint:
    """The contents of a checkpoint: arrays by group plus JSON metadata."""

    params: dict = field(default_factory=dict)
    optimizer: dict = field(default_factory=dict)
    state: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    path: str | None = None

    @property
    def step(self) -> int:
        return int(self.meta.get("step", 0))

    @property
    def model_config(self) -> dict | None:
        return self.meta.get("model_config")

    @property
    def vocab(self) -> list | None:
        return self.meta.get("vocab")

    def _where(self) -> str:
        return f"checkpoint {self.path}" if self.path else "checkpoint"

    def check_model(self, model: Any) -> None:
        """Raise CheckpointError unless the parameters fit `model` (names, shapes, dtypes)."""
        where = self._where()
        config = getattr(model, "config", None)
        saved = self.model_config
        if isinstance(config, dict) and isinstance(saved, dict) and config != saved:
            diffs = [f"{k}={saved.get(k)!r} (this model: {config.get(k)!r})"
                     for k in sorted(set(config) | set(saved)) if config.get(k) != saved.get(k)]
            raise CheckpointError(f"{where} is for another model: {', '.join(diffs)}")
        own = model.state_dict()
        missing = sorted(set(own) - set(self.params))
        unexpected = sorted(set(self.params) - set(own))
        if missing or unexpected:
            raise CheckpointError(
                f"{where} is for another model: missing parameters {missing}, "
                f"unexpected parameters {unexpected}")
        for name, value in own.items():
            value = np.asarray(value)
            got = self.params[name]
            if got.shape != value.shape:
                raise CheckpointError(f"{where} is for another model: parameter {name!r} has shape "
                                      f"{got.shape}, the model expects {value.shape}")
            if got.dtype != value.dtype:
                raise CheckpointError(f"{where}: parameter {name!r} has dtype {got.dtype}, the "
                                      f"model expects {value.dtype} (check --dtype)")

    def restore(self, model: Any, optimizer: Any = None) -> None:
        """Copy parameters (and optimizer state) in, after checking everything first."""
        self.check_model(model)
        if optimizer is not None:
            if not self.optimizer:
                raise CheckpointError(f"{self._where()} holds no optimizer state")
            kind = self.meta.get("optimizer_class")
            if kind is not None and kind != type(optimizer).__name__:
                raise CheckpointError(f"{self._where()} was saved with optimizer {kind}, "
                                      f"this run uses {type(optimizer).__name__}")
            backup = optimizer.state_dict()
            try:
                optimizer.load_state_dict(optimizer_state_from_arrays(self.optimizer))
            except (ValueError, KeyError, TypeError, IndexError) as e:
                optimizer.load_state_dict(backup)
                raise CheckpointError(f"{self._where()}: optimizer state does not fit: {e}") from e
        model.load_state_dict({k: v.copy() for k, v in self.params.items()})


def _to_bytes(obj: dict) -> np.ndarray:
    return np.frombuffer(json.dumps(obj, sort_keys=True).encode("utf-8"), dtype=np.uint8)


def save_checkpoint(path: str | os.PathLike, ckpt: Checkpoint) -> Path:
    """Write `ckpt` to `path` atomically: a temporary file in the same folder, fsync, rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict = {}
    for group, items in zip(_GROUPS, (ckpt.params, ckpt.optimizer, ckpt.state)):
        for key, value in items.items():
            arrays[f"{group}.{key}"] = np.asarray(value)
    manifest = {k: [list(v.shape), v.dtype.str] for k, v in arrays.items()}
    for k, v in arrays.items():
        if v.dtype.hasobject:
            raise TypeError(f"checkpoint entry {k!r} has object dtype; "
                            "only plain arrays are stored")
    meta = dict(ckpt.meta, format=FORMAT_TAG, format_version=FORMAT_VERSION, manifest=manifest)
    arrays["meta"] = _to_bytes(meta)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:  # make the rename itself durable; not every platform lets a folder be opened
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass
    ckpt.path = str(path)
    return path


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read and fully validate a checkpoint file; raises CheckpointError with the reason."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path} is a directory, expected a .npz file")
    try:
        with open(path, "rb") as f:  # our own handle: closed even when np.load fails
            z = np.load(f, allow_pickle=False)
            if isinstance(z, np.ndarray):
                raise CheckpointError(f"{path} is a single .npy array, not a checkpoint")
            with z:
                if "meta" not in z.files:
                    raise CheckpointError(
                        f"{path} is not a tinygrad_rnn checkpoint (no 'meta' entry)")
                arrays = {k: z[k] for k in z.files}
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError) as e:
        raise CheckpointError(
            f"cannot read checkpoint {path}: it is truncated or not a checkpoint ({e})") from None

    try:
        meta = json.loads(arrays.pop("meta").tobytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"checkpoint {path} has unreadable metadata ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_TAG:
        raise CheckpointError(f"{path} is not a tinygrad_rnn checkpoint (format tag missing)")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {path} has format version {version}; "
                              f"this version of tinygrad_rnn reads version {FORMAT_VERSION}")
    manifest = meta.pop("manifest", None)
    if not isinstance(manifest, dict) or set(manifest) != set(arrays):
        have = set(arrays)
        want = set(manifest) if isinstance(manifest, dict) else set()
        raise CheckpointError(f"checkpoint {path} is damaged: entries missing "
                              f"{sorted(want - have)}, "
                              f"unexpected {sorted(have - want)}")
    ckpt = Checkpoint(meta=meta, path=str(path))
    groups = dict(zip(_GROUPS, (ckpt.params, ckpt.optimizer, ckpt.state)))
    for key, value in arrays.items():
        shape, dtype = manifest[key]
        if list(value.shape) != list(shape) or value.dtype.str != dtype:
            raise CheckpointError(f"checkpoint {path} is damaged: entry {key!r} has shape "
                                  f"{value.shape} and dtype {value.dtype}, its manifest says "
                                  f"{tuple(shape)} and {np.dtype(dtype)}")
        group, _, name = key.partition(".")
        if group not in groups or not name:
            raise CheckpointError(f"checkpoint {path} has an unknown entry {key!r}")
        groups[group][name] = value
    return ckpt
