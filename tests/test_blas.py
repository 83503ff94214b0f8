"""Widened step weights (tinygrad_rnn._blas): the same numbers, bit for bit, as the plain
product, on one BLAS thread and on two, in the kernels and in the compiled path's ops; and
each test checks that the widened path really ran."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_rnn import _blas
from tinygrad_rnn.ops import Linear, MatMul
from tinygrad_rnn.parallel import num_threads

widening = pytest.mark.skipif(not _blas.OPENBLAS, reason="NumPy's BLAS is not OpenBLAS: no "
                              "weight is widened")


@widening
def test_only_float32_widths_of_a_multiple_of_1024_with_enough_rows_are_widened():
    assert _blas.padded_width(1024, np.float32, 8) == 1024 + _blas.PAD
    assert _blas.padded_width(3072, np.dtype("float32"), 32) == 3072 + _blas.PAD
    for n, dt, rows in ((1024, np.float64, 32), (768, np.float32, 32), (512, np.float32, 32),
                        (0, np.float32, 32), (1000, np.float32, 32), (1024, np.float32, 7),
                        (2048, np.float32, 1)):
        assert _blas.padded_width(n, dt, rows) == n


def test_no_widening_without_openblas(monkeypatch):
    monkeypatch.setattr(_blas, "OPENBLAS", False)
    assert _blas.padded_width(1024, np.float32, 32) == 1024
    assert _blas.wide_rhs(np.ones((2, 1024), np.float32)) is None
    assert not _blas.turned_round(32, 1024, np.float32)


@widening
def test_step_rhs_is_contiguous_and_leaves_a_fitting_matrix_alone():
    b = np.arange(12.0).reshape(3, 4)
    assert _blas.step_rhs(b, 32) is b and _blas.wide_rhs(b) is None
    t = _blas.step_rhs(b.T, 32)
    assert t.flags.c_contiguous and np.array_equal(t, b.T)
    w = np.ones((2, 1024), np.float32)
    assert _blas.step_rhs(w, 1) is w
    for p in (_blas.step_rhs(w, 8), _blas.wide_rhs(w)):
        assert p.shape == (2, 1024 + _blas.PAD) and p.flags.c_contiguous
        assert np.array_equal(p[:, :1024], w) and not p[:, 1024:].any()


def _arrays(seed: int, m: int, k: int, n: int) -> tuple:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((m, k)).astype(np.float32),
            rng.standard_normal((k, n)).astype(np.float32))


@widening
@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31), st.integers(_blas.MIN_ROWS, 80), st.integers(1, 300),
       st.sampled_from([1024, 2048]), st.sampled_from([1, 2]))
def test_the_widened_product_is_the_plain_product_bit_for_bit(seed, m, k, n, threads):
    # (a one-row product would differ on two threads: fewer than MIN_ROWS are never widened)
    a, b = _arrays(seed, m, k, n)
    wide_b = _blas.step_rhs(b, m)
    assert wide_b.shape[1] > n
    with num_threads(threads):
        plain = np.dot(a, b)
        wide = np.dot(a, wide_b)[:, :n]
    assert np.array_equal(plain, wide)


def _forward(cls: type, arrays: tuple, **kwargs) -> np.ndarray:
    ctx = cls.__new__(cls)
    return cls.forward(ctx, *arrays, **kwargs)


@widening
@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**31), st.integers(1, 40), st.integers(1, 64), st.sampled_from([1, 2]))
def test_matmul_and_linear_with_prepared_weights_give_the_plain_numbers(seed, m, k, threads):
    # what the compiled path prepares once per sequence for a weight used at every step:
    # contiguous and widened copies; the forward takes the wide one from MIN_ROWS rows (its
    # result is then a column slice of a wider array, not contiguous)
    a, b = _arrays(seed, m, k, 1024)
    bt = b.T.copy().T  # a transposed view, as W.T gives
    kw = MatMul.prepare({}, {1: bt})
    assert kw["b_wide"].shape == (k, 1024 + _blas.PAD)
    narrow = {n: v for n, v in kw.items() if n != "b_wide"}  # contiguous (k > 1) or b itself
    w = np.ascontiguousarray(b.T)  # Linear's weight is (out, in)
    bias = np.linspace(-1, 1, 1024, dtype=np.float32)
    kw_lin = Linear.prepare({}, {1: w})
    assert kw_lin["weight_wide"].shape == (k, 1024 + _blas.PAD)
    wide_path = m >= _blas.MIN_ROWS
    with num_threads(threads):
        y = _forward(MatMul, (a, bt), **kw)
        assert y.flags.c_contiguous != wide_path
        assert np.array_equal(y, _forward(MatMul, (a, bt), **narrow))
        for x in (a, a.reshape(1, m, k)):
            y = _forward(Linear, (x, w, bias), **kw_lin)
            assert y.flags.c_contiguous != wide_path
            assert np.array_equal(y, _forward(Linear, (x, w, bias), weight_t=kw_lin["weight_t"]))


def _spy_widening(monkeypatch) -> list:
    """Records the width of every matrix step_rhs returns."""
    widths, real = [], _blas.step_rhs

    def spy(b, rows):
        out = real(b, rows)
        widths.append((b.shape[1], out.shape[1]))
        return out
    monkeypatch.setattr(_blas, "step_rhs", spy)
    return widths


@widening
@pytest.mark.parametrize("kind,hidden", [("lstm", 256), ("gru", 1024), ("rnn", 1024)])
@pytest.mark.parametrize("reverse", [False, True])
def test_the_kernels_at_a_widened_width_give_the_unwidened_numbers(kind, hidden, reverse,
                                                                   monkeypatch):
    # the step product's width (4H = 1024, 3H = 3072, H = 1024) is widened in float32: the
    # fused kernel's outputs and gradients, bit for bit as without widening, and its cell's
    # own step looped over time to float32 accuracy
    from nn.test_fused import FUSED, GATES, GRAPH, _problem, _run
    batch = _blas.MIN_ROWS
    args, leaves = _problem(kind, 3, batch, 4, hidden, "both", seed=5, dtype=np.float32)
    widths = _spy_widening(monkeypatch)
    wide = _run(FUSED[kind], args, {"reverse": reverse}, leaves, 5)
    assert widths == [(GATES[kind] * hidden, GATES[kind] * hidden + _blas.PAD)]
    graph = _run(GRAPH[kind], args, {"reverse": reverse}, leaves, 5)
    monkeypatch.setattr(_blas, "OPENBLAS", False)
    narrow = _run(FUSED[kind], args, {"reverse": reverse}, leaves, 5)
    assert widths[-1] == (GATES[kind] * hidden,) * 2
    for a, b, c in zip(wide[0] + wide[1], narrow[0] + narrow[1], graph[0] + graph[1]):
        assert a.dtype == np.float32 and np.array_equal(a, b)
        np.testing.assert_allclose(a, c, rtol=1e-4, atol=1e-5 * max(1.0, np.abs(c).max()))


@widening
@pytest.mark.parametrize("name", ["peephole LSTM", "LSTMCell"])
def test_the_compiled_path_at_a_widened_width_gives_the_unwidened_numbers(name, monkeypatch):
    # a cell whose per-step product is (B, H) @ (H, 4H = 1024), float32, B = MIN_ROWS: the
    # replay's prepared wide weight changes no number of the compiled scan, and its numbers
    # are the eager loop's to float32 accuracy
    import tinygrad_rnn as tg
    from tinygrad_rnn import nn
    from test_compiled import CELLS, _assert_same, _run

    batch = _blas.MIN_ROWS
    tg.manual_seed(4)
    model = nn.Recurrent(lambda n: CELLS[name](n, 256), input_size=3).to(np.float32)
    x = np.random.default_rng(1).standard_normal((4, batch, 3)).astype(np.float32)
    widths = _spy_widening(monkeypatch)
    path, vals_w, grads_w = _run(model, x, None, compiled=True)
    assert path == "compiled" and (1024, 1024 + _blas.PAD) in widths
    _, vals_e, grads_e = _run(model, x, None, compiled=False)
    monkeypatch.setattr(_blas, "OPENBLAS", False)
    widths.clear()
    _, vals_n, grads_n = _run(model, x, None, compiled=True)
    assert widths == []  # nothing prepared wide
    for a, b in zip(vals_w + grads_w, vals_n + grads_n):
        assert np.array_equal(a, b)
    _assert_same(vals_w, vals_e, 1e-5)
    _assert_same(grads_w, grads_e, 1e-4)


@pytest.mark.skipif(not _blas.OPENBLAS, reason="NumPy's BLAS is not OpenBLAS")
def test_a_few_float32_rows_times_a_transposed_weight_are_turned_round():
    assert _blas.turned_round(32, 1024, np.float32) and _blas.turned_round(2, 256, np.float32)
    for rows, n, dt in ((1, 1024, np.float32), (33, 1024, np.float32), (32, 255, np.float32),
                        (32, 1024, np.float64)):
        assert not _blas.turned_round(rows, n, dt)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31), st.integers(1, 40), st.integers(1, 300),
       st.sampled_from([100, 256, 288, 768, 1024]), st.sampled_from([np.float32, np.float64]),
       st.sampled_from([1, 2]))
def test_times_transposed_is_the_plain_product_bit_for_bit(seed, m, k, n, dtype, threads):
    # eager Linear and MatMul on W.T use it: a user's cell at batch 2..32 in float32
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k)).astype(dtype)
    w = rng.standard_normal((n, k)).astype(dtype)
    with num_threads(threads):
        y = _blas.times_transposed(a, w)
        assert y.flags.c_contiguous and y.dtype == dtype
        assert np.array_equal(y, np.dot(a, w.T))
        assert np.array_equal(_forward(MatMul, (a, w.T)), np.dot(a, w.T))
        assert np.array_equal(_forward(Linear, (a, w)), np.dot(a, w.T))
