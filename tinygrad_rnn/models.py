"""Ready-made models, each rebuilt from a plain config dict (which checkpoints store)."""
from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_rnn import nn
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.tensor import Tensor

CELLS = ("rnn", "lstm", "gru", "mingru", "minlstm", "indrnn")


class CharRNN(nn.Module):
    """Character language model: embedding (or one-hot) -> recurrent stack -> linear.

    The stack is nn.RNN, LSTM, GRU, or one of the cells without a product in the time loop
    (MinGRU, MinLSTM, IndRNN): `cell` is one of CELLS.

        x_t  = E[idx_t]            (embedding_dim > 0)   or   onehot(idx_t)  (embedding_dim = 0)
        h_t  = cell(x_t, h_{t-1})  through `num_layers` layers, dropout between layers
        y_t  = W h_t + b           logits over the vocabulary

    idx: (T, B) integer indices (time-major)  ->  logits: (T, B, vocab_size)
    """

    def __init__(self, vocab_size: int, hidden_size: int = 128, num_layers: int = 1,
                 cell: str = "lstm", dropout: float = 0.0, embedding_dim: int = 0,
                 nonlinearity: str = "tanh"):
        super().__init__()
        if vocab_size < 2:
            raise ValueError(f"CharRNN needs a vocabulary of at least 2 symbols, got {vocab_size}")
        if cell not in CELLS:
            raise ValueError(f"CharRNN: unknown cell {cell!r}, expected one of {', '.join(CELLS)}")
        if hidden_size < 1 or num_layers < 1:
            raise ValueError(f"CharRNN: hidden_size and num_layers must be >= 1, "
                             f"got {hidden_size} and {num_layers}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"CharRNN: dropout must be in [0, 1), got {dropout}")
        if embedding_dim < 0:
            raise ValueError(f"CharRNN: embedding_dim must be >= 0 (0 = one-hot), "
                             f"got {embedding_dim}")
        self.config = dict(vocab_size=int(vocab_size), hidden_size=int(hidden_size),
                           num_layers=int(num_layers), cell=cell, dropout=float(dropout),
                           embedding_dim=int(embedding_dim), nonlinearity=nonlinearity)
        self.vocab_size = vocab_size
        self.dropout_p = dropout
        if embedding_dim:
            self.embedding = nn.Embedding(vocab_size, embedding_dim)
            input_size = embedding_dim
        else:
            self.embedding = None
            input_size = vocab_size
        between = dropout if num_layers > 1 else 0.0  # one layer: only the output dropout
        if cell == "rnn":
            self.rnn = nn.RNN(input_size, hidden_size, num_layers, dropout=between,
                              nonlinearity=nonlinearity)
        else:  # the cells without a product in the time loop take the same arguments
            layer = {"lstm": nn.LSTM, "gru": nn.GRU, "mingru": nn.MinGRU,
                     "minlstm": nn.MinLSTM, "indrnn": nn.IndRNN}[cell]
            self.rnn = layer(input_size, hidden_size, num_layers, dropout=between)
        self.decoder = nn.Linear(hidden_size, vocab_size)

    @classmethod
    def from_config(cls, config: dict) -> "CharRNN":
        """The model described by `config` (as stored in `model.config`), freshly initialised."""
        known = {"vocab_size", "hidden_size", "num_layers", "cell", "dropout", "embedding_dim",
                 "nonlinearity"}
        unknown = set(config) - known
        if unknown:
            raise ValueError(f"CharRNN config has unknown keys {sorted(unknown)}")
        return cls(**config)

    def _inputs(self, idx: Any) -> Tensor:
        idx = idx.data if isinstance(idx, Tensor) else np.asarray(idx)
        if idx.ndim != 2 or not np.issubdtype(idx.dtype, np.integer):
            raise ValueError(f"CharRNN expects (T, B) integer indices, got shape {idx.shape} "
                             f"and dtype {idx.dtype}")
        if self.embedding is not None:
            return self.embedding(Tensor(idx))
        if idx.size and (idx.min() < 0 or idx.max() >= self.vocab_size):
            raise IndexError(f"CharRNN: index out of range [0, {self.vocab_size}): "
                             f"got min {idx.min()}, max {idx.max()}")
        # one-hot rows are constants: the first matmul then picks columns of weight_ih_l0
        dtype = self.decoder.weight.dtype
        return Tensor(np.eye(self.vocab_size, dtype=dtype)[idx])

    def forward(self, idx: Any, state: Any = None) -> tuple:
        """(logits (T, B, vocab_size), state) for indices (T, B) and the carried state."""
        x = self._inputs(idx)
        out, state = self.rnn(x, state)
        if self.dropout_p and self.training:
            out = F.dropout(out, self.dropout_p, training=True)
        return self.decoder(out), state
