"""The op table: one OpSpec line per differentiable op, walked by every generic test.

An entry names the op, calls it on Tensors (`fn`), gives a NumPy reference (`ref`, same
arguments on ndarrays), the value domain of each input (see `tinygrad_rnn.testing.DOMAINS`),
the shape kind that decides how inputs and keyword parameters are drawn, and the Function
classes it exercises. `torch` is the same op on torch tensors (`SAME` when `fn` itself works
on them), or None where PyTorch has no like-for-like op. Inputs listed in `consts` are passed
as plain ndarrays rather than Tensors (ndarray-on-either-side operators).

Adding an op is one Function class plus one line here (and one in tinygrad_rnn/_checks.py,
the table of `tinygrad-rnn gradcheck`; a test fails until both exist).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn import ops
from tinygrad_rnn import testing as tt

SAME = "same"

# sides and dimensions stay small: gradcheck compares full Jacobians below 4096 entries
MAX_DIMS, MAX_SIDE = 3, 4
CLIP_LO, CLIP_HI = -0.5, 1.0  # on the kink grid that domain "away_from_kinks" avoids


@dataclass(frozen=True)
class OpSpec:
    name: str
    fn: Callable[..., Any]
    ref: Callable[..., Any]
    kind: str
    covers: tuple
    domain: Any = "real"  # one domain for every float input, or a tuple with one per input
    torch: Any = None
    consts: tuple = ()

    def domain_of(self, i: int) -> str:
        return self.domain if isinstance(self.domain, str) else self.domain[i]

    def __str__(self) -> str:
        return self.name


# ----- NumPy references that are not a single numpy call --------------------------------
def _np_logsumexp(x, axis=None, keepdims=False):
    return np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))


def _np_log_softmax(x, axis=-1):
    return x - np.log(np.sum(np.exp(x), axis=axis, keepdims=True))


def _np_softmax(x, axis=-1):
    e = np.exp(x)
    return e / np.sum(e, axis=axis, keepdims=True)


def _np_cross_entropy(x, t):
    return -_np_log_softmax(x, axis=-1)[np.arange(x.shape[0]), t]


def _np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


# ----- torch spellings (axis -> dim; None means every axis) ------------------------------
def _dims(x, axis):
    return tuple(range(x.ndim)) if axis is None else axis


def _t_sum(x, axis=None, keepdims=False):
    return x.sum(dim=_dims(x, axis), keepdim=keepdims)


def _t_mean(x, axis=None, keepdims=False):
    return x.mean(dim=_dims(x, axis), keepdim=keepdims)


def _t_amax(x, axis=None, keepdims=False):
    return x.amax(dim=_dims(x, axis), keepdim=keepdims)


def _t_amin(x, axis=None, keepdims=False):
    return x.amin(dim=_dims(x, axis), keepdim=keepdims)


def _t_logsumexp(x, axis=None, keepdims=False):
    import torch
    return torch.logsumexp(x, dim=_dims(x, axis), keepdim=keepdims)


def _t_permute(x, axes=None):
    return x.permute(tuple(axes) if axes else tuple(reversed(range(x.ndim))))


def _t_index(index):
    import torch
    conv = (lambda i: torch.from_numpy(i) if isinstance(i, np.ndarray) else i)
    return tuple(conv(i) for i in index) if isinstance(index, tuple) else conv(index)


def _t_nnf():
    import torch.nn.functional as F
    return F


# ----- the table -----------------------------------------------------------------------
B, E, R, M, S = "broadcast", "elementwise", "reduce", "matmul", "softmax"

OPS: list = [
    # arithmetic, Tensor (op) Tensor with broadcasting
    OpSpec("add", lambda a, b: a + b, np.add, B, ("Add",), torch=SAME),
    OpSpec("sub", lambda a, b: a - b, np.subtract, B, ("Sub",), torch=SAME),
    OpSpec("mul", lambda a, b: a * b, np.multiply, B, ("Mul",), torch=SAME),
    OpSpec("div", lambda a, b: a / b, np.divide, B, ("Div",), ("real", "nonzero"), torch=SAME),
    OpSpec("pow tensor**tensor", lambda a, b: a ** b, np.power, B, ("Pow",),
           ("positive", "real"), torch=SAME),
    # Python scalars and ndarrays on either side
    OpSpec("add scalar", lambda x: x + 1.5, lambda x: x + 1.5, E, ("Add",), torch=SAME),
    OpSpec("radd scalar", lambda x: 1.5 + x, lambda x: 1.5 + x, E, ("Add",), torch=SAME),
    OpSpec("rsub scalar", lambda x: 2 - x, lambda x: 2 - x, E, ("Sub",), torch=SAME),
    OpSpec("rmul scalar", lambda x: -3 * x, lambda x: -3 * x, E, ("Mul",), torch=SAME),
    OpSpec("div scalar", lambda x: x / 4.0, lambda x: x / 4.0, E, ("Div",), torch=SAME),
    OpSpec("rdiv scalar", lambda x: 2.0 / x, lambda x: 2.0 / x, E, ("Div",), "nonzero",
           torch=SAME),
    OpSpec("pow square", lambda x: x ** 2, lambda x: x ** 2, E, ("Pow",), torch=SAME),
    OpSpec("pow cube", lambda x: x ** 3, lambda x: x ** 3, E, ("Pow",), torch=SAME),
    OpSpec("pow sqrt", lambda x: x ** 0.5, lambda x: x ** 0.5, E, ("Pow",), "positive",
           torch=SAME),
    OpSpec("pow negative", lambda x: x ** -1.5, lambda x: x ** -1.5, E, ("Pow",), "positive",
           torch=SAME),
    OpSpec("rpow scalar", lambda x: 2.0 ** x, lambda x: 2.0 ** x, E, ("Pow",), torch=SAME),
    OpSpec("ndarray + tensor", lambda a, b: a + b, np.add, B, ("Add",), torch=SAME,
           consts=(0,)),
    OpSpec("tensor - ndarray", lambda a, b: a - b, np.subtract, B, ("Sub",), torch=SAME,
           consts=(1,)),
    OpSpec("ndarray * tensor", lambda a, b: a * b, np.multiply, B, ("Mul",), torch=SAME,
           consts=(0,)),
    OpSpec("ndarray / tensor", lambda a, b: a / b, np.divide, B, ("Div",), ("real", "nonzero"),
           torch=SAME, consts=(0,)),
    OpSpec("ndarray ** tensor", lambda a, b: a ** b, np.power, B, ("Pow",), ("positive", "real"),
           torch=SAME, consts=(0,)),
    OpSpec("neg", lambda x: -x, np.negative, E, ("Neg",), torch=SAME),
    # unary functions
    OpSpec("exp", lambda x: x.exp(), np.exp, E, ("Exp",), torch=SAME),
    OpSpec("log", lambda x: x.log(), np.log, E, ("Log",), "positive", torch=SAME),
    OpSpec("sqrt", lambda x: x.sqrt(), np.sqrt, E, ("Sqrt",), "positive", torch=SAME),
    OpSpec("abs", lambda x: x.abs(), np.abs, E, ("Abs",), "away_from_kinks", torch=SAME),
    OpSpec("tanh", lambda x: x.tanh(), np.tanh, E, ("Tanh",), torch=SAME),
    OpSpec("sigmoid", lambda x: x.sigmoid(), _np_sigmoid, E, ("Sigmoid",), torch=SAME),
    OpSpec("relu", lambda x: x.relu(), lambda x: np.maximum(x, 0), E, ("ReLU",),
           "away_from_kinks", torch=SAME),
    OpSpec("clip", lambda x: x.clip(CLIP_LO, CLIP_HI), lambda x: np.clip(x, CLIP_LO, CLIP_HI), E,
           ("Clip",), "away_from_kinks", torch=SAME),
    OpSpec("clip min only", lambda x: x.clip(min=CLIP_LO), lambda x: np.maximum(x, CLIP_LO), E,
           ("Clip",), "away_from_kinks", torch=lambda x: x.clip(min=CLIP_LO)),
    OpSpec("clip max only", lambda x: x.clip(max=CLIP_HI), lambda x: np.minimum(x, CLIP_HI), E,
           ("Clip",), "away_from_kinks", torch=lambda x: x.clip(max=CLIP_HI)),
    OpSpec("astype float64", lambda x: x.astype(np.float64), lambda x: x.astype(np.float64), E,
           ("AsType",), torch=lambda x: x.double()),
    OpSpec("where", lambda c, a, b: tg.where(c, a, b), np.where, "where", ("Where",),
           torch=lambda c, a, b: __import__("torch").where(c, a, b), consts=(0,)),
    OpSpec("where scalar branch", lambda c, b: tg.where(c, 0.5, b),
           lambda c, b: np.where(c, 0.5, b), "where1", ("Where",),
           torch=lambda c, b: __import__("torch").where(c, 0.5, b), consts=(0,)),
    # reductions (axis and keepdims drawn with the shape)
    OpSpec("sum", lambda x, axis, keepdims: x.sum(axis, keepdims),
           lambda x, axis, keepdims: np.sum(x, axis=axis, keepdims=keepdims), R, ("Sum",),
           torch=_t_sum),
    OpSpec("mean", lambda x, axis, keepdims: x.mean(axis, keepdims),
           lambda x, axis, keepdims: np.mean(x, axis=axis, keepdims=keepdims), R,
           ("Sum", "Mul"), torch=_t_mean),
    OpSpec("max", lambda x, axis, keepdims: x.max(axis, keepdims),
           lambda x, axis, keepdims: np.max(x, axis=axis, keepdims=keepdims), R, ("Max",),
           "distinct", torch=_t_amax),
    OpSpec("min", lambda x, axis, keepdims: x.min(axis, keepdims),
           lambda x, axis, keepdims: np.min(x, axis=axis, keepdims=keepdims), R, ("Min",),
           "distinct", torch=_t_amin),
    OpSpec("logsumexp", lambda x, axis, keepdims: x.logsumexp(axis, keepdims), _np_logsumexp, R,
           ("LogSumExp",), torch=_t_logsumexp),
    OpSpec("softmax", lambda x, axis: x.softmax(axis), _np_softmax, S, ("LogSoftmax", "Exp"),
           torch=lambda x, axis: x.softmax(axis)),
    OpSpec("log_softmax", lambda x, axis: x.log_softmax(axis), _np_log_softmax, S,
           ("LogSoftmax",), torch=lambda x, axis: x.log_softmax(axis)),
    # matrix product: 1-D, matrices, batched and broadcast stacks
    OpSpec("matmul", lambda a, b: a @ b, np.matmul, M, ("MatMul",), torch=SAME),
    OpSpec("matmul method", lambda a, b: a.matmul(b), np.matmul, M, ("MatMul",), torch=SAME),
    OpSpec("ndarray @ tensor", lambda a, b: a @ b, np.matmul, M, ("MatMul",), torch=SAME,
           consts=(0,)),
    OpSpec("tensor @ ndarray", lambda a, b: a @ b, np.matmul, M, ("MatMul",), torch=SAME,
           consts=(1,)),
    # movement
    OpSpec("reshape", lambda x, shape: x.reshape(*shape), lambda x, shape: x.reshape(shape),
           "reshape", ("Reshape",), torch=lambda x, shape: x.reshape(shape)),
    OpSpec("transpose", lambda x, axes: x.transpose(*axes),
           lambda x, axes: np.transpose(x, axes or None), "transpose", ("Transpose",),
           torch=_t_permute),
    OpSpec(".T", lambda x: x.T, lambda x: x.T, E, ("Transpose",), torch=_t_permute),
    OpSpec("broadcast_to", lambda x, shape: tg.broadcast_to(x, shape), np.broadcast_to,
           "broadcast_to", ("BroadcastTo",), torch=lambda x, shape: x.broadcast_to(shape)),
    OpSpec("getitem basic slices", lambda x, index: x[index], lambda x, index: x[index],
           "slice", ("GetItem",)),
    OpSpec("getitem integer arrays", lambda x, index: x[index], lambda x, index: x[index],
           "index", ("GetItem",), torch=lambda x, index: x[_t_index(index)]),
    OpSpec("getitem integer Tensor", lambda x, index: x[tg.Tensor(index)],
           lambda x, index: x[index], "index1", ("GetItem",),
           torch=lambda x, index: x[_t_index(index)]),
    OpSpec("getitem list", lambda x, index: x[index.tolist()], lambda x, index: x[index],
           "index1", ("GetItem",)),
    OpSpec("concatenate", lambda *xs, axis: tg.concatenate(xs, axis),
           lambda *xs, axis: np.concatenate(xs, axis), "concat", ("Concatenate",),
           torch=lambda *xs, axis: __import__("torch").cat(xs, axis)),
    OpSpec("stack", lambda *xs, axis: tg.stack(xs, axis), lambda *xs, axis: np.stack(xs, axis),
           "stack", ("Stack",), torch=lambda *xs, axis: __import__("torch").stack(xs, axis)),
    # neural-network ops
    OpSpec("embedding", lambda w, idx: ops.Embedding.apply(w, idx), lambda w, idx: w[idx],
           "embedding", ("Embedding",),
           torch=lambda w, idx: _t_nnf().embedding(idx, w)),
    OpSpec("linear", lambda x, w, b: ops.Linear.apply(x, w, b), lambda x, w, b: x @ w.T + b,
           "linear", ("Linear",), torch=lambda x, w, b: _t_nnf().linear(x, w, b)),
    OpSpec("linear (no bias)", lambda x, w: ops.Linear.apply(x, w), lambda x, w: x @ w.T,
           "linear_nobias", ("Linear",), torch=lambda x, w: _t_nnf().linear(x, w)),
    OpSpec("dropout (fixed mask)", lambda x, mask: ops.Dropout.apply(x, mask=mask),
           lambda x, mask: x * mask.astype(x.dtype), "dropout", ("Dropout",),
           torch=lambda x, mask: x * __import__("torch").from_numpy(mask)),
    OpSpec("cross_entropy", lambda x, t: ops.CrossEntropy.apply(x, t), _np_cross_entropy,
           "cross_entropy", ("CrossEntropy",),
           torch=lambda x, t: _t_nnf().cross_entropy(x, t, reduction="none")),
]


KINDS = ("elementwise", "broadcast", "matmul", "where", "where1", "reduce", "softmax", "reshape",
         "transpose", "broadcast_to", "slice", "index", "index1", "concat", "stack", "embedding",
         "linear", "linear_nobias", "dropout", "cross_entropy")


# ----- how each kind draws its inputs and parameters -------------------------------------
def _arr(shape, domain):
    return tt.arrays(shape, domain=domain)


@st.composite
def cases(draw, spec: OpSpec) -> tuple:
    """(inputs, params) for one example of `spec`: a list of ndarrays and a keyword dict."""
    k, dom = spec.kind, spec.domain_of
    shapes = tt.shapes(max_dims=MAX_DIMS, max_side=MAX_SIDE)
    if k == "elementwise":
        return [draw(_arr(draw(shapes), dom(0)))], {}
    if k in ("broadcast", "matmul"):
        sa, sb = draw(tt.broadcastable_shapes(2, max_dims=MAX_DIMS, max_side=MAX_SIDE)
                      if k == "broadcast" else tt.matmul_shapes(max_side=MAX_SIDE))
        return [draw(_arr(sa, dom(0))), draw(_arr(sb, dom(1)))], {}
    if k in ("where", "where1"):
        n = 3 if k == "where" else 2
        shp = draw(tt.broadcastable_shapes(n, max_dims=MAX_DIMS, max_side=MAX_SIDE))
        cond = draw(st.lists(st.booleans(), min_size=int(np.prod(shp[0])),
                             max_size=int(np.prod(shp[0]))))
        return [np.asarray(cond, dtype=bool).reshape(shp[0])] + [
            draw(_arr(s, "real")) for s in shp[1:]], {}
    if k == "reduce":
        x = draw(_arr(draw(shapes), dom(0)))
        axis, keepdims = draw(tt.axis_and_keepdims(x.shape))
        return [x], {"axis": axis, "keepdims": keepdims}
    if k == "softmax":
        x = draw(_arr(draw(shapes), dom(0)))
        nd = max(x.ndim, 1)  # a 0-d tensor takes axis 0 or -1, as in PyTorch
        return [x], {"axis": draw(st.integers(-nd, nd - 1))}
    if k == "reshape":
        x = draw(_arr(draw(shapes), dom(0)))
        return [x], {"shape": draw(_reshape_targets(x.shape))}
    if k == "transpose":
        x = draw(_arr(draw(shapes), dom(0)))
        axes = draw(st.one_of(st.just(()), st.permutations(range(x.ndim)).map(tuple)))
        if axes and draw(st.booleans()):  # negative spellings of the same permutation
            axes = tuple(a - x.ndim if draw(st.booleans()) else a for a in axes)
        return [x], {"axes": axes}
    if k == "broadcast_to":
        x = draw(_arr(draw(shapes), dom(0)))
        lead = draw(st.lists(st.integers(1, 3), max_size=2))
        body = [draw(st.integers(1, 3)) if s == 1 else s for s in x.shape]
        return [x], {"shape": tuple(lead + body)}
    if k == "slice":
        x = draw(_arr(draw(tt.shapes(min_dims=1, max_dims=MAX_DIMS, max_side=MAX_SIDE)), dom(0)))
        return [x], {"index": draw(_basic_index(x.shape))}
    if k in ("index", "index1"):
        x = draw(_arr(draw(tt.shapes(min_dims=1, max_dims=MAX_DIMS, max_side=MAX_SIDE)), dom(0)))
        return [x], {"index": draw(_int_array_index(x.shape, single=(k == "index1")))}
    if k in ("concat", "stack"):
        base = draw(tt.shapes(min_dims=1 if k == "concat" else 0, max_dims=MAX_DIMS,
                              max_side=MAX_SIDE))
        n = draw(st.integers(1, 3))
        nd = len(base) + (k == "stack")
        axis = draw(st.integers(-nd, nd - 1))
        xs = []
        for _ in range(n):
            s = list(base)
            if k == "concat":
                s[axis] = draw(st.integers(0, 3))  # empty pieces are legal
            xs.append(draw(_arr(tuple(s), dom(0))))
        return xs, {"axis": axis}
    if k == "embedding":
        v, d = draw(st.integers(1, 5)), draw(st.integers(1, 4))
        idx = draw(_repeating_ints(0, v - 1, draw(tt.shapes(max_dims=2, max_side=4))))
        return [draw(_arr((v, d), dom(0))), idx], {}
    if k in ("linear", "linear_nobias"):
        lead = draw(tt.shapes(max_dims=2, max_side=MAX_SIDE))
        n_in, n_out = draw(st.integers(1, MAX_SIDE)), draw(st.integers(1, MAX_SIDE))
        x, w = draw(_arr(lead + (n_in,), dom(0))), draw(_arr((n_out, n_in), dom(1)))
        return [x, w] + ([draw(_arr((n_out,), dom(2)))] if k == "linear" else []), {}
    if k == "dropout":
        x = draw(_arr(draw(shapes), dom(0)))
        p = draw(st.sampled_from([0.25, 0.5]))
        keep = draw(st.lists(st.booleans(), min_size=x.size, max_size=x.size))
        mask = np.asarray(np.asarray(keep, dtype=np.float64).reshape(x.shape) / (1 - p))
        return [x], {"mask": mask}
    if k == "cross_entropy":
        n, c = draw(st.integers(1, 4)), draw(st.integers(1, 5))
        t = np.asarray(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)), np.int64)
        return [draw(_arr((n, c), dom(0))), t], {}
    raise ValueError(f"op table: unknown kind {k!r} for {spec.name}")


@st.composite
def _repeating_ints(draw, lo: int, hi: int, shape: tuple) -> np.ndarray:
    """Integers in [lo, hi] of `shape`; with two or more elements the first value repeats."""
    n = int(np.prod(shape))
    vals = draw(st.lists(st.integers(lo, hi), min_size=n, max_size=n))
    if n >= 2:
        vals[-1] = vals[0]
    return np.asarray(vals, dtype=np.int64).reshape(shape)


@st.composite
def _int_array_index(draw, shape: tuple, single: bool = False):
    """An integer-array index (negative values allowed) that always repeats an element."""
    n0 = shape[0]
    idx_shape = draw(tt.shapes(min_dims=1, max_dims=2, min_side=2, max_side=4))
    first = draw(_repeating_ints(-n0, n0 - 1, idx_shape))
    if single or len(shape) == 1:
        return first
    form = draw(st.sampled_from(["pair", "slice_then_array"]))
    if form == "pair":  # x[i, j] with i, j broadcast together
        second = draw(_repeating_ints(-shape[1], shape[1] - 1, idx_shape[-1:]))
        return (first, second)
    return (slice(None), draw(_repeating_ints(0, shape[1] - 1, idx_shape)))


@st.composite
def _basic_index(draw, shape: tuple):
    """A tuple of ints, slices (either step sign), None and Ellipsis: basic indexing only."""
    items: list = []
    for n in shape[: draw(st.integers(1, len(shape)))]:
        form = draw(st.sampled_from(["int", "slice", "slice", "full"]))
        if form == "int":
            items.append(draw(st.integers(-n, n - 1)))
        elif form == "full":
            items.append(slice(None))
        else:
            bound = st.one_of(st.none(), st.integers(-n - 1, n + 1))
            step = draw(st.sampled_from([None, 1, 2, -1, -2]))
            items.append(slice(draw(bound), draw(bound), step))
    if draw(st.booleans()):
        items.insert(draw(st.integers(0, len(items))), None)
    if draw(st.booleans()) and len(items) < len(shape):
        items.append(Ellipsis)
    return tuple(items)


@st.composite
def _reshape_targets(draw, shape: tuple) -> tuple:
    """A new shape with the same number of elements: axes shuffled, merged, 1s and a -1."""
    dims = list(draw(st.permutations(shape))) if shape else []
    if len(dims) >= 2 and draw(st.booleans()):
        i = draw(st.integers(0, len(dims) - 2))
        dims[i: i + 2] = [dims[i] * dims[i + 1]]
    for _ in range(draw(st.integers(0, 2))):
        dims.insert(draw(st.integers(0, len(dims))), 1)
    if dims and draw(st.booleans()):
        dims[draw(st.integers(0, len(dims) - 1))] = -1
    return tuple(dims)
