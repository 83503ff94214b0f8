"""Reverse-mode traversal: topological order, gradient accumulation, graph release.

Every recorded node carries a generation number (`ctx.seq`) that grows with creation, so a
node is always newer than its inputs. Backward pops nodes newest first from a heap: by the
time a node comes out, every consumer has handed it its gradient. One pass, no recursion,
and no counting walk beforehand (a chain keeps a heap of one entry, so a 100,000-op chain
costs linear time). Gradients wait in a dict keyed by node and are popped when the node is
processed; each node's Function is released right after it has been used.
"""
from __future__ import annotations

import itertools
import weakref
from heapq import heappop, heappush
from typing import Any, Sequence

import numpy as np

from tinygrad_rnn import function as _function
from tinygrad_rnn import tensor as _tensor
from tinygrad_rnn.function import IndexedGrad

_RELEASED = (
    "Trying to backward through part of the graph a second time: its saved arrays were "
    "freed by the first backward. Pass retain_graph=True to the first backward() if you "
    "need to call it twice, or detach a recurrent state carried over from the previous "
    "chunk (h = h.detach()) before reusing it."
)


def _sum_to(g: np.ndarray, shape: tuple, ctx: Any, index: int) -> np.ndarray:
    """Adjoint of broadcasting: sum g down to `shape`, or explain why it cannot be."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    ok = lead >= 0 and all(s == 1 or s == d for s, d in zip(shape, g.shape[lead:]))
    if not ok:
        raise RuntimeError(
            f"Function {type(ctx).__name__} returned an invalid gradient at index {index}: "
            f"got shape {g.shape}, expected shape {shape} (or one that broadcasts to it)"
        )
    axes = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and g.shape[lead + i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def _seed(t: Any, grad: Any, call: str = "backward()", arg: str = "grad=") -> np.ndarray:
    if grad is None:
        if t.size != 1:
            raise RuntimeError(
                f"{call} without a gradient needs an output of one element, got shape "
                f"{t.shape}: pass {arg} (an array of that shape) for a non-scalar output"
            )
        return np.ones(t.shape, dtype=t.dtype)
    g = grad.data if isinstance(grad, _tensor.Tensor) else np.asarray(grad, dtype=t.dtype)
    if g.shape != t.shape:
        raise RuntimeError(f"{call}: {arg[:-1]} has shape {g.shape}, expected the output's "
                           f"{t.shape}")
    return g


_RETAINING = [False]  # whether the backward running now keeps the graph (retain_graph)


def retains_graph() -> bool:
    """Whether the backward pass running now keeps the graph for another one: a Function's
    backward may free what it saved as it goes when it does not (compiled.Scan does, step by
    step)."""
    return _RETAINING[0]


_PASSES = [0, 0]  # backward passes begun so far; the one running now (0: none)


def backward_pass() -> int:
    """The number of the backward pass running now: every backward() and grad() call is
    one, counted from 1 (0 outside them). A hook or a Function's backward that keeps what it
    sees (nn.record_grad_flow) tells two passes through one graph apart by it."""
    return _PASSES[1]


def _run(roots: Sequence, seeds: Sequence, retain_graph: bool, wanted: dict | None,
         run_wanted: bool = False) -> dict:
    previous, _RETAINING[0] = _RETAINING[0], retain_graph
    outer = _PASSES[1]
    _PASSES[0] += 1
    _PASSES[1] = _PASSES[0]
    try:
        return _propagate(roots, seeds, retain_graph, wanted, run_wanted)
    finally:
        _RETAINING[0], _PASSES[1] = previous, outer


def _propagate(roots: Sequence, seeds: Sequence, retain_graph: bool,
               wanted: dict | None, run_wanted: bool = False) -> dict:
    """Propagate seeds from roots, newest node first. Leaf gradients accumulate into
    `.grad`, or, for grad(), into the returned dict for the `wanted` inputs.

    Gradients wait in `grads` keyed by the node (the Function that made a tensor): an array,
    or for a node with several outputs a list with one slot per output.
    """
    grads: dict = {}
    owned: set = set()  # node ids whose buffer in `grads` was allocated here and may grow in place
    leaf_out: dict = {}
    heap: list = []  # (-seq, node): newest first; a node enters when its first gradient arrives
    inner = _wanted_nodes(wanted)
    # grad() and backward(inputs=): only the nodes through which a wanted tensor is reached
    # run (as in PyTorch: no other hook fires, retain_grad keeps nothing, nothing is checked);
    # backward(inputs=) runs the nodes that made its inner inputs too (run_wanted), as
    # PyTorch's does
    needed = _needed_nodes(roots, wanted, inner if run_wanted else None) \
        if wanted is not None else None
    changed = _function.last_inplace  # nodes older than the latest in-place change get checked
    obs = _function.observer
    deliver = _deliver
    if _HOOKS:  # hooked leaves wait until every contribution has arrived
        held: dict = {}
        hooked = _hooked_nodes()

        def deliver(node, g, wanted, leaf_out):  # noqa: F811
            if id(node) in _HOOKS and (wanted is None or id(node) in wanted):
                prev = held.get(id(node))
                held[id(node)] = (node, g if prev is None else prev[1] + g)
            else:  # (a leaf that grad() does not ask for: its hooks do not run)
                _deliver(node, g, wanted, leaf_out)
    else:
        held = hooked = None
    special = hooked is not None or needed is not None or obs is not None
    plain = _tensor.Tensor
    # grad() / inputs= of one output: the output's own hooks (and retain_grad) see its seed
    # even where no wanted tensor lies behind it; PyTorch runs them then (with several
    # outputs it does not)
    alone = needed is not None and len(roots) == 1
    for r, s in zip(roots, seeds):
        if r._ctx is None:
            if alone and id(r) not in wanted and id(r) in _HOOKS:
                _apply_fns(_HOOKS[id(r)], r, s)
            deliver(r, s, wanted, leaf_out)
        else:
            _add(grads, heap, owned, r, s)
    rooted = id(roots[0]._ctx) if alone and roots[0]._ctx is not None else None

    while heap:
        ctx = heappop(heap)[1]
        parents = ctx.parents
        if parents is None:
            raise RuntimeError(_RELEASED)
        g = grads.pop(id(ctx))
        if owned:
            owned.discard(id(ctx))
        outs = ctx.outputs
        if special:  # hooks, grad() / inputs=, observers: none in a plain backward
            if needed is not None and id(ctx) not in needed:
                # no wanted tensor lies behind this node: it does not run (nothing is
                # checked); an input of grad() that it made takes its gradient all the same
                if inner is not None and id(ctx) in inner or id(ctx) == rooted:
                    _before_node(ctx, g, outs, hooked, inner, None, wanted, leaf_out)
                continue
            if changed > ctx.seq:  # something changed in place since this node ran
                _check_saved_unchanged(ctx)
            # an output that got no gradient has none for its hooks, retain_grad and grad()
            # (as in PyTorch); the node's backward gets zeros for it
            g = _before_node(ctx, g, outs, hooked, inner, obs, wanted, leaf_out)
            if outs and not ctx.none_for_missing:
                g = [np.zeros(shape, dtype) if gi is None else gi
                     for gi, (shape, dtype) in zip(g, outs)]
            pgrads = ctx.backward(ctx, *g) if outs else ctx.backward(ctx, g)
            if obs is not None:
                obs.backward_after(ctx, g, pgrads if pgrads.__class__ is tuple else (pgrads,))
        else:
            if changed > ctx.seq:  # something changed in place since this node ran
                _check_saved_unchanged(ctx)
            if outs and not ctx.none_for_missing:
                g = [np.zeros(shape, dtype) if gi is None else gi
                     for gi, (shape, dtype) in zip(g, outs)]
            pgrads = ctx.backward(ctx, *g) if outs else ctx.backward(ctx, g)
        if pgrads.__class__ is not tuple:
            pgrads = (pgrads,)
        if len(pgrads) != len(parents):
            raise RuntimeError(
                f"Function {type(ctx).__name__}.backward returned {len(pgrads)} gradients, "
                f"expected {len(parents)} (one per input, None where there is none)"
            )
        for i, p in enumerate(parents):
            pg = pgrads[i]
            if pg is None or not p.requires_grad:
                continue
            pctx = p._ctx
            if pg.__class__ is IndexedGrad:
                if pctx is None or pctx.outputs:
                    pg = pg.dense(p.data.dtype)  # rare: keep simple
                else:
                    k = id(pctx)
                    buf = grads.get(k)
                    if buf is None:
                        heappush(heap, (-pctx.seq, pctx))
                    if buf is None:  # the first gradient: into fresh zeros
                        buf = pg.dense(p.data.dtype)
                        owned.add(k)
                    else:
                        if k not in owned:  # a fresh buffer that no other node shares
                            buf = buf.copy()
                            owned.add(k)
                        pg.add_to(buf)
                    grads[k] = buf
                    continue
            if pg.__class__ is not np.ndarray:
                pg = np.asarray(pg)
            data = p.data
            if pg.shape != data.shape:
                pg = _sum_to(pg, data.shape, ctx, i)
            if pg.dtype is not data.dtype and pg.dtype != data.dtype:
                pg = pg.astype(data.dtype)
            if pctx is None:
                deliver(p, pg, wanted, leaf_out)
                continue
            if p.__class__ is not plain:  # a node's several outputs (or a subclass)
                _add(grads, heap, owned, p, pg)
                continue
            k = id(pctx)
            if k not in grads:
                grads[k] = pg
                heappush(heap, (-pctx.seq, pctx))
            elif owned and k in owned:
                grads[k] += pg
            else:
                grads[k] = grads[k] + pg
        if not retain_graph:  # free the saved arrays and the graph behind this node now
            ctx.__dict__.clear()
            ctx.parents = None  # marks the node as released
    if held:
        for node, g in held.values():
            entry = _HOOKS.get(id(node))
            g = _apply_fns(entry, node, g) if entry is not None else g
            _deliver(node, g, wanted, leaf_out)
    return leaf_out


# ----- tensor hooks --------------------------------------------------------------------------
class _HookEntry:
    __slots__ = ("ref", "fns", "retain")

    def __init__(self, ref: Any):
        self.ref, self.fns, self.retain = ref, {}, False


_HOOKS: dict = {}  # id(tensor) -> _HookEntry, for tensors with hooks or retain_grad
_hook_ids = itertools.count()


class RemovableHandle:
    """Returned by register_hook (and the module hooks): `remove()` takes the hook away."""

    def __init__(self, table: dict, key: Any, when_empty: Any = None):
        self._table, self._key, self._when_empty = table, key, when_empty

    def remove(self) -> None:
        self._table.pop(self._key, None)
        if not self._table and self._when_empty is not None:
            self._when_empty()  # e.g. the tensor's hook entry goes: backward skips hooks again

    def __enter__(self) -> "RemovableHandle":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


def _entry(t: Any) -> _HookEntry:
    k = id(t)
    entry = _HOOKS.get(k)
    if entry is None:
        # the callback keeps its own reference to the table: it may run at interpreter exit
        entry = _HOOKS[k] = _HookEntry(weakref.ref(
            t, lambda _, k=k, table=_HOOKS: table.pop(k, None)))
    return entry


def register_hook(t: Any, fn: Any) -> RemovableHandle:
    """fn(grad) -> Tensor | None runs on t's fully accumulated gradient, before it flows on
    (for a leaf: before it is added to .grad); a returned Tensor replaces the gradient."""
    if _function.observer is not None:  # a step being recorded cannot replay a hook
        _function.observer.read("register_hook")
    if not t.requires_grad:
        raise RuntimeError(f"register_hook: the tensor (shape {t.shape}) does not require "
                           f"grad, so no gradient will ever reach the hook")
    if not callable(fn):
        raise TypeError(f"register_hook: expected a function of the gradient, got "
                        f"{type(fn).__name__}")
    entry = _entry(t)
    key = next(_hook_ids)
    entry.fns[key] = fn
    k = id(t)

    def forget() -> None:
        if _HOOKS.get(k) is entry and not entry.retain:
            del _HOOKS[k]
    return RemovableHandle(entry.fns, key, forget)


def retain_grad(t: Any) -> None:
    """Keep .grad on a tensor made by an op (leaves keep theirs anyway)."""
    if _function.observer is not None:
        _function.observer.read("retain_grad")
    if not t.requires_grad:
        raise RuntimeError(f"retain_grad: the tensor (shape {t.shape}) does not require grad")
    if t._ctx is not None:
        _entry(t).retain = True


def _hooked_nodes() -> dict:
    """{id(node): [(output index, entry, tensor)]} for the non-leaf tensors with hooks; the
    tensors are held until backward ends (the graph may release them before their node)."""
    out: dict = {}
    for entry in list(_HOOKS.values()):
        t = entry.ref()
        if t is not None and t._ctx is not None:
            out.setdefault(id(t._ctx), []).append((_slot(t), entry, t))
    return out


def _apply_fns(entry: _HookEntry, t: Any, g: np.ndarray) -> np.ndarray:
    for fn in list(entry.fns.values()):
        new = fn(_tensor.Tensor(g))
        if new is not None:
            data = new.data if isinstance(new, _tensor.Tensor) else np.asarray(new)
            if data.shape != t.shape:
                raise RuntimeError(f"a gradient hook returned shape {data.shape}, expected "
                                   f"the tensor's shape {t.shape}")
            g = data
    return g


def _run_hooks(entries: list, g: Any, several: bool) -> Any:
    """A node's gradient after the hooks of its outputs (and retain_grad) have run."""
    for k, entry, t in entries:
        gk = g[k] if several else g
        if gk is None:  # an output that got no gradient (none_for_missing): no hook runs
            continue
        gk = _apply_fns(entry, t, gk)
        if entry.retain:
            t.grad = _tensor.Tensor(np.array(gk)) if t.grad is None else \
                _tensor.Tensor(t.grad.data + gk)
        if several:
            g[k] = gk
        else:
            g = gk
    return g


def _fold_last_row(g: list, seq: int, row: int) -> list:
    """g[row] += g[seq][-1], and that row of g[seq] (a copy) becomes -0.0, which adds as an
    exact zero: the node's backward, adding the two again, gets the sum it would have."""
    last = g[seq]
    if last is None:
        return g
    g = list(g)
    g[row] = np.array(last[-1]) if g[row] is None else g[row] + last[-1]
    g[seq] = np.array(last)
    g[seq][-1] = -0.0
    return g


def _before_node(ctx: Any, g: Any, outs: tuple, hooked: Any, inner: Any, obs: Any,
                 wanted: Any, leaf_out: dict) -> Any:
    """A node's gradient after its outputs' hooks; grad() inputs among its outputs get theirs;
    observers are told the node's backward starts."""
    entries = hooked.get(id(ctx)) if hooked is not None else None
    alias = ctx.last_row_of
    seen = None  # the gradients the outputs' own hooks and grad() see (before a fold)
    if alias is not None:
        seq, row = alias
        wants = inner.get(id(ctx), ()) if inner is not None else ()
        if any(e[0] == row for e in entries or ()) or any(k == row for k, _ in wants):
            # output `row` is eagerly the very tensor of output `seq`'s last row: its hooks
            # and grad() see both parts of its gradient, after the hooks of the sequence;
            # the sequence itself keeps its whole gradient for grad()
            first = [e for e in entries if e[0] != row] if entries else []
            g = _run_hooks(first, g, True) if first else g
            seen = list(g)
            g = _fold_last_row(g, seq, row)
            seen[row] = g[row]
            entries = [e for e in entries if e[0] == row] if entries else None
    if entries:
        g = _run_hooks(entries, g, bool(outs))
        if seen is not None:
            seen[alias[1]] = g[alias[1]]
    if inner is not None and id(ctx) in inner:
        told = g if seen is None else seen
        for k, t in inner[id(ctx)]:
            if (told[k] if outs else told) is not None:
                _deliver(t, told[k] if outs else told, wanted, leaf_out)
    if obs is not None:
        obs.backward_before(ctx)
    return g


def _add(grads: dict, heap: list, owned: set, t: Any, g: np.ndarray) -> None:
    """Add g to the waiting gradient of tensor t's node (its slot, for several outputs)."""
    ctx = t._ctx
    k = id(ctx)
    if not ctx.outputs:
        if k in grads:
            grads[k] = grads[k] + g
        else:
            grads[k] = g
            heappush(heap, (-ctx.seq, ctx))
        return
    slots = grads.get(k)
    if slots is None:
        slots = grads[k] = [None] * len(ctx.outputs)
        heappush(heap, (-ctx.seq, ctx))
    i = _slot(t)
    slots[i] = g if slots[i] is None else slots[i] + g


def _needed_nodes(roots: Sequence, wanted: dict, own: dict | None) -> set:
    """For grad() and backward(inputs=): ids of the nodes from which a wanted tensor, or the
    node that made one (whichever of its outputs the path reaches, as PyTorch's engine does),
    is reached through the inputs that require grad; the nodes in `own` (those that made a
    wanted tensor, for backward(inputs=)) count as needed themselves. A released node counts
    as needed, so that using it raises."""
    made = {id(t._ctx) for t in wanted.values() if t._ctx is not None}
    own = own or ()
    memo: dict = {}  # id(node) -> whether needed; set when the node's inputs are done
    stack = [(r._ctx, False) for r in roots if r._ctx is not None]
    while stack:
        ctx, done = stack.pop()
        k = id(ctx)
        parents = ctx.parents
        if done:
            memo[k] = k in own or any(p.requires_grad and (id(p) in wanted or (
                p._ctx is not None and (memo.get(id(p._ctx), False) or id(p._ctx) in made)))
                for p in parents)
            continue
        if k in memo:
            continue
        if parents is None:
            memo[k] = True
            continue
        memo[k] = False  # (a DAG: every input is done before the node itself)
        stack.append((ctx, True))
        for p in parents:
            if p.requires_grad and p._ctx is not None and id(p._ctx) not in memo:
                stack.append((p._ctx, False))
    return {k for k, v in memo.items() if v}


def _wanted_nodes(wanted: dict | None) -> dict | None:
    """For grad(): the non-leaf inputs by node id, as (output index, tensor) pairs."""
    if not wanted:
        return None
    inner: dict = {}
    for t in wanted.values():
        if t._ctx is not None:
            inner.setdefault(id(t._ctx), []).append((_slot(t), t))
    return inner or None


def _slot(t: Any) -> int:
    """Which output of its node t is (0 for a node with one output)."""
    return t._ctx.output_ids.index(id(t)) if t._ctx.outputs else 0


def _check_saved_unchanged(ctx: Any) -> None:
    """Raise when memory that ctx saved for backward was modified in place after ctx ran (by
    an in-place op on the tensor, on a view of it, or by an optimizer step): the gradient
    would silently use the new values. The index arrays an indexing op keeps (ctx.index:
    GetItem, Gather, IndexSelect) are checked too. A saved array that only gradients no
    input takes would read (Function.saved_for) may change: PyTorch does not save it then."""
    index = ctx.__dict__.get("index")
    parts = index if isinstance(index, tuple) else (index,)
    saved_for = _saved_for(type(ctx))
    for k, a in enumerate(ctx.saved_arrays + tuple(p for p in parts if isinstance(p, np.ndarray))):
        if isinstance(a, np.ndarray) and _function.buffer_version(a) > ctx.seq:
            if saved_for is not None and k < len(saved_for) and not any(
                    ctx.parents[j].requires_grad for j in saved_for[k]):
                continue  # read only for gradients that no input takes (Function.saved_for)
            raise RuntimeError(
                f"{type(ctx).__name__}.backward: a tensor of shape {a.shape} that this op "
                f"saved for its gradient was modified in place (an in-place op such as add_ or "
                f"+=, t[...] = v, or an optimizer step; on it or on a view of its memory) after "
                f"the op ran, so its gradient would use the new values. Run the forward again "
                f"after the change, or change a copy (x = x + y instead of x += y)."
            )


def _saved_for(cls: type) -> tuple | None:
    """cls.saved_for where the backward that runs is the one it was written for (a subclass
    that overrides backward may read its saved arrays otherwise)."""
    if cls.saved_for is None:
        return None
    owner = next(k for k in cls.__mro__ if "saved_for" in k.__dict__)
    return cls.saved_for if owner.backward is cls.backward else None


def _deliver(node: Any, g: np.ndarray, wanted: dict | None, leaf_out: dict) -> None:
    """Accumulate g into node.grad, or into leaf_out when only `wanted` inputs are collected."""
    if wanted is not None:
        k = id(node)
        if k in wanted:
            leaf_out[k] = leaf_out[k] + g if k in leaf_out else g
    elif node.grad is None:
        node.grad = _tensor.Tensor(np.array(g, dtype=node.data.dtype))  # a copy we own
    elif node.grad.data.shape == g.shape and node.grad.data.flags.writeable:
        node.grad.data += g  # accumulate in place: a recurrent weight gets T contributions
    else:
        node.grad.data = node.grad.data + g


def _no_create_graph(where: str, create_graph: Any) -> None:
    if create_graph:
        raise NotImplementedError(
            f"{where}: create_graph=True (a gradient that is itself differentiable, for "
            f"higher derivatives) is not supported: every backward here runs on plain arrays "
            f"and records no graph. For a second derivative, differentiate numerically "
            f"(tinygrad_rnn.gradcheck's finite differences) or write it out as ops")


def backward(t: Any, grad: Any = None, retain_graph: bool | None = None,
             create_graph: bool = False, inputs: Any = None) -> None:
    """Accumulate gradients of t into `.grad` of every leaf behind it that requires grad, or,
    with `inputs` (a tensor or a sequence, as in PyTorch), into those tensors' `.grad` only
    (a non-leaf among them gets one too)."""
    _no_create_graph("backward()", create_graph)
    if not t.requires_grad:
        raise RuntimeError(
            "backward() on a tensor that does not require grad: no input of the computation "
            "had requires_grad=True, or it ran under no_grad()"
        )
    if inputs is None:
        _run([t], [_seed(t, grad)], bool(retain_graph), None)
        return
    ins = [inputs] if isinstance(inputs, _tensor.Tensor) else list(inputs)
    if not ins:
        raise RuntimeError("backward(): inputs= cannot be empty; leave it out to accumulate "
                           "into every leaf")
    for i, x in enumerate(ins):
        if not isinstance(x, _tensor.Tensor) or not x.requires_grad:
            what = (f"tensor {i} (shape {x.shape}) does not require grad"
                    if isinstance(x, _tensor.Tensor) else f"item {i} is a {type(x).__name__}")
            raise RuntimeError(f"backward(): inputs=: {what}; pass tensors that require grad")
    wanted = {id(x): x for x in ins}
    found = _run([t], [_seed(t, grad)], bool(retain_graph), wanted, run_wanted=True)
    for k, x in wanted.items():
        entry = _HOOKS.get(k)
        if k in found and not (x._ctx is not None and entry is not None and entry.retain):
            _deliver(x, found[k], None, {})  # (retain_grad already gave that one its .grad)


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, only_inputs: bool = True, allow_unused: bool | None = None,
         is_grads_batched: bool = False, materialize_grads: bool = False) -> tuple:
    """Gradients of `outputs` with respect to `inputs`, as a tuple, leaving `.grad` untouched.

    An input that the outputs do not depend on is an error, as in PyTorch, unless
    allow_unused=True (its gradient is then None) or materialize_grads=True (zeros).
    PyTorch's argument order; `only_inputs` is ignored as there, `create_graph=True` and
    `is_grads_batched=True` are not supported.
    """
    _no_create_graph("grad()", create_graph)
    if is_grads_batched:
        raise NotImplementedError("grad(): is_grads_batched=True is not supported; call "
                                  "grad() once per row of grad_outputs")
    retain_graph = bool(retain_graph)
    Tensor = _tensor.Tensor
    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        gos = [None] * len(outs)
    elif isinstance(grad_outputs, (Tensor, np.ndarray)):
        gos = [grad_outputs]
    else:
        gos = list(grad_outputs)
    if len(gos) != len(outs):
        raise ValueError(f"grad(): {len(outs)} outputs but {len(gos)} grad_outputs")
    for i, x in enumerate(ins):
        if not isinstance(x, Tensor) or not x.requires_grad:
            raise RuntimeError(f"grad(): input {i} does not require grad")
    for o in outs:
        if not o.requires_grad:
            raise RuntimeError("grad(): an output does not require grad (nothing to differentiate)")
    wanted = {id(x): x for x in ins}
    seeds = [_seed(o, g, "grad()", "grad_outputs=") for o, g in zip(outs, gos)]
    if allow_unused is False and materialize_grads:
        raise ValueError("grad(): materialize_grads=True gives unused inputs zeros, so it "
                         "cannot be combined with allow_unused=False")
    found = _run(outs, seeds, retain_graph, wanted)
    unused = [i for i, x in enumerate(ins) if id(x) not in found]
    if unused and not (allow_unused or materialize_grads):
        raise RuntimeError(f"grad(): input {unused[0]} (shape {ins[unused[0]].shape}) was not "
                           f"used to compute the outputs; pass allow_unused=True to get None "
                           f"for it, or materialize_grads=True to get zeros")
    return tuple(
        Tensor(np.array(found[id(x)], dtype=x.dtype)) if id(x) in found
        else Tensor(np.zeros(x.shape, dtype=x.dtype)) if materialize_grads else None
        for x in ins
    )
