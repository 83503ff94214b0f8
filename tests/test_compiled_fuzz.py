"""A fuzzer of the compiled sequence path: random steps `step(x, state) -> state` built from
the public Tensor vocabulary, each run by `scan` compiled and on the eager loop (and by a
hand loop); outputs, final states and the gradients of a random weighted sum of them (with
respect to the inputs, the initial state and every captured parameter) must agree: in
float64 to the bit for the forward, gradients to 1e-12 (a weight gradient batched over
time adds in another order), float32 to a tolerance.

A program is a list of ops on a pool of values (the step input, the state elements, the
parameters, and every op's results); it is drawn once with sample values (so that shapes
are known, and an op that raises is left out) and then run as the step at every time.
`SCAN_FUZZ_EXAMPLES` sets how many programs the property test draws.
"""
from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn
from tinygrad_rnn.compiled import scan_info
from tinygrad_rnn.nn import functional as F


# ----- the ops ------------------------------------------------------------------------------
def _is_float(t) -> bool:
    return isinstance(t, Tensor) and np.issubdtype(t.dtype, np.floating)


def _axis(draw, t, allow_none=False):
    if t.ndim == 0:
        return None
    choices = list(range(-t.ndim, t.ndim)) + ([None] if allow_none else [])
    return draw(st.sampled_from(choices))


UNARY = {
    "tanh": lambda a: a.tanh(), "sigmoid": lambda a: a.sigmoid(), "relu": lambda a: a.relu(),
    "exp": lambda a: a.clip(-5, 5).exp(), "sin": lambda a: a.sin(), "abs": lambda a: a.abs(),
    "square": lambda a: a.square(), "neg": lambda a: -a, "softplus": lambda a: a.softplus(),
    "gelu": lambda a: a.gelu(), "silu": lambda a: a.silu(), "elu": lambda a: a.elu(),
    "leaky": lambda a: a.leaky_relu(0.1), "logsig": lambda a: a.log_sigmoid(),
    "sqrt": lambda a: (a.abs() + 0.5).sqrt(), "log": lambda a: (a.abs() + 0.5).log(),
    "detach": lambda a: a.detach(), "sign": lambda a: a.sign(),
    "contiguous": lambda a: a.contiguous(), "clone": lambda a: a.clone(),
}
BINARY = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b.abs() + 0.5), "maximum": lambda a, b: tg.maximum(a, b),
    "minimum": lambda a, b: tg.minimum(a, b), "fmod": lambda a, b: tg.fmod(a, b.abs() + 0.5),
    "floordiv": lambda a, b: tg.div(a, b.abs() + 0.5, rounding_mode="floor"),
    "truncdiv": lambda a, b: tg.div(a, b.abs() + 0.5, rounding_mode="trunc"),
    "where": lambda a, b: tg.where(a > b, a, b), "rsub": lambda a, b: b - 2.0 * a,
    "pow": lambda a, b: (a.abs() + 0.5) ** b.tanh(),
}
SCALAR = {
    "sadd": lambda a, c: a + c, "smul": lambda a, c: c * a, "ssub": lambda a, c: c - a,
    "sdiv": lambda a, c: a / c, "rdiv": lambda a, c: c / (a.abs() + 1.0),
    "clip": lambda a, c: a.clip(-abs(c), abs(c)), "clipmin": lambda a, c: a.clip(min=c),
    "masked_fill": lambda a, c: a.masked_fill(a > c, c * 2),
    "masked_fill_not": lambda a, c: a.masked_fill(~(a < c), 0.0),
    "where_s": lambda a, c: tg.where(a < c, a * c, 0.5),
    "spow": lambda a, c: a ** 2, "fmod_s": lambda a, c: tg.fmod(a, abs(c) + 0.25),
    "floordiv_s": lambda a, c: a // (abs(c) + 0.25), "mod_s": lambda a, c: a % (abs(c) + 0.25),
    "isnan": lambda a, c: tg.where(tg.isnan(a), c, a), "maximum_s": lambda a, c: tg.maximum(a, c),
}


def _draw_op(draw, pool, params, dtype):
    """(name, input ids, options) of one op on the pool (a list of sample Tensors)."""
    n = len(pool)
    floats = [i for i in range(n) if _is_float(pool[i])]
    recent = floats[-6:]
    pick = lambda: draw(st.sampled_from(recent if draw(st.booleans()) else floats))  # noqa
    kind = draw(st.sampled_from(
        ["unary", "binary", "scalar", "matmul", "linear", "index", "movement", "cat",
         "split", "reduce", "softmax", "layer_norm", "tri", "cum", "scatter", "mask",
         "argindex", "matmul2", "outer_bias"]))
    a = pick()
    t = pool[a]
    if kind == "unary":
        return ("unary", (a,), draw(st.sampled_from(sorted(UNARY))))
    if kind == "binary":
        ok = [i for i in floats if _broadcasts(pool[i].shape, t.shape)]
        b = draw(st.sampled_from(ok))
        return ("binary", (a, b), draw(st.sampled_from(sorted(BINARY))))
    if kind == "scalar":
        c = draw(st.sampled_from([0.5, -1.5, 2.0, 0.25, 3.0, -0.75]))
        return ("scalar", (a,), (draw(st.sampled_from(sorted(SCALAR))), c))
    if kind == "matmul":  # with a captured weight
        if t.ndim == 0:
            return None
        m = draw(st.integers(1, 6))
        w = _param(draw, params, (t.shape[-1], m), dtype)
        return ("matmul", (a, w), _one_row(t))
    if kind == "matmul2":  # two step values
        ok = [i for i in floats if t.ndim >= 1 and pool[i].ndim >= 1 and
              pool[i].shape[-2 if pool[i].ndim >= 2 else 0] == t.shape[-1]]
        if not ok:
            return None
        return ("matmul2", (a, draw(st.sampled_from(ok))), _one_row(t))
    if kind == "linear":
        if t.ndim == 0:
            return None
        m = draw(st.integers(1, 6))
        w = _param(draw, params, (m, t.shape[-1]), dtype)
        if draw(st.booleans()):
            return ("linear", (a, w, _param(draw, params, (m,), dtype)), _one_row(t))
        return ("linear", (a, w), _one_row(t))
    if kind == "outer_bias":  # t * p + q with broadcasting parameters
        shape = tuple(draw(st.sampled_from([1, d])) for d in t.shape[draw(st.integers(
            0, t.ndim)):])
        return ("binary", (a, _param(draw, params, shape, dtype)),
                draw(st.sampled_from(["add", "mul", "maximum", "sub"])))
    if kind == "index":
        if t.ndim == 0:
            return None
        how = draw(st.sampled_from(["slice", "slice2", "int", "ellipsis", "list", "neg",
                                    "step", "newaxis", "bool"]))
        d0 = t.shape[0]
        if how == "slice":
            lo = draw(st.integers(0, d0 - 1))
            return ("index", (a,), slice(lo, draw(st.integers(lo + 1, d0))))
        if how == "slice2" and t.ndim >= 2:
            d1 = t.shape[1]
            lo = draw(st.integers(0, d1 - 1))
            return ("index", (a,), (slice(None), slice(lo, draw(st.integers(lo + 1, d1)))))
        if how == "int":
            return ("index", (a,), (Ellipsis, draw(st.integers(-t.shape[-1], t.shape[-1] - 1))))
        if how == "ellipsis":
            return ("index", (a,), (Ellipsis, slice(None, None, -1)))
        if how == "list":
            idx = draw(st.lists(st.integers(0, d0 - 1), min_size=1, max_size=4))
            return ("index", (a,), np.array(idx))
        if how == "neg":
            return ("index", (a,), -1)
        if how == "step":
            return ("index", (a,), slice(None, None, 2))
        if how == "newaxis":
            return ("index", (a,), (None, Ellipsis))
        if how == "bool":
            return ("index", (a,), np.array(draw(st.lists(st.booleans(), min_size=d0,
                                                          max_size=d0))))
        return None
    if kind == "movement":
        how = draw(st.sampled_from(["reshape", "view", "T", "permute", "flatten", "unsqueeze",
                                    "squeeze", "expand", "flip", "roll", "repeat", "movedim",
                                    "narrow"]))
        if how in ("reshape", "view"):
            size = int(np.prod(t.shape))
            divs = [d for d in range(1, size + 1) if size % d == 0]
            d = draw(st.sampled_from(divs))
            return ("movement", (a,), (how, (d, -1)))
        if how == "T":
            return ("movement", (a,), ("T", None)) if t.ndim >= 2 else None
        if how in ("permute", "movedim"):
            if t.ndim < 2:
                return None
            return ("movement", (a,), (how, tuple(draw(st.permutations(range(t.ndim))))))
        if how in ("flatten", "unsqueeze", "squeeze", "flip", "roll", "narrow"):
            ax = _axis(draw, t)
            if ax is None and how != "unsqueeze":
                return None
            if how == "unsqueeze":
                ax = draw(st.integers(-t.ndim - 1, t.ndim))
            if how == "narrow":
                n_ax = t.shape[ax]
                start = draw(st.integers(0, n_ax - 1))
                return ("movement", (a,), ("narrow", (ax, start, draw(st.integers(
                    1, n_ax - start)))))
            return ("movement", (a,), (how, ax))
        if how == "expand":
            return ("movement", (a,), ("expand", (draw(st.integers(1, 3)),) + t.shape))
        if how == "repeat":
            return ("movement", (a,), ("repeat", tuple(draw(st.integers(1, 2))
                                                       for _ in range(t.ndim))))
        return None
    if kind == "cat":
        ok = [i for i in floats if pool[i].ndim == t.ndim and t.ndim >= 1]
        if not ok:
            return None
        b = draw(st.sampled_from(ok))
        if draw(st.booleans()) and pool[b].shape == t.shape:
            return ("stack", (a, b), draw(st.integers(-t.ndim - 1, t.ndim)))
        ax = [k for k in range(t.ndim) if all(
            pool[b].shape[j] == t.shape[j] for j in range(t.ndim) if j != k)]
        if not ax:
            return None
        return ("cat", (a, b), draw(st.sampled_from(ax)))
    if kind == "split":
        ax = _axis(draw, t)
        if ax is None:
            return None
        how = draw(st.sampled_from(["split", "chunk", "unbind", "tensor_split"]))
        if how == "split":
            return ("split", (a,), ("split", draw(st.integers(1, max(1, t.shape[ax]))), ax))
        if how == "chunk":
            return ("split", (a,), ("chunk", draw(st.integers(1, 3)), ax))
        if how == "tensor_split":
            return ("split", (a,), ("tensor_split", draw(st.integers(1, 3)), ax))
        return ("split", (a,), ("unbind", None, ax))
    if kind == "reduce":
        how = draw(st.sampled_from(["sum", "mean", "max", "min", "logsumexp", "var", "norm",
                                    "nansum", "amax", "std", "prod"]))
        ax = _axis(draw, t, allow_none=True)
        if draw(st.booleans()) and t.ndim >= 2:
            ax = (0, t.ndim - 1)
        return ("reduce", (a,), (how, ax, draw(st.booleans())))
    if kind == "softmax":
        ax = _axis(draw, t)
        if ax is None:
            return None
        return ("softmax", (a,), (draw(st.sampled_from(["softmax", "log_softmax"])), ax))
    if kind == "layer_norm":
        if t.ndim == 0:
            return None
        if draw(st.booleans()):
            w = _param(draw, params, t.shape[-1:], dtype)
            b = _param(draw, params, t.shape[-1:], dtype)
            return ("layer_norm", (a, w, b), None)
        return ("layer_norm", (a,), None)
    if kind == "tri":
        if t.ndim < 2:
            return None
        how = draw(st.sampled_from(["tril", "triu", "diagonal"]))
        return ("tri", (a,), (how, draw(st.integers(-2, 2))))
    if kind == "cum":
        ax = _axis(draw, t)
        if ax is None:
            return None
        how = draw(st.sampled_from(["cummax", "cummin", "cumsum", "cumprod", "logcumsumexp"]))
        return ("cum", (a,), (how, ax))
    if kind == "scatter":
        if t.ndim == 0:
            return None
        how = draw(st.sampled_from(["scatter_add", "index_add", "index_select", "gather"]))
        ax = _axis(draw, t)
        d = t.shape[ax]
        if how == "scatter_add":
            idx = np.array(draw(st.lists(st.integers(0, d - 1), min_size=t.size,
                                         max_size=t.size))).reshape(t.shape)
            return ("scatter", (a, pick()), (how, ax, idx))
        if how in ("index_add", "index_select"):
            idx = np.array(draw(st.lists(st.integers(0, d - 1), min_size=1, max_size=4)))
            return ("scatter", (a, pick()), (how, ax, idx))
        idx = np.array(draw(st.lists(st.integers(0, d - 1), min_size=t.size,
                                     max_size=t.size))).reshape(t.shape)
        return ("scatter", (a,), (how, ax, idx))
    if kind == "mask":  # masks made inside the step from its values
        how = draw(st.sampled_from(["where", "masked_fill", "and", "or", "not", "mul_mask",
                                    "astype", "boolindex"]))
        ok = [i for i in floats if _broadcasts(pool[i].shape, t.shape)]
        b = draw(st.sampled_from(ok))
        return ("mask", (a, b), how)
    if kind == "argindex":  # an integer index made inside the step
        if t.ndim == 0:
            return None
        how = draw(st.sampled_from(["argmax_gather", "argmax_index", "sort", "topk",
                                    "argsort_take"]))
        return ("argindex", (a, pick()), (how, _axis(draw, t)))
    return None


def _one_row(t) -> bool:
    """Whether a product with t on the left has one row (a vector-matrix product)."""
    return int(np.prod(t.shape[:-1])) < 2


def _broadcasts(a, b) -> bool:
    try:
        np.broadcast_shapes(a, b)
        return True
    except ValueError:
        return False


def _param(draw, params, shape, dtype):
    """The pool id of a new parameter (or a constant tensor captured by the step)."""
    seed = draw(st.integers(0, 2 ** 16))
    grad = draw(st.sampled_from([True, True, True, False]))
    params.append((shape, seed, grad))
    return ("p", len(params) - 1)


def _run_op(op, vals):
    name, _, o = op
    a = vals[0]
    if name == "unary":
        return UNARY[o](a)
    if name == "binary":
        return BINARY[o](a, vals[1])
    if name == "scalar":
        return SCALAR[o[0]](a, o[1])
    if name == "matmul" or name == "matmul2":
        return a @ vals[1]
    if name == "linear":
        return F.linear(a, *vals[1:])
    if name == "index":
        return a[o]
    if name == "movement":
        how, arg = o
        if how == "reshape":
            return a.reshape(*arg)
        if how == "view":
            return a.view(*arg)
        if how == "T":
            return a.transpose(-1, -2)
        if how == "permute":
            return a.permute(*arg)
        if how == "movedim":
            return a.movedim(0, -1) if arg[0] else a.moveaxis(-1, 0)
        if how == "flatten":
            return a.flatten(arg) if a.ndim else a.flatten()
        if how == "unsqueeze":
            return a.unsqueeze(arg)
        if how == "squeeze":
            return a.squeeze(arg)
        if how == "flip":
            return a.flip(arg)
        if how == "roll":
            return a.roll(1, arg)
        if how == "narrow":
            return a.narrow(*arg)
        if how == "expand":
            return a.expand(*arg)
        if how == "repeat":
            return a.repeat(*arg)
    if name == "stack":
        return tg.stack([a, vals[1]], o)
    if name == "cat":
        return tg.cat([a, vals[1]], o)
    if name == "split":
        how, k, ax = o
        if how == "split":
            return a.split(k, ax)
        if how == "chunk":
            return a.chunk(k, ax)
        if how == "tensor_split":
            return a.tensor_split(k, ax)
        return a.unbind(ax)
    if name == "reduce":
        how, ax, keep = o
        if how == "norm":
            return a.norm(2, ax, keep)
        if how in ("var", "std"):
            return getattr(a, how)(ax, keep, correction=0)
        return getattr(a, how)(ax, keep)
    if name == "softmax":
        return getattr(a, o[0])(o[1])
    if name == "layer_norm":
        return F.layer_norm(a, a.shape[-1:], *vals[1:])
    if name == "tri":
        how, k = o
        if how == "diagonal":
            return a.diagonal(k, -2, -1)
        return getattr(a, how)(k)
    if name == "cum":
        how, ax = o
        r = getattr(a, how)(ax)
        return r[0] if isinstance(r, tuple) else r
    if name == "scatter":
        how, ax, idx = o
        if how == "scatter_add":
            return a.scatter_add(ax, idx, vals[1].tanh().expand(*a.shape)
                                 if _broadcasts(vals[1].shape, a.shape) and
                                 np.broadcast_shapes(vals[1].shape, a.shape) == a.shape
                                 else a * 0.5)
        if how == "index_select":
            return a.index_select(ax, idx)
        if how == "index_add":
            src = a.index_select(ax, idx) * 0.5
            return a.index_add(ax, idx, src, alpha=2.0)
        return a.gather(ax, idx)
    if name == "mask":
        b = vals[1]
        m = a > b
        if o == "where":
            return tg.where(m, a, b * 0.5)
        if o == "masked_fill":
            return a.masked_fill(m, -1.0)
        if o == "and":
            return tg.where(m & (b < 0.5), a, b)
        if o == "or":
            return tg.where(tg.logical_or(m, a < -0.5), b, a)
        if o == "not":
            return tg.where(~m, a * b, a)
        if o == "mul_mask":
            return a * m.astype(a.dtype) + b
        if o == "astype":
            return m.astype(np.int64) + 1
        if o == "boolindex":
            return a[a > 0.0]
    if name == "argindex":
        how, ax = o
        b = vals[1]
        if how == "argmax_gather":
            i = a.argmax(ax, keepdims=True) if ax is not None else a.argmax(-1, keepdims=True)
            return a.gather(ax if ax is not None else -1, i)
        if how == "argmax_index":
            i = a.argmax(-1)
            return b[i] if b.ndim else b * 1.0
        if how == "sort":
            return a.sort(ax if ax is not None else -1)[0]
        if how == "topk":
            axx = ax if ax is not None else -1
            return a.topk(1, axx)[0]
        if how == "argsort_take":
            i = a.argsort(-1)
            return a.gather(-1, i) + 0.0
    raise AssertionError(op)


# ----- programs -----------------------------------------------------------------------------
class Program:
    """A random step: ops on a pool [x, state..., results...], parameters drawn by seed."""

    def __init__(self, B, F_in, state_shapes, ops, fits, params, dtype, none_init):
        self.B, self.F_in, self.state_shapes = B, F_in, state_shapes
        self.ops, self.fits, self.params, self.dtype = ops, fits, params, dtype
        self.none_init = none_init
        self.one_row_product = any(op[0] in ("matmul", "matmul2", "linear") and op[2]
                                   for op in ops)
        self.tensors = [Tensor(np.random.default_rng(seed).uniform(-1, 1, shape).astype(dtype),
                               requires_grad=grad) for shape, seed, grad in params]

    def fresh_params(self):
        for p in self.tensors:
            p.grad = None

    def step(self, x, state):
        if state is None:  # a cell that starts its own way at step 0
            state = tuple((x[..., :1] * 0.0 + 0.5).reshape(-1)[:1].reshape(()).expand(*s) *
                          1.0 for s in self.state_shapes)
        single = not isinstance(state, tuple)
        state = (state,) if single else state
        pool = [x, *state]
        for op in self.ops:
            vals = [self.tensors[i[1]] if isinstance(i, tuple) else pool[i] for i in op[1]]
            r = _run_op(op, vals)
            pool.extend(r if isinstance(r, tuple) else (r,))
        new = tuple(_fit(pool, f, s, state[k], self.dtype)
                    for k, (f, s) in enumerate(zip(self.fits, self.state_shapes)))
        return new[0] if single and len(new) == 1 else new

    def __repr__(self):
        return (f"Program(B={self.B}, F_in={self.F_in}, state_shapes={self.state_shapes}, "
                f"dtype={np.dtype(self.dtype).name}, none_init={self.none_init},\n  ops=" +
                "\n      ".join(map(repr, self.ops)) + f",\n  fits={self.fits},\n  "
                f"params={self.params})")


def _fit(pool, fit, shape, old, dtype):
    """The new state element of `shape` from pool value fit[0], squashed as fit[1] says."""
    src, how = fit
    if how == "same":
        return old
    v = pool[src]
    if v.dtype != dtype:
        v = v.astype(dtype)
    n = int(np.prod(shape))
    if v.shape != shape:
        flat = v.reshape(-1)
        if flat.shape[0] < n:
            flat = flat.repeat(math.ceil(n / flat.shape[0]))
        v = flat[:n].reshape(shape)
    if how == "tanh":
        return v.tanh()
    if how == "mix":
        return (v * 0.5 + old * 0.5).clip(-4, 4)
    if how == "sigmoid":
        return v.sigmoid()
    return v  # "raw": as it is (a value may grow over time)


@st.composite
def programs(draw, dtype=np.float64, max_ops=8, B=None, F_in=None, shapes=None):
    """A random Program; B, F_in and the state shapes are drawn unless given."""
    B = draw(st.integers(1, 4)) if B is None else B
    F_in = draw(st.integers(1, 6)) if F_in is None else F_in
    if shapes is None:
        shapes = []
        for k in range(draw(st.integers(1, 3))):
            H = draw(st.integers(1, 6))
            shapes.append(draw(st.sampled_from([(B, H), (B, H), (H,), (B, H, draw(
                st.integers(1, 3))), (B,), ()])) if k else (B, H))
    shapes = tuple(shapes)
    params: list = []
    rng = np.random.default_rng(draw(st.integers(0, 1000)))
    pool = [Tensor(rng.standard_normal((B, F_in)).astype(dtype))]
    pool += [Tensor(rng.standard_normal(s).astype(dtype)) for s in shapes]
    ops = []
    for _ in range(draw(st.integers(1, max_ops))):
        op = _draw_op(draw, pool, params, dtype)
        if op is None:
            continue
        tensors = [Tensor(np.random.default_rng(seed).uniform(-1, 1, sh).astype(dtype))
                   for sh, seed, _ in params]
        vals = [tensors[i[1]] if isinstance(i, tuple) else pool[i] for i in op[1]]
        try:
            with np.errstate(all="ignore"):
                r = _run_op(op, vals)
        except Exception:
            continue
        if any(o.size == 0 for o in (r if isinstance(r, tuple) else (r,))):
            continue
        ops.append(op)
        pool.extend(r if isinstance(r, tuple) else (r,))
    fits = []
    for k, s in enumerate(shapes):
        how = draw(st.sampled_from(["tanh", "tanh", "mix", "sigmoid", "raw", "same", "xonly"]))
        if how == "same" and k == 0 and draw(st.booleans()):
            how = "tanh"
        if how == "xonly":  # a state that is a function of the input only
            fits.append((0, "tanh"))
            continue
        usable = [i for i in range(len(pool)) if pool[i].size > 0]
        fits.append((draw(st.sampled_from(usable[-4:] if draw(st.booleans()) else usable)),
                     how))
    return Program(B, F_in, shapes, ops, tuple(fits), params, dtype,
                   draw(st.integers(0, 5)) == 0)


# ----- the comparison -----------------------------------------------------------------------
def _run(prog, xs_np, s0_np, weights, compiled, reverse, hand=False):
    """(outputs, final state elements, gradients, error) of one run."""
    prog.fresh_params()
    xs = Tensor(xs_np.copy(), requires_grad=True)
    s0 = None if s0_np is None else tuple(Tensor(s.copy(), requires_grad=True) for s in s0_np)
    state = None if s0 is None else (s0[0] if len(s0) == 1 else s0)
    try:
        with np.errstate(all="ignore"):
            if hand:
                outs = []
                order = range(len(xs_np) - 1, -1, -1) if reverse else range(len(xs_np))
                for t in order:
                    state = prog.step(xs[t], state)
                    outs.append(state[0] if isinstance(state, tuple) else state)
                out = tg.stack(outs[::-1] if reverse else outs, 0)
                final = state
            else:
                out, final = tg.scan(prog.step, xs, state, reverse=reverse, compiled=compiled)
            finals = final if isinstance(final, tuple) else (final,)
            loss = (out * Tensor(weights[0])).sum()
            for f, w in zip(finals, weights[1:]):
                if np.issubdtype(f.dtype, np.floating):
                    loss = loss + (f * Tensor(w)).sum()
            leaves = [xs] + ([] if s0 is None else list(s0)) + [
                p for p in prog.tensors if p.requires_grad]
            grads = [None] * len(leaves)
            if loss.requires_grad:
                grads = tg.grad(loss, leaves, allow_unused=True)
    except Exception as e:  # noqa: BLE001 (compared with the other path's)
        return None, None, None, e
    return (out.data.copy(), [f.data.copy() for f in finals],
            [None if g is None else g.data.copy() for g in grads], None)


def _diff(a, b, floor=0.0):
    """0 when equal to the bit (NaNs equal), else the largest difference relative to the
    largest magnitude (or to `floor` where that is larger: a gradient that is zero but for
    rounding, a sum of terms that cancel, differs in its rounding alone)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return math.inf
    if np.array_equal(a, b, equal_nan=True):
        return 0.0
    fa, fb = np.asarray(a, np.float64), np.asarray(b, np.float64)
    same_nan = np.isnan(fa) == np.isnan(fb)
    if not same_nan.all() or not (np.isinf(fa) == np.isinf(fb)).all():
        return math.inf
    ok = np.isfinite(fa)
    if not ok.any():
        return 0.0 if np.array_equal(fa[~ok], fb[~ok], equal_nan=True) else math.inf
    scale = max(np.abs(fa[ok]).max(), np.abs(fb[ok]).max(), floor, 1e-300)
    return float(np.abs(fa[ok] - fb[ok]).max() / scale)


def compare(prog, T, reverse, seed, hand=True):
    """A dict of what differs between the compiled run and the eager one (and the hand
    loop), with scan_info() of the compiled run: {"path", "why", "forward", "grad", "error"}."""
    rng = np.random.default_rng(seed)
    dtype = prog.dtype
    xs = rng.standard_normal((T, prog.B, prog.F_in)).astype(dtype)
    s0 = None if prog.none_init else tuple(rng.standard_normal(s).astype(dtype)
                                           for s in prog.state_shapes)
    weights = [rng.standard_normal((T,) + prog.state_shapes[0]).astype(dtype)] + [
        rng.standard_normal(s).astype(dtype) for s in prog.state_shapes]
    eager = _run(prog, xs, s0, weights, False, reverse)
    comp = _run(prog, xs, s0, weights, True, reverse)
    info = dict(scan_info())
    res = {"path": info["path"], "why": info["why"], "forward": 0.0, "grad": 0.0,
           "error": None}
    if (eager[3] is None) != (comp[3] is None):
        res["error"] = f"eager: {eager[3]!r}, compiled: {comp[3]!r}"
        return res
    if eager[3] is not None:
        if type(eager[3]) is not type(comp[3]):
            res["error"] = f"eager: {eager[3]!r}, compiled: {comp[3]!r}"
        res["both_raise"] = repr(eager[3])
        return res
    runs = [comp] + ([_run(prog, xs, s0, weights, False, reverse, hand=True)] if hand else [])
    for other in runs:
        fw = [_diff(eager[0], other[0])] + [_diff(a, b) for a, b in zip(eager[1], other[1])]
        if len(eager[1]) != len(other[1]):
            fw.append(math.inf)
        res["forward"] = max(res["forward"], *fw)
        for a, b in zip(eager[2], other[2]):
            d = 0.0 if a is None and b is None else math.inf if (a is None) != (b is None) \
                else _diff(a, b, floor=1.0)
            res["grad"] = max(res["grad"], d)
    return res


def ok(res, prog):
    """Whether a comparison shows no miscompile: float64 forward to the bit, gradients to
    1e-12 relative; float32 to 1e-5. A product of one row per step that runs once over all
    steps (hoisted) is a GEMM of T rows where the loop ran T vector products, which may
    round differently (README: to the bit wherever a step has two rows or more)."""
    if res["error"]:
        return False
    if np.dtype(prog.dtype) == np.float64:
        exact = res["forward"] == 0.0 or prog.one_row_product and res["forward"] <= 1e-14
        return exact and res["grad"] <= 1e-12
    return res["forward"] <= 1e-5 and res["grad"] <= 1e-4


# ----- the property tests -------------------------------------------------------------------
_EXAMPLES = int(os.environ.get("SCAN_FUZZ_EXAMPLES", 120))


@pytest.fixture(autouse=True)
def _one_thread():
    tg.set_num_threads(1)  # (the eager loop's numbers to the bit: on one thread)


@settings(max_examples=_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.filter_too_much])
@given(prog=programs(), T=st.integers(4, 9), reverse=st.booleans(),
       seed=st.integers(0, 2 ** 16))
def test_random_steps_compile_to_the_eager_loops_numbers(prog, T, reverse, seed):
    res = compare(prog, T, reverse, seed)
    assert ok(res, prog), (res, prog)


@settings(max_examples=max(_EXAMPLES // 4, 5), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.filter_too_much])
@given(prog=programs(dtype=np.float32), T=st.integers(4, 9), reverse=st.booleans(),
       seed=st.integers(0, 2 ** 16))
def test_random_float32_steps_compile_close_to_the_eager_loop(prog, T, reverse, seed):
    res = compare(prog, T, reverse, seed, hand=False)
    assert ok(res, prog), (res, prog)


class _Cell(nn.Module):
    """A Program as a cell for nn.Recurrent (its parameters are the program's tensors)."""

    def __init__(self, prog):
        super().__init__()
        self.prog, self.hidden_size = prog, prog.state_shapes[0][1]

    def forward(self, x, state=None):
        return self.prog.step(x, state)


@st.composite
def recurrent_networks(draw, max_ops=6):
    """(the two programs of its cells: layer 0 and deeper layers, batch, options)."""
    B, F_in, H = draw(st.integers(1, 4)), draw(st.integers(1, 5)), draw(st.integers(1, 5))
    shapes = ((B, H),) + tuple((B, draw(st.integers(1, 4))) for _ in range(draw(
        st.integers(0, 2))))
    bidirectional = draw(st.booleans())
    first = draw(programs(max_ops=max_ops, B=B, F_in=F_in, shapes=shapes))
    deeper = draw(programs(max_ops=max_ops, B=B, F_in=H * (1 + bidirectional), shapes=shapes))
    lengths = draw(st.one_of(st.none(), st.lists(st.integers(1, 6), min_size=B, max_size=B)))
    return first, deeper, B, dict(bidirectional=bidirectional, batch_first=draw(
        st.booleans()), lengths=lengths, hx=draw(st.booleans()))


def _recurrent_run(first, deeper, B, opts, compiled, seed):
    nets = []
    for prog in (first, first, deeper, deeper)[::1 if opts["bidirectional"] else 2]:
        prog.fresh_params()
        nets.append(_Cell(Program(prog.B, prog.F_in, prog.state_shapes, prog.ops, prog.fits,
                                  prog.params, prog.dtype, prog.none_init)))
    rnn = nn.Recurrent(nets, num_layers=2, bidirectional=opts["bidirectional"],
                       batch_first=opts["batch_first"], compiled=compiled)
    rng = np.random.default_rng(seed)
    T, D = 6, 1 + opts["bidirectional"]
    x = Tensor(rng.standard_normal((B, T, first.F_in) if opts["batch_first"] else
                                   (T, B, first.F_in)), requires_grad=True)
    hx = tuple(Tensor(rng.standard_normal((2 * D,) + s), requires_grad=True)
               for s in first.state_shapes) if opts["hx"] else None
    leaves = [x] + list(hx or ()) + [p for c in nets for p in c.prog.tensors if p.requires_grad]
    with np.errstate(all="ignore"):
        out, h_n = rnn(x, hx if hx is None or len(hx) > 1 else hx[0], lengths=opts["lengths"])
        h_n = h_n if isinstance(h_n, tuple) else (h_n,)
        loss = (out * Tensor(rng.standard_normal(out.shape))).sum()
        for h in h_n:
            loss = loss + (h * Tensor(rng.standard_normal(h.shape))).sum()
        grads = tg.grad(loss, leaves, allow_unused=True) if loss.requires_grad else ()
    return [out.data] + [h.data for h in h_n], [None if g is None else g.data for g in grads]


def compare_recurrent(first, deeper, B, opts, seed):
    """The largest difference of outputs / states and of gradients between nn.Recurrent
    compiled and eager: {"forward", "grad", "error"}."""
    runs = []
    for compiled in (False, True):
        try:
            runs.append(_recurrent_run(first, deeper, B, opts, compiled, seed))
        except Exception as e:  # noqa: BLE001
            runs.append(e)
    res = {"forward": 0.0, "grad": 0.0, "error": None}
    e, c = runs
    if isinstance(e, Exception) or isinstance(c, Exception):
        if type(e) is not type(c):
            res["error"] = f"eager: {e!r}, compiled: {c!r}"
        return res
    res["forward"] = max([_diff(a, b) for a, b in zip(e[0], c[0])] + [0.0])
    res["grad"] = max([0.0] + [math.inf if (a is None) != (b is None) else
                               _diff(a, b, floor=1.0) for a, b in zip(e[1], c[1])
                               if a is not None or b is not None])
    return res


@settings(max_examples=max(_EXAMPLES // 4, 5), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.filter_too_much])
@given(net=recurrent_networks(), seed=st.integers(0, 2 ** 16))
def test_random_cells_in_a_recurrent_network_compile_to_the_eager_numbers(net, seed):
    first, deeper, B, opts = net
    res = compare_recurrent(first, deeper, B, opts, seed)
    one_row = first.one_row_product or deeper.one_row_product
    assert not res["error"] and res["grad"] <= 1e-12 and (
        res["forward"] == 0.0 or one_row and res["forward"] <= 1e-14), (res, first, deeper,
                                                                       opts)
