"""Text generation from a character model: temperature, top-k or greedy, after a prime text;
`load_model` rebuilds the model of a checkpoint or run folder written by `tinygrad-rnn train`."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

import tinygrad_rnn
from tinygrad_rnn.callbacks import BEST_NAME, CHECKPOINT_NAME
from tinygrad_rnn.checkpoint import CheckpointError, check_model_state, get, load_checkpoint
from tinygrad_rnn.data.text import CharVocab
from tinygrad_rnn.function import no_grad
from tinygrad_rnn.models import CharRNN


_META_HINT = ("Checkpoint(folder, meta={'model_config': model.config, 'vocab': vocab.to_list()}) "
              "(and 'dtype': 'float64' for a float64 model)")


def checkpoint_file(path: str | os.PathLike) -> Path:
    """`path` itself, or for a run folder its best.npz (else its checkpoint.npz)."""
    path = Path(path)
    if path.is_dir():
        for name in (BEST_NAME, CHECKPOINT_NAME):
            if (path / name).is_file():
                return path / name
        raise CheckpointError(f"{path} holds no {BEST_NAME} or {CHECKPOINT_NAME}")
    return path


def load_model(path: str | os.PathLike) -> tuple:
    """(model in eval mode, vocab) from a checkpoint written by `train`, or a run folder."""
    path = checkpoint_file(path)
    state = load_checkpoint(path)
    where = f"checkpoint {path}"
    meta = state.get("meta")
    if meta is None or isinstance(meta, dict) and not (
            isinstance(meta.get("model_config"), dict) and isinstance(meta.get("vocab"), list)):
        what = "no 'meta'" if meta is None else "no model config or vocabulary in its meta"
        raise CheckpointError(f"{where} has {what}: sampling needs the model config and the "
                              "vocabulary, which `tinygrad-rnn train` saves; for a CharRNN "
                              f"trained in Python, save with {_META_HINT}")
    meta = get(state, "meta", dict, where)
    dtype = meta.get("dtype", "float32")
    if dtype not in ("float32", "float64"):
        raise CheckpointError(f"{where} has an unusable dtype {dtype!r}")
    try:
        model = CharRNN.from_config(meta["model_config"])
        if not all(isinstance(c, str) for c in meta["vocab"]):
            raise TypeError("the vocabulary holds non-strings")
        vocab = CharVocab.from_list(meta["vocab"])
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{where} has an unusable model config or vocabulary: {e}") from None
    if len(vocab) != model.vocab_size:
        raise CheckpointError(f"{where}: its vocabulary has {len(vocab)} characters, its model "
                              f"{model.vocab_size}")
    model.to(np.dtype(dtype))
    params = get(state, "model", dict, where)
    check_model_state(model, params, state.get("model_config"), where)
    model.load_state_dict({k: v.copy() for k, v in params.items()})
    model.eval()
    return model, vocab


def next_index(logits: np.ndarray, temperature: float = 1.0, top_k: int | None = None,
               greedy: bool = False, rng: np.random.Generator | None = None) -> int:
    """Draw one index from softmax(logits / temperature), limited to the top_k largest logits.

    `greedy` takes the arg-max. Ties in the arg-max go to the lowest index.
    """
    logits = np.asarray(logits, dtype=np.float64).reshape(-1)
    if greedy:
        return int(np.argmax(logits))
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0 (use greedy for the arg-max), got {temperature}")
    if top_k is not None:
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        if top_k < logits.size:
            kth = np.partition(logits, -top_k)[-top_k]
            logits = np.where(logits >= kth, logits, -np.inf)
    z = logits / temperature
    z = z - z.max()
    p = np.exp(z)
    p /= p.sum()
    rng = rng if rng is not None else tinygrad_rnn.get_rng()
    return int(rng.choice(p.size, p=p))


def sample(model: Any, vocab: Any, length: int = 200, prime: str = "", temperature: float = 1.0,
           top_k: int | None = None, greedy: bool = False, seed: int | None = None) -> str:
    """`prime` followed by `length` generated characters.

    The model reads the prime (or, if empty, a newline when the vocabulary has one, else its
    first symbol, which is not returned) and then feeds back each drawn character. `seed`
    gives a private generator, so sampling repeats exactly and leaves the global one alone;
    without it the package generator (`tinygrad_rnn.get_rng()`) is used.
    """
    if length < 0:
        raise ValueError(f"length must be >= 0, got {length}")
    if not greedy and not temperature > 0:
        raise ValueError(f"temperature must be > 0 (use greedy for the arg-max), got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    unknown = sorted({c for c in prime if c not in vocab})
    if unknown:
        raise ValueError(f"prime text has characters not in the model's vocabulary: "
                         f"{''.join(unknown)!r}")
    rng = np.random.default_rng(seed) if seed is not None else None
    start = prime if prime else ("\n" if "\n" in vocab else vocab.decode([0]))
    idx = np.asarray(vocab.encode(start), dtype=np.int64)
    was_training = model.training
    model.eval()
    out: list = []
    try:
        with no_grad():
            logits, state = model(idx.reshape(-1, 1), None)
            for _ in range(length):
                i = next_index(logits.data[-1, 0], temperature, top_k, greedy, rng)
                out.append(i)
                logits, state = model(np.array([[i]], dtype=np.int64), state)
    finally:
        model.train(was_training)
    return prime + vocab.decode(out)
