"""TBPTT batching: windows continue their streams exactly, shapes, resume, splits, errors."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_rnn.data import TBPTTBatcher, stream_batches, train_val_split


@given(batch_size=st.integers(1, 12), seq_len=st.integers(1, 30), extra=st.integers(0, 70),
       remainder=st.integers(0, 11), drop_last=st.booleans())
def test_windows_continue_each_stream(batch_size, seq_len, extra, remainder, drop_last):
    # every stream holds seq_len + 1 + extra ids; the remainder (< batch_size) is dropped
    L = seq_len + 1 + extra
    n = batch_size * L + remainder % batch_size
    ids = np.random.default_rng(n).integers(0, 50, size=n)
    batcher = TBPTTBatcher(ids, batch_size, seq_len, drop_last=drop_last)
    windows = list(batcher)
    assert len(windows) == len(batcher) >= 1
    for x, y in windows[:-1] if not drop_last else windows:
        assert x.shape == y.shape == (seq_len, batch_size)
        assert x.dtype == y.dtype == np.int64
    inputs = np.concatenate([x for x, _ in windows], axis=0)   # (steps, B)
    targets = np.concatenate([y for _, y in windows], axis=0)
    steps = (L - 1) if not drop_last else (L - 1) // seq_len * seq_len
    assert inputs.shape == (steps, batch_size)
    for b in range(batch_size):
        stream = ids[b * L:(b + 1) * L]
        np.testing.assert_array_equal(inputs[:, b], stream[:steps])       # continuity
        np.testing.assert_array_equal(targets[:, b], stream[1:steps + 1])  # shifted by one
    if not drop_last:
        np.testing.assert_array_equal(targets[-1], [ids[b * L + L - 1] for b in range(batch_size)])


def test_small_example_by_hand():
    ids = np.arange(20)
    x0, y0 = TBPTTBatcher(ids, batch_size=2, seq_len=3)[0]
    np.testing.assert_array_equal(x0, [[0, 10], [1, 11], [2, 12]])
    np.testing.assert_array_equal(y0, [[1, 11], [2, 12], [3, 13]])
    windows = list(TBPTTBatcher(ids, 2, 3))
    assert len(windows) == 3  # 9 input steps per stream of 10
    np.testing.assert_array_equal(windows[-1][1][-1], [9, 19])
    short = list(TBPTTBatcher(ids, 2, 4, drop_last=False))
    assert [w[0].shape for w in short] == [(4, 2), (4, 2), (1, 2)]


def test_resume_from_a_window_and_random_access():
    ids = np.arange(101)
    batcher = TBPTTBatcher(ids, 4, 5)
    full = list(batcher)
    resumed = list(stream_batches(ids, 4, 5, start=2))
    assert len(resumed) == len(full) - 2
    for (a, b), (c, d) in zip(full[2:], resumed):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
    np.testing.assert_array_equal(batcher[-1][0], full[-1][0])
    assert list(batcher.iter_from(len(batcher))) == []
    # deterministic: a second epoch gives the same windows
    for (a, _), (c, _) in zip(full, batcher):
        np.testing.assert_array_equal(a, c)


def test_accepts_lists_and_returns_fresh_contiguous_arrays():
    x, y = TBPTTBatcher(list(range(30)), 3, 4)[1]
    assert x.flags["C_CONTIGUOUS"] and y.flags["C_CONTIGUOUS"]
    assert x.dtype == np.int64


@pytest.mark.parametrize("args,exc,match", [
    ((np.arange(100), 64, 1), ValueError,
     r"batch_size=64 is too large for 100 ids: each stream would hold 1 id\(s\).*use batch_size <= 50"),
    ((np.arange(100), 4, 30), ValueError,
     r"seq_len=30 is longer than the data allows: 100 ids in batch_size=4 streams of 25 ids give 24 "
     r"input steps per stream; use seq_len <= 24"),
    ((np.arange(1), 1, 1), ValueError, r"needs at least 2 ids"),
    ((np.arange(10), 0, 2), ValueError, r"batch_size must be a positive int, got 0"),
    ((np.arange(10), 2, 1.5), TypeError, r"seq_len must be a positive int, got float 1.5"),
    ((np.ones((3, 4), dtype=int), 1, 1), ValueError, r"ids must be a 1-D array, got shape \(3, 4\)"),
    ((np.linspace(0, 1, 10), 1, 1), TypeError, r"ids must be integers, got dtype float64"),
])
def test_errors_name_the_numbers(args, exc, match):
    with pytest.raises(exc, match=match):
        TBPTTBatcher(*args)


def test_index_and_start_errors():
    batcher = TBPTTBatcher(np.arange(50), 2, 4)
    with pytest.raises(IndexError, match=r"window 6 out of range for 6 windows per epoch"):
        batcher[6]
    with pytest.raises(ValueError, match=r"start window must be an int in 0..6, got 7"):
        batcher.iter_from(7)


def test_train_val_split_holds_out_the_tail():
    ids = np.arange(1000)
    train, val = train_val_split(ids, 0.1)
    assert len(train) == 900 and len(val) == 100
    np.testing.assert_array_equal(np.concatenate([train, val]), ids)
    assert val[0] == 900


@pytest.mark.parametrize("n,frac,match", [
    (100, 0.0, r"val_fraction must be in \(0, 1\), got 0.0"),
    (100, 1, r"val_fraction must be in \(0, 1\), got 1"),
    (10, 0.1, r"10 ids with val_fraction=0.1 give 9 training and 1 validation ids; each part needs at least 2"),
])
def test_train_val_split_errors(n, frac, match):
    with pytest.raises(ValueError, match=match):
        train_val_split(np.arange(n), frac)
