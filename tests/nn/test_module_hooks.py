"""Module forward hooks and forward pre-hooks, with PyTorch's semantics."""
import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn


class Scale(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(np.array([2.0], np.float32))

    def forward(self, x, y=None, *, k=1.0):
        out = x * self.w * k
        return out if y is None else out + y


def _run(framework, module_cls, log):
    """The same hook program on either framework; returns the outputs seen, as floats."""
    m = module_cls()
    results = []

    def pre1(mod, args):
        log.append(("pre1", len(args)))
        return args[0] + 1.0  # not a tuple: becomes the only argument

    def pre2(mod, args):
        log.append(("pre2", args[0].sum().item()))

    def post1(mod, args, out):
        log.append(("post1", args[0].sum().item(), out.sum().item()))
        return out * 10.0

    def post2(mod, args, out):
        log.append(("post2", out.sum().item()))

    h1 = m.register_forward_pre_hook(pre1)
    h2 = m.register_forward_pre_hook(pre2)
    h3 = m.register_forward_hook(post1)
    h4 = m.register_forward_hook(post2, prepend=True)
    x = framework.ones(3)
    results.append(m(x).sum().item())
    h1.remove()
    h1.remove()  # twice is harmless
    results.append(m(x).sum().item())
    for h in (h2, h3, h4):
        h.remove()
    results.append(m(x).sum().item())
    return results


class TorchScale:
    """Scale as a torch module (built lazily: torch is optional)."""

    def __new__(cls):
        import torch

        class _Scale(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.w = torch.nn.Parameter(torch.tensor([2.0]))

            def forward(self, x, y=None, *, k=1.0):
                out = x * self.w * k
                return out if y is None else out + y
        return _Scale()


def test_hooks_match_torch(torch):
    ours, theirs = [], []
    a = _run(tg, Scale, ours)
    b = _run(torch, TorchScale, theirs)
    assert a == b
    assert ours == theirs


def test_pre_hook_replaces_inputs_and_forward_hook_replaces_output():
    m = Scale()
    seen = []
    m.register_forward_pre_hook(lambda mod, args: (args[0] * 3.0, args[1]))
    m.register_forward_hook(lambda mod, args, out: seen.append((mod, args)) or out - 1.0)
    out = m(tg.ones(2), tg.ones(2))
    np.testing.assert_allclose(out.data, [3 * 2 + 1 - 1] * 2)
    assert seen[0][0] is m
    np.testing.assert_allclose(seen[0][1][0].data, [3.0, 3.0])  # the args as pre-hooks left them


def test_a_hook_returning_none_changes_nothing_and_grads_flow():
    m = Scale()
    calls = []
    m.register_forward_hook(lambda mod, args, out: calls.append(out.shape))
    x = tg.ones(4, requires_grad=True)
    m(x).sum().backward()
    assert calls == [(4,)]
    np.testing.assert_allclose(x.grad.data, [2.0] * 4)
    np.testing.assert_allclose(m.w.grad.data, [4.0])


def test_with_kwargs(torch):
    def program(fw, cls):
        m = cls()
        log = []

        def pre(mod, args, kwargs):
            log.append(sorted(kwargs))
            return args, {**kwargs, "k": 3.0}

        def post(mod, args, kwargs, out):
            log.append(kwargs["k"])
            return out + 1.0

        m.register_forward_pre_hook(pre, with_kwargs=True)
        m.register_forward_hook(post, with_kwargs=True)
        return m(fw.ones(2), k=0.5).sum().item(), log

    assert program(tg, Scale) == program(torch, TorchScale)


def test_pre_hook_with_kwargs_must_return_a_pair():
    m = Scale()
    m.register_forward_pre_hook(lambda mod, args, kwargs: args, with_kwargs=True)
    with pytest.raises(RuntimeError, match=r"tuple \(args, kwargs\)"):
        m(tg.ones(2))


def test_handle_as_context_manager_and_self_removal():
    m = Scale()
    calls = []
    with m.register_forward_hook(lambda mod, args, out: calls.append(1)):
        m(tg.ones(1))
    m(tg.ones(1))
    assert calls == [1]

    handles = []

    def once(mod, args, out):
        calls.append(2)
        handles[0].remove()
    handles.append(m.register_forward_hook(once))
    m(tg.ones(1))
    m(tg.ones(1))
    assert calls == [1, 2]


def test_hooks_run_on_children_and_at_every_step_of_a_cell_loop():
    cell = nn.RNNCell(3, 4)
    seq = nn.Sequential(nn.Linear(3, 3), nn.Tanh())
    steps = []
    cell.register_forward_hook(lambda mod, args, out: steps.append(out.shape))
    shapes = []
    seq[1].register_forward_pre_hook(lambda mod, args: shapes.append(args[0].shape))
    x = tg.randn(5, 2, 3)
    h = None
    for t in range(5):
        h = cell(seq(x[t]), h)
    assert steps == [(2, 4)] * 5 and shapes == [(2, 3)] * 5


def test_without_hooks_the_call_checks_one_attribute():
    m = Scale()
    assert m._hooks is None  # nothing is stored until a hook is registered
    h = m.register_forward_hook(lambda *a: None)
    assert m._hooks
    h.remove()
    m(tg.ones(1))
    assert m._hooks is None  # the next call finds the hooks gone and resets the check

    class NoInit(nn.Module):  # a module that skipped Module.__init__ is still callable
        def __init__(self):
            pass

        def forward(self, x):
            return x
    assert NoInit()(3) == 3


def test_hooks_do_not_touch_state_dict_or_repr():
    m = nn.Linear(2, 3)
    before = (list(m.state_dict()), repr(m))
    m.register_forward_hook(lambda *a: None)
    m.register_forward_pre_hook(lambda *a: None)
    assert (list(m.state_dict()), repr(m)) == before


def test_not_callable():
    with pytest.raises(TypeError, match="callable"):
        Scale().register_forward_hook(3)
    with pytest.raises(TypeError, match="pre_hook.*callable"):
        Scale().register_forward_pre_hook("x")
