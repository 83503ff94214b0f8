"""Variable-length batching: buckets cover the data once, similar lengths together, seeded
determinism, padded time-major batches with lengths and targets, errors."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_rnn import Tensor
from tinygrad_rnn.data import BucketBatcher, SequenceBatch, length_buckets, pad_batch
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

lengths_lists = st.lists(st.integers(1, 30), min_size=1, max_size=80)


@given(lengths=lengths_lists, batch_size=st.integers(1, 9), seed=st.integers(0, 5),
       epoch=st.integers(0, 3), pool=st.sampled_from([None, 1, 3]), shuffle=st.booleans(),
       drop_last=st.booleans())
def test_buckets_cover_every_sequence_once(lengths, batch_size, seed, epoch, pool, shuffle,
                                           drop_last):
    lens = np.array(lengths)
    batches = length_buckets(lens, batch_size, shuffle=shuffle, seed=seed, epoch=epoch,
                             pool_batches=pool, drop_last=drop_last)
    seen = np.concatenate(batches) if batches else np.array([], int)
    assert len(set(seen.tolist())) == len(seen)
    short = len(lens) % batch_size
    assert len(seen) == len(lens) - (short if drop_last else 0)
    assert sum(b.size < batch_size for b in batches) == (0 if drop_last or not short else 1)
    assert all(b.size <= batch_size for b in batches)
    for b in batches:
        assert np.all(np.diff(lens[b]) <= 0)  # longest first: fits enforce_sorted=True
    again = length_buckets(lens, batch_size, shuffle=shuffle, seed=seed, epoch=epoch,
                           pool_batches=pool, drop_last=drop_last)
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))


def test_unshuffled_buckets_are_the_global_sort():
    lens = np.array([3, 9, 1, 9, 4, 2])
    batches = length_buckets(lens, 4, shuffle=False)
    assert [b.tolist() for b in batches] == [[1, 3, 4, 0], [5, 2]]


def test_one_pool_packs_tightest_and_epochs_differ():
    lens = np.random.default_rng(0).integers(1, 50, 400)
    def filler(batches):
        return sum(lens[b].max() * b.size - lens[b].sum() for b in batches)
    tight = length_buckets(lens, 16, pool_batches=None)
    pooled = length_buckets(lens, 16, pool_batches=5)
    random = [np.random.default_rng(1).permutation(400)[i:i + 16] for i in range(0, 400, 16)]
    assert filler(tight) <= filler(pooled) < filler(random) / 4
    e0, e1 = length_buckets(lens, 16, epoch=0), length_buckets(lens, 16, epoch=1)
    assert any(not np.array_equal(a, b) for a, b in zip(e0, e1))
    s1 = length_buckets(lens, 16, seed=1)
    assert any(not np.array_equal(a, b) for a, b in zip(e0, s1))


def test_pad_batch_layouts():
    seqs = [np.array([3, 1]), np.array([2]), np.array([0, 1, 2])]
    x, lengths = pad_batch(seqs)
    np.testing.assert_array_equal(x, [[3, 2, 0], [1, 0, 1], [0, 0, 2]])
    assert x.dtype == seqs[0].dtype and lengths.dtype == np.int64
    np.testing.assert_array_equal(lengths, [2, 1, 3])
    onehot, _ = pad_batch(seqs, num_classes=4)
    assert onehot.shape == (3, 3, 4) and onehot.dtype == np.float32
    np.testing.assert_array_equal(onehot.argmax(-1)[:2, 0], [3, 1])
    np.testing.assert_array_equal(onehot.sum(-1), [[1, 1, 1], [1, 0, 1], [0, 0, 1]])
    feats = [np.ones((2, 5)), np.ones((1, 5))]
    xf, _ = pad_batch(feats, padding_value=-1.0, dtype=np.float64, batch_first=True)
    assert xf.shape == (2, 2, 5) and xf.dtype == np.float64
    np.testing.assert_array_equal(xf[1, 1], -1.0)


@given(lengths=st.lists(st.integers(1, 12), min_size=1, max_size=30), batch_size=st.integers(1, 7),
       seed=st.integers(0, 3))
def test_batcher_batches_match_their_sequences(lengths, batch_size, seed):
    rng = np.random.default_rng(seed)
    seqs = [rng.integers(0, 6, n) for n in lengths]
    labels = np.array([int(s.sum() % 2) for s in seqs])
    steps = [s[::-1].copy() for s in seqs]
    for targets in (labels, steps):
        batcher = BucketBatcher(seqs, targets, batch_size, num_classes=6, seed=seed,
                                pool_batches=2)
        batches = list(batcher.epoch(0))
        assert len(batches) == len(batcher)
        for batch in batches:
            assert isinstance(batch, SequenceBatch)
            x, lens, y, idx = batch
            assert x.shape == (lens.max(), len(idx), 6)
            for j, i in enumerate(idx):
                assert lens[j] == len(seqs[i])
                np.testing.assert_array_equal(x[:lens[j], j].argmax(-1), seqs[i])
                assert not x[lens[j]:, j].any()
                if targets is labels:
                    assert y[j] == labels[i]
                else:
                    np.testing.assert_array_equal(y[:lens[j], j], steps[i])
                    assert np.all(y[lens[j]:, j] == -100)


def test_iterating_runs_the_next_epoch_and_epoch_k_repeats():
    seqs = [np.arange(n) for n in np.random.default_rng(0).integers(1, 9, 40)]
    batcher = BucketBatcher(seqs, batch_size=4, seed=3, pool_batches=2)
    first = [b.indices for b in batcher]
    second = [b.indices for b in batcher]
    assert any(not np.array_equal(a, b) for a, b in zip(first, second))
    assert all(np.array_equal(a, b.indices) for a, b in zip(first, batcher.epoch(0)))
    assert all(np.array_equal(a, b.indices) for a, b in zip(
        second, BucketBatcher(seqs, batch_size=4, seed=3, pool_batches=2).epoch(1)))
    assert "batches=10" in repr(batcher)


def test_batches_feed_packing_and_masked_losses():
    rng = np.random.default_rng(4)
    seqs = [rng.standard_normal((n, 3)) for n in (5, 2, 4, 4, 1, 3)]
    steps = [rng.integers(0, 2, len(s)) for s in seqs]
    batcher = BucketBatcher(seqs, steps, batch_size=3, dtype=np.float64)
    for x, lengths, y, idx in batcher:
        packed = pack_padded_sequence(Tensor(x), lengths)  # already sorted: enforce_sorted
        padded, _ = pad_packed_sequence(packed)
        np.testing.assert_array_equal(padded.data, x)
        logits = Tensor(rng.standard_normal(y.shape + (2,)))
        loss = F.cross_entropy(logits, y)  # padded steps hold -100: left out of the mean
        valid = y != -100
        ref = F.cross_entropy(Tensor(logits.data[valid]), y[valid])
        np.testing.assert_allclose(loss.data, ref.data, rtol=1e-13)


def test_per_step_is_detected_or_forced():
    seqs = [np.arange(2), np.arange(3)]
    assert BucketBatcher(seqs, [[0, 1], [1, 0, 1]], 2).per_step
    assert not BucketBatcher(seqs, [0, 1], 2).per_step
    two = BucketBatcher(seqs, [[0, 1], [1, 0]], 2)  # (2,) targets that do not fit sequence 1
    assert not two.per_step and two.targets.shape == (2, 2)
    with pytest.raises(ValueError, match="per_step=True needs one target per step.*target 1"):
        BucketBatcher(seqs, [[0, 1], [1, 0]], 2, per_step=True)


def test_errors():
    with pytest.raises(ValueError, match="sequence 1 is empty"):
        BucketBatcher([np.arange(2), np.arange(0)], batch_size=2)
    with pytest.raises(ValueError, match="at least one sequence"):
        BucketBatcher([], batch_size=2)
    with pytest.raises(ValueError, match="2 sequences but 3 targets"):
        BucketBatcher([np.arange(2), np.arange(1)], [0, 1, 0], batch_size=2)
    with pytest.raises(IndexError, match=r"\[0, 3\) for num_classes=3.*sequence 1"):
        BucketBatcher([np.arange(2), np.arange(4)], batch_size=2, num_classes=3)
    with pytest.raises(ValueError, match="trailing shape"):
        pad_batch([np.ones((2, 3)), np.ones((2, 4))])
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        length_buckets([1, 2], 0)
    with pytest.raises(TypeError, match="1-D integer array"):
        length_buckets([1.5, 2.0], 2)
    with pytest.raises(TypeError, match="list of arrays"):
        pad_batch("abc")
