"""Steps the compiled path must not get wrong: each either compiles to the eager loop's
numbers or runs on the eager loop, with no trace of the two recorded steps left behind
(found by a review of the recorder; each case once gave other numbers or an error)."""
from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, scan
from tinygrad_rnn.compiled import scan_info


def _both(step, xs, state=None, params=()):
    """[(outputs, final state, parameter grads)] for compiled=False, then compiled=True,
    and the compiled call's scan_info(). xs and state are made anew for each run from
    arrays (a step may change them in place)."""
    res = []
    for compiled in (False, True):
        for p in params:
            p.grad = None
        st = None if state is None else Tensor(np.array(state))
        outs, final = scan(step, Tensor(np.array(xs)), st, compiled=compiled)
        if params:
            (outs * outs).sum().backward()
        res.append((outs.data.copy(), final.data.copy(),
                    [None if p.grad is None else p.grad.data.copy() for p in params]))
    return res, dict(scan_info())


def _equal(res):
    (o1, f1, g1), (o2, f2, g2) = res
    np.testing.assert_array_equal(o1, o2)
    np.testing.assert_array_equal(f1, f2)
    for a, b in zip(g1, g2):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-300)


XS = np.random.default_rng(0).standard_normal((6, 2, 3))


@pytest.mark.parametrize("how", ["*=", "mul_", "setitem", "clamp_"])
def test_an_in_place_change_inside_the_step_runs_eagerly_and_only_once(how):
    w = Tensor(np.eye(3) * 0.9)

    def step(x, h):
        h = x if h is None else x + h @ w
        if how == "*=":
            h *= 0.5
        elif how == "mul_":
            h.mul_(0.5)
        elif how == "setitem":
            h[:, 0] = 0.25
        else:
            h.clamp_(-0.3, 0.3)
        return h
    res, info = _both(step, XS)
    _equal(res)
    assert info["path"] == "eager" and "in place" in info["why"]


@pytest.mark.parametrize("then_read", [False, True])
def test_an_in_place_change_of_the_carried_state_is_not_made_by_the_recording(then_read):
    def step(x, h):
        h.mul_(0.5)  # on the state it was given: the recording must not have done it first
        if then_read and h.sum().item() > 100:  # (never true)
            pass
        return x + h
    res, info = _both(step, XS[:, 0], state=np.ones(3))
    _equal(res)
    assert info["path"] == "eager"


def test_python_random_inside_a_step_runs_eagerly_from_the_same_draws():
    def step(x, h):
        return x + (0.0 if h is None else h * random.random())
    out = []
    for compiled in (False, True):
        random.seed(0)
        out.append(scan(step, Tensor(XS[:, 0]), None, compiled=compiled)[1].data)
    np.testing.assert_array_equal(out[0], out[1])
    assert scan_info()["path"] == "eager" and "random" in scan_info()["why"]


def test_a_step_that_takes_a_gradient_inside_runs_as_the_loop_does():
    def step(x, h):  # one gradient step on an energy at every time step
        h = Tensor(np.zeros(3) if h is None else h.data, requires_grad=True)
        (g,) = tg.grad(((h - x) ** 2).sum(), [h])
        return h - 0.1 * g
    res, info = _both(step, XS[:, 0])
    _equal(res)
    assert info["path"] == "eager"  # (it builds a tensor from the state's data)


def test_a_step_whose_error_is_real_raises_it_from_the_eager_loop():
    w = Tensor(np.ones((4, 4)))

    def step(x, h):
        return x if h is None else x + h @ w  # (2, 3) @ (4, 4): a shape error at step 1
    with pytest.raises(ValueError, match="matmul"):
        scan(step, Tensor(XS), None)


def test_a_step_that_returns_its_input():
    res, info = _both(lambda x, h: x, XS, state=np.zeros((2, 3)))
    _equal(res)
    assert info["path"] == "compiled"


def test_a_step_that_returns_a_function_of_its_input_only():
    w = Tensor(np.eye(3) * 0.5, requires_grad=True)
    res, info = _both(lambda x, h: (x @ w).tanh(), XS, state=np.zeros((2, 3)),
                      params=(w,))
    _equal(res)
    assert info["path"] == "compiled"


def test_an_input_broadcast_inside_the_step():
    w = Tensor(np.eye(3) * 0.5, requires_grad=True)
    xs = np.random.default_rng(1).standard_normal((5, 2, 1))
    res, info = _both(lambda x, h: (x.expand(2, 3) + h @ w).tanh(), xs,
                      state=np.zeros((2, 3)), params=(w,))
    _equal(res)
    assert info["path"] == "compiled"


def test_expand_keeps_a_size_given_as_minus_one():
    x = Tensor(np.arange(2.0).reshape(2, 1), requires_grad=True)
    y = x.expand(-1, 3)
    np.testing.assert_array_equal(y.data, np.broadcast_to(x.data, (2, 3)))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[3.0], [3.0]])
    with pytest.raises(ValueError, match="-1"):
        x.expand(-1, 2, 3)  # a new leading axis has no size to keep


@pytest.mark.parametrize("case", ["hoisted x @ U(1,3,3)", "recurrent h @ W(5,3,3)",
                                  "recurrent h @ W(2,3,3)"])
def test_a_product_with_a_stacked_right_operand(case):
    r = np.random.default_rng(0)
    xs, h0 = r.standard_normal((6, 2, 3)), r.standard_normal((2, 3))
    if case.startswith("hoisted"):
        P = Tensor(r.standard_normal((1, 3, 3)), requires_grad=True)

        def step(x, h):
            return ((x @ P)[0] + h).tanh()
    else:
        n = 5 if "5," in case else 2
        P = Tensor(r.standard_normal((n, 3, 3)) * 0.3, requires_grad=True)

        def step(x, h):
            return (x + (h @ P).sum(0)).tanh()
    res, info = _both(step, xs, state=h0, params=(P,))
    _equal(res)


def test_a_0d_tensor_made_from_the_data_is_never_frozen():
    w = Tensor(np.eye(2) * 0.5, requires_grad=True)

    def step(x, h):
        h = x if h is None else x + h @ w
        return h * Tensor(np.float64(x.data[0, 0] != 0))  # a 0-d mask read from the data
    x = np.ones((6, 1, 2))
    x[4:] = 0.0  # steps 1 and 2 agree; step 4 does not
    res, info = _both(step, x, params=(w,))
    _equal(res)
    assert not res[1][1].any()
    assert info["path"] == "eager"


def test_python_numbers_in_the_step_are_still_constants():
    w = Tensor(np.eye(3) * 0.5, requires_grad=True)

    def step(x, h):
        h = x if h is None else x + 0.5 * (h @ w) - 1
        return (2.0 - h).tanh() * 0.25 + h.clip(-1.0, 1.0) ** 2
    res, info = _both(step, XS, params=(w,))
    _equal(res)
    assert info["path"] == "compiled"


def test_a_parameter_whose_only_use_is_discarded_gets_no_gradient():
    w = Tensor(np.eye(3) * 0.5, requires_grad=True)
    v = Tensor(np.eye(3), requires_grad=True)

    def step(x, h):
        h = x if h is None else x + h @ w
        _ = h @ v  # computed, then dropped
        return h.tanh()
    res, info = _both(step, XS, params=(w, v))
    _equal(res)
    assert info["path"] == "compiled" and res[1][2][1] is None


@pytest.mark.parametrize("sliced", [False, True])
def test_a_hoisted_value_read_by_several_recurrent_ops_gets_every_gradient(sliced):
    """Its row's first gradient of a step is copied in, the others added: with two and three
    readers (one of them through slices, whose gradients are IndexedGrads)."""
    w = Tensor(np.eye(3) * 0.5, requires_grad=True)

    def step(x, h):
        if h is None:
            return x.tanh()
        a = x * h + (h @ w)
        if sliced:
            a = a + (x[:, :2] * h[:, 1:]).sum(-1, keepdims=True)
        return (a - x * a).tanh()
    res = []
    for compiled in (False, True):
        w.grad = None
        xs = Tensor(np.array(XS), requires_grad=True)
        outs, _ = scan(step, xs, None, compiled=compiled)
        (outs * outs).sum().backward()
        res.append((outs.data, xs.grad.data, w.grad.data))
    assert scan_info()["path"] == "compiled"
    np.testing.assert_array_equal(res[0][0], res[1][0])
    for a, b in zip(res[0][1:], res[1][1:]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    source = scan_info()["source"]["backward"]
    assert "w0 = False" in source and "write_to" in source


def test_a_step_that_keeps_python_state_runs_once_per_step_when_it_is_not_static():
    calls = []

    def step(x, h):  # a counter in Python, used in the numbers: another constant each step
        calls.append(None)
        y = x * (1.0 / len(calls))
        return y if h is None else y + 0.5 * h
    res = []
    for compiled in (False, True):
        calls.clear()
        res.append(scan(step, Tensor(XS), None, compiled=compiled)[0].data)
        assert len(calls) == len(XS)  # every step once, in order, on either path
    assert scan_info()["path"] == "eager"
    np.testing.assert_array_equal(res[0], res[1])


def test_a_static_step_runs_as_python_for_the_first_three_steps_only():
    """The compiled path runs steps 0, 1 and 2 as written (1 and 2 recorded on the way) and
    replays the rest: a side effect in the step happens three times (README)."""
    calls = []
    w = Tensor(np.eye(3) * 0.5)

    def step(x, h):
        calls.append(None)
        return x.tanh() if h is None else (x + h @ w).tanh()
    scan(step, Tensor(XS), None)
    assert scan_info()["path"] == "compiled" and len(calls) == 3


def test_numpy_scalars_written_in_the_step_are_constants_too():
    w = Tensor(np.eye(3) * 0.5, requires_grad=True)
    res, info = _both(lambda x, h: x if h is None else x + (h @ w) * np.float32(0.5), XS,
                      params=(w,))
    _equal(res)
    assert info["path"] == "compiled"


@pytest.mark.parametrize("bad", [1, 2])
def test_an_anomaly_in_the_input_of_a_recorded_step_names_its_time_step(bad):
    w = Tensor(np.eye(3) * 0.5)
    x = np.array(XS)
    x[bad, 0, 0] = np.nan
    with tg.detect_anomaly(), pytest.raises(tg.anomaly.AnomalyError,
                                            match=f"at time step {bad} of a sequence"):
        scan(lambda x, h: x if h is None else (x + h @ w).tanh(), Tensor(x))


def _pieces_step(w, pieces):
    """A step reading its own (2, n) product back through the basic indices `pieces`."""
    def step(x, h):
        if h is None:
            return x.tanh()
        a = h @ w
        extra = 0
        for k, index in enumerate(pieces):
            extra = extra + a[index].sum() * (0.5 + 0.25 * k)
        return (x + 0.1 * extra).tanh()
    return step


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 7), cuts=st.lists(st.tuples(st.integers(0, 7), st.integers(1, 8)),
                                          min_size=1, max_size=4), rows=st.booleans())
def test_gradients_through_slices_of_a_step_value_are_the_loops(n, cuts, rows):
    """The slices of one step value give their gradients straight into its buffer where
    they are disjoint (a copy, not an add into zeros), added where they overlap; pieces
    that are never read stay zero. Either way the numbers are the eager loop's."""
    w = Tensor(np.random.default_rng(n).standard_normal((3, n)), requires_grad=True)
    pieces = [(slice(None), slice(a, a + b)) for a, b in cuts]
    if rows:
        pieces.append(0)  # a whole row by an int: overlaps every column slice
    res, info = _both(_pieces_step(w, pieces), XS, params=(w,))
    _equal(res)
    assert info["path"] == "compiled"


@pytest.mark.parametrize("pieces, tiled", [
    ([(slice(None), slice(0, 2)), (slice(None), slice(2, 4)), (Ellipsis, slice(4, None))], True),
    ([(slice(None), slice(0, 2)), (slice(None), slice(4, 6))], True),  # columns 2-3 unread
    ([0, (1, slice(None, None, 2)), (-1, 5)], True),  # rows, and a negative index
    ([(slice(None), slice(0, 3)), (slice(None), slice(2, 4))], False),  # columns 2 twice
    ([(slice(None), slice(0, 3)), (slice(None), 1)], False),
    ([(slice(None), np.array([0, 2])), (slice(None), slice(3, 4))], False),  # an array index
    ([(Ellipsis, None, slice(0, 2)), (slice(None), slice(2, 4))], False),  # a new axis
    ([(np.int64(0), slice(0, 3)), (np.int64(1), slice(0, 3))], True),  # NumPy integers
])
def test_disjoint_slices_write_their_gradients_in_place(pieces, tiled):
    w = Tensor(np.random.default_rng(1).standard_normal((3, 6)), requires_grad=True)
    res, info = _both(_pieces_step(w, pieces), XS, params=(w,))
    _equal(res)
    source = info["source"]["backward"]
    assert ("disjoint slices" in source) is tiled


@pytest.mark.parametrize("use", ["outputs", "final h", "final c", "both finals"])
def test_a_parameter_that_reaches_only_unused_results_gets_no_gradient(use):
    """u feeds only the carried c; whatever the loss leaves out gets no gradient on either
    path (None, not zeros), and the rest the loop's numbers."""
    w = Tensor(np.eye(3) * 0.5, requires_grad=True)
    u = Tensor(np.ones(3) * 0.3, requires_grad=True)
    h0 = Tensor(np.full((2, 3), 0.1), requires_grad=True)
    c0 = Tensor(np.full((2, 3), 0.2), requires_grad=True)

    def step(x, state):
        h, c = state
        return (x + h @ w).tanh(), c + u * h
    res = []
    for compiled in (False, True):
        for t in (w, u, h0, c0):
            t.grad = None
        outs, (h, c) = scan(step, Tensor(XS), (h0, c0), compiled=compiled)
        loss = {"outputs": outs.sum(), "final h": h.sum(), "final c": c.sum(),
                "both finals": h.sum() + c.sum()}[use]
        loss.backward()
        res.append([None if t.grad is None else t.grad.data for t in (w, u, h0, c0)])
        assert scan_info()["path"] == ("compiled" if compiled else "eager")
    for a, b in zip(*res):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("initial", ["tensor", "pair"])
def test_a_step_that_changes_the_state_structure_is_a_clear_error(compiled, initial):
    """PyTorch's cells return (output, h) in places: here the state goes in and comes out in
    one structure, and a step that breaks it is told so at once."""
    h0 = Tensor(np.zeros((2, 3)))
    state = h0 if initial == "tensor" else (h0, h0)

    def step(x, s):
        h = (x + (s if initial == "tensor" else s[0])).tanh()
        return (h, h) if initial == "tensor" else h
    want = "a tuple of 2" if initial == "tensor" else "a Tensor"
    with pytest.raises(TypeError, match=f"scan: the step at time 0 got .* returned {want}"):
        scan(step, Tensor(XS), state, compiled=compiled)


@pytest.mark.parametrize("compiled", [False, True])
def test_states_with_nested_tuples_or_python_values_still_run(compiled):
    """The structure check looks at the top level and the output only: what the other
    elements hold is the step's own business (a nested tuple, a Python counter)."""
    xs, h0 = Tensor(XS), Tensor(np.zeros((2, 3)))
    outs, (h, (c,)) = scan(lambda x, s: ((s[0] + x).tanh(), (s[1][0] + x,)), xs,
                           (h0, (h0,)), compiled=compiled)
    assert outs.shape == (6, 2, 3) and c.shape == (2, 3)
    outs, (h, n) = scan(lambda x, s: ((s[0] + x).tanh(), s[1] + 1), xs, (h0, 0),
                        compiled=compiled)
    assert n == 6


def test_ops_of_another_thread_while_a_step_is_recorded_are_not_on_its_tape():
    """The recorder watches the thread that records: another thread's ops, value reads and
    in-place changes while steps 1 and 2 are recorded (a batch being prepared beside the
    training loop) neither land on the tape nor send the scan to the eager loop."""
    import threading
    w = Tensor(np.full(3, 0.5), requires_grad=True)
    go, done, stop = threading.Event(), threading.Event(), [False]

    def other() -> None:
        junk = Tensor(np.ones(3))
        while not stop[0]:
            if go.wait(0.05):
                go.clear()
                (junk * 2).exp().sum().item()
                junk.add_(1)
                done.set()
    worker = threading.Thread(target=other, daemon=True)
    worker.start()

    def step(x, h):
        done.clear()
        go.set()  # the other thread works while this step runs
        assert done.wait(10)
        return (x + w * h).tanh()
    try:
        xs = Tensor(np.linspace(-1, 1, 18).reshape(6, 3))
        out, _ = scan(step, xs, Tensor(np.zeros(3)))
        info = scan_info()
    finally:
        stop[0] = True
        worker.join(10)
    assert info["path"] == "compiled", info["why"]
    h, outs = Tensor(np.zeros(3)), []
    for t in range(6):
        h = (xs[t] + w * h).tanh()
        outs.append(h)
    np.testing.assert_array_equal(out.data, tg.stack(outs).data)


# x at steps 1 and 2 is the same, and at the later steps another: a value computed from it
# (an index, a mask, a bound) agrees at the two recorded steps and changes after them. (An
# index of one element compared equal even before options holding arrays compared as
# arrays: most of these indices have one.)
_A = np.array([[1.0, -0.5, 2.0]])
_SAME_THEN_NOT = np.stack([_A, _A, _A, -_A, -_A[:, ::-1], -_A])

_MADE_IN_THE_STEP = {
    "gather, an index from a mask": lambda x, h: h.gather(
        1, (x[:, :1] > 0).astype(np.int64) * 2) + x,
    "getitem, an integer index": lambda x, h: h[:, (x[0, :1] > 0).astype(np.int64)] + x,
    "getitem, a boolean mask": lambda x, h: h * 0.5 + h[:, x[0] * x[0, ::-1] > 0].sum() + x,
    "index_select": lambda x, h: h.index_select(1, (x[0, :1] > 0).astype(np.int64)) + x,
    "scatter_add": lambda x, h: h.scatter_add(1, (x[:, :1] < 0).astype(np.int64),
                                              x[:, :1]) * 0.5,
    "topk": lambda x, h: h * 0.5 + x.topk(1, 1).values,
    "sort": lambda x, h: h * 0.5 + x.sort(1).values,
    "argmax": lambda x, h: h.gather(1, x.argmax(1, keepdims=True)) + x,
    "argmin": lambda x, h: h.gather(1, x.argmin(1, keepdims=True)) + x,
    "clip to a bound of the step": lambda x, h: (h + x).clip(-0.5, x.max() * 0.5),
    "tensor_split at a section of the step": lambda x, h: h * 0.5 + h.tensor_split(
        (x[0, :1] > 0).astype(np.int64) + 1, 1)[0].sum(1, keepdims=True),
}


@pytest.mark.parametrize("how", sorted(_MADE_IN_THE_STEP))
def test_an_index_or_option_computed_in_the_step_is_never_frozen(how):
    """An op option made from the step's values (an index tensor made in the step turned
    into an array, the order sort/topk/argmax read from the values, a clip bound read into
    Python) was taken for a constant of the code wherever steps 1 and 2 happened to agree,
    and the replay froze it: other numbers from step 3 on. Such a step runs eagerly."""
    step = _MADE_IN_THE_STEP[how]
    h0 = np.array([[0.3, -0.2, 0.9]])
    res, info = _both(step, _SAME_THEN_NOT, h0)
    assert info["path"] == "eager", info
    _equal(res)


def test_an_index_array_written_in_the_step_compiles():
    """Options holding an array (a gather's index written in the step, a new array at each
    step) compare by value: they once always differed (a dict of arrays compared with ==),
    sending the step to the eager loop."""
    w = Tensor(np.full((2, 3), 0.5), requires_grad=True)

    def step(x, h):
        return (x + w * h.gather(1, np.array([[2, 0, 1], [1, 1, 0]]))
                + h[:, np.array([1, 2, 0])]).tanh()
    res, info = _both(step, XS, np.zeros((2, 3)), [w])
    assert info["path"] == "compiled", info["why"]
    _equal(res)


def test_a_value_read_by_an_array_index_and_by_another_op_takes_its_gradient():
    """A step value read by a GetItem with an array index and by another op: the backward
    raised ValueError (the readers' indices were searched with `in`, which compares an
    array element by element)."""
    w = Tensor(np.full(3, 0.5), requires_grad=True)
    rows = np.array([1, 0])

    def step(x, h):
        return (x + h[rows] * w + h.sum(0)).tanh()
    res, info = _both(step, XS, np.zeros((2, 3)), [w])
    assert info["path"] == "compiled", info["why"]
    _equal(res)
