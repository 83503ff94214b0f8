"""Recurrences whose step is elementwise: the whole time loop is one node.

Both run as a Python loop of a few in-place ufunc calls per step on preallocated (T, ...)
arrays. Measured here (float32, B * H = 8192, one core) against a chunked closed form
(cumulative products within chunks, a carry between chunks): the loop took 0.21 / 1.35 /
9.9 / 62 ms at T = 64 / 256 / 1024 / 4096, the best chunking 3.1 / 20 / 133 / 524 ms (its
strided passes over the whole sequence cost more than the loop's per-step calls, which
stay in cache), so the loop it is.
"""
from __future__ import annotations

import numpy as np

from tinygrad_rnn.function import Function
from tinygrad_rnn.ops.elementwise import relu


def _step_shape(name: str, a: np.ndarray, b: np.ndarray, h0: np.ndarray | None) -> tuple:
    """(T, rank of a and b broadcast, shape of one step's state) of a recurrence over a, b
    (and h0) as NumPy broadcasts them: the leading axis of a and b together is time, and
    a step's a_t, b_t broadcast against the state."""
    try:
        full = np.broadcast_shapes(a.shape, b.shape)
        if not full:
            raise ValueError("needs a leading time axis")
        step = np.broadcast_shapes(full[1:], h0.shape) if h0 is not None else full[1:]
    except ValueError as e:
        hs = "" if h0 is None else f", h0 {h0.shape}"
        raise ValueError(f"{name}: a {a.shape}, b {b.shape}{hs} do not broadcast to (T, ...) "
                         f"with a step's shape that h0 fits ({e})") from None
    if full[0] == 0:
        raise ValueError(f"{name}: the sequence is empty (a {a.shape}, b {b.shape})")
    return full[0], len(full), step


def _over_time(x: np.ndarray, T: int, ndim: int) -> np.ndarray:
    """x aligned to rank ndim as NumPy broadcasting aligns it, its time axis stretched to T
    (a view; x[t] then broadcasts against the state)."""
    x = x.reshape((1,) * (ndim - x.ndim) + x.shape)
    return np.broadcast_to(x, (T,) + x.shape[1:])


def _order(T: int, reverse: bool) -> range:
    return range(T - 1, -1, -1) if reverse else range(T)


def _recur(a: np.ndarray, b: np.ndarray, h0: np.ndarray | None, out: np.ndarray,
           reverse: bool, shift: int = 0) -> np.ndarray:
    """out_t = a_{t+shift} * out_prev + b_t in time order (prev = h0 first, none when None)."""
    mul, add = np.multiply, np.add
    prev = h0
    for t in _order(out.shape[0], reverse):
        o = out[t, ...]  # a view even for 0-d steps
        if prev is None:
            o[...] = b[t]
        else:
            mul(a[t + shift], prev, out=o)
            add(o, b[t], out=o)
        prev = o
    return out


class LinearRecurrence(Function):
    """h_t = a_t h_{t-1} + b_t;  dh_t = g_t + a_{t+1} dh_{t+1}, da_t = dh_t h_{t-1}, db_t = dh_t

    over the leading (time) axis, h_{-1} = h0 (zeros when absent), dh0 = a_0 dh_0; with
    reverse=True time runs T-1 .. 0 (h_T = h0) and the adjoint the other way. tap(t, dh_t),
    when given, gets each step's whole gradient in backward (nn.record_grad_flow).
    """

    @staticmethod
    def over_time(kwargs, shapes, stacked):  # it already runs over time: step by step
        return None

    @staticmethod
    def forward(ctx, a, b, h0=None, reverse=False, tap=None):
        T, nd, step = _step_shape("linear_recurrence", a, b, h0)
        dtype = np.result_type(a, b) if h0 is None else np.result_type(a, b, h0)
        av, bv = _over_time(a, T, nd), _over_time(b, T, nd)
        h = _recur(av, bv, h0, np.empty((T,) + step, dtype=dtype), reverse)
        ctx.save_for_backward(av, h, h0)
        ctx.reverse, ctx.tap = reverse, tap
        return h

    @staticmethod
    def backward(ctx, g):
        av, h, h0 = ctx.saved_arrays
        rev = ctx.reverse
        needs = ctx.needs_input_grad
        T = h.shape[0]
        # the adjoint runs the same recurrence the other way, each step weighted by the
        # coefficient of the step after it (in the forward's order)
        dh = np.empty(h.shape, dtype=g.dtype)
        if T > 1:
            fwd = slice(1, None) if not rev else slice(None, -1)
            inner = slice(None, -1) if not rev else slice(1, None)
            g_b = np.broadcast_to(g, h.shape)
            last = T - 1 if not rev else 0
            dh[last] = g_b[last]
            # dh_t = a_next(t) * dh_next(t) + g_t over the steps but the last, backwards
            _recur(av[fwd], g_b[inner], dh[last], dh[inner], not rev)
        else:
            dh[...] = g
        if ctx.tap is not None:
            for t in _order(T, not rev):  # as the backward runs: the forward's last step first
                ctx.tap(t, dh[t])
        first = 0 if not rev else T - 1
        da = None
        if needs[0]:
            da = np.empty(h.shape, dtype=dh.dtype)
            if T > 1:
                np.multiply(dh[fwd], h[inner], out=da[fwd])
            if h0 is None:
                da[first] = 0
            else:
                np.multiply(dh[first], h0, out=da[first, ...])
        db = dh if needs[1] else None
        # an h0 of higher rank gave the state leading axes that a and b lack: sum them
        # here, between time and a's own axes, where the engine cannot
        extra = tuple(range(1, h.ndim - av.ndim + 1))
        if extra:
            da = None if da is None else da.sum(axis=extra)
            db = None if db is None else db.sum(axis=extra)
        if h0 is None:
            return da, db
        dh0 = av[first] * dh[first] if needs[2] else None
        return da, db, dh0


class IndRecurrence(Function):
    """h_t = act(p_t + u h_{t-1});  dq_t = act'(h_t) (g_t + u dq_{t+1}), dp = dq, du = sum dq h_prev

    IndRNN's loop: act relu | tanh (act' from the saved output), u one weight per unit
    (last axis), h_{-1} = h0 (zeros when absent), dh0 = u dq_0; reverse and tap(t, dh_t) (dh_t
    = g_t + u dq_{t+1}, the whole gradient of h_t) as LinearRecurrence.
    """

    @staticmethod
    def over_time(kwargs, shapes, stacked):  # it already runs over time: step by step
        return None

    @staticmethod
    def forward(ctx, p, u, h0=None, reverse=False, nonlinearity="relu", tap=None):
        if nonlinearity not in ("relu", "tanh"):
            raise ValueError(f"indrnn recurrence: nonlinearity must be 'relu' or 'tanh', got "
                             f"{nonlinearity!r}")
        T, nd, step = _step_shape("indrnn recurrence", p, u[None], h0)
        dtype = np.result_type(p, u) if h0 is None else np.result_type(p, u, h0)
        pv = _over_time(p, T, nd)
        h = np.empty((T,) + step, dtype=dtype)
        is_relu = nonlinearity == "relu"
        prev = h0
        for t in _order(T, reverse):
            o = h[t, ...]
            if prev is None:
                o[...] = pv[t]
            else:
                np.multiply(u, prev, out=o)
                np.add(o, pv[t], out=o)
            if is_relu:
                relu(o, out=o)
            else:
                np.tanh(o, out=o)
            prev = o
        ctx.save_for_backward(u, h, h0)
        ctx.reverse, ctx.relu, ctx.tap = reverse, is_relu, tap
        return h

    @staticmethod
    def backward(ctx, g):
        u, h, h0 = ctx.saved_arrays
        rev, needs = ctx.reverse, ctx.needs_input_grad
        T = h.shape[0]
        # act'(pre) from the saved output: relu' = [h != 0] (h >= 0 or NaN: the gradient
        # passes through NaN, as ReLU's), tanh' = 1 - h**2
        d = (h != 0).astype(h.dtype) if ctx.relu else 1 - h * h
        g_b = np.broadcast_to(g, h.shape)
        dq = np.empty(h.shape, dtype=d.dtype)
        nxt, tap = None, ctx.tap
        for t in _order(T, not rev):  # from the forward's last step to its first
            o = dq[t, ...]
            if nxt is None:
                if tap is not None:
                    tap(t, g_b[t])
                np.multiply(d[t], g_b[t], out=o)
            else:
                np.multiply(u, nxt, out=o)
                np.add(o, g_b[t], out=o)
                if tap is not None:
                    tap(t, o)
                np.multiply(o, d[t], out=o)
            nxt = o
        first = 0 if not rev else T - 1
        du = None
        if needs[1]:
            fwd = slice(1, None) if not rev else slice(None, -1)
            inner = slice(None, -1) if not rev else slice(1, None)
            lead = tuple(range(dq.ndim - u.ndim))  # u is per unit: sum the rest here
            du = np.sum(dq[fwd] * h[inner], axis=lead) if T > 1 else np.zeros_like(u)
            if h0 is not None:
                du = du + np.sum(dq[first] * h0, axis=lead[:-1])
        dp = dq if needs[0] else None
        if h0 is None:
            return dp, du
        return dp, du, (u * dq[first] if needs[2] else None)
