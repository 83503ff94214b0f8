"""The replay of a compiled step as straight-line Python, one function per direction.

`compiled.Scan` runs the recurrent ops of a recorded step at every step. Walking the tape at
run time (looking up each input, dispatching each gradient on where it goes) costs several
microseconds per op, as much as the op's own NumPy work on a small batch. So the plan is
turned into the source of two functions once, with every lookup resolved to a local
variable, and those run. For a step `h' = relu(x W + u * h + b)` the forward loop reads

    for k in range(steps):
        h0 = H0[k]
        c0 = N0(T0); c0.parents = P0
        v0 = F0(c0, C0, S0)              # Mul: u * h
        c1 = N1(T1); c1.parents = P1
        v1 = F1(c1, h0, v0)              # Add: the hoisted x W + u * h
        v0 = None                        # (read by no later op)
        ...
        ctxs[k] = (c0, c1, c2, c3)
        S0, = (v3,)
        seq[k] = S0

where a value no later op of the step reads is dropped right after its last use (`v0 =
None`): the step's next allocations then reuse memory that is still in cache (3-4% of a
peephole-LSTM or layer-norm-GRU training step at one thread, B32 H256; the same for the
backward's gradients bought nothing). The backward loop, newest step first, calls each op's
backward in reverse and adds each input gradient to a local per input (`s<slot>`), to its
hoisted row or to a captured sum. `tinygrad_rnn.compiled.scan_info()["source"]` shows both texts for the last compiled scan.
Code objects are cached by the plan's structure: a plan rebuilt for every call (the tape is
recorded each time) is generated and compiled once per distinct step.
"""
from __future__ import annotations

import types
from typing import Any

import numpy as np

from tinygrad_rnn import autograd
from tinygrad_rnn.function import IndexedGrad

_CODE: dict = {}  # structure of a plan -> (source, code object, constants)


def _cached(key: tuple, name: str, generate: Any) -> tuple:
    """(source, code, constants) for a plan of this structure; generate() -> (source,
    constants) runs once per distinct structure (a plan is rebuilt at every call)."""
    hit = _CODE.get(key)
    if hit is None:
        if len(_CODE) > 256:  # many distinct steps (e.g. generated in a loop): start over
            _CODE.clear()
        source, constants = generate()
        module = compile(source, f"<tinygrad_rnn scan {name}>", "exec")
        code = next(c for c in module.co_consts if isinstance(c, types.CodeType))
        hit = _CODE[key] = (source, code, constants)
    return hit


def _structure(plan: Any) -> tuple:
    """Everything the generated text depends on, as a hashable key."""
    return (tuple((op[0], op[1], op[3], plan.multi[m], plan.n_outputs[m], plan.out_meta[m],
                   m in plan.batched) for m, op in enumerate(plan.ops)),
            plan.new, plan.n_hoisted, plan.n_captured, len(plan.shapes_s))


def _value(r: tuple) -> str:
    """The local holding loop reference r during the forward step."""
    kind = r[0]
    if kind == "H":
        return f"h{r[1]}"
    if kind == "C":
        return f"C{r[1]}"
    if kind == "S":
        return f"S{r[1]}"
    return f"v{r[1]}" if r[2] is None else f"v{r[1]}_{r[2]}"


def _tuple(names: list) -> str:
    return "(" + ", ".join(names) + ("," if len(names) == 1 else "") + ")"


def forward_source(plan: Any, has_kw: tuple, watch: bool) -> str:
    """forward(steps, hoisted, captured, state, seq, ctxs, stash, kws, check) -> final state:
    every step's ops in tape order on plain arrays; with watch, check.forward(m, k, outputs,
    inputs) after each op (an anomaly.Replay)."""
    nh, nc, ns = plan.n_hoisted, plan.n_captured, len(plan.shapes_s)
    out = ["def forward(steps, hoisted, captured, state, seq, ctxs, stash, kws, check):"]
    if nh:
        out.append(f"    {_tuple([f'H{j}' for j in range(nh)])} = hoisted")
    if nc:
        out.append(f"    {_tuple([f'C{j}' for j in range(nc)])} = captured")
    out.append(f"    {_tuple([f'S{i}' for i in range(ns)])} = state")
    out += [f"    KW{m} = kws[{m}]" for m in range(len(plan.ops)) if has_kw[m]]
    out += [f"    ST{m} = stash[{m}]" for m in plan.batched]
    out.append("    for k in range(steps):")
    used = {r[1] for op in plan.ops for r in op[1] if r[0] == "H"}  # (x itself may be unused)
    used |= {r[1] for r in plan.new if r[0] == "H"}  # a state that is a hoisted value itself
    out += [f"        h{j} = H{j}[k]" for j in range(nh) if j in used]
    dead = _last_uses(plan)
    for m, (cls, refs, plain, keyed, slots) in enumerate(plan.ops):
        vals = [_value(r) for r in refs]
        n = len(vals) - len(keyed)
        args = [f"c{m}"] + vals[:n] + [f"{name}={v}" for name, v in zip(keyed, vals[n:])]
        if has_kw[m]:
            args.append(f"**KW{m}")
        call = f"F{m}({', '.join(args)})"
        out.append(f"        c{m} = N{m}(T{m}); c{m}.parents = P{m}")
        if plan.multi[m]:
            outs = [f"v{m}_{k}" for k in range(plan.n_outputs[m])]
            out.append(f"        {_tuple(outs)} = {call}")
        else:
            outs = [f"v{m}"]
            out.append(f"        v{m} = {call}")
            if plan.out_meta[m][0][0] == ():  # a 0-d result may come back as a NumPy scalar
                out.append(f"        v{m} = asarray(v{m})")
        if watch:
            out.append(f"        check.forward({m}, k, {_tuple(outs)}, {_tuple(vals)})")
        if m in plan.batched:
            out.append(f"        ST{m}[k] = c{m}.saved_arrays")
        if dead[m]:  # values no later op reads: freed now, so that the step's next
            # allocations reuse their memory while it is still in cache
            out.append(f"        {' = '.join(dead[m])} = None")
    out.append(f"        ctxs[k] = {_tuple([f'c{m}' for m in range(len(plan.ops))])}")
    out.append(f"        {_tuple([f'S{i}' for i in range(ns)])} = "
               f"{_tuple([_value(r) for r in plan.new])}")
    out.append("        seq[k] = S0")
    out.append(f"    return {_tuple([f'S{i}' for i in range(ns)])}")
    return "\n".join(out) + "\n"


def _last_uses(plan: Any) -> list:
    """Per recurrent op, the locals of op outputs that it reads last (or, never read, that
    it makes) and that are not part of the new state."""
    last: dict = {}
    for m, op in enumerate(plan.ops):
        names = [f"v{m}"] if not plan.multi[m] else [f"v{m}_{k}"
                                                    for k in range(plan.n_outputs[m])]
        for name in names:
            last[name] = m
        for r in op[1]:
            if r[0] == "R":
                last[_value(r)] = m
    keep = {_value(r) for r in plan.new if r[0] == "R"}
    dead: list = [[] for _ in plan.ops]
    for name, m in last.items():
        if name not in keep:
            dead[m].append(name)
    return dead


def forward_function(plan: Any, has_kw: tuple, watch: bool) -> Any:
    source, code, _ = _cached(("forward", _structure(plan), has_kw, watch), "forward",
                              lambda: (forward_source(plan, has_kw, watch), {}))
    plan.sources["forward"] = source
    namespace: dict = {"asarray": np.asarray}
    for m, (cls, refs, plain, keyed, slots) in enumerate(plan.ops):
        namespace.update({f"T{m}": cls, f"N{m}": cls.__new__, f"F{m}": cls.forward,
                          f"P{m}": slots})
    return types.FunctionType(code, namespace, "forward")


class _Names:
    """Constants of the generated backward (shapes, dtypes, metas), each bound once."""

    def __init__(self, namespace: dict):
        self.namespace, self.seen = namespace, {}

    def __call__(self, prefix: str, value: Any) -> str:
        key = (prefix, value)  # shapes, dtypes and (shape, dtype) pairs are hashable
        name = self.seen.get(key)
        if name is None:
            name = self.seen[key] = f"{prefix}{len(self.seen)}"
            self.namespace[name] = value
        return name


def _deliver(out: list, route: tuple, expr: str, owner: str, index: int, const: _Names,
             pad: str, shared: set = frozenset(), tiled: frozenset = frozenset()) -> None:
    """Source adding gradient `expr` where `route` says (see compiled._routes). A hoisted
    value's row is still zero at its first gradient of the step: that one is copied in, not
    added (flag `w<j>` where several inputs send it one, `shared`). The slots in `tiled` get
    only gradients of slices that never overlap: each is copied into its place."""
    code, j, shape, dtype = route
    q, d = const("Q", shape), const("D", dtype)
    out.append(f"{pad}a = {expr}")
    out.append(f"{pad}if a is not None:")
    if code == 0 and j in tiled:  # (an IndexedGrad of a basic index: GetItem's backward)
        out.append(f"{pad}    if s{j} is None:  # disjoint slices: each one's place is zero")
        out.append(f"{pad}        s{j} = zeros({q}, {d})")
        out.append(f"{pad}    a.write_to(s{j})")
    elif code == 0:  # a slot of this step
        out.append(f"{pad}    if a.__class__ is ndarray and a.shape == {q} and a.dtype is {d}:")
        out.append(f"{pad}        s{j} = a if s{j} is None else s{j} + a")
        out.append(f"{pad}    else:")
        out.append(f"{pad}        s{j}, o{j} = acc(s{j}, o{j}, a, {q}, {d}, {owner}, {index})")
    elif code == 1:  # the hoisted value's row for this step
        out.append(f"{pad}    if GH{j} is None:")
        out.append(f"{pad}        GH{j} = zeros((steps,) + {q}, {d})")
        first = [f"{pad}        a.write_to(GH{j}[k, ...])",  # a view even for 0-d rows
                 f"{pad}    else:",
                 f"{pad}        GH{j}[k] = fit(a, {q}, {d}, {owner}, {index})"]
        later = [f"{pad}        a.add_to(GH{j}[k, ...])",
                 f"{pad}    else:",
                 f"{pad}        GH{j}[k] += fit(a, {q}, {d}, {owner}, {index})"]
        test = f"{pad}    if a.__class__ is IndexedGrad:"
        if j not in shared:
            out += [test] + first
        else:
            out.append(f"{pad}    if w{j}:")
            out.append(f"{pad}        w{j} = False")
            out += ["    " + line for line in [test] + first]
            out.append(f"{pad}    else:")
            out += ["    " + line for line in [test] + later]
    else:  # a captured value: summed over the steps
        out.append(f"{pad}    a = a.dense({d}) if a.__class__ is IndexedGrad else "
                   f"fit(a, {q}, {d}, {owner}, {index})")
        out.append(f"{pad}    GC{j} = a if GC{j} is None else GC{j} + a")


def backward_source(plan: Any, routes: list, slot_meta: list, watch: bool,
                    constants: dict, tiled: frozenset = frozenset()) -> str:
    """backward(steps, g_seq, g_final, ctxs, kept, g_h, g_c, tap, times, check, free) ->
    gradient of the initial state: every step newest first, each op's backward in reverse
    tape order (with watch, check.backward(m, k, input gradients, output gradients) after
    each); with free, each step's contexts are dropped once it is done. A
    gradient that never arrives (g_seq, an element of g_final) is None, and so stays what
    only it would have reached."""
    const = _Names(constants)
    nh, nc, ns = plan.n_hoisted, plan.n_captured, len(plan.shapes_s)
    first_state = len(slot_meta) - ns
    slots = range(len(slot_meta))
    out = ["def backward(steps, g_seq, g_final, ctxs, kept, g_h, g_c, tap, times, check, "
           "free):"]
    out.append(f"    {_tuple([f'gS{i}' for i in range(ns)])} = g_final")
    out += [f"    GH{j} = g_h[{j}]" for j in range(nh)]
    out += [f"    GC{j} = g_c[{j}]" for j in range(nc)]
    out += [f"    KP{m} = kept[{m}]" for m in plan.batched]
    out.append("    for k in range(steps - 1, -1, -1):")
    out.append(f"        {_tuple([f'c{m}' for m in range(len(plan.ops))])} = ctxs[k]")
    out.append("        if free:  # (no second backward): the step's saved arrays go with it")
    out.append("            ctxs[k] = None")
    out.append("        " + " = ".join([f"s{j}" for j in slots] + ["None"]))
    out.append("        " + " = ".join([f"o{j}" for j in slots] + ["False"]))
    per_row: dict = {}  # hoisted value -> how many inputs send its row a gradient
    for route in [r for rs in routes for r in rs if r is not None]:
        if route[0] == 1:
            per_row[route[1]] = per_row.get(route[1], 0) + 1
    shared = {j for j, n in per_row.items() if n > 1}
    if shared:
        out.append("        " + " = ".join([f"w{j}" for j in sorted(shared)] + ["True"]))
    out.append("        if g_seq is not None:  # (None: the outputs reached no loss)")
    out.append("            gS0 = g_seq[k] if gS0 is None else gS0 + g_seq[k]")
    out.append("        if tap is not None and gS0 is not None:")
    out.append("            tap(times[k], gS0)")
    for i, route in enumerate(routes[-1]):
        _deliver(out, route, f"gS{i}", "Scan", i, const, "        ", shared)
    for m in range(len(plan.ops) - 1, -1, -1):
        refs = plan.ops[m][1]
        base = plan.slot_base[m]
        if plan.multi[m]:
            mine = [base + i for i in range(plan.n_outputs[m])]
            out.append(f"        if {' or '.join(f's{s} is not None' for s in mine)}:")
            args = ", ".join(f"(zeros(*{const('M', slot_meta[s])}) if s{s} is None else s{s})"
                             for s in mine)
            out.append(f"            r = B{m}(c{m}, {args})")
            incoming = _tuple([f"s{s}" for s in mine])
        else:
            out.append(f"        if s{base} is not None:")
            if m in plan.batched:
                out.append(f"            KP{m}[k] = s{base}")
            out.append(f"            r = B{m}(c{m}, s{base})")
            incoming = f"(s{base},)"
        n_in = len(refs)
        out.append("            if r.__class__ is not tuple:")
        out.append("                r = (r,)")
        out.append(f"            if len(r) != {n_in}:")
        out.append(f"                wrong_count(T{m}, len(r), {n_in})")
        if watch:
            out.append(f"            check.backward({m}, k, r, {incoming})")
        for i, route in enumerate(routes[m]):
            if route is not None:
                _deliver(out, route, f"r[{i}]", f"T{m}", i, const, "            ", shared,
                         tiled)
    for i in range(ns):  # None where no gradient reached the state: nothing flows back
        out.append(f"        gS{i} = s{first_state + i}")
    out += [f"    g_h[{j}] = GH{j}" for j in range(nh)]
    out += [f"    g_c[{j}] = GC{j}" for j in range(nc)]
    out.append(f"    return {_tuple([f'gS{i}' for i in range(ns)])}")
    return "\n".join(out) + "\n"


def backward_function(plan: Any, routes: list, slot_meta: list, watch: bool) -> Any:
    from tinygrad_rnn.compiled import Scan

    tiled = tiled_slots(plan, routes, slot_meta)

    def generate() -> tuple:
        constants: dict = {}
        return backward_source(plan, routes, slot_meta, watch, constants, tiled), constants
    key = ("backward", _structure(plan), tuple(routes), tuple(slot_meta), watch,
           tuple(sorted(tiled)))
    source, code, constants = _cached(key, "backward", generate)
    plan.sources["backward"] = source
    namespace: dict = {"ndarray": np.ndarray, "IndexedGrad": IndexedGrad, "zeros": np.zeros,
                       "fit": fit, "acc": _accumulate, "Scan": Scan,
                       "wrong_count": _wrong_count, **constants}
    for m, op in enumerate(plan.ops):
        namespace[f"B{m}"], namespace[f"T{m}"] = op[0].backward, op[0]
    return types.FunctionType(code, namespace, "backward")


_OTHER = object()  # (tiled_slots: a reader of a slot that is not a GetItem's input)


def tiled_slots(plan: Any, routes: list, slot_meta: list) -> frozenset:
    """The slots whose gradients all come from GetItem ops with basic indices that select
    no element twice between them (the gates of a step value sliced apart, say): those are
    copied into a buffer of zeros instead of added to it, 2-3x cheaper, the same values (a
    -0.0 stays -0.0 where the add would give +0.0). Worked out at each backward (the plan is
    new each call) and cheap: per pair of slices an interval test, or for strided ones a
    membership test over at most 4096 positions."""
    from tinygrad_rnn.ops.movement import GetItem
    # slot -> [index of each GetItem reading it], _OTHER: another reader (an index may be
    # an array, which `in` would compare element by element, or None, a new axis)
    readers: dict = {}
    for m, rs in enumerate(routes[:-1]):
        for i, route in enumerate(rs):
            if route is not None and route[0] == 0:
                ok = plan.ops[m][0] is GetItem and i == 0
                readers.setdefault(route[1], []).append(plan.ops[m][2]["index"] if ok
                                                        else _OTHER)
    for route in routes[-1]:  # the new state's gradient arrives as a whole array
        if route is not None and route[0] == 0:
            readers.setdefault(route[1], []).append(_OTHER)
    tiled = set()
    for j, indices in readers.items():
        if len(indices) < 2 or any(index is _OTHER for index in indices):
            continue
        shape = slot_meta[j][0]
        sets = [_selection(index, shape) for index in indices]
        if None not in sets and all(_apart(a, b) for k, a in enumerate(sets)
                                    for b in sets[k + 1:]):
            tiled.add(j)
    return frozenset(tiled)


def _selection(index: Any, shape: tuple) -> list | None:
    """Per axis of `shape`, the range of positions a basic index selects (None: an index of
    another kind, where elements may repeat or the selection is not a box)."""
    items = list(index) if isinstance(index, tuple) else [index]
    if not all(item is Ellipsis or isinstance(item, slice) or (
            isinstance(item, (int, np.integer)) and not isinstance(item, (bool, np.bool_)))
               for item in items):
        return None  # None (a new axis), arrays, lists, booleans
    ellipses = [k for k, item in enumerate(items) if item is Ellipsis]
    if len(ellipses) > 1:
        return None
    if ellipses:
        k = ellipses[0]
        items[k:k + 1] = [slice(None)] * (len(shape) - len(items) + 1)
    if len(items) > len(shape):
        return None
    items += [slice(None)] * (len(shape) - len(items))
    ranges = []
    for item, size in zip(items, shape):
        if isinstance(item, slice):
            ranges.append(range(*item.indices(size)))
        else:  # an integer
            i = int(item) + (size if item < 0 else 0)
            if not 0 <= i < size:
                return None
            ranges.append(range(i, i + 1))
    return ranges


def _apart(a: list, b: list) -> bool:
    """Whether two boxes of positions (per-axis ranges) share no element: on some axis
    their ranges share no position."""
    return any(_ranges_apart(ra, rb) for ra, rb in zip(a, b))


def _ranges_apart(ra: range, rb: range) -> bool:
    if not ra or not rb:
        return True
    if ra.step == rb.step == 1:
        return ra.stop <= rb.start or rb.stop <= ra.start
    if min(len(ra), len(rb)) > 4096:  # (not worth a set: taken as overlapping, then added)
        return False
    small, large = (ra, rb) if len(ra) <= len(rb) else (rb, ra)
    return not any(i in large for i in small)  # (membership in a range is O(1))


def _wrong_count(cls: type, got: int, expected: int) -> None:
    raise RuntimeError(f"Function {cls.__name__}.backward returned {got} gradients, expected "
                       f"{expected} (one per input, None where there is none)")


def fit(g: Any, shape: tuple, dtype: Any, cls: type, i: int) -> np.ndarray:
    """A gradient as a dense array of the input's shape and dtype (broadcasts summed)."""
    if g.__class__ is IndexedGrad:
        g = g.dense(dtype)
    elif g.__class__ is not np.ndarray:
        g = np.asarray(g)
    if g.shape != shape:
        g = autograd._sum_to(g, shape, cls, i)
    if g.dtype != dtype:
        g = g.astype(dtype)
    return g


def _accumulate(s: Any, owned: bool, g: Any, shape: tuple, dtype: Any, cls: type,
                i: int) -> tuple:
    """(s + g, whether s is now a buffer of our own) for a gradient that is not a plain array
    of the slot's shape and dtype: an IndexedGrad is added in place into a buffer we own
    (never into an array a backward handed over), anything else is summed to the shape."""
    if g.__class__ is IndexedGrad:
        if s is None:
            return g.dense(dtype), True
        if not owned:
            s = s.copy()
        g.add_to(s)
        return s, True
    g = fit(g, shape, dtype, cls, i)
    if s is None:
        return g, False
    if owned:
        s += g
        return s, True
    return s + g, True

