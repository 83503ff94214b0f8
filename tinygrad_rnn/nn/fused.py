"""Whole-sequence recurrent Functions with hand-derived backpropagation through time.

One graph node per layer and direction instead of a dozen per time step. The structure of
each forward is the same:

* the input projection for every step is one GEMM, ``x.reshape(T*B, I) @ W_ih^T + b``;
* the time loop only does ``h @ W_hh^T`` plus the gate arithmetic, in place on preallocated
  arrays (``out=`` everywhere), so a step allocates nothing;
* the activations the backward needs stay in those arrays.

and of each backward:

* the factors of the local derivatives that do not depend on the incoming gradient are
  computed for all steps at once before the loop (RNN, GRU), or for each step inside it
  where the whole-sequence arrays would be large (LSTM's (T, B, 4, H): in cache, 4-5% of
  a training step faster);
* the loop carries only ``dh`` (and ``dc``) back through time: a few multiplies and one
  ``d_pre @ W_hh`` per step;
* the weight gradients are sums over time, so they are computed after the loop as GEMMs
  over all ``T*B`` rows: ``dW_hh = sum_t d_pre_t^T h_{t-1}``, ``dW_ih = d_pre^T x``,
  ``dx = d_pre @ W_ih``.

Sigmoid gates use ``sigmoid(a) = 0.5 * tanh(a / 2) + 0.5``: the sigmoid rows of the weights
and biases are halved once per call (exact in binary floating point), so one ``tanh`` over
all gates of a step replaces separate ``exp``/``divide`` passes.

Products are ``np.dot``: on 2-D operands it hands transposed views to BLAS directly, while
``np.matmul`` is many times slower on rank-1 products such as ``d^T h`` with one row.

The LSTM's Function has two outputs, ``out`` and ``c_n``; the wrappers (``rnn_sequence``,
``lstm_sequence``, ``gru_sequence``) take ``h_n`` as the last step of ``out``.
Shapes: x ``(T, B, I)`` time-major, states ``(B, H)``, weights in PyTorch's layout
``(G*H, I)`` / ``(G*H, H)``; ``out`` is ``(T, B, H)`` in input time order even when
``reverse=True`` (the steps then run t = T-1 .. 0, one direction of a bidirectional layer).
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from tinygrad_rnn import _blas
from tinygrad_rnn.function import Function
from tinygrad_rnn.nn.cells import GRUCell, LSTMCell, RNNCell
from tinygrad_rnn.ops.elementwise import relu
from tinygrad_rnn.tensor import Tensor

_NONLINEARITIES = ("tanh", "relu", "sigmoid")


def _steps(n: int, reverse: bool) -> range:
    """Time indices in the order the forward recurrence visits them."""
    return range(n - 1, -1, -1) if reverse else range(n)


def _sigmoid_from_tanh_(a: np.ndarray) -> None:
    """a <- 0.5 * a + 0.5, turning tanh(z/2) into sigmoid(z) in place."""
    a *= 0.5
    a += 0.5


def _shifted(seq: np.ndarray, first: np.ndarray, reverse: bool) -> tuple:
    """Pairs (steps, previous values) covering every step: h_{t-1} for each t.

    Returns ((later_steps_index, prev_values), (first_step_index, first)) so callers can
    handle the bulk with one vectorised call and the first step with the initial state.
    """
    if reverse:
        return (slice(0, -1), seq[1:]), (-1, first)
    return (slice(1, None), seq[:-1]), (0, first)


def _sum_outer_prev(d_pre: np.ndarray, hs: np.ndarray, h0: np.ndarray,
                    reverse: bool) -> np.ndarray:
    """sum_t d_pre[t]^T @ h_{t-1}: the recurrent weight gradient as one GEMM over T*B rows."""
    g = d_pre.shape[-1]
    (bulk, prev), (first, h_first) = _shifted(hs, h0, reverse)
    dw = np.dot(d_pre[bulk].reshape(-1, g).T, prev.reshape(-1, prev.shape[-1]))
    dw += np.dot(d_pre[first].T, h_first)
    return dw


def _input_grads(ctx, d_pre2: np.ndarray, x2: np.ndarray, w_ih: np.ndarray, shape: tuple,
                 w_ih_index: int):
    """dx = d_pre @ W_ih and dW_ih = d_pre^T @ x, each one GEMM over all T*B rows."""
    dx = np.dot(d_pre2, w_ih).reshape(shape) if ctx.needs_input_grad[0] else None
    dw_ih = np.dot(d_pre2.T, x2) if ctx.needs_input_grad[w_ih_index] else None
    return dx, dw_ih


def _check(name: str, x: Tensor, states: dict, w_ih: Tensor, w_hh: Tensor,
           b_ih: Optional[Tensor], b_hh: Optional[Tensor], gates: int) -> int:
    """Validate shapes for a fused sequence op; return the hidden size."""
    if x.ndim != 3:
        raise ValueError(f"{name}: x must be time-major (T, B, I), got shape {x.shape}")
    t, b, i = x.shape
    if t == 0:
        raise ValueError(f"{name}: the sequence must have at least one step, got shape {x.shape}")
    if w_hh.ndim != 2 or w_hh.shape[0] != gates * w_hh.shape[1]:
        raise ValueError(f"{name}: weight_hh must have shape ({gates}*H, H), got {w_hh.shape}")
    h = w_hh.shape[1]
    if w_ih.shape != (gates * h, i):
        raise ValueError(f"{name}: weight_ih must have shape ({gates * h}, {i}) for x of shape "
                         f"{x.shape} and weight_hh of shape {w_hh.shape}, got {w_ih.shape}")
    for bname, bias in (("bias_ih", b_ih), ("bias_hh", b_hh)):
        if bias is not None and bias.shape != (gates * h,):
            raise ValueError(f"{name}: {bname} must have shape ({gates * h},), got {bias.shape}")
    for sname, s in states.items():
        if s.shape != (b, h):
            raise ValueError(f"{name}: {sname} must have shape (B, H) = ({b}, {h}), got {s.shape}")
    return h


def _bias_args(b_ih: Optional[Tensor], b_hh: Optional[Tensor], like: Tensor) -> tuple:
    """Both biases, a zero constant standing in for a missing one, or none at all."""
    if b_ih is None and b_hh is None:
        return ()
    zero = np.zeros(like.shape[0], dtype=like.dtype)
    return (zero if b_ih is None else b_ih, zero if b_hh is None else b_hh)


def _as_tensor(a) -> Tensor:
    return a if isinstance(a, Tensor) else Tensor(a)


# --------------------------------------------------------------------------------------
class RNNSequence(Function):
    """Elman RNN over a whole sequence (one direction).

    h_t = act(x_t @ W_ih^T + b_ih + h_{t-1} @ W_hh^T + b_hh),  act in {tanh, relu, sigmoid}
    x (T, B, I), h0 (B, H), W_ih (H, I), W_hh (H, H) -> out (T, B, H) with out[t] = h_t.

    forward:  P = x W_ih^T + b for all t (one GEMM); h_t = act(P_t + h_{t-1} W_hh^T).
    backward: dz_t = (g_t + dh_t) * act'(h_t) with act' read from the output
              (1 - h^2, h > 0, h (1 - h)); dh_{t-1} = dz_t W_hh;
              dW_hh = sum_t dz_t^T h_{t-1}, dW_ih = dz^T x, db = sum dz, dx = dz W_ih.
    """

    time_axes = ((0,), (0,))  # x and out; states and weights have no time axis

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh",
                reverse=False, tap=None):
        arrays = (x, h0, w_ih, w_hh) + (() if b_ih is None else (b_ih, b_hh))
        dt = np.result_type(*arrays)
        x, h0, w_ih, w_hh = (a.astype(dt, copy=False) for a in (x, h0, w_ih, w_hh))
        t_len, b, i = x.shape
        h = w_hh.shape[0]
        out = np.empty((t_len, b, h), dtype=dt)
        x2 = x.reshape(t_len * b, i)
        np.dot(x2, w_ih.T, out=out.reshape(t_len * b, h))
        if b_ih is not None:
            out += (b_ih + b_hh).astype(dt, copy=False)
        if nonlinearity == "sigmoid":
            out *= 0.5  # sigmoid(a) = 0.5 tanh(a/2) + 0.5; the recurrent term is halved below
            w_rec = _blas.step_rhs((0.5 * w_hh).T, b)
        else:
            w_rec = _blas.step_rhs(w_hh.T, b)
        wide = np.empty((b, w_rec.shape[1]), dtype=dt)
        tmp = wide[:, :h]
        prev = h0
        for t in _steps(t_len, reverse):
            ht = out[t]
            np.dot(prev, w_rec, out=wide)
            ht += tmp
            if nonlinearity == "relu":
                relu(ht, out=ht)
            else:
                np.tanh(ht, out=ht)
                if nonlinearity == "sigmoid":
                    _sigmoid_from_tanh_(ht)
            prev = ht
        ctx.save_for_backward(x2, h0, w_ih, w_hh, out)
        ctx.nonlinearity, ctx.reverse, ctx.has_bias = nonlinearity, reverse, b_ih is not None
        ctx.tap = tap  # tap(t, dL/dh_t) in backward, for gradient-flow recording
        ctx.x_shape = x.shape
        return out

    @staticmethod
    def backward(ctx, g):
        x2, h0, w_ih, w_hh, out = ctx.saved_arrays
        t_len, b, h = out.shape
        # dz starts as act'(h_t) for every step, then becomes the pre-activation gradient
        dz = np.empty_like(out)
        if ctx.nonlinearity == "tanh":
            np.multiply(out, out, out=dz)
            np.subtract(1, dz, out=dz)
        elif ctx.nonlinearity == "relu":  # not(x <= 0) from h >= 0 or NaN: g passes NaN
            np.not_equal(out, 0, out=dz)
        else:
            np.subtract(1, out, out=dz)
            dz *= out
        g = g.astype(out.dtype, copy=False)
        dh = np.empty((b, h), dtype=out.dtype)
        tmp = np.empty((b, h), dtype=out.dtype)
        order = _steps(t_len, not ctx.reverse)
        last = order[-1]
        tap = ctx.tap
        for t in order:
            if t == order[0]:
                if tap is not None:
                    tap(t, g[t])
                np.multiply(g[t], dz[t], out=dz[t])
            else:
                np.add(g[t], dh, out=tmp)
                if tap is not None:
                    tap(t, tmp)
                np.multiply(tmp, dz[t], out=dz[t])
            if t != last or ctx.needs_input_grad[1]:
                np.dot(dz[t], w_hh, out=dh)
        dz2 = dz.reshape(t_len * b, h)
        dx, dw_ih = _input_grads(ctx, dz2, x2, w_ih, ctx.x_shape, 2)
        dh0 = dh if ctx.needs_input_grad[1] else None
        dw_hh = _sum_outer_prev(dz, out, h0, ctx.reverse) if ctx.needs_input_grad[3] else None
        if not ctx.has_bias:
            return dx, dh0, dw_ih, dw_hh
        db = dz2.sum(axis=0) if any(ctx.needs_input_grad[4:]) else None
        return dx, dh0, dw_ih, dw_hh, db, db


def rnn_sequence(x: Tensor, h0: Tensor, weight_ih: Tensor, weight_hh: Tensor,
                 bias_ih: Optional[Tensor] = None, bias_hh: Optional[Tensor] = None,
                 nonlinearity: str = "tanh", reverse: bool = False, tap=None) -> tuple:
    """Run an Elman RNN over a time-major sequence as one graph node.

    Returns (out, h_n): out (T, B, H) in input time order, h_n (B, H) the last state
    computed (out[T-1], or out[0] when reverse=True).
    """
    if nonlinearity not in _NONLINEARITIES:
        raise ValueError(f"rnn_sequence: nonlinearity must be one of {_NONLINEARITIES}, "
                         f"got {nonlinearity!r}")
    x, h0, weight_ih, weight_hh = map(_as_tensor, (x, h0, weight_ih, weight_hh))
    _check("rnn_sequence", x, {"h0": h0}, weight_ih, weight_hh, bias_ih, bias_hh, 1)
    out = RNNSequence.apply(x, h0, weight_ih, weight_hh, *_bias_args(bias_ih, bias_hh, weight_hh),
                            nonlinearity=nonlinearity, reverse=reverse, tap=tap)
    return out, out[0 if reverse else -1]


# --------------------------------------------------------------------------------------
class LSTMSequence(Function):
    """LSTM over a whole sequence (one direction), PyTorch gate order i, f, g, o.

    [a_i a_f a_g a_o] = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh
    i = sigmoid(a_i), f = sigmoid(a_f), g = tanh(a_g), o = sigmoid(a_o)
    c_t = f * c_{t-1} + i * g,  h_t = o * tanh(c_t)
    x (T, B, I), h0 and c0 (B, H), W_ih (4H, I), W_hh (4H, H) -> two outputs:
    out (T, B, H) = h_1..h_T in input time order, and c_n (B, H).

    backward, with dh_t = g_t + dh from step t+1 and dc from step t+1 (g of c_n at the end):
      dc_t   = dh_t * o (1 - tanh(c_t)^2) + dc
      da_o   = dh_t * tanh(c_t) o (1 - o)
      da_i   = dc_t * g i (1 - i),  da_f = dc_t * c_{t-1} f (1 - f),  da_g = dc_t * i (1 - g^2)
      dc_{t-1} = dc_t * f,  dh_{t-1} = da_t W_hh
    then dW_hh = sum_t da_t^T h_{t-1}, dW_ih = da^T x, db = sum da, dx = da W_ih.
    """

    time_axes = ((0,), (0,))  # x and out; states and weights have no time axis

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, reverse=False, lengths=None,
                tap=None):
        arrays = (x, h0, c0, w_ih, w_hh) + (() if b_ih is None else (b_ih, b_hh))
        dt = np.result_type(*arrays)
        x, h0, c0, w_ih, w_hh = (a.astype(dt, copy=False) for a in (x, h0, c0, w_ih, w_hh))
        t_len, b, i = x.shape
        h = w_hh.shape[1]
        # halve the sigmoid gates' rows: one tanh per step then gives all four gates, and
        # a * scale + shift (exact on the g block: * 1 + 0) turns tanh(a/2) into sigmoid(a)
        scale = np.full(4 * h, 0.5, dtype=dt)
        scale[2 * h:3 * h] = 1.0
        shift = np.full(4 * h, 0.5, dtype=dt)
        shift[2 * h:3 * h] = 0.0
        x2 = x.reshape(t_len * b, i)
        gates = np.dot(x2, (w_ih * scale[:, None]).T)
        if b_ih is not None:
            gates += (b_ih + b_hh).astype(dt, copy=False) * scale
        gates = gates.reshape(t_len, b, 4 * h)
        w_rec = _blas.step_rhs((w_hh * scale[:, None]).T, b)  # (H, 4H), maybe wider: _blas
        hs = np.empty((t_len, b, h), dtype=dt)
        cs = np.empty((t_len, b, h), dtype=dt)
        tanh_cs = np.empty((t_len, b, h), dtype=dt)
        wide = np.empty((b, w_rec.shape[1]), dtype=dt)
        tmp = wide[:, :4 * h]
        ig = np.empty((b, h), dtype=dt)
        h_prev, c_prev = h0, c0
        for t in _steps(t_len, reverse):
            a = gates[t]
            np.dot(h_prev, w_rec, out=wide)
            a += tmp
            np.tanh(a, out=a)
            a *= scale  # whole contiguous rows: faster than two strided slices
            a += shift
            gi, gf, gg, go = a[:, :h], a[:, h:2 * h], a[:, 2 * h:3 * h], a[:, 3 * h:]
            ct = cs[t]
            np.multiply(gf, c_prev, out=ct)
            np.multiply(gi, gg, out=ig)
            ct += ig
            np.tanh(ct, out=tanh_cs[t])
            np.multiply(go, tanh_cs[t], out=hs[t])
            h_prev, c_prev = hs[t], ct
        ctx.save_for_backward(x2, h0, c0, w_ih, w_hh, gates, cs, tanh_cs, hs)
        ctx.reverse, ctx.has_bias, ctx.x_shape = reverse, b_ih is not None, x.shape
        ctx.lengths, ctx.tap = lengths, tap
        if lengths is not None:  # each sequence's c at its own last step (forward order)
            return hs, cs[lengths - 1, np.arange(b)]
        return hs, c_prev.copy()  # c_n is its own array: cs stays as backward needs it

    @staticmethod
    def backward(ctx, g, g_c):
        x2, h0, c0, w_ih, w_hh, gates, cs, tanh_cs, hs = ctx.saved_arrays
        t_len, b, h = hs.shape
        dt = hs.dtype
        g = g.astype(dt, copy=False)
        act = gates.reshape(t_len, b, 4, h)
        # the pre-activation gradients da, step by step: each step's local-derivative
        # factors are computed where they are used, on arrays that stay in cache (computed
        # for all steps at once they were passes over (T, B, 4, H) arrays, ~7 ms of memory
        # traffic for T=64, B=32, H=256)
        da = np.empty((t_len, b, 4, h), dtype=dt)
        dh = np.empty((b, h), dtype=dt)
        lengths = ctx.lengths
        if lengths is None:
            dc = g_c.astype(dt, copy=True)
        else:  # g_c enters at each sequence's last step
            dc = np.zeros((b, h), dtype=dt)
            g_c = g_c.astype(dt, copy=False)
        dht = np.empty((b, h), dtype=dt)
        tmp = np.empty((b, h), dtype=dt)
        order = _steps(t_len, not ctx.reverse)
        first = order[-1]  # the first step in the direction's own time order
        step_back = 1 if ctx.reverse else -1
        last = None if lengths is None else lengths - 1
        tap = ctx.tap
        for t in order:
            if t == order[0]:
                np.copyto(dht, g[t])
            else:
                np.add(g[t], dh, out=dht)
            if tap is not None:
                tap(t, dht)
            if last is not None:
                ends = last == t
                if ends.any():
                    dc[ends] += g_c[ends]
            a, dat, tc = act[t], da[t], tanh_cs[t]
            gi, gg, go = a[:, 0], a[:, 2], a[:, 3]
            # dc_t = dc + dh_t * ((1 - tanh(c_t)^2) * o)
            np.multiply(tc, tc, out=tmp)
            np.subtract(1, tmp, out=tmp)
            tmp *= go
            tmp *= dht
            dc += tmp
            # [i, f] factors (1 - a) a, then * g and * c_{t-1}; g's (1 - g^2) i
            np.subtract(1, a[:, :2], out=dat[:, :2])
            dat[:, :2] *= a[:, :2]
            dat[:, 0] *= gg
            dat[:, 1] *= c0 if t == first else cs[t + step_back]
            np.multiply(gg, gg, out=dat[:, 2])
            np.subtract(1, dat[:, 2], out=dat[:, 2])
            dat[:, 2] *= gi
            dat[:, :3] *= dc[:, None, :]
            # o: dh_t * ((1 - o) o tanh(c_t))
            np.subtract(1, go, out=dat[:, 3])
            dat[:, 3] *= go
            dat[:, 3] *= tc
            dat[:, 3] *= dht
            dc *= a[:, 1]
            if t != first or ctx.needs_input_grad[1]:  # dh0 only where h0 takes a gradient
                np.dot(dat.reshape(b, 4 * h), w_hh, out=dh)
        da3 = da.reshape(t_len, b, 4 * h)
        da2 = da3.reshape(t_len * b, 4 * h)
        dx, dw_ih = _input_grads(ctx, da2, x2, w_ih, ctx.x_shape, 3)
        dh0 = dh if ctx.needs_input_grad[1] else None
        dc0 = dc if ctx.needs_input_grad[2] else None
        dw_hh = _sum_outer_prev(da3, hs, h0, ctx.reverse) if ctx.needs_input_grad[4] else None
        if not ctx.has_bias:
            return dx, dh0, dc0, dw_ih, dw_hh
        db = da2.sum(axis=0) if any(ctx.needs_input_grad[5:]) else None
        return dx, dh0, dc0, dw_ih, dw_hh, db, db


def lstm_sequence(x: Tensor, h0: Tensor, c0: Tensor, weight_ih: Tensor, weight_hh: Tensor,
                  bias_ih: Optional[Tensor] = None, bias_hh: Optional[Tensor] = None,
                  reverse: bool = False, lengths: Optional[np.ndarray] = None,
                  tap=None) -> tuple:
    """Run an LSTM over a time-major sequence as one graph node.

    Returns (out, h_n, c_n): out (T, B, H) in input time order, h_n and c_n (B, H) the last
    states computed (at step T-1, or step 0 when reverse=True); with `lengths` (forward
    only), c_n holds each sequence's c at its own last step lengths[b] - 1.
    """
    x, h0, c0, weight_ih, weight_hh = map(_as_tensor, (x, h0, c0, weight_ih, weight_hh))
    _check("lstm_sequence", x, {"h0": h0, "c0": c0}, weight_ih, weight_hh, bias_ih, bias_hh, 4)
    t_len = x.shape[0]
    out, c_n = LSTMSequence.apply(x, h0, c0, weight_ih, weight_hh,
                                  *_bias_args(bias_ih, bias_hh, weight_hh), reverse=reverse,
                                  lengths=lengths, tap=tap)
    return out, out[0 if reverse else t_len - 1], c_n


# --------------------------------------------------------------------------------------
class GRUSequence(Function):
    """GRU over a whole sequence (one direction), PyTorch gate order r, z, n.

    r = sigmoid(x_t W_ir^T + b_ir + h_{t-1} W_hr^T + b_hr)
    z = sigmoid(x_t W_iz^T + b_iz + h_{t-1} W_hz^T + b_hz)
    n = tanh(x_t W_in^T + b_in + r * (h_{t-1} W_hn^T + b_hn))
    h_t = (1 - z) * n + z * h_{t-1}
    x (T, B, I), h0 (B, H), W_ih (3H, I), W_hh (3H, H) -> out (T, B, H) with out[t] = h_t.

    backward, with dh_t = g_t + dh from step t+1 and q_t = h_{t-1} W_hn^T + b_hn:
      da_n = dh_t (1 - z)(1 - n^2)                  (input part of n)
      dq   = da_n * r,  da_r = da_n * q r (1 - r),  da_z = dh_t (h_{t-1} - n) z (1 - z)
      dh_{t-1} = [da_r, da_z, dq] W_hh + dh_t * z
    then dW_hh = sum_t [da_r, da_z, dq]^T h_{t-1}, db_hh = sum [da_r, da_z, dq],
    dW_ih = [da_r, da_z, da_n]^T x, db_ih = sum [da_r, da_z, da_n], dx = [...] W_ih.
    """

    time_axes = ((0,), (0,))  # x and out; states and weights have no time axis

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih=None, b_hh=None, reverse=False, tap=None):
        arrays = (x, h0, w_ih, w_hh) + (() if b_ih is None else (b_ih, b_hh))
        dt = np.result_type(*arrays)
        x, h0, w_ih, w_hh = (a.astype(dt, copy=False) for a in (x, h0, w_ih, w_hh))
        t_len, b, i = x.shape
        h = w_hh.shape[1]
        x2 = x.reshape(t_len * b, i)
        # r and z (rows halved: sigmoid via tanh) and n's input part in separate arrays, so
        # the gate arithmetic of a step runs on contiguous rows
        rz_all = np.dot(x2, (0.5 * w_ih[:2 * h]).T).reshape(t_len, b, 2 * h)
        n_all = np.dot(x2, w_ih[2 * h:].T).reshape(t_len, b, h)
        b_hn = None
        if b_ih is not None:
            b_ih, b_hh = b_ih.astype(dt, copy=False), b_hh.astype(dt, copy=False)
            rz_all += 0.5 * (b_ih[:2 * h] + b_hh[:2 * h])  # b_hn sits inside r * (.)
            n_all += b_ih[2 * h:]
            b_hn = b_hh[2 * h:]
        scale = np.full(3 * h, 0.5, dtype=dt)
        scale[2 * h:] = 1.0
        w_rec = _blas.step_rhs((w_hh * scale[:, None]).T, b)
        out = np.empty((t_len, b, h), dtype=dt)
        q = np.empty((t_len, b, h), dtype=dt)
        wide = np.empty((b, w_rec.shape[1]), dtype=dt)
        tmp = wide[:, :3 * h]
        rq = np.empty((b, h), dtype=dt)
        prev = h0
        for t in _steps(t_len, reverse):
            np.dot(prev, w_rec, out=wide)
            rz = rz_all[t]
            rz += tmp[:, :2 * h]
            np.tanh(rz, out=rz)
            _sigmoid_from_tanh_(rz)
            if b_hn is None:
                np.copyto(q[t], tmp[:, 2 * h:])
            else:
                np.add(tmp[:, 2 * h:], b_hn, out=q[t])
            n = n_all[t]
            np.multiply(rz[:, :h], q[t], out=rq)
            n += rq
            np.tanh(n, out=n)
            ht = out[t]
            np.subtract(prev, n, out=ht)
            ht *= rz[:, h:]
            ht += n
            prev = ht
        ctx.save_for_backward(x2, h0, w_ih, w_hh, rz_all, n_all, q, out)
        ctx.reverse, ctx.has_bias, ctx.x_shape = reverse, b_ih is not None, x.shape
        ctx.tap = tap
        return out

    @staticmethod
    def backward(ctx, g):
        x2, h0, w_ih, w_hh, rz_all, n, q, out = ctx.saved_arrays
        t_len, b, h = out.shape
        dt = out.dtype
        g = g.astype(dt, copy=False)
        r, z = rz_all[..., :h], rz_all[..., h:]
        # a_n: d h_t / d (pre-activation of n); the loop turns `fac` into [da_r, da_z, dq]
        a_n = np.multiply(n, n)
        np.subtract(1, a_n, out=a_n)
        one_minus_z = np.subtract(1, z)
        a_n *= one_minus_z
        fac = np.empty((t_len, b, 3, h), dtype=dt)
        f_r, f_z, f_q = fac[:, :, 0], fac[:, :, 1], fac[:, :, 2]
        np.multiply(a_n, r, out=f_q)
        np.subtract(1, r, out=f_r)
        f_r *= r
        f_r *= q
        f_r *= a_n
        (bulk, h_before), (first, h_first) = _shifted(out, h0, ctx.reverse)
        np.subtract(h_before, n[bulk], out=f_z[bulk])
        np.subtract(h_first, n[first], out=f_z[first])
        np.multiply(one_minus_z, z, out=one_minus_z)
        f_z *= one_minus_z
        del one_minus_z
        dhs = np.empty((t_len, b, h), dtype=dt)  # dh_t for every step, for da_n after the loop
        dh = np.empty((b, h), dtype=dt)
        tmp = np.empty((b, h), dtype=dt)
        order = _steps(t_len, not ctx.reverse)
        last = order[-1]
        for t in order:
            dht = dhs[t]
            if t == order[0]:
                np.copyto(dht, g[t])
            else:
                np.add(g[t], dh, out=dht)
            if ctx.tap is not None:
                ctx.tap(t, dht)
            ft = fac[t]
            np.multiply(dht[:, None, :], ft, out=ft)
            if t != last or ctx.needs_input_grad[1]:
                np.dot(ft.reshape(b, 3 * h), w_hh, out=dh)
                np.multiply(dht, z[t], out=tmp)
                dh += tmp
        d_hh = fac.reshape(t_len, b, 3 * h)
        d_hh2 = d_hh.reshape(t_len * b, 3 * h)
        dh0 = dh if ctx.needs_input_grad[1] else None
        dw_hh = _sum_outer_prev(d_hh, out, h0, ctx.reverse) if ctx.needs_input_grad[3] else None
        db_hh = d_hh2.sum(axis=0) if ctx.has_bias else None
        # the input side sees [da_r, da_z, da_n]: overwrite dq with da_n in place, so dx and
        # dW_ih are one GEMM each on a contiguous array (a column slice would send BLAS down
        # a slow strided path)
        np.multiply(a_n, dhs, out=f_q)
        dx, dw_ih = _input_grads(ctx, d_hh2, x2, w_ih, ctx.x_shape, 2)
        if not ctx.has_bias:
            return dx, dh0, dw_ih, dw_hh
        return dx, dh0, dw_ih, dw_hh, d_hh2.sum(axis=0), db_hh


def gru_sequence(x: Tensor, h0: Tensor, weight_ih: Tensor, weight_hh: Tensor,
                 bias_ih: Optional[Tensor] = None, bias_hh: Optional[Tensor] = None,
                 reverse: bool = False, tap=None) -> tuple:
    """Run a GRU over a time-major sequence as one graph node.

    Returns (out, h_n): out (T, B, H) in input time order, h_n (B, H) the last state
    computed (out[T-1], or out[0] when reverse=True).
    """
    x, h0, weight_ih, weight_hh = map(_as_tensor, (x, h0, weight_ih, weight_hh))
    _check("gru_sequence", x, {"h0": h0}, weight_ih, weight_hh, bias_ih, bias_hh, 3)
    out = GRUSequence.apply(x, h0, weight_ih, weight_hh, *_bias_args(bias_ih, bias_hh, weight_hh),
                            reverse=reverse, tap=tap)
    return out, out[0 if reverse else -1]


# ----- kernels registered for the cells' own steps -----------------------------------------
# Each runs one layer-direction exactly as the loop over that step function would; a layer
# uses one only when its step is that function (see RNNBase._kernel), and tests/nn/test_fused.py
# checks every kernel against the cell's step itself.
def _at_lengths(out: Tensor, lengths: Any) -> Tensor:
    """Each sequence's output at its own last step: out[lengths - 1, b]."""
    return out[lengths - 1, np.arange(out.shape[1])]


def _rnn_kernel(x, h0, weights, reverse, nonlinearity="tanh", lengths=None, tap=None):
    out, h_n = rnn_sequence(x, h0, *weights, nonlinearity=nonlinearity, reverse=reverse,
                            tap=tap)
    return out, (h_n if lengths is None else _at_lengths(out, lengths))


def _lstm_kernel(x, state, weights, reverse, lengths=None, tap=None):
    out, h_n, c_n = lstm_sequence(x, state[0], state[1], *weights, reverse=reverse,
                                  lengths=lengths, tap=tap)
    return out, ((h_n if lengths is None else _at_lengths(out, lengths)), c_n)


def _gru_kernel(x, h0, weights, reverse, lengths=None, tap=None):
    out, h_n = gru_sequence(x, h0, *weights, reverse=reverse, tap=tap)
    return out, (h_n if lengths is None else _at_lengths(out, lengths))


KERNELS = {RNNCell.step: _rnn_kernel, LSTMCell.step: _lstm_kernel, GRUCell.step: _gru_kernel}
