"""Optimizers: each update rule against its formula written out in NumPy, against PyTorch when
installed, state dict round trips (also through a checkpoint file), param groups and bad input."""
import numpy as np
import pytest

from tinygrad_rnn import Tensor
from tinygrad_rnn.checkpoint import load_checkpoint, save_checkpoint
from tinygrad_rnn.optim import SGD, Adagrad, Adam, AdamW, RMSprop

SHAPES = [(3,), (2, 4), (2, 1, 3), ()]

CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.03, betas=(0.85, 0.99), weight_decay=0.2, amsgrad=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.5, eps=1e-6)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.5, weight_decay=0.05)),
    ("RMSprop", dict(lr=0.005, centered=True, momentum=0.7)),
    ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.02, weight_decay=0.2, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.01, amsgrad=True, maximize=True)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1, maximize=True)),
    ("RMSprop", dict(lr=0.01, centered=True, weight_decay=0.05, maximize=True)),
]
CLASSES = dict(SGD=SGD, Adam=Adam, AdamW=AdamW, Adagrad=Adagrad, RMSprop=RMSprop)
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for name, kw in CONFIGS]


# ----- the rules, written out as textbook NumPy (one parameter, whole history) -----------------
def ref_sgd(p, grads, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
    buf = None
    for g in grads:
        d = g + weight_decay * p
        if momentum:
            buf = d.copy() if buf is None else momentum * buf + (1 - dampening) * d
            d = d + momentum * buf if nesterov else buf
        p = p - lr * d
    return p


def ref_adam(p, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, decoupled=False):
    b1, b2 = betas
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    vmax = np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        vmax = np.maximum(vmax, v)
        m_hat = m / (1 - b1 ** t)
        v_used = vmax if amsgrad else v
        p = p - lr * m_hat / (np.sqrt(v_used) / np.sqrt(1 - b2 ** t) + eps)
    return p


def ref_adamw(p, grads, lr, weight_decay=1e-2, **kw):
    return ref_adam(p, grads, lr, weight_decay=weight_decay, decoupled=True, **kw)


def ref_adagrad(p, grads, lr, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
    s = np.full_like(p, initial_accumulator_value)
    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * p
        s = s + g ** 2
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(s) + eps)
    return p


def ref_rmsprop(p, grads, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
    v = np.zeros_like(p)
    a = np.zeros_like(p)
    buf = np.zeros_like(p)
    for g in grads:
        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g ** 2
        a = alpha * a + (1 - alpha) * g
        denom = np.sqrt(v - a ** 2 if centered else v) + eps
        if momentum > 0:
            buf = momentum * buf + g / denom
            p = p - lr * buf
        else:
            p = p - lr * g / denom
    return p


def _flags(ref, decoupled=None):
    """A reference taking PyTorch's maximize (the gradient negated first) and, for Adam,
    decoupled_weight_decay (AdamW's formula)."""
    def call(x0, grads, maximize=False, decoupled_weight_decay=False, **kw):
        if maximize:
            grads = [-g for g in grads]
        return (decoupled if decoupled_weight_decay else ref)(x0, grads, **kw)
    return call


REFS = dict(SGD=_flags(ref_sgd), Adam=_flags(ref_adam, ref_adamw), AdamW=_flags(ref_adamw),
            Adagrad=_flags(ref_adagrad), RMSprop=_flags(ref_rmsprop))


def make_problem(seed, n_steps, dtype=np.float64):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(n_steps)]
    return init, grads


def run(name, kw, init, grads, opt=None, params=None):
    params = params if params is not None else [Tensor(x.copy(), requires_grad=True) for x in init]
    opt = opt if opt is not None else CLASSES[name](params, **kw)
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = Tensor(g.copy())
        opt.step()
    return params, opt


def run_torch(torch, name, kw, init, grads):
    """The same steps with torch's optimizer: (its parameters, the optimizer)."""
    tparams = [torch.tensor(x.copy(), requires_grad=True) for x in init]
    topt = getattr(torch.optim, name)(tparams, **kw)
    for step_grads in grads:
        for p, g in zip(tparams, step_grads):
            p.grad = torch.tensor(g)
        topt.step()
    return tparams, topt


# ----- against the formulas -------------------------------------------------------------------
@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_matches_formula_step_by_step(name, kw):
    init, grads = make_problem(1, 6)
    params = [Tensor(x.copy(), requires_grad=True) for x in init]
    opt = CLASSES[name](params, **kw)
    for k in range(1, len(grads) + 1):
        run(name, kw, init, grads[k - 1:k], opt=opt, params=params)
        for i, p in enumerate(params):
            expected = REFS[name](init[i], [g[i] for g in grads[:k]], **kw)
            np.testing.assert_allclose(p.data, expected, rtol=1e-12, atol=1e-14,
                                       err_msg=f"{name} parameter {i} after step {k}")


@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_matches_torch(name, kw, torch):
    init, grads = make_problem(2, 20)
    params, _ = run(name, kw, init, grads)
    tparams, topt = run_torch(torch, name, kw, init, grads)
    for i, (p, tp) in enumerate(zip(params, tparams)):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-6, atol=1e-12,
                                   err_msg=f"{name} parameter {i} after 20 steps")


LERP_CONFIGS = [  # a moving average's weight at or above 0.5 (beta1 or alpha at or below 0.5)
    ("Adam", dict(lr=0.5, betas=(0.0, 0.999))),
    ("Adam", dict(lr=0.1, betas=(0.3, 0.9), amsgrad=True)),
    ("AdamW", dict(lr=0.1, betas=(0.5, 0.99))),
    ("RMSprop", dict(lr=0.01, alpha=0.1, centered=True)),
    ("RMSprop", dict(lr=0.01, alpha=0.5, centered=True, momentum=0.5)),
]


@pytest.mark.parametrize("name,kw", LERP_CONFIGS,
                         ids=[f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items())}"
                              for n, kw in LERP_CONFIGS])
def test_float32_moving_averages_round_as_torchs_lerp(name, kw, torch):
    # torch's lerp_ computes end - (end - start) * (1 - w) for a weight w >= 0.5; the other
    # spelling differs in float32's last bits, and the steps carry the difference on
    init, grads = make_problem(7, 20, np.float32)
    scales = np.where(np.arange(20) % 2 == 0, 1e3, 1e-3).astype(np.float32)  # g - m cancels
    grads = [[g * s for g in step] for step, s in zip(grads, scales)]
    params, opt = run(name, kw, init, grads)
    tparams, topt = run_torch(torch, name, kw, init, grads)
    key = "exp_avg" if name.startswith("Adam") else "grad_avg"
    for i, (p, tp) in enumerate(zip(params, tparams)):
        np.testing.assert_allclose(opt.state_dict()["state"][i][key],
                                   topt.state_dict()["state"][i][key].numpy(), rtol=1e-6,
                                   atol=1e-9, err_msg=f"{name} {key} {i} after 20 steps")
        # (a few float32 ulps stay: torch's addcmul/addcdiv kernels fuse multiply and add)
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=f"{name} parameter {i} after 20 steps")


# ----- state dict round trip ------------------------------------------------------------------
def _file_round_trip(state_dict, tmp_path):
    save_checkpoint(tmp_path / "optim.npz", {"optimizer": state_dict})
    return load_checkpoint(tmp_path / "optim.npz")["optimizer"]


@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_state_dict_round_trip_continues_identically(name, kw, tmp_path):
    init, grads = make_problem(3, 10)
    params, opt = run(name, kw, init, grads[:5])
    saved = opt.state_dict()
    restored_sd = _file_round_trip(saved, tmp_path)
    run(name, kw, init, grads[5:], opt=opt, params=params)  # must not alter `saved`

    fresh, _ = run(name, kw, init, grads[:5])  # the weights of step 5, on new tensors
    other = CLASSES[name](fresh, lr=123.0)  # hyperparameters come from the state dict
    other.load_state_dict(restored_sd)
    assert other.param_groups[0]["lr"] == kw["lr"]
    run(name, kw, init, grads[5:], opt=other, params=fresh)
    for p, q in zip(fresh, params):
        np.testing.assert_array_equal(p.data, q.data)


def test_state_dict_is_a_copy_with_indices():
    init, grads = make_problem(4, 2)
    params, opt = run("Adam", {"lr": 0.1}, init, grads)
    sd = opt.state_dict()
    assert sd["param_groups"][0]["params"] == [0, 1, 2, 3]
    assert set(sd["state"]) == {0, 1, 2, 3}
    assert sd["state"][1]["step"] == 2 and sd["state"][1]["exp_avg"].shape == (2, 4)
    before = sd["state"][0]["exp_avg"].copy()
    run("Adam", {}, init, grads, opt=opt, params=params)
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"], before)


def test_file_round_trip_restores_types(tmp_path):
    init, grads = make_problem(5, 3)
    _, opt = run("Adam", dict(lr=0.01, betas=(0.8, 0.9)), init, grads)
    back = _file_round_trip(opt.state_dict(), tmp_path)
    group = back["param_groups"][0]
    assert group["betas"] == (0.8, 0.9) and group["params"] == [0, 1, 2, 3]
    assert group["amsgrad"] is False and back["state"][2]["step"] == 3
    np.testing.assert_array_equal(back["state"][2]["exp_avg_sq"], opt.state_dict()["state"][2]["exp_avg_sq"])


# ----- mechanics ------------------------------------------------------------------------------
def test_float32_stays_float32_and_update_is_in_place():
    init, grads = make_problem(6, 3, dtype=np.float32)
    params = [Tensor(x.copy(), requires_grad=True) for x in init]
    arrays = [p.data for p in params]
    _, opt = run("Adam", dict(lr=0.1), init, grads, params=params)
    for p, a in zip(params, arrays):
        assert p.data is a and p.dtype == np.float32
    assert all(v.dtype == np.float32 for s in opt.state.values() for v in s.values()
               if isinstance(v, np.ndarray))
    expected = ref_adam(init[1].astype(np.float64), [g[1].astype(np.float64) for g in grads], lr=0.1)
    np.testing.assert_allclose(params[1].data, expected, rtol=1e-5)


def test_float64_gradient_on_float32_parameter_keeps_dtype():
    p = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    p.grad = Tensor(np.full(3, 2.0))
    SGD([p], lr=0.5).step()
    assert p.dtype == np.float32
    np.testing.assert_array_equal(p.data, np.zeros(3, dtype=np.float32))


def test_parameters_without_grad_are_skipped_and_grads_untouched():
    a = Tensor(np.ones(2), requires_grad=True)
    b = Tensor(np.ones(2), requires_grad=True)
    opt = SGD([a, b], lr=0.1, momentum=0.9, weight_decay=0.5)
    a.grad = Tensor(np.array([1.0, 2.0]))
    opt.step()
    np.testing.assert_array_equal(b.data, [1.0, 1.0])
    assert b not in opt.state or not opt.state[b]
    np.testing.assert_array_equal(a.grad.data, [1.0, 2.0])
    np.testing.assert_allclose(a.data, [1 - 0.1 * 1.5, 1 - 0.1 * 2.5])


def test_zero_grad():
    a = Tensor(np.ones(2), requires_grad=True)
    opt = Adam([a])
    a.grad = Tensor(np.ones(2))
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(a.grad.data, [0.0, 0.0])
    opt.zero_grad()
    assert a.grad is None


def test_minimises_a_quadratic_through_autograd():
    target = np.array([1.0, -2.0, 3.0])
    w = Tensor(np.zeros(3), requires_grad=True)
    opt = Adam([w], lr=0.1)
    for _ in range(300):
        opt.zero_grad()
        loss = ((w - Tensor(target)) ** 2).sum()
        loss.backward()
        opt.step()
    np.testing.assert_allclose(w.data, target, atol=1e-3)


def test_param_groups_take_their_own_hyperparameters():
    a = Tensor(np.ones(2), requires_grad=True)
    b = Tensor(np.ones(2), requires_grad=True)
    opt = SGD([{"params": [a]}, {"params": b, "lr": 0.5, "momentum": 0.9}], lr=0.1)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[0]["momentum"] == 0
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["momentum"] == 0.9
    a.grad = Tensor(np.ones(2))
    b.grad = Tensor(np.ones(2))
    opt.step()
    np.testing.assert_allclose(a.data, [0.9, 0.9])
    np.testing.assert_allclose(b.data, [0.5, 0.5])
    assert set(opt.state_dict()["state"]) == {1}  # plain SGD keeps no state
    assert opt.state_dict()["param_groups"][1]["params"] == [1]


def test_closure_loss_is_returned():
    a = Tensor(np.ones(2), requires_grad=True)
    opt = SGD([a], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (a * a).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == 2.0
    np.testing.assert_allclose(a.data, [0.8, 0.8])


# ----- bad input ------------------------------------------------------------------------------
@pytest.mark.parametrize("make,match", [
    (lambda ps: SGD(ps, lr=-0.1), r"SGD: invalid lr=-0.1 \(expected lr >= 0\)"),
    (lambda ps: SGD(ps, lr=0.1, momentum=-1), r"invalid momentum=-1"),
    (lambda ps: SGD(ps, lr=0.1, nesterov=True), r"Nesterov momentum requires momentum > 0 and dampening = 0"),
    (lambda ps: SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), r"dampening=0.1"),
    (lambda ps: Adam(ps, lr=float("nan")), r"Adam: invalid lr=nan"),
    (lambda ps: Adam(ps, betas=(0.9, 1.0)), r"invalid betas\[1\]=1.0 \(expected 0.0 <= betas\[1\] < 1.0\)"),
    (lambda ps: Adam(ps, betas=(0.9,)), r"betas must be a pair"),
    (lambda ps: AdamW(ps, eps=-1e-8), r"AdamW: invalid eps"),
    (lambda ps: Adagrad(ps, lr_decay=-1), r"Adagrad: invalid lr_decay=-1"),
    (lambda ps: RMSprop(ps, alpha=-0.5), r"RMSprop: invalid alpha=-0.5"),
    (lambda ps: RMSprop(ps, weight_decay=-0.5), r"invalid weight_decay=-0.5"),
    (lambda ps: SGD([{"params": ps, "lr": -1.0}], lr=0.1), r"invalid lr=-1.0"),
    (lambda ps: SGD([], lr=0.1), r"SGD got an empty parameter list"),
    (lambda ps: SGD(ps + ps, lr=0.1), r"appear more than once"),
    (lambda ps: SGD([{"params": ps}, {"params": ps[:1]}], lr=0.1), r"appear more than once"),
    (lambda ps: SGD([{"lr": 0.1}], lr=0.1), r"must have a 'params' key"),
    (lambda ps: SGD([ps[0] * 2], lr=0.1), r"non-leaf"),
    (lambda ps: Adam(ps).add_param_group({"params": [Tensor(np.ones(1), requires_grad=True)],
                                          "differentiable": True}),
     r"differentiable=True is not supported"),
])
def test_bad_hyperparameters_and_params_raise_value_error(make, match):
    ps = [Tensor(np.ones(2), requires_grad=True), Tensor(np.ones(3), requires_grad=True)]
    with pytest.raises(ValueError, match=match):
        make(ps)


@pytest.mark.parametrize("make,match", [
    (lambda: SGD(Tensor(np.ones(2), requires_grad=True), lr=0.1), r"got a single Tensor; wrap it in a list"),
    (lambda: SGD([np.ones(2)], lr=0.1), r"parameters must be Tensors, got ndarray at position 0"),
    (lambda: SGD([Tensor(np.arange(3))], lr=0.1), r"parameter 0 has dtype int64"),
    (lambda: SGD([Tensor(np.ones(2), requires_grad=True)], lr="0.1"), r"lr must be a number, got str"),
    # PyTorch's positional order puts weight_decay before nesterov: a number there is refused
    (lambda: SGD([Tensor(np.ones(2), requires_grad=True)], 0.1, 0.9, 0, 0.01),
     r"SGD: nesterov must be a bool, got float 0.01.*weight_decay= by keyword"),
    (lambda: Adam([Tensor(np.ones(2), requires_grad=True)], maximize=1), r"maximize must be a bool"),
    (lambda: Adam([Tensor(np.ones(2), requires_grad=True)], amsgrad="yes"), r"amsgrad must be a bool"),
    (lambda: RMSprop([Tensor(np.ones(2), requires_grad=True)], centered=0), r"centered must be a bool"),
    # as PyTorch: a set's order changes between runs, and the state dict numbers parameters
    (lambda: SGD([{"params": {Tensor(np.ones(2), requires_grad=True)}}], lr=0.1),
     r"SGD: a parameter group's params must be an ordered collection such as a list, got a set"),
    (lambda: Adam([Tensor(np.ones(1), requires_grad=True)]).add_param_group(
        {"params": frozenset([Tensor(np.ones(2), requires_grad=True)])}), r"got a set"),
])
def test_bad_types_raise_type_error(make, match):
    with pytest.raises(TypeError, match=match):
        make()


def test_gradient_shape_mismatch_names_both_shapes():
    p = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"grad of shape \(3, 2\) does not fit this tensor of "
                                         r"shape \(2, 3\)"):
        p.grad = Tensor(np.ones((3, 2)))  # (refused where it is set, as PyTorch)
    p.grad = Tensor(np.ones((2, 3)))
    p.grad.data = np.ones((3, 2))  # (its array replaced behind its back: the step says so)
    with pytest.raises(RuntimeError, match=r"gradient of shape \(3, 2\) does not match its parameter of shape \(2, 3\)"):
        Adam([p]).step()


def _trained(name, kw, shapes):
    params = [Tensor(np.ones(s), requires_grad=True) for s in shapes]
    opt = CLASSES[name](params, **kw)
    for p in params:
        p.grad = Tensor(np.ones(p.shape))
    opt.step()
    return opt


@pytest.mark.parametrize("target,match", [
    (lambda: _trained("Adam", {}, [(2,)]), r"has 2 parameter groups but this optimizer has 1"),
    (lambda: _trained("Adam", {}, [(2,), (3,), (4,)]), r"group 0 has 2 parameters in the state dict but 3"),
    (lambda: _trained("Adam", {}, [(3,), (2,)]), r"state 'exp_avg' of parameter 0 has shape \(2,\) but the parameter has shape \(3,\)"),
    (lambda: _trained("SGD", dict(lr=0.1, momentum=0.9), [(2,), (3,)]), r"has entries \['exp_avg', 'exp_avg_sq', 'step'\] but SGD with these settings keeps \['momentum_buffer'\]"),
])
def test_load_state_dict_refuses_mismatches_without_changing_anything(target, match):
    source = _trained("Adam", dict(lr=0.5), [(2,), (3,)])
    sd = source.state_dict()
    if "2 parameter groups" in match:
        sd["param_groups"].append(dict(sd["param_groups"][0], params=[]))
    opt = target()
    before = opt.state_dict()
    with pytest.raises(ValueError, match=match):
        opt.load_state_dict(sd)
    after = opt.state_dict()
    assert after["param_groups"] == before["param_groups"]
    assert set(after["state"]) == set(before["state"])


def test_load_state_dict_rejects_non_state_dicts_and_bad_values():
    opt = _trained("Adam", {}, [(2,)])
    with pytest.raises(ValueError, match=r"expects a dict with keys 'state' and 'param_groups', got keys \['weight'\]"):
        opt.load_state_dict({"weight": np.ones(2)})
    sd = opt.state_dict()
    sd["state"][5] = sd["state"].pop(0)
    with pytest.raises(ValueError, match=r"state for parameter 5 but the optimizer has 1 parameters"):
        opt.load_state_dict(sd)
    sd = opt.state_dict()
    sd["param_groups"][0]["lr"] = -3.0
    with pytest.raises(ValueError, match=r"invalid lr=-3.0"):
        opt.load_state_dict(sd)


@pytest.mark.parametrize("name,kw", [("SGD", dict(lr=0.1, maximize=True)),
                                     ("Adam", dict(lr=0.1, maximize=True)),
                                     ("AdamW", dict(lr=0.1, weight_decay=0.3)),
                                     ("RMSprop", dict(lr=0.1, maximize=True))])
def test_torchs_state_dict_loads_with_its_flags_and_steps_the_same(name, kw, torch):
    """maximize, decoupled_weight_decay and PyTorch's implementation switches (foreach,
    fused, capturable) come over; each update then equals torch's."""
    t = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    topt = getattr(torch.optim, name)([t], **kw)
    cls = Adam if name == "AdamW" else CLASSES[name]  # AdamW's flag turns Adam into AdamW
    p = Tensor(np.zeros(2), requires_grad=True)
    opt = cls([p], lr=0.5)
    opt.load_state_dict(topt.state_dict())
    assert {k: opt.param_groups[0][k] for k in kw} == kw
    for g in ([1.0, -2.0], [0.5, 0.25]):
        t.grad, p.grad = torch.tensor(g, dtype=torch.float64), Tensor(np.array(g))
        topt.step()
        opt.step()
    np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-12)


def test_scalar_state_of_the_wrong_type_is_refused():
    init, grads = make_problem(5, 2)
    _, opt = run("Adam", dict(lr=0.01), init, grads)
    sd = opt.state_dict()
    sd["state"][0]["step"] = "three"
    with pytest.raises(ValueError, match=r"state 'step' of parameter 0 is a str, expected a number"):
        opt.load_state_dict(sd)
