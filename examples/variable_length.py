"""Sequence classification on variable-length batches: why a padded batch needs its lengths.

Each sequence is 5 to 40 symbols from {A, B, C, D}; the class says whether it holds at
least 4 A's (the count is drawn near the threshold, so the model has to count):

    B A D C A A B D A C                     4 A's  -> class 1
    C A B D D A B                           2 A's  -> class 0

A bidirectional GRU reads a batch of such sequences padded to the batch's longest
length and the class is read from h_n, the final states of both directions side by side.
With `lengths=` each sequence's h_n is its own: the forward direction stops at its last
symbol and the reverse direction starts there, so the padding changes nothing. Without
lengths (the baseline) the forward direction also runs over the padding after each
sequence, and the reverse direction starts in it: the answer for a sequence then depends
on how much padding its batch gives it.

Both models train on the same batches from `BucketBatcher` (similar lengths together,
so little padding) and are tested on held-out sequences twice: in such buckets, and all in
one batch padded to 40 steps. The lengths-aware model gives the same answers both ways;
the baseline, which learned around the little padding it saw, loses much of its accuracy
when the padding changes.

    python examples/variable_length.py            # a few seconds
    python examples/variable_length.py --quick    # fewer steps (also TINYGRAD_RNN_QUICK=1)
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Sequence

import numpy as np

import tinygrad_rnn
from tinygrad_rnn import Tensor, nn, no_grad, optim
from tinygrad_rnn.data import BucketBatcher, pad_batch
from tinygrad_rnn.nn import functional as F

SYMBOLS = "ABCD"                       # ids 0..3; A = 0 is the one counted
N_SYMBOLS = len(SYMBOLS)
MIN_LEN, MAX_LEN = 5, 40
THRESHOLD = 4                          # class 1: at least THRESHOLD A's


def make_dataset(rng: np.random.Generator, n: int) -> tuple:
    """n sequences (list of (L,) int64 ids, MIN_LEN <= L <= MAX_LEN) and their classes (n,).

    Classes are balanced; the number of A's is 1..THRESHOLD-1 for class 0 and
    THRESHOLD..2*THRESHOLD for class 1 (at most L), at random positions."""
    seqs, labels = [], np.empty(n, dtype=np.int64)
    for i in range(n):
        length = int(rng.integers(MIN_LEN, MAX_LEN + 1))
        label = int(rng.integers(2))
        count = int(rng.integers(THRESHOLD, min(2 * THRESHOLD, length) + 1)) if label \
            else int(rng.integers(1, THRESHOLD))
        seq = rng.integers(1, N_SYMBOLS, size=length)          # B, C, D ...
        seq[rng.choice(length, size=count, replace=False)] = 0  # ... and `count` A's
        seqs.append(seq)
        labels[i] = label
    return seqs, labels


class Classifier(nn.Module):
    """One-hot symbols -> bidirectional GRU -> [h_n forward, h_n reverse] -> Linear -> 2 logits.

        out, h_n = GRU(x, lengths=lengths)       x (T, B, 4), h_n (2, B, H)
        logits = W cat[h_n[0], h_n[1]] + b       (B, 2)

    use_lengths=False is the baseline: the same network called without lengths.
    """

    def __init__(self, hidden: int = 32, use_lengths: bool = True):
        super().__init__()
        self.use_lengths = use_lengths
        self.gru = nn.GRU(N_SYMBOLS, hidden, bidirectional=True)
        self.head = nn.Linear(2 * hidden, 2)

    def forward(self, x: np.ndarray, lengths: np.ndarray) -> Tensor:
        _, h_n = self.gru(Tensor(x), lengths=lengths if self.use_lengths else None)
        return self.head(h_n.permute(1, 0, 2).flatten(1))      # (B, 2H): both directions


def predict(model: Classifier, seqs: list, bucketed: bool) -> np.ndarray:
    """The predicted classes, from batches of similar lengths or from one padded batch."""
    if bucketed:
        batches = BucketBatcher(seqs, batch_size=64, shuffle=False, num_classes=N_SYMBOLS)
        batches = [(b.inputs, b.lengths, b.indices) for b in batches.epoch(0)]
    else:
        x, lengths = pad_batch(seqs, num_classes=N_SYMBOLS)     # (MAX_LEN, n, 4)
        batches = [(x, lengths, np.arange(len(seqs)))]
    out = np.empty(len(seqs), dtype=np.int64)
    with no_grad():
        for x, lengths, idx in batches:
            out[idx] = model(x, lengths).argmax(dim=-1).numpy()
    return out


def train(use_lengths: bool, steps: int, seed: int = 0, log: bool = True) -> dict:
    tinygrad_rnn.manual_seed(seed)
    seqs, labels = make_dataset(np.random.default_rng(seed), 2000)
    test_seqs, test_labels = make_dataset(np.random.default_rng(1234), 500)
    batcher = BucketBatcher(seqs, labels, batch_size=32, num_classes=N_SYMBOLS, seed=seed)
    model = Classifier(use_lengths=use_lengths)
    opt = optim.Adam(model.parameters(), lr=1e-2)
    name = "lengths" if use_lengths else "no lengths"
    losses, start = [], time.perf_counter()
    while len(losses) < steps:
        for x, lengths, target, _ in batcher:  # one epoch; the next is reshuffled
            loss = F.cross_entropy(model(x, lengths), target)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            losses.append(loss.item())
            step = len(losses) - 1
            if log and (step % max(1, steps // 4) == 0 or step == steps - 1):
                print(f"[{name:10s}] step {step:4d}  loss {np.mean(losses[-20:]):.3f}")
            if len(losses) == steps:
                break
    seconds = time.perf_counter() - start
    in_buckets = predict(model, test_seqs, bucketed=True)
    one_batch = predict(model, test_seqs, bucketed=False)
    result = {"model": model, "losses": losses, "seconds": seconds,
              "accuracy": float((in_buckets == test_labels).mean()),
              "accuracy_padded": float((one_batch == test_labels).mean()),
              "changed": float((in_buckets != one_batch).mean())}
    print(f"[{name:10s}] held-out accuracy {result['accuracy']:.1%} in length buckets, "
          f"{result['accuracy_padded']:.1%} in one batch padded to {MAX_LEN} steps; "
          f"{result['changed']:.1%} of the answers changed ({steps} steps, {seconds:.1f} s)")
    return result


def main(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer training steps")
    parser.add_argument("--steps", type=int, default=None, help="training steps per model")
    parser.add_argument("--seed", type=int, default=0, help="data and initialisation seed")
    args = parser.parse_args(argv)
    quick = args.quick or os.environ.get("TINYGRAD_RNN_QUICK") == "1"
    if args.steps is not None and args.steps < 1:
        parser.error(f"--steps must be a positive integer, got {args.steps}")
    steps = (150 if quick else 400) if args.steps is None else args.steps
    with_lengths = train(True, steps, args.seed)
    without = train(False, steps, args.seed)
    print(f"held-out accuracy, in length buckets / in one padded batch: with lengths "
          f"{with_lengths['accuracy']:.1%} / {with_lengths['accuracy_padded']:.1%}, without "
          f"{without['accuracy']:.1%} / {without['accuracy_padded']:.1%} (chance 50%)")
    return {"lengths": with_lengths, "no_lengths": without}


if __name__ == "__main__":
    main(sys.argv[1:])
