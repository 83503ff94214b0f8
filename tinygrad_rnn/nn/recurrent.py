"""Multi-layer, optionally bidirectional recurrent networks: a Python loop over
time x layers x directions, one cell step at a time.

`RNN`, `LSTM` and `GRU` follow PyTorch: the same constructor arguments, parameter names
(`weight_ih_l{k}`, `weight_hh_l{k}`, `bias_ih_l{k}`, `bias_hh_l{k}`, with `_reverse` for the
backward direction), shapes, gate orders and initialisation, so `state_dict()` keys equal
`torch.nn.LSTM(...).state_dict()` keys and weights move both ways. Each step calls the static
`step` of `RNNCell` / `LSTMCell` / `GRUCell` with the layer's weights: a hand-written loop over
a cell gives exactly the layer's numbers.

`Recurrent` runs any cell (a Module with `forward(x, state) -> state` and `hidden_size`) in the
same multi-layer, bidirectional loop.

Shapes (L = num_layers, D = 2 if bidirectional else 1, H = hidden_size):
    x:       (T, B, input_size), or (B, T, input_size) with batch_first, or (T, input_size)
    h0, h_n: (L * D, B, H), or (L * D, H) for unbatched input; LSTM: a pair (h, c)
    output:  (T, B, D * H), or (B, T, D * H) with batch_first, or (T, D * H); at each time t
             the forward and backward directions' hidden states, concatenated.

`forward(x, h0=None, lengths=None)`: with lengths (or a PackedSequence for x) each sequence
of a padded batch has its own length, as PyTorch's packed sequences (see _run_direction).

How a layer-direction runs: a hand-written kernel registered for the cell's own step
function (`fused.KERNELS`; RNN, LSTM and GRU with `fused=True`, when neither `_step` nor
`_cell.step` is overridden), or else the step itself through `tinygrad_rnn.scan`, which
records it once and replays it compiled (`compiled=False`, or a step it cannot compile,
runs the plain loop). Every path gives the same numbers.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Callable, Sequence

import numpy as np

from tinygrad_rnn import ops, parallel
from tinygrad_rnn.compiled import scan
from tinygrad_rnn._validate import check_int, check_number, check_positive_int, dtype_mismatch
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.nn import fused, grad_flow, init
from tinygrad_rnn.nn.cells import GRUCell, LSTMCell, RNNCell, check_nonlinearity, check_sizes
from tinygrad_rnn.nn.module import Module, Parameter
from tinygrad_rnn.nn.utils.rnn import PackedSequence, as_packed, as_padded
from tinygrad_rnn.methods.movement import concatenate, stack
from tinygrad_rnn.tensor import Tensor


def _hidden(state: Any) -> Any:
    """The output of a step: the state itself, or its first element (h of an (h, c) pair)."""
    return state[0] if isinstance(state, (tuple, list)) else state


class _SequenceRunner(Module):
    """The loop shared by RNN, LSTM, GRU and Recurrent; subclasses say how to step a cell."""

    def __init__(self, num_layers: int, bidirectional: bool, batch_first: bool,
                 dropout: float, compiled: bool = True):
        super().__init__()
        name = type(self).__name__
        num_layers = check_int(num_layers, "num_layers", name, minimum=1)
        dropout = check_number(dropout, "dropout", name, 0, 1)
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{name}: dropout={dropout} has no effect with num_layers=1 (it acts "
                          f"between layers, not after the last)", stacklevel=3)
        self.num_layers = num_layers
        self.bidirectional = bool(bidirectional)
        self.batch_first = bool(batch_first)
        self.dropout = dropout
        self.compiled = bool(compiled)

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    # ----- hooks ------------------------------------------------------------------------
    def _expected_input_size(self) -> int | None:
        return None

    def _first_parameter(self) -> Any:
        """A parameter whose dtype the input must have, or None (then any float dtype runs)."""
        return None

    def _initial_states(self, hx: Any, batch: int, dtype: Any, unbatched: bool) -> list:
        raise NotImplementedError

    def _step(self, layer: int, direction: int, x: Tensor, state: Any) -> Any:
        raise NotImplementedError

    def _kernel(self) -> Callable | None:
        """A hand-written whole-sequence kernel for this layer's step, or None."""
        return None

    def _step_options(self) -> dict:
        """Keyword options of the step beyond the weights (RNN: its nonlinearity)."""
        return {}

    def _compiles(self, layer: int, direction: int) -> bool:
        """Whether the step may be replayed compiled: not when compiled=False, nor when a
        module hook sits inside the step (a hook must run at every step)."""
        return self.compiled

    def _pack_states(self, finals: list, unbatched: bool) -> Any:
        """The final states of every layer-direction stacked: (L * D, B, H) each, a tuple of
        such for tuple states (LSTM's (h_n, c_n))."""
        if isinstance(finals[0], (tuple, list)):
            return tuple(_unbatch(stack([f[i] for f in finals], axis=0), unbatched)
                         for i in range(len(finals[0])))
        return _unbatch(stack(finals, axis=0), unbatched)

    # ----- the loop ---------------------------------------------------------------------
    def _check_input(self, x: Any, time_major: bool = False) -> tuple:
        """x as a time-major (T, B, F) Tensor, and whether it came unbatched (2-D)."""
        name = type(self).__name__
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(x).__name__}")
        if x.dtype.kind != "f":  # (np.issubdtype costs microseconds on this per-step path)
            raise TypeError(f"{name}: input must be floating-point, got dtype {x.dtype}")
        p = self._first_parameter()
        if p is not None and x.dtype != p.dtype:  # once per forward: every step shares it
            raise dtype_mismatch(name, "input", x.dtype, p.dtype, module=True)
        if x.ndim not in (2, 3):
            layout = "(batch, seq_len, input_size)" if self.batch_first else \
                "(seq_len, batch, input_size)"
            raise ValueError(f"{name}: expected a 3-D input {layout} or a 2-D unbatched input "
                             f"(seq_len, input_size), got a {x.ndim}-D tensor of shape {x.shape}")
        expected = self._expected_input_size()
        if expected is not None and x.shape[-1] != expected:
            raise ValueError(f"{name}: input has {x.shape[-1]} features (last axis of shape "
                             f"{x.shape}), expected input_size={expected}")
        unbatched = x.ndim == 2
        if unbatched:
            x = x.reshape(x.shape[0], 1, x.shape[1])
        elif self.batch_first and not time_major:
            x = x.transpose(1, 0, 2)
        if x.shape[0] == 0:
            raise ValueError(f"{name}: the sequence is empty (input shape {x.shape}); "
                             f"need at least one time step")
        return x, unbatched

    def forward(self, x: Tensor, hx: Any = None, lengths: Any = None) -> tuple:
        """Run every layer and direction over the sequence; return (output, final states).
        With `lengths`, each sequence of the padded batch has its own length (see
        _run_direction); a PackedSequence input gives a PackedSequence output of the same
        layout (batch_first does not apply to it, as in PyTorch)."""
        parallel.choose_on_first_use()
        packed = None
        if isinstance(x, PackedSequence):
            if lengths is not None:
                raise ValueError(f"{type(self).__name__}: got a PackedSequence and lengths=; "
                                 f"the packed sequence carries its lengths, pass only it")
            packed = x
            x, lengths = as_padded(x)
        seq, unbatched = self._check_input(x, time_major=packed is not None)
        T, B = seq.shape[0], seq.shape[1]
        lens = _checked_lengths(lengths, T, B, type(self).__name__)
        states = self._initial_states(hx, B, seq.dtype, unbatched)
        L, D = self.num_layers, self.num_directions
        finals: list = [None] * (L * D)
        for layer in range(L):
            outs = []
            for d in range(D):
                k = layer * D + d
                out, finals[k] = self._run_direction(layer, d, seq, states[k], d == 1, lens)
                outs.append(out)
            seq = outs[0] if D == 1 else concatenate(outs, axis=-1)
            if self.dropout > 0 and self.training and layer < L - 1:
                seq = F.dropout(seq, self.dropout, True)
        output = seq
        if packed is not None:
            return as_packed(output, lengths, like=packed), self._pack_states(finals, False)
        if unbatched:
            output = output.reshape(T, output.shape[-1])
        elif self.batch_first:
            output = output.transpose(1, 0, 2)
        return output, self._pack_states(finals, unbatched)

    def _run_direction(self, layer: int, direction: int, seq: Tensor, state: Any,
                       reverse: bool, lengths: np.ndarray | None = None) -> tuple:
        """One layer-direction over the whole (T, B, F) sequence: (outputs (T, B, H) in input
        time order, final state); reverse runs from the last step to the first. A kernel
        registered for this exact step runs it; otherwise the step itself, through `scan`
        (compiled unless compiled=False, and always on the eager loop where it cannot be).

        With lengths, a reverse direction first reverses each sequence within its own length
        (so every direction starts at step 0 of every sequence); past a sequence's length the
        state is held (kernels: the final state is taken at each sequence's last step) and
        the output is zero, so padding gets exactly zero gradient. A recording
        (nn.record_grad_flow) counts the steps as the direction runs them on every path: a
        kernel and scan hand over input time, which a reverse run without lengths turns
        around (reverse_steps)."""
        kernel = self._kernel()
        weights = self._layer_weights(layer, direction) if kernel is not None else None
        tap = grad_flow.tap_for(self, layer, direction,
                                seq.shape[0] if reverse and lengths is None else None)
        extra = self._step_options() if tap is None else {**self._step_options(), "tap": tap}
        if lengths is None:
            if kernel is not None:
                return kernel(seq, state, weights, reverse, **extra)

            def step(x: Tensor, s: Any) -> Any:
                return self._step(layer, direction, x, s)
            return scan(step, seq, state, reverse=reverse, tap=tap,
                        compiled=self._compiles(layer, direction))
        T, B = seq.shape[0], seq.shape[1]
        batch = np.arange(B)
        flip = _within_lengths(lengths, T) if reverse else None
        if flip is not None:
            seq = seq[flip, batch]
        valid = np.arange(T)[:, None, None] < lengths[None, :, None]  # (T, B, 1)
        if kernel is not None:
            out, final = kernel(seq, state, weights, False, lengths=lengths, **extra)
        else:
            def held(inputs: tuple, s: Any) -> Any:  # past its length a sequence keeps s
                x, keep = inputs
                new = self._step(layer, direction, x, s)
                if s is None:  # step 0: every sequence has at least one step
                    return new
                if isinstance(new, (tuple, list)):  # (a list, as the layer takes it too)
                    return tuple(_kept(keep, a, b) for a, b in zip(new, s))
                return _kept(keep, new, s)
            out, final = scan(held, (seq, Tensor(valid)), state, tap=_padding_cut(tap, valid),
                              compiled=self._compiles(layer, direction))
        valid = valid.reshape((T, B) + (1,) * (out.ndim - 2))  # (the output's axes)
        out = ops.Where.apply(Tensor(valid), out, Tensor(np.zeros((), out.dtype)))
        if flip is not None:
            out = out[flip, batch]
        return out, final

    def extra_repr(self) -> str:
        """The options that differ from their defaults, in PyTorch's order."""
        parts = [f"num_layers={self.num_layers}"] if self.num_layers != 1 else []
        if getattr(self, "bias", True) is False:  # (Recurrent's cells own their biases)
            parts.append("bias=False")
        if self.batch_first:
            parts.append("batch_first=True")
        if self.dropout:
            parts.append(f"dropout={self.dropout}")
        if self.bidirectional:
            parts.append("bidirectional=True")
        return ", ".join(parts)


def _padding_cut(tap: Callable | None, valid: np.ndarray) -> Callable | None:
    """A tap that sees dL/dh_t of the sequences still running at step t only: past its
    length a sequence holds its state, and what reaches the held copy is not a step of it
    (the kernels, which take the final state at each sequence's last step, never see it)."""
    if tap is None:
        return None

    def cut(t: int, g: np.ndarray) -> None:
        keep = valid[t].reshape(valid.shape[1:2] + (1,) * (g.ndim - 1))
        tap(t, np.where(keep, g, 0))
    return cut


def _checked_state(t: Any, what: str, owner: str, n: int, batch: int, unbatched: bool,
                   hidden: int | None, dtype: Any, dtype_of: str = "parameters") -> Tensor:
    """A (n, B, ...) stacked initial state of `dtype` (that of `dtype_of`); unbatched (n, ...)
    gains a batch axis of 1."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{owner}: {what} must be a Tensor, got {type(t).__name__}")
    if t.dtype != dtype:
        raise dtype_mismatch(owner, what, t.dtype, dtype, dtype_of)
    if hidden is not None:
        expected = (n, hidden) if unbatched else (n, batch, hidden)
        if t.shape != expected:
            layout = "(num_layers * num_directions, hidden_size) for unbatched input" \
                if unbatched else "(num_layers * num_directions, batch, hidden_size)"
            raise ValueError(f"{owner}: {what} has shape {t.shape}, expected {expected} {layout}")
    else:
        rank = 2 if unbatched else 3
        if t.ndim < rank or t.shape[0] != n or (not unbatched and t.shape[1] != batch):
            want = f"({n}, ...)" if unbatched else f"({n}, {batch}, ...)"
            raise ValueError(f"{owner}: {what} has shape {t.shape}, expected {want}: "
                             f"num_layers * num_directions first" +
                             ("" if unbatched else ", then batch"))
    return t.reshape(t.shape[0], 1, *t.shape[1:]) if unbatched else t


def _checked_lengths(lengths: Any, T: int, B: int, owner: str) -> np.ndarray | None:
    """lengths as a (B,) int64 array of values in 1..T, or None when every one is T."""
    if lengths is None:
        return None
    arr = lengths.data if isinstance(lengths, Tensor) else np.asarray(lengths)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{owner}: lengths must hold integers (one length per sequence), got "
                        f"dtype {arr.dtype}")
    arr = arr.reshape(-1) if arr.ndim == 0 else arr
    if arr.shape != (B,):
        raise ValueError(f"{owner}: lengths has shape {arr.shape}, expected ({B},): one "
                         f"length per sequence of the batch")
    if arr.size and (arr.min() < 1 or arr.max() > T):
        raise ValueError(f"{owner}: lengths must be in 1..{T} (the padded sequence length), "
                         f"got min {arr.min()}, max {arr.max()}")
    arr = arr.astype(np.int64)
    return None if np.all(arr == T) else arr


def _kept(keep: Tensor, new: Any, old: Any) -> Any:
    """new where the step is within the sequence's length, else old, for one state element
    of any shape with the batch first (keep: (B, 1)); an element that is not a tensor of
    per-sequence rows (a Python number, a 0-d tensor) takes the new value."""
    if not isinstance(new, Tensor) or not isinstance(old, Tensor) or new.ndim == 0:
        return new
    return ops.Where.apply(keep.reshape((keep.shape[0],) + (1,) * (new.ndim - 1)), new, old)


def _within_lengths(lengths: np.ndarray, T: int) -> np.ndarray:
    """(T, B) time indices that reverse each sequence within its own length (t -> len-1-t)
    and leave its padding in place; applying it twice gives the identity."""
    t = np.arange(T)[:, None]
    return np.where(t < lengths[None, :], lengths[None, :] - 1 - t, t)


def _state_argument(owner: str, h0: Any, hx: Any) -> Any:
    """The initial state given as h0 (this package's name) or hx (PyTorch's), not both."""
    if hx is None:
        return h0
    if h0 is not None:
        raise TypeError(f"{owner}.forward: got both h0 and hx; they name the same initial "
                        f"state (hx is PyTorch's name), pass only one")
    return hx


def _unbatch(t: Tensor, unbatched: bool) -> Tensor:
    return t.reshape(t.shape[0], *t.shape[2:]) if unbatched else t


class RNNBase(_SequenceRunner):
    """Shared by RNN, LSTM and GRU: PyTorch's flat parameters, a cell's step per time step."""

    _cell: type = RNNCell  # whose static `step` holds the equations
    _state_names: tuple = ("h0",)  # the state's parts, as the initial state names them

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, *, fused: bool = True, compiled: bool = True):
        name = type(self).__name__
        check_sizes(input_size, hidden_size, name)
        super().__init__(num_layers, bidirectional, batch_first, dropout, compiled)
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.bias = bool(bias)
        self.fused = bool(fused)
        rows = self._cell._gates * hidden_size
        for layer in range(self.num_layers):
            in_features = input_size if layer == 0 else hidden_size * self.num_directions
            for d in range(self.num_directions):
                sfx = self._suffix(layer, d)
                shapes = [("weight_ih", (rows, in_features)), ("weight_hh", (rows, hidden_size))]
                if bias:
                    shapes += [("bias_ih", (rows,)), ("bias_hh", (rows,))]
                for pname, shape in shapes:
                    self.register_parameter(pname + sfx, Parameter(np.empty(shape, np.float32)))
        self.reset_parameters()

    @staticmethod
    def _suffix(layer: int, direction: int) -> str:
        return f"_l{layer}" + ("_reverse" if direction else "")

    def reset_parameters(self) -> None:
        """Every parameter from U(-k, k), k = 1 / sqrt(hidden_size), as PyTorch."""
        k = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -k, k)

    def flatten_parameters(self) -> None:
        """Nothing to do here (PyTorch compacts cuDNN weights); kept so ported code runs."""

    def _layer_weights(self, layer: int, direction: int) -> tuple:
        """(weight_ih, weight_hh, bias_ih, bias_hh) of one layer-direction; biases may be None."""
        sfx = self._suffix(layer, direction)
        p = self._parameters
        return (p["weight_ih" + sfx], p["weight_hh" + sfx],
                p.get("bias_ih" + sfx), p.get("bias_hh" + sfx))

    def _expected_input_size(self) -> int:
        return self.input_size

    def _first_parameter(self) -> Any:
        return self._parameters["weight_ih_l0"]

    def _initial_states(self, hx: Any, batch: int, dtype: Any, unbatched: bool) -> list:
        """One state per layer-direction: h (B, H), or for LSTM the pair (h, c)."""
        n, name, names = self.num_layers * self.num_directions, type(self).__name__, \
            self._state_names
        if hx is None:
            zeros = [tuple(Tensor(np.zeros((batch, self.hidden_size), dtype=dtype))
                           for _ in names) for _ in range(n)]
            return zeros if len(names) > 1 else [z[0] for z in zeros]
        if len(names) == 1 and isinstance(hx, (tuple, list)):
            raise TypeError(f"{name}: h0 must be a Tensor, got a {type(hx).__name__} (only "
                            f"LSTM takes a pair (h0, c0))")
        if len(names) > 1 and (not isinstance(hx, (tuple, list)) or len(hx) != len(names)):
            raise TypeError(f"{name}: the initial state must be a pair ({', '.join(names)}) "
                            f"of Tensors or None, got {type(hx).__name__}")
        parts = [_checked_state(t, what, name, n, batch, unbatched, self.hidden_size, dtype)
                 for t, what in zip(hx if len(names) > 1 else (hx,), names)]
        return [tuple(p[k] for p in parts) if len(names) > 1 else parts[0][k]
                for k in range(n)]

    def _step(self, layer: int, direction: int, x: Tensor, state: Any) -> Any:
        return self._cell.step(x, state, *self._layer_weights(layer, direction),
                               **self._step_options())

    def _kernel(self) -> Callable | None:
        # only for the step the kernel was written for: a subclass that overrides _step, or
        # a _cell whose step is another function, always runs its own equations
        if not self.fused or type(self)._step is not RNNBase._step:
            return None
        return fused.KERNELS.get(self._cell.step)

    def extra_repr(self) -> str:
        rest = super().extra_repr()
        return f"{self.input_size}, {self.hidden_size}" + (", " + rest if rest else "")


class RNN(RNNBase):
    """Elman RNN: per layer and direction, h_t = act(x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh)
    with act = tanh | relu | sigmoid (see RNNCell). Shapes in the module docstring.

    `forward(x, h0=None)` returns (output, h_n).
    """

    _cell = RNNCell

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, *, fused: bool = True,
                 compiled: bool = True):
        nonlinearity = check_nonlinearity(nonlinearity, "RNN")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, fused=fused, compiled=compiled)
        self.nonlinearity = nonlinearity

    def _step_options(self) -> dict:
        return {"nonlinearity": self.nonlinearity}

    def forward(self, x: Tensor, h0: Tensor | None = None, lengths: Any = None, *,
                hx: Tensor | None = None) -> tuple:
        """(output, h_n); see the module docstring for shapes and lengths. `hx=` is
        PyTorch's name for h0."""
        return super().forward(x, _state_argument(type(self).__name__, h0, hx), lengths)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s + (f", nonlinearity={self.nonlinearity!r}" if self.nonlinearity != "tanh" else "")


class LSTM(RNNBase):
    """LSTM: per layer and direction, the LSTMCell equations (gates i, f, g, o) at each step.
    Shapes in the module docstring; the state is a pair (h, c) of equal shapes.

    `forward(x, h0=None)`, h0 a pair (h_0, c_0), returns (output, (h_n, c_n)).
    """

    _cell = LSTMCell
    _state_names = ("h0", "c0")

    def forward(self, x: Tensor, h0: tuple | None = None, lengths: Any = None, *,
                hx: tuple | None = None) -> tuple:
        """(output, (h_n, c_n)) from the initial pair h0 = (h_0, c_0); see the module docstring
        for shapes and lengths. `hx=` is PyTorch's name for h0."""
        return super().forward(x, _state_argument("LSTM", h0, hx), lengths)


class GRU(RNNBase):
    """GRU: per layer and direction, the GRUCell equations (gates r, z, n) at each step.
    Shapes in the module docstring.

    `forward(x, h0=None)` returns (output, h_n).
    """

    _cell = GRUCell

    def forward(self, x: Tensor, h0: Tensor | None = None, lengths: Any = None, *,
                hx: Tensor | None = None) -> tuple:
        """(output, h_n); see the module docstring for shapes and lengths. `hx=` is
        PyTorch's name for h0."""
        return super().forward(x, _state_argument(type(self).__name__, h0, hx), lengths)


class Recurrent(_SequenceRunner):
    """Run any cell over time x layers x directions, as LSTM runs LSTMCell.

        Recurrent(cell, num_layers=1, bidirectional=False, batch_first=False, dropout=0.0,
                  input_size=None)

    `cell` is either
      - a factory `cell(in_features) -> Module`, called once per layer and direction with that
        layer's input width (`input_size` for layer 0, `hidden_size * D` above); `input_size`
        is then required; or
      - a sequence of `num_layers * D` cell modules ordered layer 0, layer 0 reverse, layer 1, ...
    A cell is any Module with an int attribute `hidden_size` (the same for all) and
    `forward(x, state) -> state`, where x is (B, in_features) and state is None at the first
    step (the cell starts from zeros) or what the cell returned before: a Tensor h (B, H), or
    a tuple whose first element is h (like LSTMCell's (h, c)). h is the step's output.

    The cells are children named `cell_l0`, `cell_l0_reverse`, `cell_l1`, ...
    `forward(x, hx=None)` returns (output, h_n) with the shapes of the module docstring; h_n
    stacks the final states: a Tensor (L * D, B, H), or a tuple of such for tuple states. hx
    has the same structure (or None).
    """

    def __init__(self, cell: Callable[[int], Module] | Sequence[Module], num_layers: int = 1,
                 bidirectional: bool = False, batch_first: bool = False, dropout: float = 0.0,
                 input_size: int | None = None, *, compiled: bool = True):
        super().__init__(num_layers, bidirectional, batch_first, dropout, compiled)
        n = self.num_layers * self.num_directions
        if isinstance(cell, Module) or not callable(cell):
            cells = list(cell) if isinstance(cell, (list, tuple)) else [cell]
            if len(cells) != n:
                raise ValueError(f"Recurrent: got {len(cells)} cells, expected num_layers * "
                                 f"num_directions = {n} (or pass a factory cell(in_features))")
        else:
            if input_size is None:
                raise ValueError("Recurrent: a cell factory needs input_size= (the input "
                                 "width of the first layer)")
            cells = []
            for layer in range(self.num_layers):
                for _ in range(self.num_directions):
                    width = (input_size if layer == 0
                             else cells[-1].hidden_size * self.num_directions)
                    cells.append(cell(width))
                    self._check_cell(cells[-1], len(cells) - 1)
        for k, c in enumerate(cells):
            self._check_cell(c, k)
        sizes = {c.hidden_size for c in cells}
        if len(sizes) != 1:
            raise ValueError(f"Recurrent: all cells need the same hidden_size, got "
                             f"{[c.hidden_size for c in cells]}")
        self.hidden_size = sizes.pop()
        self.input_size = input_size if input_size is not None else \
            getattr(cells[0], "input_size", None)
        for k, c in enumerate(cells):
            self.add_module("cell" + RNNBase._suffix(k // self.num_directions,
                                                     k % self.num_directions), c)

    @staticmethod
    def _check_cell(c: Any, k: int) -> None:
        if not isinstance(c, Module):
            raise TypeError(f"Recurrent: cell {k} must be a Module, got {type(c).__name__}")
        check_positive_int(getattr(c, "hidden_size", None), "hidden_size",
                           f"Recurrent: cell {k} ({type(c).__name__}) needs an attribute")

    def cell(self, layer: int, direction: int = 0) -> Module:
        """The cell of one layer (direction 1 is the reverse one)."""
        return self._modules["cell" + RNNBase._suffix(layer, direction)]

    def _compiles(self, layer: int, direction: int) -> bool:
        return self.compiled and not any(m._hooks for m in self.cell(layer, direction).modules())

    def _expected_input_size(self) -> int | None:
        return self.input_size

    def _first_parameter(self) -> Any:
        return next(iter(self.cell(0).parameters()), None)

    def _initial_states(self, hx: Any, batch: int, dtype: Any, unbatched: bool) -> list:
        n = self.num_layers * self.num_directions
        if hx is None:
            return [None] * n
        of = "input" if self._first_parameter() is None else "parameters"
        if isinstance(hx, (tuple, list)):
            parts = [_checked_state(t, f"hx[{i}]", "Recurrent", n, batch, unbatched, None,
                                    dtype, of)
                     for i, t in enumerate(hx)]
            return [tuple(p[k] for p in parts) for k in range(n)]
        h0 = _checked_state(hx, "hx", "Recurrent", n, batch, unbatched, None, dtype, of)
        return [h0[k] for k in range(n)]

    def _step(self, layer: int, direction: int, x: Tensor, state: Any) -> Any:
        cell = self._modules["cell" + RNNBase._suffix(layer, direction)]
        new = cell(x, state)
        h = _hidden(new)
        if not isinstance(h, Tensor) or h.shape != (x.shape[0], self.hidden_size):
            got = h.shape if isinstance(h, Tensor) else type(h).__name__
            raise ValueError(f"Recurrent: cell {type(cell).__name__} returned a state whose "
                             f"output h is {got}, expected a Tensor of shape "
                             f"{(x.shape[0], self.hidden_size)} (batch, hidden_size)")
        return new
