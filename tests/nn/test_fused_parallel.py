"""The hand-written kernels on two engine threads: their weight gradients are taken in chunks
of steps on the worker thread while the time loop goes on, and every number equals the one
thread's, to the bit (and still the cell loop's)."""
from __future__ import annotations

import os
import threading
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn, parallel
from tinygrad_rnn.nn import fused
from tinygrad_rnn.parallel import num_threads

LAYERS = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}


def _two_threads_work() -> bool:
    with parallel.Jobs(threads=2) as jobs:
        return jobs.parallel


needs_threadpoolctl = pytest.mark.skipif(
    not _two_threads_work(), reason="threadpoolctl is not installed: two threads fall back to one")


def _numbers(model, x: np.ndarray, hx: list, lengths, seed: int, threads: int) -> list:
    """Output, final states and the gradients of x, the initial states and every parameter
    of a random projection of output and final states, computed on `threads` threads."""
    model.zero_grad()
    xt = Tensor(x.copy(), requires_grad=True)
    states = [Tensor(s.copy(), requires_grad=True) for s in hx]
    with num_threads(threads):
        out, final = model(xt, tuple(states) if len(states) == 2 else states[0], lengths=lengths)
        finals = final if isinstance(final, tuple) else (final,)
        rng = np.random.default_rng(seed)
        loss = (out * Tensor(rng.standard_normal(out.shape).astype(x.dtype))).sum()
        for s in finals:
            loss = loss + (s * Tensor(rng.standard_normal(s.shape).astype(x.dtype))).sum()
        loss.backward()
    return ([out.data] + [s.data for s in finals] + [xt.grad.data] + [s.grad.data for s in states]
            + [p.grad.data.copy() for p in model.parameters()])


@needs_threadpoolctl
@settings(max_examples=int(os.environ.get("FUSED_PARALLEL_EXAMPLES", 40)), deadline=None)
@given(kind=st.sampled_from(sorted(LAYERS)), layers=st.integers(1, 2),
       bidirectional=st.booleans(), double=st.booleans(), with_lengths=st.booleans(),
       T=st.integers(1, 9), B=st.integers(1, 3), I=st.integers(1, 3), H=st.integers(1, 4),
       rows=st.sampled_from([1, 2, 3, 5, 512]), nonlinearity=st.sampled_from(
           ["tanh", "relu", "sigmoid"]), bias=st.booleans(), data=st.data())
def test_two_threads_give_the_one_thread_numbers_to_the_bit(
        kind, layers, bidirectional, double, with_lengths, T, B, I, H, rows, nonlinearity,
        bias, data):
    """Chunks of `rows` rows (several per sequence): outputs, final states and every gradient
    at 2 threads equal those at 1 thread; in float64 they also match the cell loop."""
    seed = data.draw(st.integers(0, 2 ** 16), label="seed")
    lengths = np.asarray(data.draw(st.lists(st.integers(1, T), min_size=B, max_size=B),
                                   label="lengths")) if with_lengths else None
    kw = dict(num_layers=layers, bidirectional=bidirectional, bias=bias)
    if kind == "RNN":
        kw["nonlinearity"] = nonlinearity
    dtype = np.float64 if double else np.float32
    tg.manual_seed(seed)
    model = LAYERS[kind](I, H, **kw).to(dtype)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, B, I)).astype(dtype)
    n = layers * (2 if bidirectional else 1)
    hx = [(rng.standard_normal((n, B, H)) * 0.5).astype(dtype)
          for _ in range(2 if kind == "LSTM" else 1)]
    with mock.patch.object(fused, "CHUNK_ROWS", rows):
        one = _numbers(model, x, hx, lengths, seed, 1)
        two = _numbers(model, x, hx, lengths, seed, 2)
    for a, b in zip(one, two):
        assert a.dtype == b.dtype == dtype
        assert np.array_equal(a, b)
    if double:  # the chunked sums are still the right ones
        loop = LAYERS[kind](I, H, **kw, fused=False).to(dtype)
        loop.load_state_dict(model.state_dict())
        ref = _numbers(loop, x, hx, lengths, seed, 1)
        for a, b in zip(one, ref):
            scale = max(float(np.max(np.abs(b), initial=0.0)), 1.0)
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12 * scale)


@needs_threadpoolctl
@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_with_two_threads_the_chunks_products_run_on_the_worker(kind):
    """Several chunks; with two threads each chunk's products run on the worker thread, with
    one thread on the caller, as soon as the loop has finished the chunk (before its end)."""
    seen: list = []
    products = fused._chunk_products

    def recording(*args):
        seen.append(threading.current_thread().name)
        return products(*args)

    tg.manual_seed(0)
    model = LAYERS[kind](2, 3, bidirectional=True).double()
    x = Tensor(np.random.default_rng(0).standard_normal((7, 2, 2)), requires_grad=True)
    for threads, where in ((1, {threading.current_thread().name}), (2, {"tinygrad_rnn-worker"})):
        seen.clear()
        with mock.patch.object(fused, "CHUNK_ROWS", 4), \
                mock.patch.object(fused, "_chunk_products", recording), num_threads(threads):
            out, _ = model(x)
            out.sum().backward()
        assert len(seen) == 2 * 4  # two directions, steps 0-1, 2-3, 4-5, 6
        assert set(seen) == where


@pytest.mark.parametrize("T,B,rows,reverse,expected", [
    (7, 2, 4, False, {0: (0, 2), 2: (2, 4), 4: (4, 6), 6: (6, 7)}),
    (7, 2, 4, True, {1: (0, 2), 3: (2, 4), 5: (4, 6), 6: (6, 7)}),
    (5, 3, 512, False, {0: (0, 5)}),
    (5, 3, 512, True, {4: (0, 5)}),
    (3, 600, 512, False, {0: (0, 1), 1: (1, 2), 2: (2, 3)}),
])
def test_the_chunks_depend_on_the_sequence_shape_only(T, B, rows, reverse, expected):
    """Chunks of ceil(rows / B) steps from step 0, each handed over at the step where the
    backward loop (newest step first) finishes it."""
    class Ctx:
        needs_input_grad = (True,) * 6
    Ctx.reverse = reverse
    hs = np.zeros((T, B, 2))
    for threads in (1, 2):
        with mock.patch.object(fused, "CHUNK_ROWS", rows), parallel.Jobs(threads) as jobs:
            grads = fused._WeightGrads(jobs, Ctx, np.zeros((T * B, 1)), np.zeros((2, 1)), hs,
                                       np.zeros((B, 2)), 2, 3)
        assert grads.ends == expected
