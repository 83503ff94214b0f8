"""The checkpoint file format: a nested state dict <-> one `.npz` file, without pickle.

A state dict is a tree of dicts, lists and tuples whose leaves are ndarrays or JSON values
(None, bools, ints, floats, strings): what `Trainer.state_dict()`, `Module.state_dict()`
and `Optimizer.state_dict()` return. In the archive every ndarray is its own `.npy` entry
and the tree is JSON text in the entry `meta` (uint8 bytes)::

    meta   {"format": "tinygrad_rnn-checkpoint", "format_version": 2,
            "manifest": {entry: [shape, dtype]}, "tree": <the state, arrays as {"$array": entry}>}

Tuples are written {"$tuple": [...]} and dicts whose keys are not all strings (an
optimizer's per-parameter state) {"$items": [[key, value], ...]}. Writing is atomic (a
temporary file in the same folder, fsync, rename; the file gets the umask's permissions).
Reading checks the whole file (zip structure, every entry's header against the manifest,
the tree) before returning anything, and any problem is one `CheckpointError` naming the file.
"""
from __future__ import annotations

import json
import os
import secrets
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

FORMAT_TAG = "tinygrad_rnn-checkpoint"
FORMAT_VERSION = 2
_TEMP_SUFFIX = ".tmp"


class CheckpointError(ValueError):
    """A checkpoint file that is missing, damaged, not a checkpoint, or for another model."""


# ----- atomic writes ----------------------------------------------------------------------
def atomic_write(path: str | os.PathLike, write: Callable[[Any], None]) -> Path:
    """Call `write(file)` on a temporary file beside `path`, fsync it, then rename it over
    `path`: a reader (or a crash at any moment) sees the old file or the new one, never half.

    The file is created with mode 0666 minus the umask, as `open()` would; the temporary
    name is `.<name>.<random>.tmp`, which `remove_temp_files` recognises."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}{_TEMP_SUFFIX}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        if tmp.exists():
            tmp.unlink()
        if isinstance(e, OSError) and e.filename is None and e.errno is not None:
            # (a full disk: the write itself names no file) say which one, and what is left
            raise OSError(e.errno, f"{e.strerror} while writing {path} (the file there before, "
                          "if any, is unchanged)") from e
        raise
    try:  # make the rename itself durable; not every platform lets a folder be opened
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass
    return path


def remove_temp_files(folder: str | os.PathLike, name: str) -> list[str]:
    """Delete what an interrupted `atomic_write(folder / name)` left behind; their names."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    stale = sorted(folder.glob(f".{name}.*{_TEMP_SUFFIX}"))
    for p in stale:
        p.unlink(missing_ok=True)
    return [str(p) for p in stale]


# ----- the tree <-> JSON + arrays -----------------------------------------------------------
def _encode(obj: Any, path: str, arrays: dict) -> Any:
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject or obj.dtype.kind not in "biufc":
            raise TypeError(f"checkpoint: {path or 'the state'} is an array of dtype {obj.dtype}; "
                            "only numeric arrays are stored")
        name = path or "array"
        while name in arrays:  # keys with "/" in them could collide with a nested path
            name += "_"
        arrays[name] = obj
        return {"$array": name}
    if isinstance(obj, np.generic):
        return _encode(obj.item(), path, arrays)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, tuple):
        return {"$tuple": [_encode(v, f"{path}/{i}", arrays) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, f"{path}/{i}", arrays) for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in obj):
            return {k: _encode(v, f"{path}/{k}" if path else k, arrays) for k, v in obj.items()}
        for k in obj:
            if k is not None and not isinstance(k, (bool, int, float, str)):
                raise TypeError(f"checkpoint: {path or 'the state'} has a key of type "
                                f"{type(k).__name__}; keys must be strings or numbers")
        return {"$items": [[k, _encode(v, f"{path}/{k}", arrays)] for k, v in obj.items()]}
    raise TypeError(f"checkpoint: {path or 'the state'} is a {type(obj).__name__}; a state dict "
                    "holds dicts, lists, tuples, ndarrays and JSON values only")


def _decode(node: Any, arrays: dict, used: set, where: str) -> Any:
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, list):
        return [_decode(v, arrays, used, where) for v in node]
    if not isinstance(node, dict):
        raise CheckpointError(f"{where} is damaged: a {type(node).__name__} in its state tree")
    tags = [k for k in node if k.startswith("$")]
    if not tags:
        return {k: _decode(v, arrays, used, where) for k, v in node.items()}
    if len(node) != 1 or tags[0] not in ("$array", "$tuple", "$items"):
        raise CheckpointError(f"{where} is damaged: unknown entry {sorted(node)} in its state tree")
    tag, value = tags[0], node[tags[0]]
    if tag == "$array":
        if not isinstance(value, str) or value not in arrays:
            raise CheckpointError(f"{where} is damaged: its state names an array {value!r} "
                                  "that the file does not hold")
        if value in used:
            raise CheckpointError(f"{where} is damaged: array {value!r} is named twice")
        used.add(value)
        return arrays[value]
    if not isinstance(value, list):
        raise CheckpointError(f"{where} is damaged: {tag} holds a {type(value).__name__}, "
                              "expected a list")
    if tag == "$tuple":
        return tuple(_decode(v, arrays, used, where) for v in value)
    out = {}
    for item in value:
        if (not isinstance(item, list) or len(item) != 2
                or not (item[0] is None or isinstance(item[0], (bool, int, float, str)))):
            raise CheckpointError(f"{where} is damaged: a $items entry is not a [key, value] pair")
        out[item[0]] = _decode(item[1], arrays, used, where)
    return out


# ----- save / load --------------------------------------------------------------------------
def save_checkpoint(path: str | os.PathLike, state: dict) -> Path:
    """Write the nested state dict `state` to `path` atomically; returns the path."""
    if not isinstance(state, dict):
        raise TypeError(f"save_checkpoint: state must be a dict, got {type(state).__name__}")
    arrays: dict = {}
    tree = _encode(state, "", arrays)
    manifest = {k: [list(v.shape), v.dtype.str] for k, v in arrays.items()}
    head = {"format": FORMAT_TAG, "format_version": FORMAT_VERSION, "manifest": manifest,
            "tree": tree}
    meta = np.frombuffer(json.dumps(head).encode("utf-8"), dtype=np.uint8)
    if "meta" in arrays:
        raise ValueError("checkpoint: 'meta' is reserved; rename that top-level array")
    return atomic_write(path, lambda f: np.savez(f, meta=meta, **arrays))


def _dtype(text: Any, where: str, key: str) -> np.dtype:
    """A manifest's dtype string, if it names a plain numeric dtype."""
    try:
        dtype = np.dtype(text) if isinstance(text, str) else None
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in "biufc" or dtype.fields is not None:
        raise CheckpointError(f"{where} is damaged: entry {key!r} has dtype {text!r} in its "
                              "manifest, expected a numeric dtype such as '<f4'")
    return dtype


def _read_entry(z: zipfile.ZipFile, member: str, where: str, key: str) -> np.ndarray:
    """One `.npy` entry, its header checked before its data is read (no pickle, no object
    dtype, a size that matches the header)."""
    with z.open(member) as f:
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f"version {version}")
        except (ValueError, SyntaxError, EOFError, TypeError):
            raise CheckpointError(f"{where} is damaged: entry {key!r} is not a plain array") from None
        if dtype.hasobject or dtype.kind not in "biufc":
            raise CheckpointError(f"{where} is damaged: entry {key!r} holds {dtype} data "
                                  "(checkpoints hold numeric arrays only, never Python objects)")
        count = int(np.prod(shape, dtype=np.int64))
        data = f.read(count * dtype.itemsize + 1)
    if len(data) != count * dtype.itemsize:
        raise CheckpointError(f"{where} is damaged: entry {key!r} holds {len(data)} bytes, its "
                              f"header says {count * dtype.itemsize}")
    arr = np.frombuffer(data, dtype=dtype, count=count)
    return arr.reshape(shape[::-1]).T.copy() if fortran else arr.reshape(shape).copy()


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read and check a checkpoint file; the nested state dict it holds.

    Raises CheckpointError (one line, naming the file) for anything that is not a
    checkpoint of this format."""
    path = Path(path)
    where = f"checkpoint {path}"
    if not path.exists():
        raise CheckpointError(f"{where} does not exist")
    if path.is_dir():
        raise CheckpointError(f"{where} is a directory, expected a .npz file")
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
            if magic.startswith(b"\x93NUMPY"):
                raise CheckpointError(f"{path} is a single .npy array, not a checkpoint")
            if not magic.startswith(b"PK"):
                raise CheckpointError(f"{path} is not a checkpoint (not an .npz archive)")
            f.seek(0)
            with zipfile.ZipFile(f) as z:
                return _read_archive(z, where, path)
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError,
            NotImplementedError, RuntimeError) as e:
        # zlib.error is an Exception; keep NumPy's or zipfile's wording out of the message
        raise CheckpointError(f"cannot read {where}: it is truncated or not a checkpoint "
                              f"({type(e).__name__})") from None
    except Exception as e:  # noqa: BLE001 - zlib.error and friends of a damaged archive
        raise CheckpointError(f"cannot read {where}: it is truncated or not a checkpoint "
                              f"({type(e).__name__})") from None


def _read_archive(z: zipfile.ZipFile, where: str, path: Path) -> dict:
    members = {}
    for info in z.infolist():
        if not info.filename.endswith(".npy"):
            raise CheckpointError(f"{where} is damaged: entry {info.filename!r} is not an array")
        members[info.filename[:-4]] = info.filename
    if "meta" not in members:
        raise CheckpointError(f"{path} is not a tinygrad_rnn checkpoint (no 'meta' entry)")
    raw = _read_entry(z, members["meta"], where, "meta")
    try:
        head = json.loads(raw.tobytes().decode("utf-8")) if raw.dtype == np.uint8 else None
    except (ValueError, UnicodeDecodeError):
        raise CheckpointError(f"{where} has unreadable metadata (not UTF-8 JSON)") from None
    if not isinstance(head, dict) or head.get("format") != FORMAT_TAG:
        raise CheckpointError(f"{path} is not a tinygrad_rnn checkpoint (format tag missing)")
    version = head.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(f"{where} has format version {version!r}; this version of "
                              f"tinygrad_rnn reads version {FORMAT_VERSION}")
    manifest = head.get("manifest")
    if not isinstance(manifest, dict):
        raise CheckpointError(f"{where} is damaged: its manifest is not a JSON object")
    have, want = set(members) - {"meta"}, set(manifest)
    if have != want:
        raise CheckpointError(f"{where} is damaged: entries missing {sorted(want - have)}, "
                              f"unexpected {sorted(have - want)}")
    arrays = {}
    for key, entry in manifest.items():  # every header is checked before data is trusted
        if (not isinstance(entry, list) or len(entry) != 2 or not isinstance(entry[0], list)
                or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                           for n in entry[0])):
            raise CheckpointError(f"{where} is damaged: manifest entry {key!r} is not "
                                  "[shape, dtype]")
        dtype = _dtype(entry[1], where, key)
        arr = _read_entry(z, members[key], where, key)
        if list(arr.shape) != entry[0] or arr.dtype != dtype:
            raise CheckpointError(f"{where} is damaged: entry {key!r} has shape {arr.shape} and "
                                  f"dtype {arr.dtype}, its manifest says {tuple(entry[0])} "
                                  f"and {dtype}")
        arrays[key] = arr
    used: set = set()
    state = _decode(head.get("tree"), arrays, used, where)
    if not isinstance(state, dict):
        raise CheckpointError(f"{where} is damaged: its state is not a dict")
    if used != set(arrays):
        raise CheckpointError(f"{where} is damaged: arrays {sorted(set(arrays) - used)} "
                              "belong to no part of its state")
    return state


# ----- reading the parts of a state dict ------------------------------------------------------
def get(state: dict, key: str, kind: type | tuple, where: str = "checkpoint") -> Any:
    """`state[key]` if it is a `kind`, else CheckpointError saying what was found."""
    if not isinstance(state, dict) or key not in state:
        raise CheckpointError(f"{where} has no {key!r}")
    value = state[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)
                                        and int in kinds):
        names = " or ".join(k.__name__ if k is not type(None) else "None" for k in kinds)
        raise CheckpointError(f"{where}: {key!r} is a {type(value).__name__}, expected {names}")
    return value


def check_model_state(model: Any, params: Any, config: Any = None, where: str = "checkpoint") -> None:
    """Raise CheckpointError unless `params` fit `model` (config, names, shapes, dtypes)."""
    own_config = getattr(model, "config", None)
    if isinstance(own_config, dict) and isinstance(config, dict) and config != own_config:
        diffs = [f"{k}={config.get(k)!r} (this model: {own_config.get(k)!r})"
                 for k in sorted(set(config) | set(own_config)) if config.get(k) != own_config.get(k)]
        raise CheckpointError(f"{where} is for another model: {', '.join(diffs)}")
    if not isinstance(params, dict):
        raise CheckpointError(f"{where}: the model's parameters are a {type(params).__name__}, "
                              "expected a dict of arrays")
    own = model.state_dict()
    missing, unexpected = sorted(set(own) - set(params)), sorted(set(params) - set(own))
    if missing or unexpected:
        raise CheckpointError(f"{where} is for another model: missing parameters {missing}, "
                              f"unexpected parameters {unexpected}")
    for name, value in own.items():
        got, value = params[name], np.asarray(value)
        if not isinstance(got, np.ndarray):
            raise CheckpointError(f"{where}: parameter {name!r} is a {type(got).__name__}, "
                                  "expected an array")
        if got.shape != value.shape:
            raise CheckpointError(f"{where} is for another model: parameter {name!r} has shape "
                                  f"{got.shape}, the model expects {value.shape}")
        if got.dtype != value.dtype:
            raise CheckpointError(f"{where}: parameter {name!r} has dtype {got.dtype}, the "
                                  f"model expects {value.dtype} (check --dtype)")
