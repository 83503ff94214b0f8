"""A minimal character-level language model in the spirit of the classic `min-char-rnn`.

The same setup as that one-file NumPy script: a vanilla RNN of 100 tanh units reading
one-hot characters, windows of 25 characters with the state carried across them,
Adagrad with learning rate 0.1, every gradient entry clipped to [-5, 5], a smoothed loss,
and a sample printed every so often. The gradients come from tinygrad_rnn's autograd
instead of hand-written backprop. `--cell lstm` swaps in an LSTM.

    python examples/char_rnn.py                      # built-in corpus, about 45 seconds
    python examples/char_rnn.py --data input.txt --cell lstm --seconds 300
    python examples/char_rnn.py --quick              # a few seconds (also TINYGRAD_RNN_QUICK=1)

The loss is printed in nats per character (min-char-rnn prints the sum over a window:
multiply by 25 to compare).
"""
from __future__ import annotations

import argparse
import os
from typing import Sequence

import tinygrad_rnn
from tinygrad_rnn import optim
from tinygrad_rnn.data import CharVocab, TBPTTBatcher, default_corpus, load_text
from tinygrad_rnn.models import CharRNN
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.sample import sample
from tinygrad_rnn.callbacks import Callback
from tinygrad_rnn.train import Trainer


def main(argv: Sequence[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", help="UTF-8 text file (default: the built-in corpus)")
    p.add_argument("--cell", choices=("rnn", "lstm", "gru"), default="rnn")
    p.add_argument("--hidden", type=int, default=100)
    p.add_argument("--seq-len", type=int, default=25)
    p.add_argument("--batch-size", type=int, default=1, help="parallel streams (min-char-rnn: 1)")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--clip-value", type=float, default=5.0)
    p.add_argument("--seconds", type=float, default=45.0, help="training time")
    p.add_argument("--steps", type=int, help="stop after this many steps instead")
    p.add_argument("--sample-every", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="a short run, for a smoke test")
    args = p.parse_args(argv)
    for name in ("hidden", "seq_len", "batch_size", "steps", "sample_every", "seconds"):
        value = getattr(args, name)
        if value is not None and not value > 0:
            p.error(f"--{name.replace('_', '-')} must be positive, got {value}")
    if args.quick or os.environ.get("TINYGRAD_RNN_QUICK"):
        args.steps = 300 if args.steps is None else args.steps
        args.sample_every = min(args.sample_every, 150)

    try:
        text = load_text(args.data) if args.data else default_corpus()
    except (OSError, ValueError) as e:  # a missing or unusable file: one line, no traceback
        p.error(str(e))
    vocab = CharVocab(text)
    ids = vocab.encode(text)
    windows = TBPTTBatcher(ids, args.batch_size, args.seq_len)
    print(f"{len(text):,} characters, {len(vocab)} distinct; {args.cell.upper()} of {args.hidden}")

    tinygrad_rnn.manual_seed(args.seed)
    model = CharRNN(len(vocab), hidden_size=args.hidden, cell=args.cell)  # one-hot inputs
    opt = optim.Adagrad(list(model.parameters()), lr=args.lr)
    samples: list = []

    class Report(Callback):
        def on_step_end(self, t: Trainer, row: dict) -> None:
            if t.step % args.sample_every == 0 or t.step == 1:
                # a private generator: sampling must not move the training's random stream
                text = sample(model, vocab, length=120, seed=t.step)
                samples.append(text)
                print(f"--- step {t.step}, smoothed loss {t.smooth_loss:.3f} nats/char, "
                      f"{row['chars_per_s']:.0f} chars/s ---\n{text}\n")
    trainer = Trainer(model, opt, F.cross_entropy, windows, clip_value=args.clip_value,
                      smoothing=0.99, callbacks=[Report()])
    result = trainer.fit(steps=args.steps, time_budget=None if args.steps else args.seconds)
    smooth = [r["smooth_loss"] for r in result.history]
    print(f"{result.step} steps in {result.elapsed:.1f} s; smoothed loss "
          f"{smooth[0]:.3f} -> {smooth[-1]:.3f} nats/char")
    return {"smooth_loss": smooth, "samples": samples, "steps": result.step,
            "elapsed": result.elapsed, "final_sample": sample(model, vocab, length=200, seed=1)}


if __name__ == "__main__":
    main()
