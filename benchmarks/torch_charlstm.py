"""The character LSTM of `tinygrad-rnn train`, in PyTorch, for a same-budget comparison.

    python benchmarks/torch_charlstm.py --data data.txt --time-budget 600
    tinygrad-rnn train --data data.txt --layers 2 --hidden 256 --seq-len 64 --batch-size 32 \
        --optimizer adam --lr 2e-3 --clip-norm 1.0 --time-budget 600 --val-every 200

Everything that defines the numbers matches the `tinygrad-rnn train` pipeline: the vocabulary
(sorted distinct characters), the split (the last `--val-fraction` of the text held out),
the batching (the text cut into B contiguous streams read in time-major windows of T, the
state carried and detached between windows and reset at each pass), one-hot inputs, the
loss (mean cross-entropy in nats per character), clipping of the global gradient norm,
validation (at most 50 consecutive windows of the held-out tail with a carried state), and
the time budget (checked before each step; validation time counts). Only the model and the
optimizer are PyTorch's. Needs PyTorch; nothing from tinygrad_rnn is used.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F


def windows(ids: np.ndarray, batch_size: int, seq_len: int) -> list:
    """(inputs, targets) pairs of shape (T, B): stream b is ids[b*L:(b+1)*L]."""
    stream_len = len(ids) // batch_size
    streams = ids[: batch_size * stream_len].reshape(batch_size, stream_len)
    n = (stream_len - 1) // seq_len
    return [(torch.from_numpy(np.ascontiguousarray(streams[:, k * seq_len:(k + 1) * seq_len].T)),
             torch.from_numpy(np.ascontiguousarray(streams[:, k * seq_len + 1:(k + 1) * seq_len + 1].T)))
            for k in range(n)]


class CharLSTM(torch.nn.Module):
    def __init__(self, vocab_size: int, hidden: int, layers: int):
        super().__init__()
        self.vocab_size = vocab_size
        self.rnn = torch.nn.LSTM(vocab_size, hidden, layers)
        self.decoder = torch.nn.Linear(hidden, vocab_size)

    def forward(self, idx, state=None):
        out, state = self.rnn(F.one_hot(idx, self.vocab_size).float(), state)
        return self.decoder(out), state


def evaluate(model, val, max_windows: int = 50) -> float:
    model.eval()
    total, state = 0.0, None
    with torch.no_grad():
        for x, y in val[:max_windows]:
            logits, state = model(x, state)
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)).item()
    model.train()
    return total / min(len(val), max_windows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--clip-norm", type=float, default=1.0)
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--val-every", type=int, default=200)
    p.add_argument("--time-budget", type=float, default=600.0)
    p.add_argument("--steps", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, help="torch.set_num_threads (default: PyTorch's)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    with open(args.data, encoding="utf-8") as f:
        text = f.read()
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    ids = np.array([index[c] for c in text], dtype=np.int64)
    n_val = int(len(ids) * args.val_fraction)
    train_ids, val_ids = ids[: len(ids) - n_val], ids[len(ids) - n_val:]
    train = windows(train_ids, args.batch_size, args.seq_len)
    val = windows(val_ids, min(args.batch_size, len(val_ids) // (args.seq_len + 1)), args.seq_len)

    model = CharLSTM(len(chars), args.hidden, args.layers)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads; {len(text):,} "
          f"characters, vocabulary {len(chars)}; {len(train)} training windows per pass", flush=True)
    step, state, smooth, val_loss = 0, None, None, None
    start = time.perf_counter()
    while args.steps is None or step < args.steps:
        if time.perf_counter() - start >= args.time_budget:
            break
        k = step % len(train)
        if k == 0:
            state = None
        x, y = train[k]
        logits, state = model(x, state)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip_norm)
        opt.step()
        state = tuple(s.detach() for s in state)
        step += 1
        smooth = loss.item() if smooth is None else 0.98 * smooth + 0.02 * loss.item()
        if args.val_every and step % args.val_every == 0:
            val_loss = evaluate(model, val)
            elapsed = time.perf_counter() - start
            print(f"step {step:>6} | loss {smooth:.4f} | val {val_loss:.4f} | "
                  f"{step * args.seq_len * args.batch_size / elapsed:.0f} chars/s | {elapsed:.0f}s",
                  flush=True)
    elapsed = time.perf_counter() - start
    val_loss = evaluate(model, val)
    print(f"step {step}: train loss {smooth:.4f}, validation loss {val_loss:.4f} nats/char, "
          f"{elapsed:.1f} s")


if __name__ == "__main__":
    main()
