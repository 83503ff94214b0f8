"""In-place semantics as PyTorch's: the in-place methods, augmented operators, setitem, the
version check that catches a saved tensor changed after its op ran, and copy/share rules."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn, no_grad, optim


def test_augmented_operators_change_the_tensor_in_place():
    t = Tensor(np.array([1.0, 2.0]))
    data, same = t.data, t
    t += 1
    t -= np.array([0.5, 0.5])
    t *= Tensor(np.array([2.0, 4.0]))
    t /= 2
    assert t is same and t.data is data
    np.testing.assert_array_equal(t.data, [1.5, 5.0])


@pytest.mark.parametrize("call, expected", [
    (lambda t: t.add_(1.0), [2.0, 3.0, 4.0]),
    (lambda t: t.add_(np.ones(3), alpha=-2), [-1.0, 0.0, 1.0]),
    (lambda t: t.sub_(Tensor(np.array([1.0, 1.0, 1.0]))), [0.0, 1.0, 2.0]),
    (lambda t: t.mul_(2), [2.0, 4.0, 6.0]),
    (lambda t: t.div_(4), [0.25, 0.5, 0.75]),
    (lambda t: t.zero_(), [0.0, 0.0, 0.0]),
    (lambda t: t.fill_(7), [7.0, 7.0, 7.0]),
    (lambda t: t.copy_(np.array([9.0])), [9.0, 9.0, 9.0]),
    (lambda t: t.clamp_(1.5, 2.5), [1.5, 2.0, 2.5]),
])
def test_inplace_methods_return_self(call, expected):
    t = Tensor(np.array([1.0, 2.0, 3.0]))
    assert call(t) is t
    np.testing.assert_array_equal(t.data, expected)


def test_no_grad_update_of_a_parameter_keeps_it_and_its_grad():
    p = nn.Parameter(np.array([1.0, 2.0]))
    (p * p).sum().backward()
    with no_grad():
        p -= 0.1 * p.grad
    assert isinstance(p, nn.Parameter) and p.requires_grad
    np.testing.assert_allclose(p.data, [0.8, 1.6])


def test_inplace_on_a_tensor_that_requires_grad_outside_no_grad_raises():
    p = Tensor(np.array([1.0]), requires_grad=True)
    for op in (lambda: p.add_(1), lambda: p.zero_(), lambda: p.__iadd__(1)):
        with pytest.raises(RuntimeError, match="requires grad.*no_grad"):
            op()
    y = p * 2
    with pytest.raises(RuntimeError, match="requires grad"):
        y.mul_(3)
    np.testing.assert_array_equal(p.data, [1.0])


def test_inplace_with_an_operand_that_requires_grad_raises_outside_no_grad():
    x, w = Tensor(np.array([1.0])), Tensor(np.array([2.0]), requires_grad=True)
    with pytest.raises(RuntimeError, match="operand requires grad"):
        x.add_(w)
    with no_grad():
        x.add_(w)
    np.testing.assert_array_equal(x.data, [3.0])


def test_bad_operands_name_the_shapes_and_dtypes():
    t = Tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"add_.*\(4,\).*\(2, 3\)"):
        t.add_(np.ones(4))
    i = Tensor(np.array([1, 2]))
    with pytest.raises(TypeError, match="dtype int64"):
        i += 0.5


def test_setitem_in_place_and_refused_on_a_tensor_that_requires_grad():
    t = Tensor(np.zeros((2, 3)))
    t[0, 1:] = 5.0
    t[Tensor(np.array([1]))] = Tensor(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(t.data, [[0, 5, 5], [1, 2, 3]])
    w = Tensor(np.zeros(3), requires_grad=True)
    with pytest.raises(RuntimeError, match="not supported on a tensor that requires grad"):
        w[0] = 1.0
    with no_grad():
        w[0] = 1.0
    np.testing.assert_array_equal(w.data, [1.0, 0, 0])
    with pytest.raises(IndexError, match="setitem"):
        t[5] = 1.0


# ----- the version check ------------------------------------------------------------------
def test_backward_after_an_optimizer_step_changed_saved_weights_raises():
    lin = nn.Linear(3, 2).double()
    opt = optim.SGD(lin.parameters(), lr=0.1)
    x = Tensor(np.ones((4, 3)), requires_grad=True)  # (its gradient reads the weight)
    loss = lin(x).sum()
    loss.backward(retain_graph=True)
    opt.step()
    with pytest.raises(RuntimeError, match=r"Linear.backward: a tensor of shape \(2, 3\).*"
                                           r"modified in place"):
        loss.backward()


def test_changing_a_saved_input_in_place_raises_and_an_unsaved_one_does_not():
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    x = Tensor(np.array([3.0, 4.0]))
    y = (x * w).sum()  # Mul saves x
    x.add_(1)
    with pytest.raises(RuntimeError, match=r"Mul.backward: a tensor of shape \(2,\)"):
        y.backward()
    z = (x + w).sum()  # Add saves nothing: changing x afterwards cannot hurt its gradient
    x.mul_(3)
    z.backward()
    np.testing.assert_array_equal(w.grad.data, [1.0, 1.0])


@pytest.mark.parametrize("op", ["mul", "matmul", "linear"])
def test_a_saved_input_only_another_inputs_gradient_reads_may_change(op, torch):
    """x * w, x @ w, linear(x, w, b): w is saved for x's gradient only. With x taking none,
    changing w in place before backward leaves every gradient right, and PyTorch (which then
    saves no w) allows it; changing x, which w's gradient reads, is still caught."""
    rng = np.random.default_rng(0)
    x0, b0 = rng.standard_normal((4, 3)), rng.standard_normal(3)
    w0 = rng.standard_normal((3,) if op == "mul" else (3, 3))

    def run(lib, x, w, b):
        if op == "mul":
            return (x * w).sum()
        if op == "matmul":
            return (x @ w).sum()
        f = nn.functional.linear if lib is tg else torch.nn.functional.linear
        return f(x, w, b).sum()
    ours = [Tensor(x0.copy()), Tensor(w0.copy(), requires_grad=True),
            Tensor(b0.copy(), requires_grad=True)]
    theirs = [torch.tensor(x0), torch.tensor(w0, requires_grad=True),
              torch.tensor(b0, requires_grad=True)]
    loss, tloss = run(tg, *ours), run(torch, *theirs)
    with no_grad():
        ours[1].mul_(2)
    with torch.no_grad():
        theirs[1].mul_(2)
    loss.backward()
    tloss.backward()
    np.testing.assert_allclose(ours[1].grad.data, theirs[1].grad.numpy(), rtol=1e-12)
    if op == "linear":
        np.testing.assert_allclose(ours[2].grad.data, theirs[2].grad.numpy(), rtol=1e-12)
    loss = run(tg, *ours)
    ours[0].add_(1)  # what w's gradient reads
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()
    x = Tensor(x0.copy(), requires_grad=True)  # x takes a gradient now, which reads w
    loss = run(tg, x, *ours[1:])
    with no_grad():
        ours[1].mul_(2)
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


def test_changing_a_saved_output_in_place_raises():
    x = Tensor(np.array([0.5]), requires_grad=True)
    y = x.exp()  # Exp saves its output
    with no_grad():
        y.mul_(2)
    with pytest.raises(RuntimeError, match="Exp.backward"):
        y.sum().backward()


def test_a_change_before_the_op_ran_is_fine():
    w = Tensor(np.array([1.0]), requires_grad=True)
    with no_grad():
        w.add_(1)
    (w * w).sum().backward()
    np.testing.assert_array_equal(w.grad.data, [4.0])


# ----- copy or share -----------------------------------------------------------------------
def test_tensor_copies_and_from_numpy_shares():
    a = np.array([1.0, 2.0])
    t, s = tg.tensor(a), Tensor.from_numpy(a)
    a[0] = 9.0
    assert t.data[0] == 1.0 and s.data[0] == 9.0
    s.add_(1)
    assert a[1] == 3.0
    with pytest.raises(TypeError, match="expected an ndarray"):
        Tensor.from_numpy([1.0])


# ----- behaviours found by trying it as a new user would -------------------------------------
def test_comparing_with_none_is_false_not_an_error():
    t = Tensor(np.array([1.0, 2.0]))
    assert (t == None) is False  # noqa: E711
    assert (t != None) is True  # noqa: E711


def test_an_integer_tensor_plus_a_python_float_is_float32():
    i = Tensor(np.array([1, 2]))
    assert (i + 0.5).dtype == np.float32
    assert (0.5 * i).dtype == np.float32
    assert (i + 1).dtype == np.int64


def test_grad_of_a_non_scalar_output_names_grad_outputs():
    x = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(RuntimeError, match="grad_outputs="):
        tg.grad(x * 2, [x])
    with pytest.raises(RuntimeError, match="pass grad="):
        (x * 2).backward()


def test_changes_through_a_view_or_a_detached_tensor_are_caught():
    w = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y = (w * 2).tanh()  # Tanh saves its output
    y.detach().zero_()  # the same memory
    with pytest.raises(RuntimeError, match="Tanh.backward"):
        y.sum().backward()
    x = Tensor(np.ones((2, 3)))
    z = (x * w).sum()  # Mul saves x
    x[0].add_(100.0)  # a view of x
    with pytest.raises(RuntimeError, match="Mul.backward"):
        z.backward()
    a = np.ones(3)
    shared = Tensor.from_numpy(a)
    v = (shared * w).sum()
    Tensor.from_numpy(a).mul_(2.0)  # another tensor on the same array
    with pytest.raises(RuntimeError, match="Mul.backward"):
        v.backward()


def test_a_compiled_sequence_checks_its_inputs_too():
    from tinygrad_rnn import nn as _nn
    tg.manual_seed(0)
    model = _nn.Recurrent(lambda n: _nn.GRUCell(n, 3), input_size=2).double()
    out, _ = model(Tensor(np.ones((6, 2, 2))))
    from tinygrad_rnn.compiled import scan_info
    assert scan_info()["path"] == "compiled"
    opt = optim.SGD(model.parameters(), lr=0.1)
    out.sum().backward(retain_graph=True)
    opt.step()
    with pytest.raises(RuntimeError, match="modified in place"):
        out.sum().backward()


def test_a_subclass_with_its_own_backward_keeps_every_saved_array_checked():
    from tinygrad_rnn.ops.arithmetic import Mul

    class Scaled(Mul):  # reads b for b's own gradient: Mul's saved_for does not hold
        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_arrays
            return None, g * a * b
    x, w = Tensor(np.array([1.0, 2.0])), Tensor(np.array([3.0, 4.0]), requires_grad=True)
    loss = Scaled.apply(x, w).sum()
    with no_grad():
        w.mul_(2)
    with pytest.raises(RuntimeError, match="Scaled.backward.*modified in place"):
        loss.backward()


@pytest.mark.parametrize("change", [
    lambda t: t.add_(1), lambda t: t.mul_(2), lambda t: t.zero_(), lambda t: t.fill_(3.0),
    lambda t: t.clamp_(0, 1), lambda t: t.copy_(Tensor(np.ones((3, 2)))),
    lambda t: t.masked_fill_(Tensor(np.ones((3, 2), bool)), 0.0),
    lambda t: t.__setitem__((0, 0), 5.0), lambda t: t.__iadd__(1)])
def test_an_expanded_view_or_a_read_only_array_refuses_in_place_changes(change, torch):
    """expand() that stretches an axis makes several elements one memory location: PyTorch
    refuses arithmetic in place there ("more than one element ... refers to a single memory
    location"); we refuse every in-place change, saying why and what to do, instead of a
    misleading broadcast error, and leave the base unchanged. A view of such a view too."""
    x = Tensor(np.array([1.0, 2.0]))
    with pytest.raises(RuntimeError, match=r"expanded view.*clone\(\)"):
        change(x.expand(3, 2))
    with pytest.raises(RuntimeError, match=r"expanded view, or a view of one"):
        change(x.expand(4, 3, 2)[0])
    np.testing.assert_array_equal(x.data, [1.0, 2.0])
    with pytest.raises(RuntimeError, match="single memory location"):
        torch.tensor([1.0, 2.0]).expand(3, 2).add_(1)
    frozen = np.zeros((3, 2))
    frozen.flags.writeable = False
    with pytest.raises(RuntimeError, match=r"read-only array.*clone\(\)"):
        change(Tensor.from_numpy(frozen))
    c = x.expand(3, 2).clone()
    change(c)  # a copy owns its memory


@pytest.mark.parametrize("expand", [
    lambda t: t.expand(1, 3), lambda t: t.expand(3), lambda t: t.expand_as(t),
    lambda t: t.expand(0, 3), lambda t: t.reshape(3, 1).expand(3, 1)])
def test_an_expand_that_stretches_nothing_writes_through_as_pytorch(expand, torch):
    """New size-1 axes, the same shape, or no elements at all: no memory location is shared
    by two elements, so an in-place change goes through to the base, as in PyTorch."""
    ours, theirs = Tensor(np.ones(3)), torch.ones(3, dtype=torch.float64)
    expand(ours).add_(1)
    expand(theirs).add_(1)
    np.testing.assert_array_equal(ours.data, theirs.numpy())


def test_writes_outside_the_in_place_methods_name_a_read_only_target_too():
    frozen = np.zeros((2, 3))
    frozen.flags.writeable = False
    with pytest.raises(RuntimeError, match="init: .*read-only array"):
        nn.init.normal_(Tensor.from_numpy(frozen))
    with pytest.raises(RuntimeError, match="init: .*expanded view"):
        nn.init.zeros_(tg.ones(1, 3).expand(2, 3))
    with pytest.raises(RuntimeError, match="SGD: parameter 0: .*read-only array"):
        optim.SGD([Tensor.from_numpy(frozen).requires_grad_()], lr=0.1)
    with pytest.raises(RuntimeError, match="vector_to_parameters: .*expanded view"):
        nn.utils.vector_to_parameters(tg.ones(6), [tg.ones(1, 3).expand(2, 3)])
