"""Learn to continue a sine wave: the classic first recurrent-network tutorial, on tinygrad_rnn.

A single-layer RNN with sigmoid hidden units (``--nonlinearity tanh`` for tanh) reads a unit
sine wave one sample at a time and predicts the next sample with a linear output unit,
trained on the squared error with truncated backpropagation through time (the hidden
state is carried from window to window but detached) and gradients clipped by value.
It prints training and validation loss per epoch and the validation RMSE against two
baselines (predicting 0, and repeating the current sample).

    python examples/sine_wave.py                 # about half a minute
    python examples/sine_wave.py --quick         # a few seconds (also TINYGRAD_RNN_QUICK=1)
    python examples/sine_wave.py --plot sine.png # predictions vs truth (needs matplotlib)
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from typing import Sequence

import numpy as np

import tinygrad_rnn
from tinygrad_rnn import nn, optim
from tinygrad_rnn.data import sine_series
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.callbacks import Callback, Validation
from tinygrad_rnn.train import Trainer, evaluate


class SineWindows:
    """A series cut into `batch_size` contiguous streams, served as time-major windows.

    Window k is ``(x[kT : kT+T], x[kT+1 : kT+T+1])`` of every stream, shape (T, B, 1), so a
    state carried from window k to k + 1 keeps following the same stretch of the wave.
    """

    def __init__(self, series: np.ndarray, batch_size: int, seq_len: int):
        stream_len = len(series) // batch_size
        if stream_len - 1 < seq_len:
            raise ValueError(f"a series of {len(series)} samples is too short for {batch_size} "
                             f"streams of windows of {seq_len}")
        self.streams = series[: batch_size * stream_len].reshape(batch_size, stream_len)
        self.seq_len = seq_len
        self.n = (stream_len - 1) // seq_len

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, k: int) -> tuple:
        s = k * self.seq_len
        x = self.streams[:, s:s + self.seq_len].T[:, :, None]
        y = self.streams[:, s + 1:s + self.seq_len + 1].T[:, :, None]
        return np.ascontiguousarray(x), np.ascontiguousarray(y)


class SineRNN(nn.Module):
    """h_t = sigma(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh);  y_t = W_out h_t + b_out

    x, y: (T, B, 1), time-major; sigma is the sigmoid (or tanh).
    """

    def __init__(self, hidden_size: int = 32, nonlinearity: str = "sigmoid"):
        super().__init__()
        self.rnn = nn.RNN(1, hidden_size, nonlinearity=nonlinearity)
        self.out = nn.Linear(hidden_size, 1)

    def forward(self, x, h=None):
        hs, h = self.rnn(x if isinstance(x, tinygrad_rnn.Tensor) else tinygrad_rnn.Tensor(x), h)
        return self.out(hs), h


def predict(model: SineRNN, series: np.ndarray, warmup: int) -> np.ndarray:
    """One-step-ahead predictions for series[warmup + 1:], after reading series[:warmup]."""
    model.eval()
    with tinygrad_rnn.no_grad():
        y, _ = model(series[:-1].reshape(-1, 1, 1))
    model.train()
    return y.data.reshape(-1)[warmup:]


def main(argv: Sequence[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nonlinearity", choices=("sigmoid", "tanh"), default="sigmoid")
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--seq-len", type=int, default=20, help="truncated-BPTT window")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--clip-value", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", metavar="PNG", help="save predictions vs truth (needs matplotlib)")
    p.add_argument("--quick", action="store_true", help="fewer epochs, for a smoke test")
    args = p.parse_args(argv)
    if args.quick or os.environ.get("TINYGRAD_RNN_QUICK"):
        args.epochs = min(args.epochs, 30)

    tinygrad_rnn.manual_seed(args.seed)
    dt = 0.1
    series = sine_series(4000, dt=dt)            # about 64 periods, 63 samples each
    cut = int(len(series) * 0.8)
    train, val = series[:cut], series[cut:]
    train_windows = SineWindows(train, args.batch_size, args.seq_len)
    val_windows = SineWindows(val, 1, args.seq_len)

    model = SineRNN(args.hidden, args.nonlinearity)
    opt = optim.Adam(list(model.parameters()), lr=args.lr)
    epoch_len = len(train_windows)
    epoch_losses: list = []

    class PerEpoch(Callback):
        def on_step_end(self, t: Trainer, row: dict) -> None:
            if t.step % epoch_len == 0:
                rows = t.history[-epoch_len:]
                train_loss = sum(r["loss"] for r in rows) / len(rows)
                epoch_losses.append((train_loss, t.val_loss))
                print(f"epoch {t.step // epoch_len:>3}  train mse {train_loss:.6f}  "
                      f"val mse {t.val_loss:.6f}")
    trainer = Trainer(model, opt, F.mse_loss, train_windows, clip_value=args.clip_value,
                      smoothing=0.0, callbacks=[Validation(val_windows, every=epoch_len),
                                                PerEpoch()])
    result = trainer.fit(steps=args.epochs * epoch_len)

    val_mse = evaluate(model, val_windows, F.mse_loss)
    rmse = math.sqrt(val_mse)
    zero_rmse = float(np.sqrt(np.mean(val ** 2)))
    repeat_rmse = float(np.sqrt(np.mean(np.diff(val) ** 2)))
    print(f"validation RMSE {rmse:.4f}  (predicting 0: {zero_rmse:.4f}, "
          f"repeating the last sample: {repeat_rmse:.4f}); {result.elapsed:.1f} s")

    if args.plot:
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("matplotlib is not installed: pip install 'tinygrad-rnn[plot]' for --plot",
                  file=sys.stderr)
        else:
            warm = cut - 200   # read some training signal first so the state is settled
            pred = predict(model, series[warm:], 200)
            t = np.arange(cut + 1, len(series))
            fig, ax = plt.subplots(figsize=(8, 3))
            ax.plot(t[:300], series[cut + 1:][:300], label="truth")
            ax.plot(t[:300], pred[:300], "--", label="prediction")
            ax.set_xlabel("sample")
            ax.legend()
            fig.tight_layout()
            fig.savefig(args.plot, dpi=100)
            print(f"saved {args.plot}")
    return {"val_rmse": rmse, "zero_rmse": zero_rmse, "repeat_rmse": repeat_rmse,
            "epochs": epoch_losses, "elapsed": result.elapsed}


if __name__ == "__main__":
    main()
