"""Engine details beyond the op table: multi-output grad(), in-place accumulation."""
import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor


def test_grad_of_several_outputs_where_one_feeds_another():
    x = Tensor(np.array([[[0.5]]]), requires_grad=True)
    y = x[0].tanh()
    out = tg.stack([y])
    (gx,) = tg.grad([out, y], [x], [np.ones((1, 1, 1)), np.ones((1, 1))])
    np.testing.assert_allclose(gx.data, 2 * (1 - np.tanh(0.5) ** 2), rtol=1e-12)


def test_leaf_gradients_accumulate_in_their_own_buffers():
    a = Tensor(np.ones(3), requires_grad=True)
    b = Tensor(np.ones(3), requires_grad=True)
    for _ in range(3):
        (a + b).sum().backward()  # Add hands the same array to both parents
    np.testing.assert_array_equal(a.grad.data, [3, 3, 3])
    np.testing.assert_array_equal(b.grad.data, [3, 3, 3])
    (a * 2).sum().backward()
    np.testing.assert_array_equal(a.grad.data, [5, 5, 5])
    np.testing.assert_array_equal(b.grad.data, [3, 3, 3])


def test_accumulation_leaves_the_seed_untouched():
    x = Tensor(np.ones(2), requires_grad=True)
    seed = np.array([1.0, 2.0])
    x.backward(seed)
    x.backward(seed)
    np.testing.assert_array_equal(seed, [1, 2])
    np.testing.assert_array_equal(x.grad.data, [2, 4])


def test_matmul_of_a_stack_by_a_matrix_keeps_numpy_semantics():
    rng = np.random.default_rng(0)
    a = Tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    w = Tensor(rng.standard_normal((5, 4)), requires_grad=True)
    np.testing.assert_allclose((a @ w.T).data, a.data @ w.data.T, rtol=1e-12)
    assert tg.gradcheck(lambda a, w: a @ w.T, [a, w])


def test_python_conversions():
    t = Tensor([-1.0, 2.0])
    np.testing.assert_array_equal(abs(t).data, [1, 2])
    assert +t is t
    assert float(Tensor(2.5)) == 2.5 and int(Tensor(3.0)) == 3
    np.testing.assert_array_equal(np.asarray(t), t.data)
    assert Tensor([Tensor(1.0), Tensor(2.0)]).data.tolist() == [1.0, 2.0]


def test_integer_arrays_do_not_widen_a_float_tensor():
    t = Tensor(np.ones(2, dtype=np.float32))
    assert (t + np.array([1, 2])).dtype == np.float32
    assert (np.array([1, 2]) * t).dtype == np.float32


def test_arange_indexes_rows():
    x = Tensor(np.arange(6.0).reshape(3, 2))
    np.testing.assert_array_equal(x[tg.arange(3), np.array([1, 0, 1])].data, [1, 2, 5])


def test_bad_axis_and_empty_reduction_name_the_op():
    import pytest
    with pytest.raises(TypeError, match="sum: axis must be"):
        Tensor(np.ones((2, 2))).sum(axis=1.0)
    with pytest.raises(ValueError, match="^Max: .*zero-size"):
        Tensor(np.zeros(0)).max()
    with pytest.raises(ValueError, match="nested list"):
        Tensor([[1.0], [2.0, 3.0]])
