"""Shape, split and indexing ops: PyTorch's size rules, error messages, gradient accumulation,
edge cases and argument aliases (the generic checks run from the op table in test_ops.py)."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.nn import functional as F


def leaf(data) -> tg.Tensor:
    return tg.Tensor(np.asarray(data, dtype=np.float64), requires_grad=True)


def arange(*shape) -> tg.Tensor:
    return leaf(np.arange(float(np.prod(shape))).reshape(shape))


# ----- split and chunk: PyTorch's size rules ---------------------------------------------
def sizes(pieces, axis=0):
    return [p.shape[axis] for p in pieces]


def test_split_by_size_gives_a_smaller_last_piece():
    pieces = arange(5, 2).split(2)
    assert isinstance(pieces, tuple) and all(isinstance(p, tg.Tensor) for p in pieces)
    assert sizes(pieces) == [2, 2, 1]
    np.testing.assert_array_equal(pieces[2].data, [[8.0, 9.0]])
    assert sizes(arange(4).split(2)) == [2, 2]
    assert sizes(arange(3).split(7)) == [3]


def test_split_by_sections_is_exact_and_allows_empty_sections():
    pieces = arange(2, 5).split([2, 0, 3], dim=1)
    assert [p.shape for p in pieces] == [(2, 2), (2, 0), (2, 3)]
    np.testing.assert_array_equal(pieces[2].data, [[2.0, 3.0, 4.0], [7.0, 8.0, 9.0]])
    assert sizes(tg.split(arange(2, 5), (1, 4), axis=-1), axis=1) == [1, 4]


def test_split_is_one_node_and_unused_pieces_get_zero_gradient():
    x = arange(5)
    a, b, c = x.split(2)
    assert a._ctx is b._ctx is c._ctx  # one graph node with three outputs
    (b * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0, 0, 3, 3, 0])


def test_split_pieces_used_several_times_accumulate():
    x = arange(2, 3)
    a, b = x.split([1, 2], axis=1)
    (a.sum() * 2 + (b * b).sum() + a.sum()).backward()
    np.testing.assert_array_equal(x.grad.data, [[3, 2, 4], [3, 8, 10]])


@pytest.mark.parametrize("n", [0, 1, 4, 5, 7])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 8])
def test_split_and_chunk_sizes_match_torch(torch, n, k):
    x, tx = tg.zeros(n, 2), torch.zeros(n, 2)
    assert sizes(x.split(k)) == sizes(tx.split(k))
    assert sizes(x.chunk(k)) == sizes(tx.chunk(k))


def test_chunk_gives_ceil_sized_pieces_and_maybe_fewer():
    assert sizes(arange(5).chunk(4)) == [2, 2, 1]  # 3 pieces for 4 chunks, as PyTorch
    assert sizes(arange(6).chunk(4)) == [2, 2, 2]
    assert sizes(arange(6).chunk(3)) == [2, 2, 2]
    assert sizes(arange(2, 7).chunk(3, dim=-1), axis=1) == [3, 3, 1]
    assert sizes(tg.chunk(arange(3), 5)) == [1, 1, 1]
    assert sizes(tg.zeros(0).chunk(3)) == [0, 0, 0]
    assert sizes(tg.zeros(0).split(2)) == [0]


def test_chunk_gradient_reaches_every_piece():
    x = arange(5)
    pieces = x.chunk(2)
    tg.cat([pieces[1] * 10, pieces[0]]).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1, 1, 1, 10, 10])


def test_split_and_chunk_errors():
    x = arange(4, 2)
    with pytest.raises(ValueError, match=r"split: sections \[1, 2\] must sum to 4"):
        x.split([1, 2])
    with pytest.raises(ValueError, match="split size 0 is only allowed for an empty axis"):
        x.split(0)
    with pytest.raises(ValueError, match="split: split_size_or_sections must be at least 0"):
        x.split(-1)
    with pytest.raises(TypeError, match="split: split_size_or_sections must be an int"):
        x.split(1.5)
    with pytest.raises(ValueError, match="split: needs a tensor of at least 1 dimension"):
        tg.tensor(3.0).split(1)
    with pytest.raises(ValueError, match="split: axis 2 is out of range"):
        x.split(1, axis=2)
    with pytest.raises(ValueError, match="chunk: chunks must be at least 1, got 0"):
        x.chunk(0)
    with pytest.raises(TypeError, match="got both axis= and dim="):
        x.chunk(2, axis=0, dim=0)


# ----- cat -------------------------------------------------------------------------------
def test_cat_is_concatenate_with_the_dim_alias():
    a, b = arange(2, 1), arange(2, 2)
    np.testing.assert_array_equal(tg.cat([a, b], dim=1).data,
                                  tg.concatenate([a, b], axis=1).data)
    np.testing.assert_array_equal(tg.concatenate((a, b), dim=-1).data, [[0, 0, 1], [1, 2, 3]])
    with pytest.raises(TypeError, match="got both axis= and dim="):
        tg.cat([a, b], axis=1, dim=1)


# ----- shapes ----------------------------------------------------------------------------
def test_unsqueeze_accepts_every_position_from_minus_ndim_minus_one_to_ndim():
    x = arange(2, 3)
    got = [x.unsqueeze(a).shape for a in range(-3, 3)]
    assert got == [(1, 2, 3), (2, 1, 3), (2, 3, 1), (1, 2, 3), (2, 1, 3), (2, 3, 1)]
    assert tg.tensor(1.0).unsqueeze(-1).shape == (1,)
    assert tg.unsqueeze(x, dim=0).shape == (1, 2, 3)
    with pytest.raises(ValueError, match=r"unsqueeze: axis 3 is out of range .* -3 \.\. 2"):
        x.unsqueeze(3)
    with pytest.raises(TypeError, match="unsqueeze: axis must be an int"):
        x.unsqueeze((0,))


def test_squeeze_leaves_an_axis_whose_size_is_not_one():
    x = tg.zeros(1, 3, 1, 2)
    assert x.squeeze().shape == (3, 2)
    assert x.squeeze(0).shape == (3, 1, 2)
    assert x.squeeze(1).shape == (1, 3, 1, 2)  # size 3: left as is, like PyTorch
    assert x.squeeze((0, 1, -2)).shape == (3, 2)
    assert tg.squeeze(x, dim=2).shape == (1, 3, 2)
    assert tg.tensor(2.0).squeeze(0).shape == ()
    with pytest.raises(ValueError, match="squeeze: axis 4 is out of range"):
        x.squeeze(4)


def test_squeeze_and_unsqueeze_gradients_keep_the_shape():
    x = leaf(np.ones((1, 3)))
    (x.squeeze(0).unsqueeze(1) * leaf([[1.0], [2.0], [3.0]])).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[1.0, 2.0, 3.0]])


def test_flatten_ranges_and_aliases():
    x = tg.zeros(2, 3, 4, 5)
    assert x.flatten().shape == (120,)
    assert x.flatten(1).shape == (2, 60)
    assert x.flatten(1, 2).shape == (2, 12, 5)
    assert x.flatten(start_dim=-2).shape == (2, 3, 20)
    assert x.flatten(end_dim=1).shape == (6, 4, 5)
    assert tg.flatten(x, start_dim=2, end_dim=2).shape == (2, 3, 4, 5)
    assert tg.tensor(3.0).flatten().shape == (1,)
    with pytest.raises(ValueError, match="flatten: start_axis 2 comes after end_axis 1"):
        x.flatten(2, 1)
    with pytest.raises(TypeError, match="got both start_axis= and start_dim="):
        x.flatten(start_axis=0, start_dim=1)


def test_view_is_reshape_and_permute_needs_every_axis():
    x = arange(2, 3, 4)
    np.testing.assert_array_equal(x.view(4, -1).data, x.reshape(4, 6).data)
    assert tg.view(x, (6, 4)).shape == (6, 4)
    assert x.permute(2, 0, 1).shape == (4, 2, 3)
    assert tg.permute(x, (-1, 1, 0)).shape == (4, 3, 2)
    for bad in [(0, 1), (0, 1, 1), (0, 1, 3), (0, 1, 2, 3)]:
        with pytest.raises(ValueError, match="permute: axes .* are not a permutation"):
            x.permute(*bad)


def test_expand_keeps_sizes_with_minus_one_and_adds_leading_axes():
    x = leaf(np.arange(3.0).reshape(3, 1))
    y = x.expand(2, -1, 4)
    assert y.shape == (2, 3, 4)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.full((3, 1), 8.0))
    assert tg.expand(x, (3, 1)).shape == (3, 1)
    with pytest.raises(ValueError, match=r"expand: cannot expand shape \(3, 1\) to \(-1, 3, 1\)"):
        x.expand(-1, 3, 1)  # a new leading axis cannot be -1, as PyTorch
    with pytest.raises(ValueError, match=r"only axes of size 1 can change size"):
        x.expand(4, 2)
    with pytest.raises(ValueError, match="needs at least 2 sizes"):
        x.expand(3)


def test_repeat_is_tile_with_more_reps_than_axes():
    x = leaf([[1.0, 2.0]])
    y = x.repeat(2, 2, 3)
    np.testing.assert_array_equal(y.data, np.tile(x.data, (2, 2, 3)))
    y.backward(np.arange(24.0).reshape(2, 2, 6))
    g = np.arange(24.0).reshape(2, 2, 3, 2).sum(axis=(0, 2))  # each copy adds its seed
    np.testing.assert_array_equal(x.grad.data, g[:1] + g[1:])
    assert tg.repeat(tg.tensor(2.0), 3).shape == (3,)


def test_repeat_zero_times_is_empty_with_a_zero_gradient():
    x = leaf([1.0, 2.0])
    y = x.repeat(0, 2)
    assert y.shape == (0, 4)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0])


def test_repeat_errors():
    with pytest.raises(ValueError, match="repeat: got 1 repeat counts .* 2 dimensions"):
        tg.zeros(2, 3).repeat(2)
    with pytest.raises(ValueError, match="repeat: reps must be at least 0, got -1"):
        tg.zeros(2).repeat(-1)


def test_flip_int_tuple_and_negative_axes():
    x = arange(2, 3)
    np.testing.assert_array_equal(x.flip(0).data, [[3, 4, 5], [0, 1, 2]])
    np.testing.assert_array_equal(x.flip((0, -1)).data, x.data[::-1, ::-1])
    np.testing.assert_array_equal(tg.flip(x, dim=1).data, x.data[:, ::-1])
    seed = np.arange(6.0).reshape(2, 3) * 10
    x.flip(-1).backward(seed)
    np.testing.assert_array_equal(x.grad.data, seed[:, ::-1])
    assert tg.tensor(3.0).flip(0).item() == 3.0


def test_flip_returns_a_copy_and_checks_its_axes():
    x = arange(3)
    y = x.flip(0)
    y.data[0] = 100.0
    np.testing.assert_array_equal(x.data, [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="flip: repeated axis"):
        x.flip((0, -1))
    with pytest.raises(ValueError, match="flip: axis 1 is out of range"):
        x.flip(1)
    with pytest.raises(TypeError, match="flip: axis must be"):
        x.flip(None)


# ----- gather, index_select, masked_fill ----------------------------------------------------
def test_gather_picks_along_the_axis_and_repeats_accumulate():
    x = arange(2, 3)
    idx = np.array([[0, 0, 0, 2], [2, 2, 1, 2]])
    y = x.gather(1, idx)
    np.testing.assert_array_equal(y.data, np.take_along_axis(x.data, idx, axis=1))
    y.backward(np.array([[1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 1.0, 1.0]]))
    np.testing.assert_array_equal(x.grad.data, [[6.0, 0.0, 4.0], [0.0, 1.0, 3.0]])


def test_gather_index_may_be_smaller_off_the_axis_like_torch(torch):
    data = np.arange(12.0).reshape(3, 4)
    idx = np.array([[2, 0], [1, 1]])
    x, tx = leaf(data), torch.tensor(data, requires_grad=True)
    y, ty = tg.gather(x, dim=0, index=tg.Tensor(idx)), torch.gather(tx, 0, torch.tensor(idx))
    np.testing.assert_array_equal(y.data, ty.detach().numpy())
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_array_equal(x.grad.data, tx.grad.numpy())


def test_gather_gradient_adds_to_other_uses_of_the_input():
    x = arange(3)
    (x.gather(0, np.array([1, 1])).sum() + (x * 2).sum() + x[np.array([1])].sum()).backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 5.0, 2.0])


def test_gather_negative_indices_count_from_the_end_and_0d():
    x = arange(2, 3)
    np.testing.assert_array_equal(x.gather(1, np.array([[-1], [-3]])).data, [[2.0], [3.0]])
    s = leaf(5.0)
    y = s.gather(0, np.array(0))
    assert y.shape == () and y.item() == 5.0
    y.backward()
    assert s.grad.item() == 1.0


def test_gather_errors():
    x = arange(2, 3)
    with pytest.raises(ValueError, match="gather: index must have as many dimensions"):
        x.gather(1, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"gather: index shape \(3, 1\) must be no larger"):
        x.gather(1, np.zeros((3, 1), dtype=np.int64))
    with pytest.raises(IndexError, match=r"gather: index values must be in \[-3, 3\)"):
        x.gather(1, np.array([[0], [3]]))
    with pytest.raises(TypeError, match="gather: index must hold integers, got dtype float64"):
        x.gather(1, np.array([[0.0], [1.0]]))
    with pytest.raises(ValueError, match="gather: axis 2 is out of range"):
        x.gather(2, np.array([[0], [1]]))


def test_index_select_repeats_accumulate_in_the_gradient():
    x = arange(2, 3)
    y = x.index_select(1, [2, 0, 2, 2])
    np.testing.assert_array_equal(y.data, x.data[:, [2, 0, 2, 2]])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[1.0, 0.0, 3.0], [1.0, 0.0, 3.0]])
    z = arange(3, 2)
    tg.index_select(z, dim=0, index=tg.Tensor(np.array([-1, 2]))).sum().backward()
    np.testing.assert_array_equal(z.grad.data, [[0, 0], [0, 0], [2, 2]])


def test_index_select_of_a_0d_tensor_and_errors():
    s = leaf(4.0)
    assert s.index_select(0, [0]).shape == ()
    x = arange(2, 3)
    with pytest.raises(ValueError, match=r"index_select: index must be 1-D, got shape \(1, 1\)"):
        x.index_select(1, [[0]])
    with pytest.raises(IndexError, match=r"index_select: index values must be in \[-2, 2\)"):
        x.index_select(0, [0, 2])
    with pytest.raises(TypeError, match="index_select: index must hold integers"):
        x.index_select(0, [0.5])
    with pytest.raises(ValueError, match="a 0-d tensor takes one index value"):
        s.index_select(0, [0, 0])


def test_masked_fill_with_a_number_keeps_the_dtype():
    x = tg.Tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    y = x.masked_fill(np.array([True, False, True]), -1.5)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y.data, [[-1.5, 1, -1.5], [-1.5, 4, -1.5]])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[0, 1, 0], [0, 1, 0]])


def test_masked_fill_with_a_0d_tensor_value_gets_the_masked_gradient():
    x, v = arange(2, 2), leaf(7.0)
    mask = tg.Tensor(np.array([[True, True], [False, True]]))
    y = tg.masked_fill(x, mask, v)
    np.testing.assert_array_equal(y.data, [[7, 7], [2, 7]])
    (y * 2).sum().backward()
    assert v.grad.item() == 6.0
    np.testing.assert_array_equal(x.grad.data, [[0, 0], [2, 0]])


def test_masked_fill_broadcasts_like_torch(torch):
    x = arange(2, 3)
    mask = np.zeros((2, 2, 3), dtype=bool)
    mask[1, 0, 0] = True
    y = x.masked_fill(mask, 0.0)
    ty = torch.tensor(x.data).masked_fill(torch.tensor(mask), 0.0)
    assert y.shape == tuple(ty.shape) == (2, 2, 3)
    np.testing.assert_array_equal(y.data, ty.numpy())


def test_masked_fill_errors():
    x = arange(2, 3)
    with pytest.raises(TypeError, match="masked_fill: mask must be boolean, got dtype int64"):
        x.masked_fill(np.array([1, 0, 1]), 0.0)
    with pytest.raises(ValueError, match=r"mask shape \(2,\) does not broadcast with input shape"):
        x.masked_fill(np.array([True, False]), 0.0)
    with pytest.raises(ValueError, match="value must be a number or a 0-d tensor, got a tensor"):
        x.masked_fill(np.array([True, False, True]), tg.zeros(3))
    with pytest.raises(TypeError, match="masked_fill: value must be a number"):
        x.masked_fill(np.array([True, False, True]), "0")


# ----- F.one_hot -------------------------------------------------------------------------
def test_one_hot_matches_torch(torch):
    idx = np.array([[0, 3], [2, 2]])
    for n in (-1, 4, 6):
        ours = F.one_hot(tg.Tensor(idx), n)
        theirs = torch.nn.functional.one_hot(torch.tensor(idx), n)
        assert ours.dtype == np.int64 and not ours.requires_grad
        np.testing.assert_array_equal(ours.data, theirs.numpy())
    assert F.one_hot(np.array(1), 3).data.tolist() == [0, 1, 0]
    assert F.one_hot(np.zeros(0, dtype=np.int64), num_classes=3).shape == (0, 3)
    assert F.one_hot([1, 0]).shape == (2, 2)


def test_one_hot_errors():
    with pytest.raises(IndexError, match=r"one_hot: indices must be in \[0, 3\).*min -1"):
        F.one_hot(np.array([0, -1, 2]))
    with pytest.raises(IndexError, match=r"one_hot: indices must be in \[0, 3\).*max 3"):
        F.one_hot(np.array([0, 3]), num_classes=3)
    with pytest.raises(ValueError, match="cannot infer num_classes from empty indices"):
        F.one_hot(np.zeros(0, dtype=np.int64))
    with pytest.raises(TypeError, match="one_hot: indices must hold integer class indices"):
        F.one_hot(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="one_hot: num_classes must be at least -1"):
        F.one_hot(np.array([0]), num_classes=-2)


# ----- F.pad -----------------------------------------------------------------------------
def test_pad_order_is_last_axis_first_like_torch(torch):
    data = np.arange(6.0).reshape(1, 2, 3)
    for pad in [(1, 2), (0, 1, 2, 0), (1, 1, 0, 0, 2, 1), (-1, 2, 1, -1), (-3, 1), ()]:
        x, tx = leaf(data), torch.tensor(data, requires_grad=True)
        y, ty = F.pad(x, pad, value=-0.5), torch.nn.functional.pad(tx, pad, value=-0.5)
        np.testing.assert_array_equal(y.data, ty.detach().numpy(), err_msg=str(pad))
        seed = np.random.default_rng(0).standard_normal(y.shape)
        y.backward(seed)
        ty.backward(torch.tensor(seed))
        np.testing.assert_array_equal(x.grad.data, tx.grad.numpy(), err_msg=str(pad))


def test_pad_crops_with_negative_widths():
    x = arange(2, 4)
    y = F.pad(x, (-1, -2))
    np.testing.assert_array_equal(y.data, [[1.0], [5.0]])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[0, 1, 0, 0], [0, 1, 0, 0]])
    assert F.pad(x, (-2, -2)).shape == (2, 0)


def test_pad_keeps_float32_and_the_value():
    x = tg.Tensor(np.ones((2,), dtype=np.float32), requires_grad=True)
    y = F.pad(x, [2, 1], 3.0)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y.data, [3, 3, 1, 1, 3])
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0])


def test_pad_errors():
    x = tg.zeros(2, 3)
    with pytest.raises(ValueError, match="pad: pad needs an even number of widths"):
        F.pad(x, (1,))
    with pytest.raises(ValueError, match=r"at most 2 per axis \(4 for shape \(2, 3\)\), got 6"):
        F.pad(x, (1, 1, 1, 1, 1, 1))
    with pytest.raises(ValueError, match=r"pad: widths \(-2, -2\) on axis 1 crop more than its 3"):
        F.pad(x, (-2, -2))
    with pytest.raises(TypeError, match="pad: pad must be an int"):
        F.pad(x, (1.0, 1))
    with pytest.raises(ValueError, match="pad: mode must be one of 'constant', 'reflect'"):
        F.pad(x, (1, 1), mode="mirror")


# ----- nn.Flatten and the module functions -----------------------------------------------
def test_nn_flatten_keeps_the_batch_axis_by_default():
    x = tg.zeros(2, 3, 4)
    assert nn.Flatten()(x).shape == (2, 12)
    assert nn.Flatten(0)(x).shape == (24,)
    assert nn.Flatten(start_dim=0, end_dim=1)(x).shape == (6, 4)
    assert repr(nn.Flatten()) == "Flatten(start_axis=1, end_axis=-1)"
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 2))
    assert model(x).shape == (2, 2)
    assert list(nn.Flatten().parameters()) == []
    with pytest.raises(TypeError, match="Flatten: start_axis must be an int"):
        nn.Flatten(1.0)
    with pytest.raises(TypeError, match=r"Flatten\(\) got both start_axis= and start_dim="):
        nn.Flatten(start_axis=1, start_dim=1)


def test_module_functions_take_the_tensor_first():
    x = arange(2, 3)
    names = ["unsqueeze", "squeeze", "flatten", "permute", "view", "expand", "repeat", "flip",
             "split", "chunk", "cat", "gather", "masked_fill", "index_select"]
    for name in names:
        assert callable(getattr(tg, name)), name
    assert tg.split(x, 1, 1)[2].shape == (2, 1)
    assert tg.chunk(x, 2)[1].shape == (1, 3)
    assert tg.repeat(x, 1, 2).shape == (2, 6)
    assert tg.squeeze(tg.unsqueeze(x, 1)).shape == (2, 3)
