"""The compiled sequence path: record one step, check it is static, replay it over time.

`scan(step, xs, state)` runs `state = step(xs[t], state)` for every t, like a Python loop,
and gives the same numbers, but as a handful of graph nodes instead of a dozen per step:

1. **Record.** Steps 0, 1 and 2 run as the loop runs them (a cell may treat `state=None`
   its own way at step 0), with the graph, and steps 1 and 2 have every op recorded on a
   tape on the way: which Function, and where each input comes from (the step input, the
   carried state, an earlier op of the step, or a tensor from outside: a parameter or a
   constant). So every step runs once, whichever path follows.
2. **Check.** Both tapes must be the same (same ops, same wiring, same options, constants of
   equal value: numbers written in the code; a tensor made inside the step is refused),
   every op must declare how it batches over a leading time axis (`Function.over_time`),
   nothing may read values into Python (`item()`, `numpy()`, `bool()`, and the methods
   that work on the values outside the graph: sort, topk, argmax...), no op option may be
   a value of the step (an index tensor made in the step, given to gather as an array),
   and nothing may draw random numbers or change a tensor in place. Otherwise the loop goes on from step 3: the same
   numbers, the same draws and side effects, slower. Steps 3.. are replayed from the tape:
   Python code in the step (a counter, a list it appends to) runs for steps 0-2 only.
3. **Split.** Ops that depend only on parameters run once (ordinary graph nodes). Ops that
   depend on the step input but not on the state are *hoisted*: they run once over all
   steps, on inputs with a leading time axis (the input projection becomes one GEMM).
   The rest, the recurrence, becomes one `Scan` node.
4. **Replay.** `Scan.forward` runs the recurrent ops step after step on plain ndarrays (no
   Tensor, no graph node per op); `Scan.backward` runs their backwards newest step first.
   Gradients of parameters used by an op in every step are taken in one call over all steps
   after the loop when the op allows (a product's weight gradient is one GEMM over T*B rows).
"""
from __future__ import annotations

import random
import threading
from typing import Any, Callable

import numpy as np

from tinygrad_rnn import anomaly, autograd, function, parallel, replay
from tinygrad_rnn.function import Function, no_grad
from tinygrad_rnn.methods.movement import stack
from tinygrad_rnn.tensor import Tensor, get_rng

# where an op's input comes from: ("x",) the step input, ("s", i) state element i,
# ("o", m, k) output k of recurrent op m, ("h", j) hoisted tensor j (sliced per step),
# ("c", j) captured tensor j (a parameter, a constant, or an op that runs once)


class NotStatic(Exception):
    """The step cannot be compiled; the message says why (the eager loop runs instead)."""


class _Recorder(function.Observer):
    """Keeps every op applied; a tensor's value read into Python taints the tape. Only what
    the recording thread does counts: another thread's ops are none of the step's."""

    def __init__(self) -> None:
        self.ops: list = []
        self.tainted: str | None = None
        self.numbers: dict = {}  # id -> the 0-d tensors made from numbers written in the code
        self.where: list = []  # per op (line, module): _WatchingRecorder
        self.thread = threading.get_ident()

    def number(self, t: Tensor) -> None:
        if threading.get_ident() == self.thread:
            self.numbers[id(t)] = t

    def after(self, cls: type, ctx: Function, parents: tuple, kwargs: dict, result: Any):
        if threading.get_ident() == self.thread:
            self.ops.append((cls, ctx, parents, kwargs, result))

    def read(self, how: str) -> None:
        if threading.get_ident() != self.thread:
            return
        why = (f"uses {how} (a hook must run at every step)" if how in ("register_hook",
               "retain_grad") else f"reads a tensor's value with {how}")
        self.tainted = self.tainted or why

    def modify(self, how: str) -> None:  # it happens, as in the loop: the step stays eager
        if threading.get_ident() == self.thread:
            self.tainted = self.tainted or f"changes a tensor in place ({how})"


class _WatchingRecorder(_Recorder):
    """In anomaly mode: also where each op was made (the user's line, the module), which the
    reports of the replayed steps name (once per op of a recorded step, not per step)."""

    def after(self, cls: type, ctx: Function, parents: tuple, kwargs: dict, result: Any):
        if threading.get_ident() != self.thread:
            return
        super().after(cls, ctx, parents, kwargs, result)
        self.where.append((ctx.__dict__.get("anomaly_site") or anomaly.user_line(),
                           anomaly.calling_module()))


def _structure(state: Any) -> tuple:
    """A state (Tensor or tuple of Tensors) as a tuple of Tensors."""
    if isinstance(state, Tensor):
        return (state,)
    if isinstance(state, tuple) and state and all(isinstance(s, Tensor) for s in state):
        return state
    raise NotStatic(f"a step must return a Tensor or a tuple of Tensors, got {type(state)}")


def _record(step: Callable, x: Tensor, state: Any) -> tuple:
    """One real step, as the loop would run it (graph, random draws, in-place changes and
    all), with every op applied on the tape: ((ops, numbers, what taints it, where each op
    was made), new state). An error is the loop's own error at that step."""
    rec = _WatchingRecorder() if anomaly.is_anomaly_enabled() else _Recorder()
    with function.observe(rec):
        new = step(x, state)
    return (rec.ops, rec.numbers, rec.tainted, rec.where), new


def _same_random(a: tuple, b: tuple) -> bool:
    return a[0] == b[0] and a[2] == b[2] and all(
        _same(x, y) if isinstance(x, np.ndarray) else x == y for x, y in zip(a[1], b[1]))


def _random_states() -> tuple:
    return get_rng().bit_generator.state, np.random.get_state(), random.getstate()


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and \
            a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict):  # an op's options: arrays among them compare as arrays
        return type(a) is type(b) and a.keys() == b.keys() and all(_same(v, b[k])
                                                                   for k, v in a.items())
    if isinstance(a, Tensor):  # (numbers written in the code: _Tape.matches)
        return a is b
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:
        return False


def _of_the_step(v: Any, made: set) -> bool:
    """Whether an op option holds one of the arrays in `made` (ids), or a view of one."""
    if isinstance(v, np.ndarray):
        return id(v) in made or v.base is not None and id(v.base) in made
    if isinstance(v, (tuple, list)):
        return any(_of_the_step(e, made) for e in v)
    if isinstance(v, dict):
        return any(_of_the_step(e, made) for e in v.values())
    return False


class _Tape:
    """One recorded step, wired by references instead of Tensors."""

    def __init__(self, recorded: tuple, x: Any, state: tuple, new: tuple):
        ops, self.numbers, _, self.where = recorded  # (where: [] unless in anomaly mode)
        xs = x if isinstance(x, tuple) else (x,)
        where: dict = {id(xi): ("x", i) for i, xi in enumerate(xs)}
        for i, s in enumerate(state):
            where.setdefault(id(s), ("s", i))
        self.captured: list = []  # tensors from outside the step
        self.ops: list = []  # (cls, input refs, kwargs without Tensors, keyword names, ctx)
        self.shapes: list = []  # per op: input shapes (per step)
        self.out_shapes: list = []
        self.out_dtypes: list = []
        self.multi: list = []  # per op: whether it has several outputs
        # the arrays of the step's own values (its input, the state, every op's result): an
        # op option that is one of them (an index or a mask tensor made in the step, turned
        # into an array) changes from step to step, even where steps 1 and 2 agree
        made = {id(t.data) for t in (*xs, *state)}
        made.update(id(t.data.base) for t in (*xs, *state) if t.data.base is not None)
        for m, (cls, ctx, parents, kwargs, result) in enumerate(ops):
            if cls.over_time is None:
                raise NotStatic(f"uses {cls.__name__}, which does not declare how it runs "
                                f"over a time axis (Function.over_time)")
            keyed = [k for k, v in kwargs.items() if isinstance(v, Tensor)]
            plain = {k: v for k, v in kwargs.items() if not isinstance(v, Tensor)}
            if any(_of_the_step(v, made) for v in plain.values()):
                raise NotStatic(f"gives {cls.__name__} an option (an index, a mask) made from "
                                f"a value of the step, which the replay would freeze: keep "
                                f"it a tensor input of an op (where, masked_fill), or pass "
                                f"it in xs")
            refs = tuple(self._ref(where, p) for p in parents)
            self.ops.append((cls, refs, plain, tuple(keyed), ctx))
            self.shapes.append(tuple(p.shape for p in parents))
            outs = result if isinstance(result, tuple) else (result,)
            self.out_shapes.append(tuple(o.shape for o in outs))
            self.out_dtypes.append(tuple(o.dtype for o in outs))
            self.multi.append(isinstance(result, tuple))
            for k, o in enumerate(outs):
                where[id(o)] = ("o", m, k) if isinstance(result, tuple) else ("o", m, None)
                made.add(id(o.data))
        self.new = tuple(self._ref(where, s) for s in new)
        self.new_shapes = tuple(s.shape for s in new)

    def _ref(self, where: dict, t: Tensor) -> tuple:
        r = where.get(id(t))
        if r is None:
            r = where[id(t)] = ("c", len(self.captured))
            self.captured.append(t)
        return r

    def _number(self, t: Tensor) -> bool:
        """Whether t is a number written in the step's code (the same at every step), not a
        tensor made inside the step, perhaps from the data."""
        return self.numbers.get(id(t)) is t and not t.requires_grad

    def matches(self, other: "_Tape") -> str | None:
        """None when both steps recorded the same program, else what differs."""
        if len(self.ops) != len(other.ops):
            return f"records {len(self.ops)} ops at one step and {len(other.ops)} at the next"
        for m, (a, b) in enumerate(zip(self.ops, other.ops)):
            if a[0] is not b[0] or a[1] != b[1] or a[3] != b[3] or not _same(a[2], b[2]):
                return f"differs between two steps at op {m} ({a[0].__name__})"
        if self.shapes != other.shapes or self.new != other.new \
                or self.new_shapes != other.new_shapes:
            return "changes shapes or wiring between two steps"
        for a, b in zip(self.captured, other.captured):
            if not (a is b or self._number(a) and other._number(b) and a.dtype == b.dtype and
                    _same(a.data, b.data)):
                return ("builds a tensor inside the step that is not a parameter or a number "
                        "(a value read from the data?): pass per-step values in xs")
        return None


class _Slot:
    """Stands in for an op input in a replayed ctx: backward reads only requires_grad."""

    __slots__ = ("requires_grad",)

    def __init__(self, requires_grad: bool):
        self.requires_grad = requires_grad


# ----- the plan: captured values, hoisted ops, the recurrence ------------------------------
class _Plan:
    """What Scan's forward and backward run: the recurrent ops with resolved references.

    Loop references: ("H", j) hoisted value j at the current step (the step input is one),
    ("C", j) captured value j (the same at every step), ("S", i) state element i at the
    start of the step, ("R", m, k) output k of recurrent op m (k None: its only output).
    """

    def __init__(self) -> None:
        self.ops: list = []  # [cls, refs, plain kwargs, keyword names, slots]
        self.shapes: list = []  # per recurrent op: per-step input shapes
        self.out_meta: list = []  # per recurrent op: ((shape, dtype), ...) of its outputs
        self.multi: list = []
        self.batched: dict = {}  # op -> (saved array k -> input i, slots of the batched call)
        self.new: tuple = ()  # loop references of the new state
        self.steps = 0
        self.n_prefix = 0  # outputs of the steps run before, rows at the front of the output
        self.n_hoisted = self.n_captured = 0
        self.shapes_h: list = []  # per-step shape of each hoisted value
        self.shapes_c: list = []
        self.shapes_s: list = []
        self.routes = None  # built on the first backward (needs the outputs' shapes)
        self.n_outputs: list = []
        self.slot_base: list = []
        self.sources: dict = {"forward": None, "backward": None}  # the generated replay
        self.where: list = []  # per recurrent op (line, module) of its recorded op, or []


def _run_once(cls: type, plain: dict, keyed: tuple, values: list) -> Any:
    """Apply an op to Tensors given in input order (keyword Tensors last)."""
    n = len(values) - len(keyed)
    kw = dict(plain)
    kw.update(zip(keyed, values[n:]))
    return cls.apply(*values[:n], **kw)


def _build(tape: _Tape, xs: Any, rest: list, state: tuple, prefix: list,
           tap: Any = None) -> tuple:
    """Captured-once and hoisted ops as ordinary graph nodes, then the recurrence as Scan.
    Returns (every output stacked (len(prefix) + n + 1, ...): the outputs of the steps run
    before (`prefix`), the given state's first element, then the replayed steps'; and the
    final state as a tuple)."""
    seqs = xs if isinstance(xs, tuple) else (xs,)
    hoisted: list = []
    if not anomaly.is_anomaly_enabled():
        plan, captured = _plan(tape, seqs, rest, state, hoisted, None)
    else:  # reports of the ops run once over all steps name the step, as the loop's would
        with anomaly.over_time(list(rest), hoisted, seqs) as over:
            plan, captured = _plan(tape, seqs, rest, state, hoisted, over)
        if tape.where:  # (each recurrent op's ctx is its recorded op's, until _wire)
            of = {id(op[4]): m for m, op in enumerate(tape.ops)}
            plan.where = [tape.where[of[id(op[4])]] for op in plan.ops]
    plan.n_prefix = len(prefix)
    _wire(plan, hoisted, captured, state)
    try:
        results = Scan.apply(*hoisted, *captured, *state, *prefix, plan=plan, tap=tap)
    except anomaly.AnomalyError:
        _LAST_PLAN[0] = plan  # (scan_info: the source of the replay that raised)
        raise
    _LAST_PLAN[0] = plan  # (after the forward: a scan that raised shows no source of its own)
    return results[0], tuple(results[1:])


def _plan(tape: _Tape, seqs: tuple, rest: list, state: tuple, hoisted: list,
          over: Any) -> tuple:
    """Runs the captured-once and hoisted ops (appending the hoisted values to `hoisted`):
    (the plan of the recurrent ops, the captured values); `over` (anomaly mode) is told each
    op's line and module as it runs."""
    T = seqs[0].shape[0]
    # the replayed steps, in replay order (time 3 .. T-1, or T-4 .. 0 for a reverse scan)
    index = slice(rest[0], None) if rest[-1] == T - 1 else slice(rest[0], None, -1)
    hoisted.extend(x[index] for x in seqs)
    captured: list = list(tape.captured)
    loop: dict = {("x", i): ("H", i) for i in range(len(seqs))}
    for j in range(len(captured)):
        loop[("c", j)] = ("C", j)
    for i in range(len(state)):
        loop[("s", i)] = ("S", i)
    plan = _Plan()
    for m, (cls, refs, plain, keyed, ctx) in enumerate(tape.ops):
        ins = [loop[r] for r in refs]
        srcs = [r[0] for r in ins]
        names = [None] if not tape.multi[m] else list(range(len(tape.out_shapes[m])))
        kind, kw = "C", plain
        if "R" in srcs or "S" in srcs:
            kind = "R"
        elif "H" in srcs:
            kw = cls.over_time(plain, tape.shapes[m], tuple(s == "H" for s in srcs))
            kind = "R" if kw is None else "H"
        if kind == "R":
            mr = len(plan.ops)
            for k in names:
                loop[("o", m, k)] = ("R", mr, k)
            plan.ops.append([cls, tuple(ins), plain, keyed, ctx])
            plan.shapes.append(tape.shapes[m])
            plan.out_meta.append(tuple(zip(tape.out_shapes[m], tape.out_dtypes[m])))
            plan.multi.append(tape.multi[m])
            plan.n_outputs.append(len(names))
            continue
        if over is not None and tape.where:
            over.site, over.layer = tape.where[m]
        pool = captured if kind == "C" else hoisted
        res = _run_once(cls, kw, keyed, [hoisted[j] if s == "H" else captured[j]
                                         for s, j in ins])
        for k, o in zip(names, res if isinstance(res, tuple) else (res,)):
            loop[("o", m, k)] = (kind, len(pool))
            pool.append(o)
    plan.new = tuple(loop[r] for r in tape.new)
    plan.steps = len(rest)
    plan.times = list(rest)  # the time index of each replayed step
    plan.n_hoisted, plan.n_captured = len(hoisted), len(captured)
    plan.shapes_h = [h.shape[1:] for h in hoisted]
    plan.shapes_c = [c.shape for c in captured]
    plan.shapes_s = [t.shape for t in state]
    return plan, captured


def _wire(plan: _Plan, hoisted: list, captured: list, state: tuple) -> None:
    """Which inputs of each recurrent op take a gradient (its slots), and which ops take
    the gradient of a captured value once over all steps instead of step by step."""
    grad = {("H", j): t.requires_grad for j, t in enumerate(hoisted)}
    grad.update({("C", j): t.requires_grad for j, t in enumerate(captured)})
    for m, op in enumerate(plan.ops):
        cls, refs, plain, keyed, ctx = op
        per_step = [grad.get(r, True) for r in refs]  # through time: conservatively True
        takes = [i for i, r in enumerate(refs) if r[0] == "C" and per_step[i]]
        saved = ctx.__dict__.get("saved_arrays", ())
        inputs = [p.data for p in ctx.parents]
        which = tuple(next((i for i, d in enumerate(inputs) if a is d), None) for a in saved)
        stacked = tuple(r[0] != "C" for r in refs)
        # e.g. h @ W: its backward, called once with every step's h and gradient stacked,
        # gives dW as one GEMM over all steps' rows; that needs an op whose ctx holds only
        # saved inputs and that runs over a leading time axis
        if takes and not plan.multi[m] and {k for k in ctx.__dict__ if not k.startswith(
                "anomaly_")} <= {"saved_arrays"} \
                and None not in which and cls.over_time(plain, plan.shapes[m], stacked) is not None:
            plan.batched[m] = (which, tuple(_Slot(i in takes) for i in range(len(refs))))
            for i in takes:
                per_step[i] = False
        op[4] = tuple(_Slot(f) for f in per_step)


class Scan(Function):
    """The recurrent ops of a compiled step, over all steps.

    forward:  for each step, each recurrent op's forward on plain arrays, in tape order;
              outputs: the first state element it starts from and that of every step,
              stacked (steps + 1 rows), and the final state.
    backward: for each step, newest first, each op's backward in reverse tape order; the
              gradient of a state element flows to the step before; gradients of hoisted
              inputs land in their step's row; a captured value's gradient is summed over
              steps, or taken once over all steps by its op (`_Plan.batched`).
    """

    over_time = None  # a scan inside a step is not compiled
    none_for_missing = True  # outputs the loss does not use give nothing to what they read
    last_row_of = (0, 1)  # the final state's first element is the last output row

    @staticmethod
    def forward(ctx, *arrays, plan=None, tap=None):
        ctx.tap = tap  # tap(t, dL/dh_t) during backward, for gradient-flow recording
        nh, nc, ns = plan.n_hoisted, plan.n_captured, len(plan.shapes_s)
        hoisted, captured = arrays[:nh], arrays[nh:nh + nc]
        state, prefix = arrays[nh + nc:nh + nc + ns], arrays[nh + nc + ns:]
        kws = []
        for cls, refs, plain, keyed, slots in plan.ops:
            fixed = {i: captured[r[1]] for i, r in enumerate(refs) if r[0] == "C"}
            prepare = _prepare_of(cls)
            if prepare is not None and fixed:  # once per sequence, e.g. a contiguous W^T
                plain = {**plain, **prepare(plain, fixed)}
            kws.append(plain)
        watch = anomaly.is_anomaly_enabled()
        check = None
        if watch:  # the reports name each op's own line and module, and the time step
            check = ctx.check = anomaly.Replay(
                [op[0].__name__ for op in plan.ops], plan.shapes, plan.where, plan.times,
                anomaly.calling_module(), anomaly.user_line(), _held_inputs(plan, arrays))
        run = replay.forward_function(plan, tuple(bool(kw) for kw in kws), watch)
        steps: list = [None] * plan.steps  # per step: the ops' ctxs
        stash = {m: [None] * plan.steps for m in plan.batched}  # their saved arrays
        # the outputs of the steps run before, then every step's first state element with
        # the one it starts from first: the rows the outputs need, and (from the starting
        # one on, all but the last) what a batched op saved of it, without a stack
        p = len(prefix)
        states = np.empty((p + plan.steps + 1,) + state[0].shape, state[0].dtype)
        for i, out in enumerate(prefix):
            states[i] = out
        states[p] = state[0]
        seq = states[p + 1:]
        final = run(plan.steps, hoisted, captured, state, seq, steps, stash, kws, check)
        ctx.before = states[p:-1]
        ctx.plan, ctx.steps, ctx.stash, ctx.arrays = plan, steps, stash, (hoisted, captured)
        # so an in-place change of an input, or of the outputs (they share `states`), is
        # caught before backward reads them
        ctx.save_for_backward(*arrays, states)
        ctx.dtypes = [a.dtype for a in arrays]
        # the outputs with the state they start from in row 0: the whole sequence's outputs
        # as they are, without a copy to put the first step's in front
        return (states,) + tuple(np.array(s, copy=True) for s in final)

    @staticmethod
    def backward(ctx, g_all, *g_final):
        plan = ctx.plan
        routes, slot_meta = _routes(plan, ctx.dtypes)
        watch = anomaly.is_anomaly_enabled()
        run = replay.backward_function(plan, routes, slot_meta, watch)
        check = None
        if watch:  # (a forward outside anomaly mode kept no report of its own)
            check = ctx.__dict__.get("check") or anomaly.Replay(
                [op[0].__name__ for op in plan.ops], plan.shapes, plan.where, plan.times, "",
                None, _held_inputs(plan, ctx.arrays[0] + ctx.arrays[1]))
        g_h: list = [None] * plan.n_hoisted  # (steps, ...) buffers, allocated on first use
        g_c: list = [None] * plan.n_captured
        kept: dict = {m: [None] * plan.steps for m in plan.batched}  # per-step gradients
        p = plan.n_prefix
        # without retain_graph each step's contexts are freed as soon as its backward ran,
        # as the engine frees each node of an eager loop: the peak stays the loop's
        g_state = list(run(plan.steps, None if g_all is None else g_all[p + 1:], g_final,
                           ctx.steps, kept, g_h, g_c, ctx.tap, plan.times, check,
                           not autograd.retains_graph()))
        if g_all is not None:  # row p: the first state element it started from
            g_state[0] = g_all[p] if g_state[0] is None else g_state[0] + g_all[p]
        memo: dict = {}  # stacks of the same arrays (ops share gradients and inputs): once
        for m in plan.batched:  # e.g. dW of h @ W: one GEMM over every step's rows
            if all(g is None for g in kept[m]):  # its result reached no loss: no gradient
                continue
            for j, pg in _batched_grads(ctx, m, kept[m], memo):
                g_c[j] = pg if g_c[j] is None else g_c[j] + pg
        return tuple(g_h) + tuple(g_c) + tuple(g_state) + tuple(
            None if g_all is None else np.array(g_all[i]) for i in range(p))


def _held_inputs(plan: _Plan, arrays: tuple) -> Callable:
    """values(m, k) for anomaly.Replay: the inputs of recurrent op m at replayed step k that
    backward still has (hoisted rows and captured values; None for the others, outputs of
    the step that the forward checked)."""
    nh = plan.n_hoisted

    def values(m: int, k: int) -> list:
        return [arrays[r[1]][k] if r[0] == "H" else arrays[nh + r[1]] if r[0] == "C" else None
                for r in plan.ops[m][1]]
    return values


def _prepare_of(cls: type) -> Callable | None:
    """cls.prepare where the forward that runs is the one it was written for: a subclass
    that overrides forward but inherits prepare would get keywords it does not know."""
    prepare = cls.prepare
    if prepare is None:
        return None
    owner = next(k for k in cls.__mro__ if "prepare" in k.__dict__)
    return prepare if owner.forward is cls.forward else None


def _batched_grads(ctx: Any, m: int, grads: list, memo: dict) -> list:
    """[(captured index, gradient)] of batched op m: one backward call with every step's
    saved arrays and output gradients stacked along time (`memo`: see _stack)."""
    plan = ctx.plan
    which, slots = plan.batched[m]
    cls, refs = plan.ops[m][0], plan.ops[m][1]
    nh = plan.n_hoisted
    c = cls.__new__(cls)
    c.parents = slots
    c.saved_arrays = tuple(_stacked(refs[i], ctx, m, kk, memo) for kk, i in enumerate(which))
    meta = plan.out_meta[m][0]
    pgrads = cls.backward(c, _stack([np.zeros(*meta) if g is None else g for g in grads], memo))
    if pgrads.__class__ is not tuple:
        pgrads = (pgrads,)
    out = []
    for i, r in enumerate(refs):
        if slots[i].requires_grad and pgrads[i] is not None:
            j = r[1]
            out.append((j, replay.fit(pgrads[i], plan.shapes_c[j], ctx.dtypes[nh + j], cls, i)))
    return out


def _routes(plan: _Plan, dtypes: list) -> tuple:
    """Where each recurrent op's input gradients go, as (code, index, shape, dtype) per input
    (code 0: a slot of the step's gradient store, 1: a hoisted buffer's row, 2: a captured
    value's sum; None where no gradient is taken), plus the new state's routes last; and
    (shape, dtype) of each slot: every recurrent op output, then every state element."""
    if plan.routes is not None:
        return plan.routes
    nh, nc = plan.n_hoisted, plan.n_captured
    slot_meta, base = [], []
    for meta in plan.out_meta:
        base.append(len(slot_meta))
        slot_meta.extend(meta)
    first_state = len(slot_meta)
    slot_meta.extend((shape, dtypes[nh + nc + i]) for i, shape in enumerate(plan.shapes_s))
    plan.slot_base = base

    def route(r: tuple, takes: bool) -> Any:
        if not takes:
            return None
        kind = r[0]
        if kind == "R":
            slot = base[r[1]] + (r[2] or 0)
            return (0, slot) + slot_meta[slot]
        if kind == "S":
            slot = first_state + r[1]
            return (0, slot) + slot_meta[slot]
        if kind == "H":
            return (1, r[1], plan.shapes_h[r[1]], dtypes[r[1]])
        return (2, r[1], plan.shapes_c[r[1]], dtypes[nh + r[1]])

    routes = [tuple(route(r, sl.requires_grad) for r, sl in zip(op[1], op[4]))
              for op in plan.ops]
    routes.append(tuple(route(r, True) for r in plan.new))
    plan.routes = (routes, slot_meta)
    return plan.routes


def _stacked(r: tuple, ctx: Any, m: int, kk: int, memo: dict) -> np.ndarray:
    """Saved array kk of recurrent op m (its input r) over all steps: a captured value as
    it is, a hoisted one whole, the first state element from the forward's rows of it,
    anything else stacked along a new leading time axis."""
    hoisted, captured = ctx.arrays
    if r[0] == "C":
        return captured[r[1]]
    if r[0] == "H":
        return hoisted[r[1]]
    if r == ("S", 0):
        return ctx.before
    return _stack([saved[kk] for saved in ctx.stash[m]], memo)


def _stack(arrays: list, memo: dict) -> np.ndarray:
    """np.stack(arrays), made once per backward for the same arrays (ops that pass a
    gradient on unchanged, such as an added bias, give their neighbours the same ones)."""
    key = tuple(map(id, arrays))  # the arrays stay alive (in the lists) while memo does
    out = memo.get(key)
    if out is None:
        out = memo[key] = np.stack(arrays)
    return out


# ----- the public function ------------------------------------------------------------------
_LAST: dict = {"path": None, "why": None}
_LAST_PLAN: list = [None]  # the last compiled scan's plan, for its generated source


def scan_info() -> dict:
    """{"path": "compiled" | "eager", "why": the reason the last scan ran eagerly, or None,
    "source": {"forward": text, "backward": text or None before its backward ran} of the
    last compiled scan's generated replay (tinygrad_rnn.replay), or None}."""
    plan = _LAST_PLAN[0] if _LAST["path"] == "compiled" else None
    source = None if plan is None else dict(plan.sources)
    return dict(_LAST, source=source)


def _output(state: Any) -> Tensor:
    return state[0] if isinstance(state, (tuple, list)) else state


def scan(step: Callable[[Any, Any], Any], xs: Any, state: Any = None, *,
         reverse: bool = False, compiled: bool = True, tap: Callable | None = None) -> tuple:
    """Run `state = step(xs[t], state)` for t = 0 .. T-1 (T-1 .. 0 with reverse=True).

    xs is a Tensor (T, ...) or a tuple of such (the step then gets a tuple of slices).
    Returns (outputs, state): outputs (T, ...) stacks each step's output (the new state, or
    the first element of a tuple state) in input time order; state is the last one. The
    numbers are the plain loop's; with compiled=True (the default) steps 1 and 2 are
    recorded as they run and steps 3.. replayed as this module's docstring describes, and a
    step that cannot be compiled runs on the plain loop (`scan_info()` says which path the
    last call took, and why).
    `tap(t, g)`, when given, receives during backward the whole gradient g = dL/dh_t of each
    step's output (what reaches step t from the loss and from later steps).
    """
    parallel.choose_on_first_use()
    seqs = xs if isinstance(xs, tuple) else (xs,)
    for x in seqs:
        if not isinstance(x, Tensor):
            raise TypeError(f"scan: xs must be a Tensor (T, ...) or a tuple of them, got "
                            f"{type(x).__name__}")
        if x.ndim == 0 or x.shape[0] == 0 or x.shape[0] != seqs[0].shape[0]:
            raise ValueError(f"scan: xs need one leading time axis with at least one step, "
                             f"got shapes {[t.shape for t in seqs]}")
    T = seqs[0].shape[0]

    def at(t: int) -> Any:
        return tuple(x[t] for x in seqs) if isinstance(xs, tuple) else xs[t]
    order = list(range(T - 1, -1, -1)) if reverse else list(range(T))
    why = None
    if not compiled:
        why = "compiled=False"
    elif T < 4:
        why = "fewer than 4 steps"
    elif any(isinstance(o, _Recorder) and o.thread == threading.get_ident()
             for o in function._observers):
        why = "a scan inside a step that is being recorded"
    # (what scan_info says should steps 0-2 raise: they run as the loop runs them)
    _LAST.update(path="eager", why=why or "an error in steps 0-2, which run on the eager "
                 "loop before the rest is compiled")
    # in anomaly mode each eager step's ops remember their time step (for backward)
    step_at = _step_watched if anomaly.is_anomaly_enabled() else _step_plain
    state = step_at(step, at, order[0], state)
    outs = [_tapped(_output(state), tap, order[0])]
    rest = order[1:]
    if why is None:
        # steps 1 and 2 run as the loop runs them, recorded on the way: whatever is decided,
        # every step runs once, with its draws, changes and side effects, in order
        s0, before = state, _random_states()
        x1 = step_at(lambda x, s: x, at, rest[0], None)  # (an anomaly names the step)
        rec1, state = step_at(_record, at, rest[0], state, step=step, x=x1)
        outs.append(_tapped(_output(state), tap, rest[0]))
        s1, x2 = state, step_at(lambda x, s: x, at, rest[1], None)
        rec2, state = step_at(_record, at, rest[1], state, step=step, x=x2)
        outs.append(_tapped(_output(state), tap, rest[1]))
        drew = not _same_random(before, _random_states())
        rest = rest[2:]
        try:
            tape = _static(rec1, rec2, (x1, x2), (s0, s1, state), drew)
            # (step 2's output is the state Scan starts from: its row comes with it)
            seq, finals = _build(tape, xs, rest, _structure(state), outs[:-1], tap)
        except NotStatic as e:
            why = str(e)
        except anomaly.AnomalyError:
            _LAST.update(path="compiled", why=None)  # (the path that raised)
            raise
        else:
            _LAST.update(path="compiled", why=None)
            if reverse:  # Scan's rows are in the order the steps ran
                seq = seq[::-1]
            return seq, (finals if isinstance(state, tuple) else finals[0])
    _LAST.update(path="eager", why=why)
    for t in rest:
        state = step_at(step, at, t, state)
        outs.append(_tapped(_output(state), tap, t))
    return stack(outs[::-1] if reverse else outs, axis=0), state


def _step_plain(run: Callable, at: Callable, t: int, state: Any, step: Any = None,
                x: Any = None) -> Any:
    """One step (run(x_t, state), or run(step, x, state) for a recording); an anomaly says
    which time step it came from."""
    try:
        if step is None:
            new = run(at(t), state)
            if state is not None:
                _check_state(state, new, t)
            return new
        return run(step, x, state)
    except anomaly.AnomalyError as e:
        raise anomaly.at_step(e, t) from None


def _step_watched(run: Callable, at: Callable, t: int, state: Any, step: Any = None,
                  x: Any = None) -> Any:
    """_step_plain in anomaly mode: the step's ops remember time step t, so that a backward
    report names it too."""
    with anomaly.time_step(t):
        return _step_plain(run, at, t, state, step, x)


def _describe(state: Any) -> str:
    if isinstance(state, (tuple, list)):
        return f"a {type(state).__name__} of {len(state)}"
    return "a Tensor" if isinstance(state, Tensor) else f"a {type(state).__name__}"


def _check_state(before: Any, after: Any, t: int) -> None:
    """A step's new state is a Tensor where it got one, a tuple (list) of as many elements
    where it got one, and its output (the state, or its first element) a Tensor: PyTorch's
    cells return (output, h) in places, which here would become the state. What the other
    elements hold (tensors, nested tuples, Python values) is the step's own business."""
    seq = (tuple, list)
    same = isinstance(after, seq) == isinstance(before, seq) and (
        not isinstance(after, seq) or len(after) == len(before))
    output = after[0] if isinstance(after, seq) and after else after
    if not same:
        raise TypeError(f"scan: the step at time {t} got {_describe(before)} as its state and "
                        f"returned {_describe(after)}; step(x, state) must return the new "
                        f"state in the same structure (a Tensor, or a tuple whose first "
                        f"element is the step's output)")
    if not isinstance(output, Tensor):
        raise TypeError(f"scan: the step at time {t} returned a state whose output (the "
                        f"state, or its first element) is {_describe(output)}, expected a "
                        f"Tensor")


def _tapped(h: Tensor, tap: Callable | None, t: int) -> Tensor:
    """h, whose whole gradient goes to tap(t, g) during backward (when tap is given)."""
    if tap is not None and h.requires_grad:
        def hook(g: Tensor) -> None:  # whatever tap returns: a hook's value would replace g
            tap(t, g.data)
        h.register_hook(hook)
    return h


def _static(rec1: tuple, rec2: tuple, xs: tuple, states: tuple, drew: bool) -> _Tape:
    """The tape of step 1, when steps 1 and 2 recorded the same static program; NotStatic
    (saying why) if not. states: the state before step 1, after it, and after step 2."""
    tainted = rec1[2] or rec2[2]
    if tainted:
        raise NotStatic(f"the step {tainted}")
    if drew:
        raise NotStatic("draws random numbers (dropout, randn, np.random, random), or another "
                        "thread drew while it was recorded: draws are never replayed")
    kinds = {isinstance(st, tuple) for st in states}
    s0, s1, s2 = (_structure(st) for st in states)
    metas = [[(t.shape, t.dtype) for t in st] for st in (s0, s1, s2)]
    if len(kinds) > 1 or metas[1] != metas[0] or metas[2] != metas[0]:
        raise NotStatic("returns a state of another structure, shape or dtype than it got")
    tape1, tape2 = _Tape(rec1, xs[0], s0, s1), _Tape(rec2, xs[1], s1, s2)
    diff = tape1.matches(tape2)
    if diff:
        raise NotStatic(f"is not static: it {diff}")
    return tape1
