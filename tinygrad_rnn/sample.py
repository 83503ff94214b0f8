"""Text generation from a character model: temperature, top-k or greedy, after a prime text."""
from __future__ import annotations

from typing import Any

import numpy as np

import tinygrad_rnn
from tinygrad_rnn.function import no_grad


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
