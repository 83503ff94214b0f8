"""OpInfo: one line of the op table, and the samplers that draw an op's inputs.

NumPy only. A sampler is a function of `pick` (choose one element of a non-empty sequence)
that returns `(inputs, params)`: each input is either a shape (a float input, drawn from the
op's domain for that input) or a ready ndarray (integer indices, boolean masks: passed to
the op as they are), and `params` are the op's keyword arguments. The same sampler drives
Hypothesis in the tests (`pick` draws, so examples shrink) and NumPy in
`tinygrad-rnn gradcheck` (`pick` is a seeded random choice).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from tinygrad_rnn.testing import domains

Pick = Callable[[Sequence], Any]
SAME = "same"  # OpInfo.torch: fn itself works on torch tensors

# sides and dimensions stay small: gradcheck compares full Jacobians below 4096 entries
MAX_DIMS, MAX_SIDE = 3, 4


@dataclass(frozen=True)
class OpInfo:
    """One op of the table.

    name:     unique, PyTorch's name where there is one ("add", "sum", "layer_norm", ...)
    fn:       fn(*inputs, **params) on Tensors
    ref:      the same on ndarrays, in NumPy (a reference written independently of `fn`)
    sample:   pick -> (inputs, params), see the module docstring
    covers:   names of the Function classes it exercises
    domain:   one value domain for every float input, or a tuple with one per input
    torch:    the op on torch tensors (SAME when `fn` works on them), None where PyTorch has
              no like-for-like op
    consts:   positions of float inputs passed as plain ndarrays, not Tensors (ndarray-on-
              either-side operators)
    composed: True when the op is a short composition of other ops, not its own Function
    """

    name: str
    fn: Callable[..., Any]
    ref: Callable[..., Any]
    sample: Callable[[Pick], tuple]
    covers: tuple
    domain: Any = "real"
    torch: Any = None
    consts: tuple = ()
    composed: bool = False

    def domain_of(self, i: int) -> str:
        return self.domain if isinstance(self.domain, str) else self.domain[i]

    def __str__(self) -> str:
        return self.name


def case(spec: OpInfo, pick: Pick, values: Callable[[tuple, str], np.ndarray]) -> tuple:
    """(inputs, params) of one example: shapes become float64 arrays drawn by `values`."""
    descs, params = spec.sample(pick)
    inputs = [values(tuple(d), spec.domain_of(i)) if isinstance(d, tuple) else d
              for i, d in enumerate(descs)]
    return inputs, params


def free_inputs(spec: OpInfo, inputs: list) -> list:
    """Positions of the inputs that become Tensors requiring grad (float, not constant)."""
    return [i for i, x in enumerate(inputs)
            if i not in spec.consts and isinstance(x, np.ndarray) and x.dtype.kind == "f"]


def bind(spec: OpInfo, inputs: list, params: dict) -> tuple:
    """(fn, ref, free arrays): fn and ref over the free inputs, the rest closed over."""
    free = free_inputs(spec, inputs)

    def call(f: Callable, args: tuple) -> Any:
        full = list(inputs)
        for i, a in zip(free, args):
            full[i] = a
        return f(*full, **params)

    return (lambda *a: call(spec.fn, a)), (lambda *a: call(spec.ref, a)), \
        [inputs[i] for i in free]


def numpy_case(spec: OpInfo, rng: np.random.Generator) -> tuple:
    """One example drawn with NumPy: what `tinygrad-rnn gradcheck` runs."""
    def pick(seq: Sequence) -> Any:
        return seq[int(rng.integers(len(seq)))]
    return case(spec, pick, lambda shape, dom: domains.sample(rng, shape, dom))


# ----- shapes ----------------------------------------------------------------------------
def shape(pick: Pick, min_dims: int = 0, max_dims: int = MAX_DIMS, min_side: int = 1,
          max_side: int = MAX_SIDE) -> tuple:
    """A shape, including 0-d () and axes of size 1 (where broadcasting bugs hide)."""
    return tuple(pick(range(min_side, max_side + 1))
                 for _ in range(pick(range(min_dims, max_dims + 1))))


def broadcast_shapes(pick: Pick, n: int = 2, min_dims: int = 0) -> list:
    """n shapes that broadcast together: each drops leading axes and sets some to 1."""
    base = shape(pick, min_dims=min_dims)
    out = []
    for _ in range(n):
        s = base[pick(range(len(base) + 1)):]
        out.append(tuple(1 if pick((False, True)) else d for d in s))
    return out


def matmul_shapes(pick: Pick) -> list:
    """Shapes valid for a @ b: 1-D operands, matrices, broadcast batch stacks."""
    m, k, p = (pick(range(1, MAX_SIDE + 1)) for _ in range(3))
    batch = shape(pick, max_dims=2)
    a = () if pick((False, True)) else (m,)
    b = () if pick((False, True)) else (p,)
    sa, sb = [], []
    for d in batch:  # each batch axis: kept, set to 1, or (leading only) dropped
        sa.append(1 if pick((False, True)) else d)
        sb.append(1 if pick((False, True)) else d)
    if not a or not b or pick((False, True)):
        sa = sa[pick(range(len(sa) + 1)):]
    a_shape = (tuple(sa) + a + (k,)) if a else (k,)
    b_shape = (tuple(sb) + (k,) + b) if b else (k,)
    return [a_shape, b_shape]


# ----- parameters ---------------------------------------------------------------------------
def shuffled(pick: Pick, items: Sequence) -> list:
    """items in an order drawn with pick (Fisher-Yates, so every order can come)."""
    out = list(items)
    for i in range(len(out) - 1, 0, -1):
        j = pick(range(i + 1))
        out[i], out[j] = out[j], out[i]
    return out


def axis_keepdims(pick: Pick, s: tuple) -> dict:
    """axis (None, one int maybe negative, or a tuple) and keepdims, valid for shape s."""
    keepdims = pick((False, True))
    nd = len(s)
    kind = pick(("none", "int", "tuple")) if nd else "none"
    if kind == "none":
        return {"axis": None, "keepdims": keepdims}
    if kind == "int":
        return {"axis": pick(range(-nd, nd)), "keepdims": keepdims}
    axes = [a for a in range(nd) if pick((False, True))] or [pick(range(nd))]
    # shuffled, and some spelled negative
    return {"axis": tuple(a - nd if pick((False, True)) else a for a in shuffled(pick, axes)),
            "keepdims": keepdims}


def one_axis(pick: Pick, s: tuple) -> dict:
    """One axis (maybe negative); a 0-d shape takes 0 or -1, as in PyTorch."""
    nd = max(len(s), 1)
    return {"axis": pick(range(-nd, nd))}


def ints(pick: Pick, lo: int, hi: int, shape_: tuple, repeat: bool = True) -> np.ndarray:
    """Integers in [lo, hi] of shape_; with two or more elements the first value repeats
    (scatter-adds must accumulate)."""
    n = int(np.prod(shape_, dtype=np.int64))
    vals = [pick(range(lo, hi + 1)) for _ in range(n)]
    if repeat and n >= 2:
        vals[-1] = vals[0]
    return np.asarray(vals, dtype=np.int64).reshape(shape_)


def bools(pick: Pick, shape_: tuple) -> np.ndarray:
    n = int(np.prod(shape_, dtype=np.int64))
    return np.asarray([pick((False, True)) for _ in range(n)], dtype=bool).reshape(shape_)


# ----- samplers for the common shapes of ops ------------------------------------------------
def unary(params: Callable[[Pick, tuple], dict] | None = None, min_dims: int = 0,
          max_dims: int = MAX_DIMS) -> Callable[[Pick], tuple]:
    """One float input of any shape; params(pick, shape) for its keyword arguments."""
    def sample(pick: Pick) -> tuple:
        s = shape(pick, min_dims=min_dims, max_dims=max_dims)
        return [s], (params(pick, s) if params else {})
    return sample


def broadcast(n: int = 2) -> Callable[[Pick], tuple]:
    """n float inputs whose shapes broadcast together."""
    def sample(pick: Pick) -> tuple:
        return broadcast_shapes(pick, n), {}
    return sample


def matmul(pick: Pick) -> tuple:
    return matmul_shapes(pick), {}
