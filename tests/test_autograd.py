"""The backward pass: accumulation, graph shapes, long chains, memory, grad modes, error texts."""
from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Function, Tensor


def leaf(values, **kw) -> Tensor:
    return Tensor(np.asarray(values, dtype=np.float64), requires_grad=True, **kw)


# ----- accumulation and graph shapes -------------------------------------------------------
def test_gradients_accumulate_across_backward_calls():
    x = leaf([1.0, 2.0])
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0 + 2, 3.0 + 4])
    x.zero_grad()
    assert x.grad is None


def test_grad_is_a_tensor_of_the_leaf_dtype_and_not_aliased_to_the_seed():
    x = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    seed = np.ones(3, dtype=np.float32)
    (x * 2).backward(seed)
    assert isinstance(x.grad, Tensor) and x.grad.dtype == np.float32
    assert not x.grad.requires_grad
    seed[:] = 100  # the stored gradient must not change with the caller's array
    (x + 0).backward(np.ones(3, dtype=np.float32))
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0, 3.0])


def test_diamond_sums_both_paths():
    x = leaf([0.5, -1.0, 2.0])
    a = x * x          # dx 2x
    b = x.exp()        # dx exp(x)
    (a + b).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * x.data + np.exp(x.data))


def test_same_tensor_twice_in_one_op():
    x = leaf([1.0, -2.0])
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, -4.0])
    y = leaf(3.0)
    (y + y).backward()
    assert y.grad.item() == 2.0


def test_deep_diamonds_visit_each_node_once():
    # h_{k+1} = h_k + h_k doubles the gradient per level: 2**40 only if each node runs once
    x = leaf(1.0)
    h = x
    for _ in range(40):
        h = h + h
    h.backward()
    assert x.grad.item() == 2.0 ** 40


def test_non_leaf_tensors_get_no_grad_and_constants_are_untouched():
    x = leaf([1.0, 2.0])
    c = Tensor(np.array([3.0, 4.0]))
    y = x * c
    y.sum().backward()
    assert y.grad is None and c.grad is None
    np.testing.assert_array_equal(x.grad.data, [3.0, 4.0])


def test_graph_records_parents_in_order_only_when_needed():
    x, w = leaf([1.0]), Tensor(np.array([2.0]))
    y = w - x
    assert y.requires_grad and type(y._ctx).__name__ == "Sub"
    assert y._ctx.parents[0] is w and y._ctx.parents[1] is x
    z = w * w
    assert not z.requires_grad and z._ctx is None
    assert not (x > 0).requires_grad


# ----- long chains ----------------------------------------------------------------------------
def _chain(n: int):
    """n negations in a row (n even): the cheapest op, so the test measures the traversal."""
    x = leaf(0.5)
    y = x
    for _ in range(n):
        y = -y
    return x, y


def test_100k_op_chain_backward_has_no_recursion_error():
    x, y = _chain(100_000)
    y.backward()
    assert x.grad.item() == 1.0


def _backward_work(n: int, monkeypatch) -> dict:
    """What backward does on an n-op chain, counted: backward calls, the largest heap the
    traversal holds, and every Python-level call made (a cost model that does not depend on
    how busy the machine is)."""
    import sys

    from tinygrad_rnn import autograd, ops

    counts = {"backward": 0, "heap": 0, "calls": 0}
    real_backward = ops.Neg.backward
    real_push = autograd.heappush

    def backward(ctx, g):
        counts["backward"] += 1
        return real_backward(ctx, g)

    def push(heap, item):
        real_push(heap, item)
        counts["heap"] = max(counts["heap"], len(heap))

    def profile(frame, event, arg):
        if event in ("call", "c_call"):
            counts["calls"] += 1

    x, y = _chain(n)
    with monkeypatch.context() as m:
        m.setattr(ops.Neg, "backward", staticmethod(backward))
        m.setattr(autograd, "heappush", push)
        sys.setprofile(profile)
        try:
            y.backward()
        finally:
            sys.setprofile(None)
    assert x.grad.item() == 1.0
    return counts


def test_chain_backward_is_linear_in_its_length(monkeypatch):
    _backward_work(100, monkeypatch)  # warm up: first calls may import or cache
    n1, n2, n3 = (_backward_work(n, monkeypatch) for n in (2_000, 4_000, 6_000))
    # every node is visited once, and the heap of a chain never holds more than one node,
    # so each visit costs the same
    assert [c["backward"] for c in (n1, n2, n3)] == [2_000, 4_000, 6_000]
    assert max(c["heap"] for c in (n1, n2, n3)) == 1
    # the total work grows by the same amount for each 2,000 more ops: linear, not quadratic
    # (a second difference of zero; a little slack for incidental calls such as the gc's)
    step1, step2 = n2["calls"] - n1["calls"], n3["calls"] - n2["calls"]
    assert abs(step2 - step1) <= 0.01 * step1, (n1, n2, n3)


def test_long_chain_through_grad_function():
    x, y = _chain(10_000)
    (g,) = tg.grad(y, [x])
    assert g.item() == 1.0 and x.grad is None


# ----- memory --------------------------------------------------------------------------------
def test_memory_does_not_grow_over_training_iterations():
    rng = np.random.default_rng(0)
    w = leaf(rng.standard_normal((8, 8)) * 0.1)
    xs = Tensor(rng.standard_normal((4, 8)))

    def step():
        h = xs
        for _ in range(3):  # a short recurrence: the graph is a chain of cells
            h = (h @ w).tanh()
        loss = (h * h).mean()
        loss.backward()
        w.data -= 0.01 * w.grad.data
        w.grad = None

    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()  # the graph must be freed by reference counting alone: no cycles
    tracemalloc.start()
    try:
        for i in range(1000):
            step()
            if i == 99:
                at_100 = tracemalloc.get_traced_memory()[0]
        at_1000 = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
        if was_enabled:
            gc.enable()
    # a leaked graph (arrays, tensors, Functions: several kB an iteration) would add megabytes
    # over 900 iterations; the slack covers CPython's bounded free lists of small tuples, which
    # tracemalloc counts as allocated (at most 2000 tuples of each length)
    assert at_1000 - at_100 < 150_000, f"grew by {at_1000 - at_100} bytes"


def test_backward_releases_saved_arrays():
    x = leaf(np.ones(1000))
    y = x.exp()
    ctx = y._ctx
    assert ctx.saved_arrays
    y.sum().backward()
    assert ctx.saved_arrays == () and ctx.parents is None and ctx.released
    assert "released" in repr(ctx)


# ----- grad modes -----------------------------------------------------------------------------
def test_no_grad_records_nothing_and_restores():
    x = leaf([1.0, 2.0])
    with tg.no_grad():
        y = (x * 2).exp()
        assert not tg.is_grad_enabled()
        with tg.enable_grad():
            z = x * 2
    assert tg.is_grad_enabled()
    assert not y.requires_grad and y._ctx is None
    assert z.requires_grad
    with pytest.raises(ZeroDivisionError):
        with tg.no_grad():
            1 / 0
    assert tg.is_grad_enabled()
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()


def test_grad_mode_is_per_thread_as_in_pytorch():
    """no_grad in one thread leaves another thread recording (an evaluation thread must not
    cut a training thread's graph), and a new thread starts with recording on whatever the
    thread that started it does, as PyTorch's thread-local grad mode."""
    import threading
    x = leaf([1.0, 2.0])
    inside, go_on, seen = threading.Event(), threading.Event(), {}

    def evaluate() -> None:
        with tg.no_grad():
            inside.set()
            go_on.wait(10)
            seen["eval"] = (x * 2).requires_grad
    worker = threading.Thread(target=evaluate)
    worker.start()
    assert inside.wait(10)
    assert tg.is_grad_enabled()  # the other thread's no_grad is its own
    y = x * 3
    go_on.set()
    worker.join(10)
    assert y.requires_grad and seen["eval"] is False

    def fresh() -> None:
        seen["fresh"] = (tg.is_grad_enabled(), (x * 2).requires_grad)
    with tg.no_grad():
        starter = threading.Thread(target=fresh)
        starter.start()
        starter.join(10)
    assert seen["fresh"] == (True, True)
    with tg.set_grad_enabled(False):
        other = threading.Thread(target=fresh)
        other.start()
        other.join(10)
    assert seen["fresh"] == (True, True) and tg.is_grad_enabled()


def test_detach_shares_data_and_cuts_the_graph():
    x = leaf([1.0, 2.0])
    h = x * 3
    d = h.detach()
    assert d.data is h.data or np.shares_memory(d.data, h.data)
    assert not d.requires_grad and d._ctx is None
    (d * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, h.data)  # d acted as a constant


def test_retain_graph_allows_a_second_backward():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [4.0, 8.0])


def test_second_backward_without_retain_graph_explains_itself():
    x = leaf([1.0, 2.0])
    y = (x.tanh() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"retain_graph=True") as e:
        y.backward()
    assert "detach" in str(e.value)


def test_reusing_a_released_hidden_state_explains_itself():
    w = leaf(0.5)
    h = Tensor(np.array(1.0))
    h = (h * w).tanh()
    h.backward()
    h2 = (h * w).tanh()  # h's graph was freed: the state should have been detached
    with pytest.raises(RuntimeError, match=r"detach"):
        h2.backward()
    h3 = (h.detach() * w).tanh()
    h3.backward()


# ----- functional grad() ----------------------------------------------------------------------
def test_grad_returns_gradients_without_touching_dot_grad():
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    unused = leaf([5.0])
    out = (x * y).sum()
    gx, gy, gu = tg.grad(out, [x, y, unused], materialize_grads=True)
    np.testing.assert_array_equal(gx.data, [3.0, 4.0])
    np.testing.assert_array_equal(gy.data, [1.0, 2.0])
    np.testing.assert_array_equal(gu.data, [0.0])
    assert x.grad is None and y.grad is None and unused.grad is None


def test_grad_of_an_unused_input_is_an_error_none_or_zeros_as_in_pytorch(torch):
    x, unused = leaf([1.0, 2.0]), leaf([5.0])
    tx, tu = (torch.tensor(v, requires_grad=True) for v in ([1.0, 2.0], [5.0]))
    with pytest.raises(RuntimeError, match=r"input 1 \(shape \(1,\)\) was not used.*"
                                           r"allow_unused=True.*materialize_grads=True"):
        tg.grad((x * x).sum(), [x, unused])
    with pytest.raises(RuntimeError):
        torch.autograd.grad((tx * tx).sum(), [tx, tu])
    gx, gu = tg.grad((x * x).sum(), [x, unused], allow_unused=True)
    tgx, tgu = torch.autograd.grad((tx * tx).sum(), [tx, tu], allow_unused=True)
    assert gu is None and tgu is None
    np.testing.assert_array_equal(gx.data, tgx.numpy())
    _, gu = tg.grad((x * x).sum(), [x, unused], materialize_grads=True)
    _, tgu = torch.autograd.grad((tx * tx).sum(), [tx, tu], materialize_grads=True)
    np.testing.assert_array_equal(gu.data, tgu.numpy())
    with pytest.raises(ValueError, match="cannot be combined with allow_unused=False"):
        tg.grad((x * x).sum(), [x], allow_unused=False, materialize_grads=True)


def test_grad_with_grad_outputs_several_outputs_and_an_inner_input():
    x = leaf([1.0, 2.0])
    h = x * 2
    a, b = h.exp(), h * 3
    (gx, gh) = tg.grad([a, b], [x, h], [np.array([1.0, 0.0]), np.array([0.0, 1.0])])
    np.testing.assert_allclose(gh.data, [np.exp(2.0), 3.0])
    np.testing.assert_allclose(gx.data, 2 * gh.data)


def test_grad_rejects_inputs_that_do_not_require_grad():
    x = leaf([1.0])
    with pytest.raises(RuntimeError, match="input 1 does not require grad"):
        tg.grad((x * 2).sum(), [x, Tensor(np.ones(1))])


# ----- error messages -------------------------------------------------------------------------
def test_backward_of_non_scalar_needs_grad():
    x = leaf(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match=r"one element.*\(2, 3\).*pass grad"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match=r"grad has shape \(3,\), expected .*\(2, 3\)"):
        (x * 2).backward(np.ones(3))


class _BadShape(Function):
    """y = 2x, with a gradient of the wrong shape."""

    @staticmethod
    def forward(ctx, x):
        return 2 * x

    @staticmethod
    def backward(ctx, g):
        return np.ones(5)


class _TooMany(Function):
    """y = x, returning two gradients for one input."""

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, g):
        return g, g


class _Broadcasting(Function):
    """y = x + b; returns the unreduced gradient for b, which the engine sums down."""

    @staticmethod
    def forward(ctx, x, b):
        return x + b

    @staticmethod
    def backward(ctx, g):
        return g, g


def test_invalid_gradient_shape_names_op_index_and_shapes():
    x = leaf(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match=r"_BadShape.*index 0.*got shape \(5,\).*expected "
                                           r"shape \(2, 3\)"):
        _BadShape.apply(x).sum().backward()


def test_wrong_number_of_gradients_is_reported():
    x = leaf([1.0])
    with pytest.raises(RuntimeError, match=r"_TooMany.backward returned 2 gradients, expected 1"):
        _TooMany.apply(x).sum().backward()


def test_engine_sums_broadcast_gradients_of_custom_functions():
    x, b = leaf(np.ones((4, 3))), leaf(np.ones((1, 3)))
    s = leaf(np.ones(()))
    _Broadcasting.apply(_Broadcasting.apply(x, b), s).sum().backward()
    np.testing.assert_array_equal(b.grad.data, np.full((1, 3), 4.0))
    assert s.grad.shape == () and s.grad.item() == 12.0


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="int64"):
        Tensor(np.arange(3), requires_grad=True)
    with pytest.raises(TypeError, match="int32"):
        Tensor(np.arange(3, dtype=np.int32)).requires_grad_()
    with pytest.raises(TypeError, match="bool"):
        Tensor(np.array([True]), requires_grad=True)


def test_integer_results_never_require_grad():
    x = leaf([1.5, 2.5])
    assert not x.astype(np.int64).requires_grad


def test_matmul_shape_mismatch_names_op_and_shapes():
    a, b = leaf(np.ones((2, 3))), leaf(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"matmul.*\(2, 3\).*\(4, 5\)"):
        a @ b
    with pytest.raises(ValueError, match=r"matmul.*\(\).*\(3,\)"):
        leaf(1.0) @ leaf(np.ones(3))


@pytest.mark.parametrize("op,name", [
    (lambda a, b: a + b, "Add"), (lambda a, b: a - b, "Sub"), (lambda a, b: a * b, "Mul"),
    (lambda a, b: a / b, "Div"), (lambda a, b: a ** b, "Pow"),
])
def test_broadcast_mismatch_names_op_and_both_shapes(op, name):
    a, b = leaf(np.ones((2, 3))), leaf(np.ones(4))
    with pytest.raises(ValueError, match=rf"{name}.*\(2, 3\) and \(4,\)"):
        op(a, b)


def test_shape_errors_of_other_ops_name_them():
    x = leaf(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"(?i)where.*\(5,\).*\(2, 3\)"):
        tg.where(np.ones(5, dtype=bool), x, 0.0)
    with pytest.raises(ValueError, match=r"reshape.*\(2, 3\).*\(4,\)"):
        x.reshape(4)
    with pytest.raises(ValueError, match=r"broadcast_to.*\(2, 3\).*\(3, 3\)"):
        tg.broadcast_to(x, (3, 3))
    with pytest.raises(ValueError, match=r"concatenate.*\(2, 3\).*\(2, 4\).*axis 0"):
        tg.concatenate([x, leaf(np.ones((2, 4)))])
    with pytest.raises(ValueError, match=r"stack.*\(2, 3\).*\(3, 2\)"):
        tg.stack([x, leaf(np.ones((3, 2)))])
    with pytest.raises(ValueError, match=r"sum: axis 2 is out of range.*2 dimensions"):
        x.sum(axis=2)
    with pytest.raises(IndexError, match=r"getitem.*\(2, 3\)"):
        x[5]


def test_errors_from_user_functions_get_the_op_name():
    class Strict(Function):
        """y = x (rejects negative input)."""

        @staticmethod
        def forward(ctx, x):
            if (x < 0).any():
                raise ValueError("negative input")
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(ValueError, match=r"Strict: negative input \(input shapes \(2,\)\)"):
        Strict.apply(leaf([1.0, -1.0]))


def test_backward_takes_torchs_gradient_inputs_and_create_graph_arguments(torch):
    def both(make):
        x, w = leaf([1.0, 2.0]), leaf([3.0, -1.0])
        tx, tw = (torch.tensor(v, dtype=torch.float64, requires_grad=True)
                  for v in ([1.0, 2.0], [3.0, -1.0]))
        return (x, w, make(x, w, tg)), (tx, tw, make(tx, tw, torch))

    def grads(*ts):
        return [None if t.grad is None else np.asarray(t.grad.numpy() if hasattr(
            t.grad, "numpy") else t.grad.data) for t in ts]
    (x, w, (m, y)), (tx, tw, (tm, ty)) = both(lambda x, w, lib: (x * 2, (x * 2 * w).sum()))
    y.backward(inputs=[x, m], retain_graph=True)  # only into these: w gets nothing
    ty.backward(inputs=[tx, tm], retain_graph=True)
    for a, b in zip(grads(x, w, m), grads(tx, tw, tm)):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_array_equal(a, b)
    y.backward(gradient=Tensor(np.array(2.0)), inputs=x)  # PyTorch's keyword, one tensor
    ty.backward(gradient=torch.tensor(2.0, dtype=torch.float64), inputs=tx)
    np.testing.assert_array_equal(x.grad.data, tx.grad.numpy())
    assert w.grad is None and tw.grad is None
    (x, w, (m, y)), (tx, tw, (tm, ty)) = both(lambda x, w, lib: (x * 2, (x * 2 * w).sum()))
    m.retain_grad(), tm.retain_grad()  # retain_grad and inputs= together: one .grad
    y.backward(inputs=[m, w])
    ty.backward(inputs=[tm, tw])
    for a, b in zip(grads(x, w, m), grads(tx, tw, tm)):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_array_equal(a, b)
    with pytest.raises(RuntimeError, match="inputs= cannot be empty"):
        (x * w).sum().backward(inputs=[])
    with pytest.raises(RuntimeError, match=r"inputs=: tensor 0 \(shape \(2,\)\) does not "
                                           r"require grad"):
        (x * w).sum().backward(inputs=[Tensor(np.ones(2))])
    with pytest.raises(TypeError, match="gradient twice"):
        (x * w).sum().backward(Tensor(np.array(1.0)), gradient=Tensor(np.array(1.0)))
    with pytest.raises(NotImplementedError, match="create_graph=True.*plain arrays"):
        (x * w).sum().backward(create_graph=True)
    with pytest.raises(NotImplementedError, match="create_graph=True"):
        tg.grad((x * w).sum(), [x], create_graph=True)
    assert tg.grad((x * w).sum(), [x], create_graph=False)[0] is not None
