"""Learning-rate schedules: closed-form values, PyTorch's values, resuming, and bad input."""
import math

import numpy as np
import pytest

from tinygrad_rnn import Tensor
from tinygrad_rnn.optim import SGD, Adam
from tinygrad_rnn.optim.lr_scheduler import CosineAnnealingLR, ExponentialLR, StepLR


def make_opt(lrs=(0.1,)):
    groups = [{"params": [Tensor(np.zeros(2), requires_grad=True)], "lr": lr} for lr in lrs]
    return SGD(groups, lr=lrs[0])


def trace(sched, n):
    """The rates after construction and after each of n steps (ours or torch's)."""
    out = [sched.get_last_lr()]
    for _ in range(n):
        sched.optimizer.step()
        sched.step()
        out.append(sched.get_last_lr())
    return np.array(out, dtype=np.float64)


def test_step_lr_closed_form():
    sched = StepLR(make_opt((0.1, 0.02)), step_size=3, gamma=0.5)
    got = trace(sched, 12)
    epochs = np.arange(13)[:, None]
    np.testing.assert_allclose(got, np.array([[0.1, 0.02]]) * 0.5 ** (epochs // 3), rtol=1e-15)
    assert [g["lr"] for g in sched.optimizer.param_groups] == sched.get_last_lr()


def test_exponential_lr_closed_form():
    got = trace(ExponentialLR(make_opt((0.3,)), gamma=0.9), 10)
    np.testing.assert_allclose(got[:, 0], 0.3 * 0.9 ** np.arange(11), rtol=1e-14)


@pytest.mark.parametrize("T_max,eta_min", [(10, 0.0), (7, 0.01)])
def test_cosine_annealing_closed_form_over_several_periods(T_max, eta_min):
    got = trace(CosineAnnealingLR(make_opt((0.1, 0.05)), T_max=T_max, eta_min=eta_min), 4 * T_max)
    e = np.arange(4 * T_max + 1)[:, None]
    expected = eta_min + (np.array([[0.1, 0.05]]) - eta_min) * (1 + np.cos(np.pi * e / T_max)) / 2
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    assert got[T_max, 0] == pytest.approx(eta_min, abs=1e-15)


@pytest.mark.parametrize("make,tmake", [
    (lambda o: StepLR(o, step_size=4, gamma=0.3), lambda t, o: t.optim.lr_scheduler.StepLR(o, step_size=4, gamma=0.3)),
    (lambda o: ExponentialLR(o, gamma=0.95), lambda t, o: t.optim.lr_scheduler.ExponentialLR(o, gamma=0.95)),
    (lambda o: CosineAnnealingLR(o, T_max=25, eta_min=1e-4),
     lambda t, o: t.optim.lr_scheduler.CosineAnnealingLR(o, T_max=25, eta_min=1e-4)),
], ids=["StepLR", "ExponentialLR", "CosineAnnealingLR"])
def test_matches_torch_over_many_steps(make, tmake, torch):
    ours = trace(make(make_opt((0.1, 0.03))), 120)
    p = torch.zeros(2, requires_grad=True)
    q = torch.zeros(2, requires_grad=True)
    topt = torch.optim.SGD([{"params": [p], "lr": 0.1}, {"params": [q], "lr": 0.03}], lr=0.1)
    theirs = trace(tmake(torch, topt), 120)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("make,tmake", [
    (lambda o: StepLR(o, step_size=4, gamma=0.3), lambda t, o: t.optim.lr_scheduler.StepLR(o, step_size=4, gamma=0.3)),
    (lambda o: CosineAnnealingLR(o, T_max=25, eta_min=1e-4),
     lambda t, o: t.optim.lr_scheduler.CosineAnnealingLR(o, T_max=25, eta_min=1e-4)),
], ids=["StepLR", "CosineAnnealingLR"])
def test_a_torch_schedulers_state_dict_loads_and_continues_the_same(make, tmake, torch):
    p = torch.zeros(2, requires_grad=True)
    topt = torch.optim.SGD([p], lr=0.1)
    tsched = tmake(torch, topt)
    trace(tsched, 9)
    ours = make(make_opt((0.1,)))
    ours.optimizer.param_groups[0]["lr"] = topt.param_groups[0]["lr"]
    ours.load_state_dict(tsched.state_dict())  # (with torch's own _is_initial and the like)
    np.testing.assert_allclose(trace(ours, 20), trace(tsched, 20), rtol=1e-12, atol=1e-15)


def test_optimizer_uses_the_scheduled_rate():
    p = Tensor(np.zeros(1), requires_grad=True)
    opt = SGD([p], lr=1.0)
    sched = StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(3):
        p.grad = Tensor(np.ones(1))
        opt.step()
        sched.step()
    np.testing.assert_allclose(p.data, [-(1.0 + 0.5 + 0.25)])


@pytest.mark.parametrize("make", [
    lambda o: StepLR(o, step_size=3, gamma=0.5),
    lambda o: CosineAnnealingLR(o, T_max=9, eta_min=0.001),
], ids=["StepLR", "CosineAnnealingLR"])
def test_state_dict_round_trip_continues_identically(make):
    opt = make_opt((0.1, 0.2))
    sched = make(opt)
    trace(sched, 5)
    saved_sched, saved_opt = sched.state_dict(), opt.state_dict()
    rest = trace(sched, 10)

    opt2 = make_opt((0.7, 0.7))
    opt2.load_state_dict(saved_opt)
    sched2 = make(opt2)
    sched2.load_state_dict(saved_sched)
    np.testing.assert_array_equal(trace(sched2, 10), rest)


def test_step_with_epoch_uses_closed_form():
    sched = CosineAnnealingLR(make_opt((0.1,)), T_max=10)
    sched.step(5)
    assert sched.get_last_lr()[0] == pytest.approx(0.05, rel=1e-12)
    assert sched.last_epoch == 5


def test_resuming_needs_initial_lr():
    with pytest.raises(KeyError, match=r"'initial_lr' in param_groups\[0\]"):
        StepLR(make_opt(), step_size=2, last_epoch=4)
    opt = make_opt((0.1,))
    StepLR(opt, step_size=2)
    opt.param_groups[0]["lr"] = 0.5
    resumed = StepLR(opt, step_size=2, gamma=0.1, last_epoch=3)  # jumps to epoch 4 from initial_lr
    assert resumed.last_epoch == 4
    assert resumed.base_lrs == [0.1]
    assert resumed.get_last_lr()[0] == pytest.approx(0.5 * 0.1)  # recursive form, as in PyTorch


@pytest.mark.parametrize("make", [
    lambda m, o, e: m.StepLR(o, step_size=2, gamma=0.5, last_epoch=e),
    lambda m, o, e: m.ExponentialLR(o, gamma=0.5, last_epoch=e),
    lambda m, o, e: m.CosineAnnealingLR(o, T_max=10, eta_min=0.01, last_epoch=e),
], ids=["StepLR", "ExponentialLR", "CosineAnnealingLR"])
@pytest.mark.parametrize("last_epoch", [3, 5, 12])
def test_a_resumed_schedule_matches_torch(make, last_epoch, torch):
    """Built with last_epoch >= 0 (after loading the optimizer's state), the constructor's
    step keeps the rate that was loaded for the exponential and cosine schedules (PyTorch
    2.13: they would otherwise move one step ahead of themselves); then both go on alike."""
    from tinygrad_rnn.optim import lr_scheduler
    opt = make_opt((0.1,))
    opt.param_groups[0]["initial_lr"] = 0.2
    p = torch.zeros(2, requires_grad=True)
    topt = torch.optim.SGD([p], lr=0.1)
    topt.param_groups[0]["initial_lr"] = 0.2
    ours = trace(make(lr_scheduler, opt, last_epoch), 25)
    theirs = trace(make(torch.optim.lr_scheduler, topt, last_epoch), 25)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("make,exc,match", [
    (lambda o: StepLR(o, step_size=0), ValueError, r"StepLR: step_size must be a positive int, got 0"),
    (lambda o: StepLR(o, step_size=2.5), TypeError, r"step_size must be a positive int, got float 2.5"),
    (lambda o: CosineAnnealingLR(o, T_max=-3), ValueError, r"T_max must be a positive int, got -3"),
    (lambda o: StepLR("sgd", step_size=1), TypeError, r"StepLR needs an Optimizer, got str"),
    (lambda o: StepLR(o, step_size=1).step(-2), ValueError, r"StepLR.step: epoch must be at least 0, got -2"),
    (lambda o: StepLR(o, step_size=1).load_state_dict({"gamma": 0.1, "T_max": 3}), ValueError,
     r"unexpected keys \['T_max'\]"),
])
def test_bad_input(make, exc, match):
    with pytest.raises(exc, match=match):
        make(Adam([Tensor(np.zeros(1), requires_grad=True)]))


@pytest.mark.parametrize("make", [lambda o: StepLR(o, step_size=2), lambda o: ExponentialLR(o, 0.9),
                                  lambda o: CosineAnnealingLR(o, T_max=5)])
def test_the_state_dict_holds_the_schedule_only(make):
    """No transient attribute in the state: a checkpoint's schedule state keeps the keys
    earlier versions wrote (Trainer.load_state_dict insists on exactly these)."""
    keys = set(make(make_opt()).state_dict())
    assert not any(k.startswith("_is") for k in keys)
    assert {"base_lrs", "last_epoch", "_step_count", "_last_lr"} <= keys
