"""Recurrent cells: one time step each, the textbook equations and nothing else.

Every cell keeps PyTorch's parameter names, shapes, gate order and initialisation
(all parameters U(-k, k), k = 1 / sqrt(hidden_size)), so weights move to and from
`torch.nn.RNNCell` / `LSTMCell` / `GRUCell` unchanged. The equations live in each class's
static `step`, which the multi-layer `RNN` / `LSTM` / `GRU` call with their own weights.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_rnn import ops
from tinygrad_rnn._validate import check_choice, check_positive_int, dtype_mismatch
from tinygrad_rnn.nn import init
from tinygrad_rnn.nn.module import Module, Parameter
from tinygrad_rnn.tensor import Tensor


def _affine(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """x @ weight.T + bias as one graph node (shapes are checked at the module boundary)."""
    return ops.Linear.apply(x, weight) if bias is None else ops.Linear.apply(x, weight, bias)


_ACTIVATIONS = {
    "tanh": lambda t: t.tanh(),
    "relu": lambda t: t.relu(),
    "sigmoid": lambda t: t.sigmoid(),
}


def check_nonlinearity(nonlinearity: str, owner: str) -> str:
    return check_choice(nonlinearity, "nonlinearity", owner, tuple(_ACTIVATIONS))


def check_sizes(input_size: Any, hidden_size: Any, owner: str) -> None:
    check_positive_int(input_size, "input_size", owner)
    check_positive_int(hidden_size, "hidden_size", owner)


class _CellBase(Module):
    """Parameters weight_ih (G*H, I), weight_hh (G*H, H), bias_ih, bias_hh (G*H,) for G gates,
    plus the input checks and the unbatched (1-D) convention shared by all cells."""

    _gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__()
        name = type(self).__name__
        check_sizes(input_size, hidden_size, name)
        self.input_size, self.hidden_size, self.bias = int(input_size), int(hidden_size), bias
        rows = self._gates * hidden_size
        self.weight_ih = Parameter(np.empty((rows, input_size), dtype=np.float32))
        self.weight_hh = Parameter(np.empty((rows, hidden_size), dtype=np.float32))
        if bias:
            self.bias_ih = Parameter(np.empty(rows, dtype=np.float32))
            self.bias_hh = Parameter(np.empty(rows, dtype=np.float32))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        k = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -k, k)

    def _weights(self) -> tuple:
        return self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh

    def _check_input(self, x: Any) -> tuple:
        """x as (B, input_size) and whether it came unbatched (1-D)."""
        name = type(self).__name__
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(x).__name__}")
        if x.dtype.kind != "f":  # (np.issubdtype costs microseconds on this per-step path)
            raise TypeError(f"{name}: input must be floating-point, got dtype {x.dtype}")
        w = self._parameters.get("weight_ih")
        if w is not None and x.dtype != w.dtype:  # as PyTorch: no silent float64 run of float32
            raise dtype_mismatch(name, "input", x.dtype, w.dtype, module=True)
        if x.ndim not in (1, 2):
            raise ValueError(f"{name}: expected input of shape (batch, input_size) or "
                             f"(input_size,), got a {x.ndim}-D tensor of shape {x.shape}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input has {x.shape[-1]} features (shape {x.shape}), "
                             f"expected input_size={self.input_size}")
        return (x.reshape(1, -1), True) if x.ndim == 1 else (x, False)

    def _check_state(self, s: Any, what: str, batch: int, unbatched: bool, dtype: Any) -> Tensor:
        """A state tensor as (B, hidden_size); zeros when None."""
        name = type(self).__name__
        H = self.hidden_size
        if s is None:
            return Tensor(np.zeros((batch, H), dtype=dtype))
        if not isinstance(s, Tensor):
            raise TypeError(f"{name}: {what} must be a Tensor or None, got {type(s).__name__}")
        if s.dtype != dtype:
            raise dtype_mismatch(name, what, s.dtype, dtype)
        expected = (H,) if unbatched else (batch, H)
        if s.shape != expected:
            layout = "(hidden_size,) for unbatched input" if unbatched else "(batch, hidden_size)"
            raise ValueError(f"{name}: {what} has shape {s.shape}, expected {expected} {layout}")
        return s.reshape(1, H) if unbatched else s

    def extra_repr(self) -> str:
        extra = "" if self.bias else ", bias=False"
        return f"{self.input_size}, {self.hidden_size}{extra}"


class RNNCell(_CellBase):
    """Elman cell.

        h' = act(x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh)
        act = tanh | relu | sigmoid

    x: (batch, input_size) or (input_size,);  h, h': (batch, hidden_size) or (hidden_size,);
    weight_ih: (hidden_size, input_size);  weight_hh: (hidden_size, hidden_size);
    bias_ih, bias_hh: (hidden_size,). h defaults to zeros.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh"):
        nonlinearity = check_nonlinearity(nonlinearity, "RNNCell")
        super().__init__(input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity

    def forward(self, x: Tensor, hx: Tensor | None = None) -> Tensor:
        x, unbatched = self._check_input(x)
        h = self._check_state(hx, "h", x.shape[0], unbatched, x.dtype)
        h_new = self.step(x, h, *self._weights(), nonlinearity=self.nonlinearity)
        return h_new.reshape(-1) if unbatched else h_new

    @staticmethod
    def step(x: Tensor, h: Tensor, weight_ih: Tensor, weight_hh: Tensor,
             bias_ih: Tensor | None = None, bias_hh: Tensor | None = None,
             nonlinearity: str = "tanh") -> Tensor:
        """One step on batched tensors: x (B, I), h (B, H) -> h' (B, H)."""
        pre = _affine(x, weight_ih, bias_ih) + _affine(h, weight_hh, bias_hh)
        return _ACTIVATIONS[nonlinearity](pre)

    def extra_repr(self) -> str:
        extra = "" if self.nonlinearity == "tanh" else f", nonlinearity={self.nonlinearity!r}"
        return super().extra_repr() + extra


class LSTMCell(_CellBase):
    """Long short-term memory cell (gate order i, f, g, o, as PyTorch).

        gates = x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh      (batch, 4 * hidden)
        i = sigmoid(gates[:, 0H:1H])      input gate
        f = sigmoid(gates[:, 1H:2H])      forget gate
        g = tanh(gates[:, 2H:3H])         candidate
        o = sigmoid(gates[:, 3H:4H])      output gate
        c' = f * c + i * g
        h' = o * tanh(c')

    x: (batch, input_size) or (input_size,);  h, c, h', c': (batch, hidden_size) or
    (hidden_size,);  weight_ih: (4 * hidden_size, input_size);
    weight_hh: (4 * hidden_size, hidden_size);  bias_ih, bias_hh: (4 * hidden_size,).
    `forward(x, (h, c))` returns (h', c'); the state defaults to zeros.
    """

    _gates = 4

    def forward(self, x: Tensor, hx: tuple | None = None) -> tuple:
        x, unbatched = self._check_input(x)
        state = (None, None) if hx is None else hx
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise TypeError(f"LSTMCell: state must be a tuple (h, c) or None, "
                            f"got {type(state).__name__}")
        h = self._check_state(state[0], "h", x.shape[0], unbatched, x.dtype)
        c = self._check_state(state[1], "c", x.shape[0], unbatched, x.dtype)
        h_new, c_new = self.step(x, (h, c), *self._weights())
        if unbatched:
            return h_new.reshape(-1), c_new.reshape(-1)
        return h_new, c_new

    @staticmethod
    def step(x: Tensor, state: tuple, weight_ih: Tensor, weight_hh: Tensor,
             bias_ih: Tensor | None = None, bias_hh: Tensor | None = None) -> tuple:
        """One step on batched tensors: x (B, I), (h, c) (B, H) each -> (h', c')."""
        h, c = state
        H = h.shape[-1]
        gates = _affine(x, weight_ih, bias_ih) + _affine(h, weight_hh, bias_hh)
        i = gates[:, 0 * H:1 * H].sigmoid()
        f = gates[:, 1 * H:2 * H].sigmoid()
        g = gates[:, 2 * H:3 * H].tanh()
        o = gates[:, 3 * H:4 * H].sigmoid()
        c_new = f * c + i * g
        h_new = o * c_new.tanh()
        return h_new, c_new


class GRUCell(_CellBase):
    """Gated recurrent unit (gate order r, z, n, as PyTorch).

        gi = x @ weight_ih.T + bias_ih                 (batch, 3 * hidden): [W_ir x, W_iz x, W_in x]
        gh = h @ weight_hh.T + bias_hh                 (batch, 3 * hidden): [W_hr h, W_hz h, W_hn h]
        r = sigmoid(gi[:, 0H:1H] + gh[:, 0H:1H])      reset gate
        z = sigmoid(gi[:, 1H:2H] + gh[:, 1H:2H])      update gate
        n = tanh(gi[:, 2H:3H] + r * gh[:, 2H:3H])      candidate: r gates W_hn h + b_hn
        h' = (1 - z) * n + z * h

    x: (batch, input_size) or (input_size,);  h, h': (batch, hidden_size) or (hidden_size,);
    weight_ih: (3 * hidden_size, input_size);  weight_hh: (3 * hidden_size, hidden_size);
    bias_ih, bias_hh: (3 * hidden_size,). h defaults to zeros.
    """

    _gates = 3

    def forward(self, x: Tensor, hx: Tensor | None = None) -> Tensor:
        x, unbatched = self._check_input(x)
        h = self._check_state(hx, "h", x.shape[0], unbatched, x.dtype)
        h_new = self.step(x, h, *self._weights())
        return h_new.reshape(-1) if unbatched else h_new

    @staticmethod
    def step(x: Tensor, h: Tensor, weight_ih: Tensor, weight_hh: Tensor,
             bias_ih: Tensor | None = None, bias_hh: Tensor | None = None) -> Tensor:
        """One step on batched tensors: x (B, I), h (B, H) -> h' (B, H)."""
        H = h.shape[-1]
        gi = _affine(x, weight_ih, bias_ih)
        gh = _affine(h, weight_hh, bias_hh)
        r = (gi[:, 0 * H:1 * H] + gh[:, 0 * H:1 * H]).sigmoid()
        z = (gi[:, 1 * H:2 * H] + gh[:, 1 * H:2 * H]).sigmoid()
        n = (gi[:, 2 * H:3 * H] + r * gh[:, 2 * H:3 * H]).tanh()
        return (1 - z) * n + z * h
