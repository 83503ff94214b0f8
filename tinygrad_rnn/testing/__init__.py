"""Tools for testing tinygrad_rnn code and users' own ops and cells.

- `tinygrad_rnn.testing.op_db`: the op table, one `OpInfo` per op (NumPy only), walked by the
  test suite and by `tinygrad-rnn gradcheck`.
- Hypothesis strategies and `check_op` (`shapes`, `broadcastable_shapes`, `matmul_shapes`,
  `arrays`, `axis_and_keepdims`, `check_op`, `DOMAINS`): they need Hypothesis (the `[dev]`
  extra) and load on first use, so the op table imports without it.

    from tinygrad_rnn import testing as tt
    tt.check_op(lambda t: t.log(), np.log, x)
"""
from tinygrad_rnn.testing.domains import DOMAINS, KINK_SPACING  # noqa: F401

_STRATEGIES = ("arrays", "axis_and_keepdims", "broadcastable_shapes", "check_op",
               "matmul_shapes", "op_cases", "shapes")


def __getattr__(name: str):
    if name in _STRATEGIES:
        from tinygrad_rnn.testing import strategies

        return getattr(strategies, name)
    raise AttributeError(f"module 'tinygrad_rnn.testing' has no attribute {name!r}")


def __dir__() -> list:
    return sorted(list(globals()) + list(_STRATEGIES))
