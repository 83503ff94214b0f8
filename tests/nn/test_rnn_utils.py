"""nn.utils.rnn: pad/pack/unpack round trips, layouts, gradients, errors, and torch's numbers."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinygrad_rnn import Tensor, gradcheck, nn
from tinygrad_rnn.nn.utils import rnn
from tinygrad_rnn.nn.utils.rnn import (
    PackedSequence, as_packed, as_padded, check_lengths, length_mask, lengths_of,
    pack_padded_sequence, pack_sequence, pad_packed_sequence, pad_sequence, unpack_sequence,
    unpad_sequence,
)


@st.composite
def padded_batches(draw, max_b=5, max_t=6):
    """(x, lengths, batch_first): a float64 padded batch with random lengths in 1..T (the
    longest need not reach T) and 0 to 2 trailing feature axes."""
    B = draw(st.integers(1, max_b))
    T = draw(st.integers(1, max_t))
    lengths = np.array(draw(st.lists(st.integers(1, T), min_size=B, max_size=B)), np.int64)
    feat = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    batch_first = draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    shape = ((B, T) if batch_first else (T, B)) + feat
    x = np.random.default_rng(seed).standard_normal(shape)
    return x, lengths, batch_first


def _valid(x, lengths, batch_first):
    """x with the filler zeroed (what pack -> pad gives back)."""
    mask = length_mask(lengths, x.shape[1] if batch_first else x.shape[0])
    mask = mask.T if batch_first else mask
    return x * mask.reshape(mask.shape + (1,) * (x.ndim - 2))


def _np_pack(x, lengths, batch_first):
    """The packed layout by hand: for each step, the sequences still running, sorted."""
    order = np.argsort(-lengths, kind="stable")
    xt = np.swapaxes(x, 0, 1) if batch_first else x
    rows, sizes = [], []
    for t in range(int(lengths.max())):
        running = [b for b in order if lengths[b] > t]
        sizes.append(len(running))
        rows.extend(xt[t, b] for b in running)
    return np.array(rows), np.array(sizes), order


# ----- round trips and layouts -------------------------------------------------------------
@given(batch=padded_batches(), enforce_sorted=st.booleans())
def test_pack_then_pad_gives_the_valid_part_back(batch, enforce_sorted):
    x, lengths, batch_first = batch
    if enforce_sorted:  # sort the batch first, as the user must
        order = np.argsort(-lengths, kind="stable")
        x, lengths = (x[order], lengths[order]) if batch_first else (x[:, order], lengths[order])
    packed = pack_padded_sequence(Tensor(x), lengths, batch_first, enforce_sorted)
    data, sizes, order = _np_pack(x, lengths, batch_first)
    np.testing.assert_array_equal(packed.data.data, data)
    np.testing.assert_array_equal(packed.batch_sizes.data, sizes)
    assert packed.batch_sizes.dtype == np.int64
    if enforce_sorted:
        assert packed.sorted_indices is None and packed.unsorted_indices is None
    else:
        np.testing.assert_array_equal(packed.sorted_indices.data, order)
        np.testing.assert_array_equal(packed.unsorted_indices.data[order], np.arange(len(order)))
    total = x.shape[1] if batch_first else x.shape[0]
    padded, lens = pad_packed_sequence(packed, batch_first, total_length=total)
    np.testing.assert_array_equal(padded.data, _valid(x, lengths, batch_first))
    np.testing.assert_array_equal(lens.data, lengths)
    np.testing.assert_array_equal(lengths_of(packed), lengths)


@given(batch=padded_batches(), value=st.sampled_from([0.0, -1.5, 7.0]))
def test_padding_value_and_total_length(batch, value):
    x, lengths, batch_first = batch
    packed = pack_padded_sequence(x, lengths, batch_first, enforce_sorted=False)
    longest = int(lengths.max())
    padded, _ = pad_packed_sequence(packed, batch_first, padding_value=value)
    assert padded.shape[1 if batch_first else 0] == longest
    padded, _ = pad_packed_sequence(packed, batch_first, padding_value=value,
                                    total_length=longest + 2)
    mask = length_mask(lengths, longest + 2)
    mask = mask.T if batch_first else mask
    mask = mask.reshape(mask.shape + (1,) * (x.ndim - 2))
    assert np.all(np.where(mask, True, padded.data == value))


@given(lengths=st.lists(st.integers(0, 5), min_size=1, max_size=5), feat=st.integers(1, 3),
       batch_first=st.booleans(), side=st.sampled_from(["right", "left"]))
def test_pad_sequence_then_unpad(lengths, feat, batch_first, side):
    rng = np.random.default_rng(len(lengths))
    seqs = [rng.standard_normal((n, feat)) for n in lengths]
    padded = pad_sequence([Tensor(s) for s in seqs], batch_first, -2.0, side)
    T = max(lengths)
    assert padded.shape == ((len(seqs), T, feat) if batch_first else (T, len(seqs), feat))
    for b, s in enumerate(seqs):
        col = padded.data[b] if batch_first else padded.data[:, b]
        start = 0 if side == "right" else T - len(s)
        np.testing.assert_array_equal(col[start:start + len(s)], s)
        assert np.all(np.delete(col, np.arange(start, start + len(s)), axis=0) == -2.0)
    if side == "right" and min(lengths) > 0:
        back = unpad_sequence(padded, lengths, batch_first)
        for a, s in zip(back, seqs):
            np.testing.assert_array_equal(a.data, s)


@given(lengths=st.lists(st.integers(1, 5), min_size=1, max_size=5))
def test_pack_sequence_and_unpack_sequence(lengths):
    rng = np.random.default_rng(sum(lengths))
    seqs = [Tensor(rng.standard_normal((n, 2))) for n in lengths]
    packed = pack_sequence(seqs, enforce_sorted=False)
    for a, s in zip(unpack_sequence(packed), seqs):
        np.testing.assert_array_equal(a.data, s.data)
    assert packed.data.shape == (sum(lengths), 2)


def test_small_example_by_hand():
    x = Tensor(np.arange(12.0).reshape(4, 3))  # (T=4, B=3), no feature axis
    packed = pack_padded_sequence(x, [2, 4, 1], enforce_sorted=False)
    # sorted by length: b=1 (4), b=0 (2), b=2 (1); rows step by step
    np.testing.assert_array_equal(packed.data.data, [1, 0, 2, 4, 3, 7, 10])
    np.testing.assert_array_equal(packed.batch_sizes.data, [3, 2, 1, 1])
    np.testing.assert_array_equal(packed.sorted_indices.data, [1, 0, 2])
    np.testing.assert_array_equal(packed.unsorted_indices.data, [1, 0, 2])
    padded, lengths = pad_packed_sequence(packed, batch_first=True)
    np.testing.assert_array_equal(padded.data, [[0, 3, 0, 0], [1, 4, 7, 10], [2, 0, 0, 0]])
    np.testing.assert_array_equal(lengths.data, [2, 4, 1])


def test_ties_keep_their_batch_order():
    packed = pack_padded_sequence(np.zeros((3, 4)), [2, 3, 2, 3], enforce_sorted=False)
    np.testing.assert_array_equal(packed.sorted_indices.data, [1, 3, 0, 2])


def test_packed_sequence_is_a_named_tuple_like_torchs():
    packed = pack_sequence([Tensor(np.ones((3, 2))), Tensor(np.ones((1, 2)))])
    data, batch_sizes, sorted_indices, unsorted_indices = packed
    assert packed._fields == ("data", "batch_sizes", "sorted_indices", "unsorted_indices")
    assert data is packed.data and sorted_indices is None and unsorted_indices is None
    np.testing.assert_array_equal(batch_sizes.data, [2, 1, 1])
    rebuilt = PackedSequence(data, batch_sizes.data, np.array([1, 0]))
    np.testing.assert_array_equal(rebuilt.unsorted_indices.data, [1, 0])
    assert not packed.is_cuda
    assert nn.utils.rnn is rnn


# ----- the layers' helpers ---------------------------------------------------------------
@given(batch=padded_batches(), like=st.booleans())
def test_as_padded_and_as_packed_invert_each_other(batch, like):
    x, lengths, batch_first = batch
    packed = pack_padded_sequence(x, lengths, batch_first, enforce_sorted=False)
    padded, lens = as_padded(packed)
    assert isinstance(lens, np.ndarray) and lens.dtype == np.int64
    np.testing.assert_array_equal(lens, lengths)
    time_major = np.swapaxes(x, 0, 1) if batch_first else x
    np.testing.assert_array_equal(padded.data, _valid(time_major, lengths, False)
                                  [:int(lengths.max())])
    again = as_packed(padded, lens, like=packed if like else None)
    np.testing.assert_array_equal(again.data.data, packed.data.data)
    np.testing.assert_array_equal(again.batch_sizes.data, packed.batch_sizes.data)
    np.testing.assert_array_equal(again.sorted_indices.data, packed.sorted_indices.data)
    np.testing.assert_array_equal(again.unsorted_indices.data, packed.unsorted_indices.data)


def test_as_packed_keeps_an_enforce_sorted_layout():
    packed = pack_padded_sequence(np.ones((3, 2, 1)), [3, 1])
    out = as_packed(Tensor(np.full((3, 2, 4), 2.0)), as_padded(packed)[1], like=packed)
    assert out.sorted_indices is None and out.data.shape == (4, 4)
    with pytest.raises(ValueError, match="differ from those of `like`"):
        as_packed(Tensor(np.ones((3, 2, 4))), [2, 1], like=packed)


def test_length_mask():
    np.testing.assert_array_equal(length_mask([2, 1], 3), [[1, 1], [1, 0], [0, 0]])
    assert length_mask([2, 1], dtype=np.float32).dtype == np.float32


# ----- gradients ---------------------------------------------------------------------------
@settings(max_examples=10)
@given(batch=padded_batches(max_b=3, max_t=4), enforce_sorted=st.booleans())
def test_gradients_through_pack_and_pad(batch, enforce_sorted):
    x, lengths, batch_first = batch
    if enforce_sorted:
        order = np.argsort(-lengths, kind="stable")
        x, lengths = (x[order], lengths[order]) if batch_first else (x[:, order], lengths[order])
    x = np.ascontiguousarray(x)  # gradcheck perturbs a C-ordered view of its inputs
    packed = pack_padded_sequence(x, lengths, batch_first, enforce_sorted)
    gradcheck(lambda t: pack_padded_sequence(t, lengths, batch_first, enforce_sorted).data,
              [Tensor(x, requires_grad=True)])
    gradcheck(lambda d: pad_packed_sequence(
        PackedSequence(d, *packed[1:]), batch_first, 3.0, total_length=int(lengths.max()) + 1)[0],
        [Tensor(packed.data.data, requires_grad=True)])
    gradcheck(lambda d: as_padded(PackedSequence(d, *packed[1:]))[0],
              [Tensor(packed.data.data, requires_grad=True)])


def test_filler_gets_exactly_zero_gradient():
    x = Tensor(np.random.default_rng(0).standard_normal((4, 3, 2)), requires_grad=True)
    lengths = [4, 1, 3]
    padded, _ = pad_packed_sequence(pack_padded_sequence(x, lengths, enforce_sorted=False))
    (padded * padded).sum().backward()
    mask = length_mask(lengths, 4)[..., None]
    np.testing.assert_array_equal(x.grad.data, np.where(mask, 2 * x.data, 0.0))


def test_pad_sequence_gradient_reaches_every_sequence():
    rng = np.random.default_rng(1)
    seqs = [Tensor(rng.standard_normal((n, 2)), requires_grad=True) for n in (3, 1, 2)]
    gradcheck(lambda *s: pad_sequence(list(s), True, 1.0), seqs)
    gradcheck(lambda *s: pad_sequence(list(s), padding_side="left"), seqs)


def test_float32_stays_float32():
    x = Tensor(np.ones((3, 2, 2), np.float32), requires_grad=True)
    packed = pack_padded_sequence(x, [3, 2])
    padded, _ = pad_packed_sequence(packed, padding_value=-1.0)
    assert packed.data.dtype == padded.dtype == np.float32
    padded.sum().backward()
    assert x.grad.dtype == np.float32
    assert pad_sequence([Tensor(np.ones((2, 1), np.float32))]).dtype == np.float32


# ----- errors ------------------------------------------------------------------------------
@pytest.mark.parametrize("lengths,exc,match", [
    ([3, 0], ValueError, "at least 1"),
    ([3, 4], ValueError, "at most the padded length 3"),
    ([3], ValueError, "one length per sequence, 2"),
    ([3, 2, 1], ValueError, "one length per sequence, 2"),
    ([2.0, 1.0], TypeError, "integers"),
    (np.array([2.5, 1.0]), TypeError, "integers"),
    ([[2, 1]], ValueError, "1-D"),
    ("ab", TypeError, "integers"),
    (Tensor(np.array([2.0, 1.0])), TypeError, "integers"),
])
def test_bad_lengths_say_what_is_wrong(lengths, exc, match):
    with pytest.raises(exc, match=match):
        pack_padded_sequence(Tensor(np.ones((3, 2))), lengths)


def test_lengths_as_list_ndarray_or_integer_tensor():
    for lengths in ([3, 2], np.array([3, 2], np.int32), Tensor(np.array([3, 2]))):
        np.testing.assert_array_equal(check_lengths(lengths, 2, 3), [3, 2])


def test_unsorted_lengths_need_enforce_sorted_false():
    with pytest.raises(ValueError, match="enforce_sorted=False"):
        pack_padded_sequence(np.ones((3, 2)), [2, 3])


def test_other_errors():
    with pytest.raises(ValueError, match="total_length must be at least .* 3"):
        pad_packed_sequence(pack_padded_sequence(np.ones((3, 2)), [3, 2]), total_length=2)
    with pytest.raises(TypeError, match="PackedSequence"):
        pad_packed_sequence(np.ones((3, 2)))
    with pytest.raises(ValueError, match="trailing shape"):
        pad_sequence([Tensor(np.ones((2, 3))), Tensor(np.ones((2, 4)))])
    with pytest.raises(TypeError, match="dtype"):
        pad_sequence([Tensor(np.ones(2)), Tensor(np.ones(2, np.float32))])
    with pytest.raises(ValueError, match="at least one sequence"):
        pad_sequence([])
    with pytest.raises(ValueError, match="enforce_sorted=False"):
        pack_sequence([Tensor(np.ones(1)), Tensor(np.ones(2))])
    with pytest.raises(ValueError, match="non-increasing"):
        PackedSequence(Tensor(np.ones(3)), [1, 2])
    with pytest.raises(ValueError, match="sum\\(batch_sizes\\)"):
        PackedSequence(Tensor(np.ones(4)), [2, 1])
    with pytest.raises(ValueError, match="permutation"):
        PackedSequence(Tensor(np.ones(3)), [2, 1], [0, 0])
    with pytest.raises(ValueError, match="\\(T, B, \\*\\)"):
        pack_padded_sequence(np.ones(3), [1])


# ----- PyTorch's numbers -------------------------------------------------------------------
@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=padded_batches(), enforce_sorted=st.booleans(), distinct=st.booleans())
def test_matches_torch(torch, batch, enforce_sorted, distinct):
    x, lengths, batch_first = batch
    T = x.shape[1] if batch_first else x.shape[0]
    if distinct and len(lengths) <= T:  # torch's sort leaves ties in an unspecified order
        lengths = T - np.argsort(np.argsort(-lengths, kind="stable"))  # distinct, same ranks
    if enforce_sorted:
        order = np.argsort(-lengths, kind="stable")
        x, lengths = (x[order], lengths[order]) if batch_first else (x[:, order], lengths[order])
    ox = Tensor(x, requires_grad=True)
    ours = pack_padded_sequence(ox, lengths, batch_first, enforce_sorted)
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    theirs = torch.nn.utils.rnn.pack_padded_sequence(tx, torch.from_numpy(lengths), batch_first,
                                                     enforce_sorted)
    np.testing.assert_array_equal(ours.batch_sizes.data, theirs.batch_sizes.numpy())
    assert ours.data.shape == tuple(theirs.data.shape)
    unique = len(set(lengths.tolist())) == len(lengths)
    if enforce_sorted:
        assert theirs.sorted_indices is None and ours.sorted_indices is None
    elif unique:
        np.testing.assert_array_equal(ours.sorted_indices.data, theirs.sorted_indices.numpy())
        np.testing.assert_array_equal(ours.unsorted_indices.data,
                                      theirs.unsorted_indices.numpy())
    if enforce_sorted or unique:
        np.testing.assert_array_equal(ours.data.data, theirs.data.detach().numpy())
    padded, lens = pad_packed_sequence(ours, batch_first, 0.5, T + 1)
    tpadded, tlens = torch.nn.utils.rnn.pad_packed_sequence(theirs, batch_first, 0.5, T + 1)
    np.testing.assert_array_equal(padded.data, tpadded.detach().numpy())
    np.testing.assert_array_equal(lens.data, tlens.numpy())
    seed = np.random.default_rng(0).standard_normal(padded.shape)
    padded.backward(seed)
    tpadded.backward(torch.from_numpy(seed))
    np.testing.assert_array_equal(ox.grad.data, tx.grad.numpy())


@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lengths=st.lists(st.integers(0, 5), min_size=1, max_size=5), batch_first=st.booleans(),
       side=st.sampled_from(["right", "left"]))
def test_pad_sequence_matches_torch(torch, lengths, batch_first, side):
    rng = np.random.default_rng(len(lengths))
    seqs = [rng.standard_normal((n, 2)) for n in lengths]
    ours = pad_sequence([Tensor(s) for s in seqs], batch_first, 9.0, side)
    theirs = torch.nn.utils.rnn.pad_sequence([torch.from_numpy(s) for s in seqs], batch_first,
                                             9.0, side)
    np.testing.assert_array_equal(ours.data, theirs.numpy())


def test_gradient_matches_torch_through_pack_and_pad(torch):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 4, 2))
    lengths = np.array([2, 5, 1, 4])
    ours = Tensor(x, requires_grad=True)
    padded, _ = pad_packed_sequence(pack_padded_sequence(ours, lengths, enforce_sorted=False))
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    tp, _ = torch.nn.utils.rnn.pad_packed_sequence(
        torch.nn.utils.rnn.pack_padded_sequence(tx, torch.from_numpy(lengths),
                                                enforce_sorted=False))
    w = rng.standard_normal(padded.shape)
    (padded * Tensor(w)).sum().backward()
    (tp * torch.from_numpy(w)).sum().backward()
    np.testing.assert_array_equal(ours.grad.data, tx.grad.numpy())
