"""Tensor hooks and retain_grad with PyTorch's semantics: a hook runs once, on the fully
accumulated gradient, before it flows on (for a leaf: before .grad), and may replace it."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor


def x64(a, requires_grad=True):
    return Tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def test_a_hook_on_an_intermediate_runs_once_on_the_accumulated_gradient():
    x = x64([1.0, 2.0])
    y = x * 3
    seen = []
    y.register_hook(lambda g: seen.append(g.data.copy()))
    (y * y + y).sum().backward()  # two consumers of y
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], 2 * y.data + 1)
    np.testing.assert_allclose(x.grad.data, 3 * (2 * y.data + 1))


def test_a_returned_tensor_replaces_the_gradient_downstream():
    x = x64([1.0, -2.0])
    y = x * 2
    y.register_hook(lambda g: g * 0 + 10)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [20.0, 20.0])


def test_a_leaf_hook_sees_the_sum_of_contributions_before_grad():
    x = x64([1.0, 2.0])
    calls = []

    def hook(g):
        calls.append(g.data.copy())
        return g * 2
    x.register_hook(hook)
    (x * 3 + x * 4).sum().backward()
    assert len(calls) == 1
    np.testing.assert_array_equal(calls[0], [7.0, 7.0])
    np.testing.assert_array_equal(x.grad.data, [14.0, 14.0])


def test_removed_hooks_do_not_run_and_retain_grad_keeps_grad():
    x = x64([1.0, 2.0])
    y = x.tanh()
    handle = y.register_hook(lambda g: g * 100)
    handle.remove()
    y.retain_grad()
    z = y * y
    z.retain_grad()
    z.sum().backward()
    np.testing.assert_allclose(z.grad.data, [1.0, 1.0])
    np.testing.assert_allclose(y.grad.data, 2 * y.data)
    np.testing.assert_allclose(x.grad.data, 2 * y.data * (1 - y.data ** 2))
    w = x * 1
    (w * 2).sum().backward()
    assert w.grad is None  # no retain_grad: no .grad on an intermediate after a backward


def test_hooks_reach_the_outputs_of_a_several_output_node_and_grad():
    x = x64([1.0, 2.0, 3.0, 4.0])
    a, b = x.split(2)
    seen = []
    b.register_hook(lambda g: seen.append(g.data.copy()) or g * 0)
    (a * a + b * b).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0, 0.0, 0.0])
    np.testing.assert_array_equal(seen[0], [6.0, 8.0])
    y = x64([1.0, 2.0])
    h = y * 2
    h.register_hook(lambda g: g * 3)
    (gy,) = tg.grad((h * h).sum(), [y])
    np.testing.assert_array_equal(gy.data, 2 * (2 * h.data * 3))


def test_hooks_match_torch(torch):
    rng = np.random.default_rng(0)
    data = rng.standard_normal((3, 4))
    results = []
    for lib in ("tg", "torch"):
        if lib == "tg":
            x = x64(data)
        else:
            x = torch.tensor(data, requires_grad=True)
        y = x.tanh()
        y.register_hook(lambda g: g * 2)
        z = (y * y).sum(1)
        z.register_hook(lambda g: g + 1)
        x.register_hook(lambda g: g - 0.5)
        (z * z).sum().backward()
        results.append(np.asarray(x.grad.data if lib == "tg" else x.grad.numpy()))
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12)


def test_bad_hooks_say_what_is_wrong():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor(np.ones(2)).register_hook(lambda g: g)
    x = x64([1.0])
    with pytest.raises(TypeError, match="function"):
        x.register_hook(3)
    (x * 2).register_hook(lambda g: Tensor(np.ones(3)))
    y = x * 2
    y.register_hook(lambda g: Tensor(np.ones(3)))
    with pytest.raises(RuntimeError, match="shape"):
        y.sum().backward()


def test_no_hooks_left_behind_by_dead_tensors():
    from tinygrad_rnn import autograd
    before = len(autograd._HOOKS)
    for _ in range(10):
        t = x64([1.0]) * 2
        t.register_hook(lambda g: g)
    del t
    import gc
    gc.collect()
    assert len(autograd._HOOKS) <= before + 1


def test_removing_the_last_hook_takes_the_tensor_out_of_the_hook_table():
    from tinygrad_rnn import autograd
    x = x64([1.0])
    y = x * 2
    handle = y.register_hook(lambda g: g)
    assert id(y) in autograd._HOOKS
    handle.remove()
    assert id(y) not in autograd._HOOKS
