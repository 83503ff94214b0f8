"""The second core (tinygrad_rnn.parallel): jobs on a worker thread give the numbers of one
thread to the bit, errors reach the caller, and the thread count is validated and chosen."""
from __future__ import annotations

import os
import threading
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn import compiled, nn, parallel
from tinygrad_rnn.parallel import Jobs, num_threads

from test_compiled import CELLS, _run  # noqa: E402  (the cells and the runner of those tests)


def test_jobs_with_one_thread_run_at_once_on_the_caller():
    seen = []
    with Jobs(threads=1) as jobs:
        job = jobs.submit(lambda a: seen.append(threading.current_thread()) or a + 1, 41)
        assert seen == [threading.current_thread()]  # already done
    assert job.result() == 42


def test_jobs_with_two_threads_run_on_the_worker_in_order():
    seen, order = [], []
    with Jobs(threads=2) as jobs:
        if not jobs.parallel:
            pytest.skip("threadpoolctl is not installed: two threads fall back to one")
        got = [jobs.submit(lambda i: order.append(i) or seen.append(
            threading.current_thread().name) or i * i, i) for i in range(5)]
        values = [j.result() for j in got]
    assert values == [0, 1, 4, 9, 16] and order == [0, 1, 2, 3, 4]
    assert set(seen) == {"tinygrad_rnn-worker"}


def test_a_job_error_reaches_the_caller_and_the_worker_survives():
    def boom():
        raise KeyError("inside a job")
    for n in (1, 2):
        with Jobs(threads=n) as jobs:
            job = jobs.submit(boom)
            with pytest.raises(KeyError, match="inside a job"):
                job.result()
        with Jobs(threads=n) as jobs:
            assert jobs.submit(lambda: 7).result() == 7


def test_leaving_the_block_waits_for_every_job():
    gate, done = threading.Event(), []
    with Jobs(threads=2) as jobs:
        if not jobs.parallel:
            pytest.skip("threadpoolctl is not installed")
        jobs.submit(lambda: gate.wait(5) and done.append(1))
        gate.set()
    assert done == [1]


def test_set_num_threads_validates_and_none_chooses_again():
    before = parallel.get_num_threads()
    try:
        for bad in (0, 3, -1):
            with pytest.raises(ValueError, match="1 or 2"):
                parallel.set_num_threads(bad)
        for bad in (1.0, "2", True):
            with pytest.raises(TypeError, match="set_num_threads: n must be an int"):
                parallel.set_num_threads(bad)
        parallel.set_num_threads(1)
        assert parallel.get_num_threads() == 1
        with num_threads(2):
            assert parallel.get_num_threads() == 2
        assert parallel.get_num_threads() == 1
        parallel.set_num_threads(None)
        assert parallel.get_num_threads() in (1, 2)
    finally:
        parallel.set_num_threads(before)


@pytest.mark.parametrize("cpus,load,expected", [(1, 0.0, 1), (2, 0.2, 2), (2, 1.6, 1),
                                                (8, 3.0, 2), (4, 3.5, 1)])
def test_the_default_leaves_a_busy_or_single_core_machine_on_one_thread(cpus, load, expected):
    with mock.patch.dict(os.environ, {}, clear=False) as env, \
            mock.patch.object(parallel, "_cpus", return_value=cpus), \
            mock.patch.object(os, "getloadavg", return_value=(load, load, load)):
        env.pop("TINYGRAD_RNN_THREADS", None)
        assert parallel.default_num_threads() == expected


def test_the_environment_variable_overrides_the_default_and_is_checked():
    with mock.patch.dict(os.environ, {"TINYGRAD_RNN_THREADS": "1"}):
        assert parallel.default_num_threads() == 1
    with mock.patch.dict(os.environ, {"TINYGRAD_RNN_THREADS": "4"}):
        with pytest.raises(ValueError, match="TINYGRAD_RNN_THREADS must be 1 or 2"):
            parallel.default_num_threads()


def _numbers(model, x, threads):
    with num_threads(threads):
        path, vals, grads = _run(model, x, None, compiled=True)
    assert path == "compiled"
    return vals + grads


@settings(max_examples=int(os.environ.get("SCAN_EXAMPLES", 25)), deadline=None)
@given(name=st.sampled_from(sorted(CELLS)), T=st.integers(3, 9), B=st.integers(1, 3),
       H=st.integers(1, 4), rows=st.sampled_from([1, 2, 3, 5, 512]),
       bidirectional=st.booleans(), double=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_the_compiled_path_on_two_threads_gives_the_one_thread_numbers_to_the_bit(
        name, T, B, H, rows, bidirectional, double, seed):
    """Weight gradients in chunks of `rows` rows (several chunks per sequence), computed on
    the worker or at once: the same arrays, bit for bit; and the eager loop's numbers."""
    tg.manual_seed(seed)
    model = nn.Recurrent(lambda n: CELLS[name](n, H), input_size=2,
                         bidirectional=bidirectional)
    model = model.double() if double else model
    x = np.random.default_rng(seed).standard_normal((T, B, 2))
    x = x if double else x.astype(np.float32)
    with mock.patch.object(compiled, "CHUNK_ROWS", rows):
        one = _numbers(model, x, 1)
        two = _numbers(model, x, 2)
    for a, b in zip(one, two):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    if double:
        _, vals_e, grads_e = _run(model, x, None, compiled=False)
        for a, b in zip(one, vals_e + grads_e):
            scale = max(float(np.max(np.abs(b), initial=0.0)), 1.0)
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12 * scale)


def test_a_job_that_opens_jobs_itself_runs_them_at_once_instead_of_waiting_forever():
    def inner():
        with Jobs(threads=2) as jobs:  # on the worker: must not queue behind itself
            assert not jobs.parallel
            return jobs.submit(lambda: threading.current_thread().name).result()
    with Jobs(threads=2) as jobs:
        if not jobs.parallel:
            pytest.skip("threadpoolctl is not installed")
        job = jobs.submit(inner)
        assert job.done.wait(10), "the nested job deadlocked"
    assert job.result() == "tinygrad_rnn-worker"


@settings(max_examples=30, deadline=None)
@given(op=st.sampled_from(["linear", "linear 3-d", "matmul", "matmul 3-d"]),
       rows=st.integers(1, 6), k=st.integers(1, 5), n=st.integers(1, 5),
       double=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_products_whose_two_gradients_go_to_both_cores_give_the_one_thread_arrays(
        op, rows, k, n, double, seed):
    rng = np.random.default_rng(seed)
    dtype = np.float64 if double else np.float32
    lead = (2, rows) if op.endswith("3-d") else (rows,)
    x0 = rng.standard_normal(lead + (k,)).astype(dtype)
    w0 = rng.standard_normal((n, k) if op.startswith("linear") else (k, n)).astype(dtype)
    b0 = rng.standard_normal(n).astype(dtype)
    seed_g = rng.standard_normal(lead + (n,)).astype(dtype)

    def grads(threads):
        x, w = tg.tensor(x0, requires_grad=True), tg.tensor(w0, requires_grad=True)
        b = tg.tensor(b0, requires_grad=True)
        with num_threads(threads), mock.patch.object(parallel, "MIN_WORKER_MACS", 0):
            y = nn.functional.linear(x, w, b) if op.startswith("linear") else x @ w
            (y * tg.tensor(seed_g)).sum().backward()
        return [y.data, x.grad.data, w.grad.data] + ([b.grad.data] if op.startswith("linear")
                                                     else [])
    for a, b in zip(grads(1), grads(2)):
        assert a.dtype == b.dtype and np.array_equal(a, b)


def test_blas_follows_the_engine_count_and_num_threads_restores_both():
    blas = parallel._blas()
    if blas is None:
        pytest.skip("threadpoolctl is not installed")
    before = parallel.get_num_threads()
    counts = lambda: {lib.get_num_threads() for lib in blas.lib_controllers}  # noqa: E731
    outside = counts()
    with num_threads(1):
        assert counts() == {1}
        with Jobs(threads=2) as jobs:  # one BLAS thread per product while the worker runs
            assert not jobs.parallel or counts() == {1}
    assert counts() == outside and parallel.get_num_threads() == before
    with num_threads(2):
        assert counts() == {2}
        with Jobs() as jobs:
            assert not jobs.parallel or counts() == {1}
        assert counts() == {2}
    assert counts() == outside and parallel.get_num_threads() == before
