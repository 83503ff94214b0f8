"""Hypothesis strategies and a checking helper for property tests of tinygrad_rnn code.

Shapes include 0-d arrays and size-1 axes (where broadcasting bugs hide); values are bounded
float64 arrays chosen per *domain* so that finite differences are meaningful: kinks (0 for
`abs`/`relu`, clip bounds) and ties (for `max`/`min`) are avoided by construction.

    import numpy as np
    from hypothesis import given
    from tinygrad_rnn import testing as tt

    @given(tt.shapes().flatmap(lambda s: tt.arrays(s, domain="positive")))
    def test_my_log(x):
        tt.check_op(lambda t: t.log(), np.log, x)

This module needs Hypothesis (the `[dev]` extra); `import tinygrad_rnn` does not load it.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_rnn.gradcheck import GradcheckError, gradcheck
from tinygrad_rnn.tensor import Tensor
from tinygrad_rnn.testing.domains import DOMAINS, KINK_SPACING, distinct, from_unit
from tinygrad_rnn.testing.opinfo import OpInfo, case

__all__ = [
    "DOMAINS", "KINK_SPACING", "arrays", "axis_and_keepdims", "broadcastable_shapes",
    "check_op", "matmul_shapes", "op_cases", "shapes",
]

def shapes(min_dims: int = 0, max_dims: int = 4, min_side: int = 1,
           max_side: int = 5) -> st.SearchStrategy[tuple]:
    """Array shapes, including 0-d `()` and axes of size 1."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def broadcastable_shapes(n: int = 2, min_dims: int = 0, max_dims: int = 4, min_side: int = 1,
                         max_side: int = 5) -> st.SearchStrategy[tuple]:
    """Tuples of `n` shapes that broadcast together under NumPy's rules."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=n, min_dims=min_dims, max_dims=max_dims, min_side=min_side,
        max_side=max_side,
    ).map(lambda b: b.input_shapes)


def matmul_shapes(max_batch_dims: int = 2, min_side: int = 1,
                  max_side: int = 4) -> st.SearchStrategy[tuple]:
    """Pairs of shapes valid for `a @ b`: 1-D operands, matrices, and broadcast batch stacks."""
    # the optional dims "m?" / "p?" give numpy.matmul's 1-D promotion
    return hnp.mutually_broadcastable_shapes(
        signature="(m?,n),(n,p?)->(m?,p?)", max_dims=max_batch_dims, min_side=min_side,
        max_side=max_side,
    ).map(lambda b: b.input_shapes)


@functools.lru_cache(maxsize=512)
def _unit_vectors(n: int) -> st.SearchStrategy:
    # strategies are reused: building one anew for every draw costs more than the draw
    return hnp.arrays(np.float64, (n,), elements=st.floats(0.0, 1.0, exclude_max=True))


def _flat_values(draw: Callable, domain: str, n: int) -> np.ndarray:
    # one bounded float per element, mapped onto the domain with NumPy: cheap to draw and
    # to shrink
    if domain not in DOMAINS:
        raise ValueError(f"arrays: unknown domain {domain!r}, expected one of {sorted(DOMAINS)}")
    if domain == "distinct":
        order = np.asarray(draw(st.permutations(range(n))), dtype=np.int64)
        return distinct(order, draw(_unit_vectors(n)))
    return from_unit(draw(_unit_vectors(n)), domain)


@st.composite
def arrays(draw: Callable, shape: Sequence[int] | st.SearchStrategy, domain: str = "real",
           dtype: Any = np.float64) -> np.ndarray:
    """Bounded, well-conditioned arrays of `shape` (a shape or a strategy of shapes).

    `domain` is one of `DOMAINS`: "real", "positive", "negative", "nonzero", "unit",
    "away_from_kinks", "distinct". Values are drawn in float64 and cast to `dtype`.
    """
    if isinstance(shape, st.SearchStrategy):
        shape = draw(shape)
    shape = tuple(int(s) for s in shape)
    n = int(np.prod(shape, dtype=np.int64))
    flat = _flat_values(draw, domain, n)
    return flat.reshape(shape).astype(dtype)


@st.composite
def axis_and_keepdims(draw: Callable, shape: Sequence[int]) -> tuple:
    """(axis, keepdims) valid for `shape`: axis None, one int (maybe negative) or a tuple."""
    ndim = len(shape)
    keepdims = draw(st.booleans())
    if ndim == 0:
        return None, keepdims
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return None, keepdims
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1)), keepdims
    axes = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    # negative spellings of the same axes must work too
    signs = draw(st.lists(st.booleans(), min_size=len(axes), max_size=len(axes)))
    return tuple(a - ndim if neg else a for a, neg in zip(axes, signs)), keepdims


def check_op(fn: Callable[..., Tensor], reference: Callable[..., Any], *inputs: Any,
             requires_grad: Sequence[bool] | None = None, rtol: float = 1e-7, atol: float = 1e-9,
             eps: float = 1e-6, grad_atol: float = 1e-5, grad_rtol: float = 1e-3) -> None:
    """Assert that `fn` (on Tensors) is `reference` (on ndarrays) with a correct gradient.

    Every ndarray in `inputs` becomes a Tensor (floating ones require grad unless
    `requires_grad` says otherwise); other inputs are passed through unchanged. Checks, with an
    AssertionError naming what failed: the forward value and shape match `reference`; a
    backward gives each input a gradient of the input's own shape and dtype; and `gradcheck`
    (central differences, float64) agrees with the analytic gradient.
    """
    arrs = [np.asarray(x) if isinstance(x, np.ndarray) else x for x in inputs]
    if requires_grad is None:
        requires_grad = [isinstance(x, np.ndarray) and x.dtype.kind == "f" for x in arrs]
    if len(requires_grad) != len(arrs):
        raise ValueError(f"check_op: requires_grad has {len(requires_grad)} entries, "
                         f"expected one per input ({len(arrs)})")

    def tensors() -> list:
        return [Tensor(x.copy(), requires_grad=bool(rg)) if isinstance(x, np.ndarray) else x
                for x, rg in zip(arrs, requires_grad)]

    ts = tensors()
    out = fn(*ts)
    if not isinstance(out, Tensor):
        raise AssertionError(f"check_op: fn returned {type(out).__name__}, expected a Tensor")
    expected = np.asarray(reference(*[x.copy() if isinstance(x, np.ndarray) else x
                                      for x in arrs]))
    if out.shape != expected.shape:
        raise AssertionError(f"check_op: forward shape {out.shape} != reference shape "
                             f"{expected.shape}")
    np.testing.assert_allclose(out.data, expected, rtol=rtol, atol=atol,
                               err_msg="check_op: forward differs from the reference")

    wrt = [(i, t) for i, t in enumerate(ts) if isinstance(t, Tensor) and t.requires_grad]
    if not wrt or not out.requires_grad:
        return
    seed = np.random.default_rng(0).standard_normal(out.shape).astype(out.dtype)
    out.backward(seed)
    for i, t in wrt:
        if t.grad is None:
            raise AssertionError(f"check_op: input {i} got no gradient")
        if t.grad.shape != t.shape or t.grad.dtype != t.dtype:
            raise AssertionError(f"check_op: gradient of input {i} has shape {t.grad.shape} "
                                 f"dtype {t.grad.dtype}, expected the input's {t.shape} "
                                 f"{t.dtype}")
    try:
        gradcheck(fn, tensors(), eps=eps, atol=grad_atol, rtol=grad_rtol)
    except GradcheckError as e:
        raise AssertionError(f"check_op: {e}") from None


@st.composite
def op_cases(draw: Callable, spec: OpInfo) -> tuple:
    """(inputs, params) of one example of an op-table entry, drawn by Hypothesis: the
    entry's sampler picks shapes and parameters, `arrays` the values of its domain."""
    return case(spec, lambda seq: draw(st.sampled_from(seq)),
                lambda shape, domain: draw(arrays(shape, domain=domain)))
