"""Recurrent cells without a matrix product in the time loop, and their layers.

minGRU and minLSTM ("Were RNNs All We Needed?", Feng et al. 2024) gate a candidate that
depends on the input only, so h_t = a_t * h_{t-1} + b_t is a linear recurrence; IndRNN
(Li et al. 2018) has one recurrent weight per unit, so its loop is elementwise. A cell's
static `step` holds its equations (what `nn.Recurrent` runs, one step at a time); its static
`sequence` runs the same equations over a whole (T, B, I) sequence: every product in one GEMM
over all T * B rows, then the time loop as one node (`linear_recurrence`, or IndRNN's own
elementwise loop). The layers `MinGRU`, `MinLSTM`, `IndRNN` call `sequence` per layer and
direction, and give the numbers of `nn.Recurrent` over the cells.

Shapes as nn.RNN (L = num_layers, D = 2 if bidirectional else 1, H = hidden_size):
    x:       (T, B, input_size), or (B, T, input_size) with batch_first, or (T, input_size)
    h0, h_n: (L * D, B, H), or (L * D, H) for unbatched input
    output:  (T, B, D * H), or (B, T, D * H) with batch_first, or (T, D * H)
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from tinygrad_rnn import ops
from tinygrad_rnn._validate import check_choice, dtype_mismatch
from tinygrad_rnn.methods.recurrence import linear_recurrence
from tinygrad_rnn.nn import grad_flow, init
from tinygrad_rnn.nn.cells import _CellBase, check_sizes
from tinygrad_rnn.nn.module import Module, Parameter
from tinygrad_rnn.nn.recurrent import RNNBase, _SequenceRunner, _state_argument, _within_lengths
from tinygrad_rnn.tensor import Tensor


def _affine(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """x @ weight.T + bias as one node, x (..., I): over a sequence, one GEMM of T * B rows."""
    return ops.Linear.apply(x, weight) if bias is None else ops.Linear.apply(x, weight, bias)


class _ElementwiseCell(Module):
    """Parameters from `_shapes`, PyTorch-style init, and the input/state checks of the
    built-in cells (batched (B, I) or unbatched (I,) input; state None = zeros)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__()
        check_sizes(input_size, hidden_size, type(self).__name__)
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        for name, shape in self._shapes(self.input_size, self.hidden_size, True):  # (bias:
            # the parameter, or None without one)
            self.register_parameter(name, Parameter(np.empty(shape, dtype=np.float32))
                                    if bias or not name.startswith("bias") else None)
        self.reset_parameters()

    @staticmethod
    def _shapes(input_size: int, hidden_size: int, bias: bool) -> list:
        raise NotImplementedError

    def reset_parameters(self) -> None:
        """Every parameter from U(-k, k), k = 1 / sqrt(hidden_size), as PyTorch's cells."""
        k = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -k, k)

    def _weights(self) -> tuple:
        return tuple(self._parameters.get(n) for n, _ in
                     self._shapes(self.input_size, self.hidden_size, True))

    def forward(self, x: Tensor, state: Tensor | None = None) -> Tensor:
        """h' from x (B, input_size) or (input_size,) and h (the same batch; None = zeros)."""
        name = type(self).__name__
        first = self._weights()[0]
        if isinstance(x, Tensor) and x.dtype.kind == "f" and x.dtype != first.dtype:
            raise dtype_mismatch(name, "input", x.dtype, first.dtype, module=True)
        x, unbatched = _CellBase._check_input(self, x)
        h = None if state is None else \
            _CellBase._check_state(self, state, "h", x.shape[0], unbatched, x.dtype)
        h_new = self.step(x, h, *self._weights(), **self._options())
        return h_new.reshape(-1) if unbatched else h_new

    def _options(self) -> dict:
        return {}

    def extra_repr(self) -> str:  # (whether the bias parameter, "bias" or "bias_ih", is there)
        names = [n for n, _ in self._shapes(1, 1, True) if n.startswith("bias")]
        extra = "" if all(self._parameters.get(n) is not None for n in names) else ", bias=False"
        return f"{self.input_size}, {self.hidden_size}{extra}"


class MinGRUCell(_ElementwiseCell):
    """minGRU: a GRU whose gate and candidate see only the input.

        [a_z, a_h] = x @ weight.T + bias        (batch, 2 * hidden)
        z = sigmoid(a_z)                        update gate
        h' = (1 - z) * h + z * a_h

    x: (batch, input_size) or (input_size,);  h, h': (batch, hidden_size) or (hidden_size,);
    weight: (2 * hidden_size, input_size);  bias: (2 * hidden_size,). h defaults to zeros.
    Over a sequence h_t = a_t * h_{t-1} + b_t with a = 1 - z, b = z * a_h.
    """

    @staticmethod
    def _shapes(input_size: int, hidden_size: int, bias: bool) -> list:
        return [("weight", (2 * hidden_size, input_size))] + \
            ([("bias", (2 * hidden_size,))] if bias else [])

    @staticmethod
    def step(x: Tensor, h: Tensor | None, weight: Tensor, bias: Tensor | None = None) -> Tensor:
        """One step on batched tensors: x (B, I), h (B, H) or None (zeros) -> h' (B, H)."""
        H = weight.shape[0] // 2
        g = _affine(x, weight, bias)
        z = g[:, :H].sigmoid()
        a_h = g[:, H:]
        if h is None:  # (1 - z) * 0 + z * a_h, without the zeros
            return z * a_h
        return (1 - z) * h + z * a_h

    @staticmethod
    def sequence(x: Tensor, h0: Tensor | None, weight: Tensor, bias: Tensor | None = None,
                 reverse: bool = False, tap: Callable | None = None) -> Tensor:
        """Every step over x (T, B, I) from h0 (B, H) or None: h (T, B, H); tap(t, dL/dh_t)
        in backward when given."""
        H = weight.shape[0] // 2
        g = _affine(x, weight, bias)
        z = g[:, :, :H].sigmoid()
        return linear_recurrence(1 - z, z * g[:, :, H:], h0, reverse, tap)


class MinLSTMCell(_ElementwiseCell):
    """minLSTM: forget and input gates of the input only, normalised to sum to one.

        [a_f, a_i, a_h] = x @ weight.T + bias   (batch, 3 * hidden)
        f = sigmoid(a_f)                        forget gate
        i = sigmoid(a_i)                        input gate
        h' = f / (f + i) * h + i / (f + i) * a_h

    x: (batch, input_size) or (input_size,);  h, h': (batch, hidden_size) or (hidden_size,);
    weight: (3 * hidden_size, input_size);  bias: (3 * hidden_size,). h defaults to zeros.
    Over a sequence h_t = a_t * h_{t-1} + b_t with a = f / (f + i), b = i / (f + i) * a_h.
    """

    @staticmethod
    def _shapes(input_size: int, hidden_size: int, bias: bool) -> list:
        return [("weight", (3 * hidden_size, input_size))] + \
            ([("bias", (3 * hidden_size,))] if bias else [])

    @staticmethod
    def step(x: Tensor, h: Tensor | None, weight: Tensor, bias: Tensor | None = None) -> Tensor:
        """One step on batched tensors: x (B, I), h (B, H) or None (zeros) -> h' (B, H)."""
        H = weight.shape[0] // 3
        g = _affine(x, weight, bias)
        f = g[:, :H].sigmoid()
        i = g[:, H:2 * H].sigmoid()
        a_h = g[:, 2 * H:]
        s = f + i
        if h is None:  # f / s * 0 + i / s * a_h, without the zeros
            return i / s * a_h
        return f / s * h + i / s * a_h

    @staticmethod
    def sequence(x: Tensor, h0: Tensor | None, weight: Tensor, bias: Tensor | None = None,
                 reverse: bool = False, tap: Callable | None = None) -> Tensor:
        """Every step over x (T, B, I) from h0 (B, H) or None: h (T, B, H); tap(t, dL/dh_t)
        in backward when given."""
        H = weight.shape[0] // 3
        g = _affine(x, weight, bias)
        f = g[:, :, :H].sigmoid()
        i = g[:, :, H:2 * H].sigmoid()
        s = f + i
        return linear_recurrence(f / s, i / s * g[:, :, 2 * H:], h0, reverse, tap)


class IndRNNCell(_ElementwiseCell):
    """IndRNN: one recurrent weight per unit (an elementwise recurrence).

        h' = act(x @ weight_ih.T + bias_ih + weight_hh * h)       act = relu | tanh

    x: (batch, input_size) or (input_size,);  h, h': (batch, hidden_size) or (hidden_size,);
    weight_ih: (hidden_size, input_size);  weight_hh: (hidden_size,);  bias_ih:
    (hidden_size,). h defaults to zeros.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "relu"):
        nonlinearity = _check_activation(nonlinearity, "IndRNNCell")
        super().__init__(input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity

    @staticmethod
    def _shapes(input_size: int, hidden_size: int, bias: bool) -> list:
        return [("weight_ih", (hidden_size, input_size)), ("weight_hh", (hidden_size,))] + \
            ([("bias_ih", (hidden_size,))] if bias else [])

    def _options(self) -> dict:
        return {"nonlinearity": self.nonlinearity}

    @staticmethod
    def step(x: Tensor, h: Tensor | None, weight_ih: Tensor, weight_hh: Tensor,
             bias_ih: Tensor | None = None, nonlinearity: str = "relu") -> Tensor:
        """One step on batched tensors: x (B, I), h (B, H) or None (zeros) -> h' (B, H)."""
        pre = _affine(x, weight_ih, bias_ih)
        if h is not None:  # weight_hh * 0 adds nothing
            pre = pre + weight_hh * h
        return pre.relu() if nonlinearity == "relu" else pre.tanh()

    @staticmethod
    def sequence(x: Tensor, h0: Tensor | None, weight_ih: Tensor, weight_hh: Tensor,
                 bias_ih: Tensor | None = None, reverse: bool = False,
                 nonlinearity: str = "relu", tap: Callable | None = None) -> Tensor:
        """Every step over x (T, B, I) from h0 (B, H) or None: h (T, B, H); tap(t, dL/dh_t)
        in backward when given."""
        p = _affine(x, weight_ih, bias_ih)
        inputs = (p, weight_hh) if h0 is None else (p, weight_hh, h0)
        return ops.IndRecurrence.apply(*inputs, reverse=reverse, nonlinearity=nonlinearity,
                                       tap=tap)

    def extra_repr(self) -> str:
        extra = "" if self.nonlinearity == "relu" else f", nonlinearity={self.nonlinearity!r}"
        return _ElementwiseCell.extra_repr(self) + extra


def _check_activation(nonlinearity: Any, owner: str) -> str:
    return check_choice(nonlinearity, "nonlinearity", owner, ("relu", "tanh"))


class _ElementwiseLayer(_SequenceRunner):
    """Multi-layer, bidirectional layers over a cell's `sequence` (see the module docstring).

    Parameters are the cell's names with the layer suffix (`weight_l0`, `bias_l0_reverse`,
    `weight_ih_l1`, ...). `forward(x, h0=None, lengths=None)` returns (output, h_n); with
    lengths, outputs past each length are zero, h_n holds each sequence's state at its own
    last step, and a reverse direction starts at each sequence's last valid step.
    """

    _cell: type = MinGRUCell
    _state_names = ("h0",)

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False):
        check_sizes(input_size, hidden_size, type(self).__name__)
        super().__init__(num_layers, bidirectional, batch_first, dropout)
        self.input_size, self.hidden_size, self.bias = int(input_size), int(hidden_size), \
            bool(bias)
        for layer in range(self.num_layers):
            width = input_size if layer == 0 else hidden_size * self.num_directions
            for d in range(self.num_directions):
                for name, shape in self._cell._shapes(width, hidden_size, self.bias):
                    self.register_parameter(name + RNNBase._suffix(layer, d),
                                            Parameter(np.empty(shape, np.float32)))
        self.reset_parameters()

    reset_parameters = _ElementwiseCell.reset_parameters

    def _layer_weights(self, layer: int, direction: int) -> tuple:
        sfx = RNNBase._suffix(layer, direction)
        return tuple(self._parameters.get(n + sfx)
                     for n, _ in self._cell._shapes(1, 1, True))

    def _options(self) -> dict:
        return {}

    def _expected_input_size(self) -> int:
        return self.input_size

    def _first_parameter(self) -> Any:
        return self._layer_weights(0, 0)[0]

    def _initial_states(self, hx: Any, batch: int, dtype: Any, unbatched: bool) -> list:
        if hx is None:  # zeros: the first step needs no product with them
            return [None] * (self.num_layers * self.num_directions)
        return RNNBase._initial_states(self, hx, batch, dtype, unbatched)

    def _run_direction(self, layer: int, direction: int, seq: Tensor, state: Any,
                       reverse: bool, lengths: np.ndarray | None = None) -> tuple:
        """(outputs (T, B, H) in input time order, final state (B, H)) of one layer-direction.
        With lengths a reverse direction reverses each sequence within its own length (one
        gather each way) and runs forwards; the final state is taken at each length. A
        recording (nn.record_grad_flow) counts the steps as the direction runs them, as
        RNNBase's."""
        weights = self._layer_weights(layer, direction)
        tap = grad_flow.tap_for(self, layer, direction,
                                seq.shape[0] if reverse and lengths is None else None)
        extra = {**self._options(), **({} if tap is None else {"tap": tap})}
        if lengths is None:
            out = self._cell.sequence(seq, state, *weights, reverse=reverse, **extra)
            return out, out[0] if reverse else out[-1]
        T, B = seq.shape[0], seq.shape[1]
        batch = np.arange(B)
        flip = _within_lengths(lengths, T) if reverse else None
        if flip is not None:
            seq = seq[flip, batch]
        out = self._cell.sequence(seq, state, *weights, **extra)
        final = out[lengths - 1, batch]
        valid = np.arange(T)[:, None, None] < lengths[None, :, None]  # (T, B, 1)
        out = ops.Where.apply(Tensor(valid), out, Tensor(np.zeros((), out.dtype)))
        if flip is not None:
            out = out[flip, batch]
        return out, final

    def forward(self, x: Tensor, h0: Tensor | None = None, lengths: Any = None, *,
                hx: Tensor | None = None) -> tuple:
        """(output, h_n); see the module docstring for shapes. `hx=` is PyTorch's name for
        h0."""
        return super().forward(x, _state_argument(type(self).__name__, h0, hx), lengths)

    def extra_repr(self) -> str:
        rest = super().extra_repr()
        return f"{self.input_size}, {self.hidden_size}" + (", " + rest if rest else "")


class MinGRU(_ElementwiseLayer):
    """minGRU layers: per layer and direction the MinGRUCell equations, every product in one
    GEMM over the sequence and the time loop in one `linear_recurrence`.
    Parameters weight_l{k} (2H, in), bias_l{k} (2H,), `_reverse` for the backward direction.
    """

    _cell = MinGRUCell


class MinLSTM(_ElementwiseLayer):
    """minLSTM layers: per layer and direction the MinLSTMCell equations, every product in
    one GEMM over the sequence and the time loop in one `linear_recurrence`.
    Parameters weight_l{k} (3H, in), bias_l{k} (3H,), `_reverse` for the backward direction.
    """

    _cell = MinLSTMCell


class IndRNN(_ElementwiseLayer):
    """IndRNN layers: per layer and direction the IndRNNCell equations, the input product in
    one GEMM over the sequence and the elementwise time loop in one node.
    Parameters weight_ih_l{k} (H, in), weight_hh_l{k} (H,), bias_ih_l{k} (H,), `_reverse`
    for the backward direction.
    """

    _cell = IndRNNCell

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, nonlinearity: str = "relu"):
        nonlinearity = _check_activation(nonlinearity, "IndRNN")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional)
        self.nonlinearity = nonlinearity

    def _options(self) -> dict:
        return {"nonlinearity": self.nonlinearity}

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s + (f", nonlinearity={self.nonlinearity!r}" if self.nonlinearity != "relu"
                    else "")
