"""The thread count (tinygrad_rnn.parallel): validated, chosen by the machine's load, BLAS
follows it, and the numbers are the same to the bit with one thread or two (at hidden sizes
that are multiples of 32: parallel.py says why)."""
from __future__ import annotations

import os
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn import nn, parallel
from tinygrad_rnn.parallel import num_threads

from test_compiled import CELLS, _run  # noqa: E402  (the cells and the runner of those tests)

def test_set_num_threads_validates_and_none_chooses_again():
    for bad in (0, -1):
        with pytest.raises(ValueError, match="set_num_threads: n must be at least 1"):
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


def test_asking_changes_nothing_and_the_first_layer_chooses():
    if parallel._blas() is None:
        pytest.skip("threadpoolctl is not installed")
    parallel._threads = None
    parallel._set_blas(1)  # as a user's own limit would
    assert parallel.get_num_threads() == 1 and parallel.blas_threads() == [1] * len(
        parallel.blas_threads())
    with mock.patch.dict(os.environ, {"TINYGRAD_RNN_THREADS": "2"}):
        nn.RNN(2, 3)(tg.randn(4, 1, 2))
    assert parallel.get_num_threads() == 2 and set(parallel.blas_threads()) == {2}


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


def _numbers(model, x, threads, compiled=True):
    with num_threads(threads):
        path, vals, grads = _run(model, x, None, compiled=compiled)
    return path, vals + grads


# sizes at which OpenBLAS splits the per-step products over two threads (above its threshold
# of about 2^18 multiply-adds per product), hidden sizes that are multiples of 32: there the
# blocks fall on its kernels' unrolling (at others, e.g. 100 or 144, the last bits may
# differ: tinygrad_rnn/parallel.py)
@settings(max_examples=int(os.environ.get("SCAN_EXAMPLES", 12)), deadline=None)
@given(name=st.sampled_from(sorted(CELLS) + ["nn.LSTM", "nn.GRU", "nn.RNN"]),
       T=st.integers(3, 5), B=st.sampled_from([16, 32]), H=st.sampled_from([64, 96, 160]),
       bidirectional=st.booleans(), double=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_two_threads_give_the_one_thread_numbers_to_the_bit(name, T, B, H, bidirectional,
                                                             double, seed):
    tg.manual_seed(seed)
    if name.startswith("nn."):  # the built-in layers' kernels
        model = getattr(nn, name[3:])(8, H, bidirectional=bidirectional)
    else:
        model = nn.Recurrent(lambda n: CELLS[name](n, H), input_size=8,
                             bidirectional=bidirectional)
    model = model.double() if double else model
    x = np.random.default_rng(seed).standard_normal((T, B, 8))
    x = x if double else x.astype(np.float32)
    path_one, one = _numbers(model, x, 1)
    path_two, two = _numbers(model, x, 2)
    assert path_one == path_two
    for a, b in zip(one, two):
        assert a.dtype == b.dtype and np.array_equal(a, b)


def test_blas_follows_the_engine_count_and_num_threads_restores_both():
    if parallel._blas() is None:
        pytest.skip("threadpoolctl is not installed")
    before, outside = parallel.get_num_threads(), parallel.blas_threads()
    for n in (1, 2):
        with num_threads(n):
            assert parallel.get_num_threads() == n and set(parallel.blas_threads()) == {n}
        assert parallel.get_num_threads() == before and parallel.blas_threads() == outside
