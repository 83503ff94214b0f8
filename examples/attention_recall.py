"""Attention over a bidirectional GRU: associative recall.

Each sequence is a query key, a separator, then 2 to 4 (key, value) pairs, padded to one
length:

    q  ?  k1 v1  k2 v2  k3 v3  <pad> <pad>        target: the value v_i of the key k_i == q

The bidirectional GRU binds each key to the value next to it (its backward direction has
read v_i when it reaches k_i); dot-product attention from the query then looks the pair up
by content, with the padding and the first two positions masked out. The same GRU without
attention (a read-out of its final states) has to squeeze every pair into one vector and
learns far more slowly. The script trains both for the same number of steps and prints
their accuracy on held-out sequences (chance: 1 in 8).

    python examples/attention_recall.py            # a few seconds
    python examples/attention_recall.py --quick    # fewer steps (also TINYGRAD_RNN_QUICK=1)
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from typing import Sequence

import numpy as np

import tinygrad_rnn
from tinygrad_rnn import nn, no_grad, optim
from tinygrad_rnn.nn import functional as F

N_KEYS = N_VALUES = 8
MIN_PAIRS, MAX_PAIRS = 2, 4
PAD, SEP = 0, 1                        # token ids: PAD, SEP, the keys, then the values
KEY0, VALUE0 = 2, 2 + N_KEYS
VOCAB = 2 + N_KEYS + N_VALUES
LENGTH = 2 + 2 * MAX_PAIRS


def make_batch(rng: np.random.Generator, batch: int) -> tuple:
    """(tokens (batch, LENGTH) int64, target value index (batch,), pad mask (batch, LENGTH))."""
    tokens = np.full((batch, LENGTH), PAD, dtype=np.int64)
    target = np.empty(batch, dtype=np.int64)
    for b in range(batch):
        n = rng.integers(MIN_PAIRS, MAX_PAIRS + 1)
        keys = rng.choice(N_KEYS, size=n, replace=False)
        values = rng.integers(N_VALUES, size=n)
        ask = rng.integers(n)
        tokens[b, 0], tokens[b, 1] = KEY0 + keys[ask], SEP
        tokens[b, 2: 2 + 2 * n: 2] = KEY0 + keys
        tokens[b, 3: 3 + 2 * n: 2] = VALUE0 + values
        target[b] = values[ask]
    return tokens, target, tokens == PAD


class Recall(nn.Module):
    """Embedding -> bidirectional GRU -> (attention from the query | final states) -> MLP.

        out, h_n = GRU(embed(tokens))            out (B, T, 2H), h_n (2, B, 2H / 2)
        q = W_q out[:, 0]                        (B, D): the query position
        k, v = chunk(W_kv out, 2)                (B, T, D) each
        a = softmax(masked_fill(k q / sqrt(D), not a pair position, -inf), dim=-1)   (B, T)
        c = a @ v                                (B, D)
        logits = W_2 gelu(W_1 layer_norm(cat[c, q]))                                 (B, 8)

    Without attention, c is a projection of the GRU's final states (both directions).
    """

    def __init__(self, hidden: int = 32, dim: int = 32, attention: bool = True):
        super().__init__()
        self.attention, self.dim = attention, dim
        self.embed = nn.Embedding(VOCAB, 16)
        self.gru = nn.GRU(16, hidden, batch_first=True, bidirectional=True)
        self.query = nn.Linear(2 * hidden, dim)
        self.kv = nn.Linear(2 * hidden, 2 * dim)  # keys and values in one product
        self.norm = nn.LayerNorm(2 * dim)
        self.mlp = nn.Sequential(nn.Linear(2 * dim, 64), nn.GELU(), nn.Linear(64, N_VALUES))

    def forward(self, tokens: np.ndarray, pad: np.ndarray) -> tuple:
        out, h_n = self.gru(self.embed(tokens))                  # (B, T, 2H), (2, B, H)
        q = self.query(out[:, 0])                                # (B, D)
        if self.attention:
            k, v = self.kv(out).chunk(2, dim=-1)                 # (B, T, D) each
            scores = k.bmm(q.unsqueeze(-1)).squeeze(-1) / math.sqrt(self.dim)  # (B, T)
            not_a_pair = pad.copy()
            not_a_pair[:, :2] = True                             # the query and separator
            weights = scores.masked_fill(not_a_pair, -1e9).softmax(dim=-1)
            context = weights.unsqueeze(1).bmm(v).squeeze(1)     # (B, D)
        else:  # both directions' final states, side by side
            weights = None
            context = self.kv(h_n.permute(1, 0, 2).flatten(1)).chunk(2, dim=-1)[1]
        logits = self.mlp(self.norm(tinygrad_rnn.cat([context, q], dim=-1)))
        return logits, weights


def accuracy(model: Recall, data: tuple) -> float:
    tokens, target, pad = data
    with no_grad():
        logits, _ = model(tokens, pad)
    return float((logits.argmax(dim=-1).numpy() == target).mean())


def train(attention: bool, steps: int, seed: int = 0, log: bool = True) -> dict:
    tinygrad_rnn.manual_seed(seed)
    rng = np.random.default_rng(seed)
    held_out = make_batch(np.random.default_rng(1234), 512)
    model = Recall(attention=attention)
    opt = optim.Adam(model.parameters(), lr=3e-3)
    name = "attention" if attention else "final states"
    losses, start = [], time.perf_counter()
    for step in range(steps):
        tokens, target, pad = make_batch(rng, 32)
        logits, _ = model(tokens, pad)
        loss = F.cross_entropy(logits, target)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if log and (step % max(1, steps // 5) == 0 or step == steps - 1):
            print(f"[{name:12s}] step {step:4d}  loss {np.mean(losses[-20:]):.3f}")
    acc = accuracy(model, held_out)
    print(f"[{name:12s}] held-out accuracy {acc:.1%} after {steps} steps "
          f"({time.perf_counter() - start:.1f} s)")
    return {"model": model, "losses": losses, "accuracy": acc}


def show_attention(model: Recall) -> None:
    """One held-out sequence and where the query looked."""
    tokens, target, pad = make_batch(np.random.default_rng(7), 1)
    with no_grad():
        logits, weights = model(tokens, pad)

    def spell(t: int) -> str:
        return "." if t == PAD else "?" if t == SEP else \
            f"k{t - KEY0}" if t < VALUE0 else f"v{t - VALUE0}"

    print("sequence:  " + " ".join(f"{spell(t):>4s}" for t in tokens[0]))
    print("attention: " + " ".join(f"{w:4.2f}" for w in weights.numpy()[0]))
    print(f"predicted v{int(logits.argmax().item())}, target v{target[0]}")


def main(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer training steps")
    parser.add_argument("--steps", type=int, default=None, help="training steps per model")
    args = parser.parse_args(argv)
    quick = args.quick or os.environ.get("TINYGRAD_RNN_QUICK") == "1"
    if args.steps is not None and args.steps < 1:
        parser.error(f"--steps must be a positive integer, got {args.steps}")
    steps = (150 if quick else 400) if args.steps is None else args.steps
    with_attention = train(True, steps)
    without = train(False, steps)
    show_attention(with_attention["model"])
    print(f"accuracy with attention {with_attention['accuracy']:.1%}, from the final states "
          f"{without['accuracy']:.1%} (chance {1 / N_VALUES:.1%})")
    return {"attention": with_attention, "final_states": without}


if __name__ == "__main__":
    main(sys.argv[1:])
