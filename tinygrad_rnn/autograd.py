"""Reverse-mode traversal: topological order, gradient accumulation, graph release.

Everything here is iterative (Kahn's algorithm), so a 100,000-op chain needs no recursion
and time linear in its length. Gradients wait in a dict keyed by node and are popped as
soon as the node is processed; each node's Function is released after it has been used.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from tinygrad_rnn import tensor as _tensor

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


def _toposort(root: Any) -> list:
    """Nodes behind root (those with a Function), root first, each before its parents."""
    indegree: dict = {}
    stack = [root]
    while stack:  # pass 1: count, for every node, the edges that lead into it
        ctx = stack.pop()._ctx
        if ctx.released:
            raise RuntimeError(_RELEASED)
        for p in ctx.parents:
            if p._ctx is not None and p.requires_grad:
                k = id(p)
                if k in indegree:
                    indegree[k] += 1
                else:
                    indegree[k] = 1
                    stack.append(p)
    order = []
    ready = [root]
    while ready:  # pass 2 (Kahn): a node is ready once all its consumers are done
        node = ready.pop()
        order.append(node)
        for p in node._ctx.parents:
            if p._ctx is not None and p.requires_grad:
                k = id(p)
                indegree[k] -= 1
                if not indegree[k]:
                    ready.append(p)
    return order


def _seed(t: Any, grad: Any) -> np.ndarray:
    if grad is None:
        if t.size != 1:
            raise RuntimeError(
                f"backward() without a gradient needs a tensor of one element, got shape "
                f"{t.shape}: pass grad= (an array of that shape) for a non-scalar output"
            )
        return np.ones(t.shape, dtype=t.dtype)
    g = grad.data if isinstance(grad, _tensor.Tensor) else np.asarray(grad, dtype=t.dtype)
    if g.shape != t.shape:
        raise RuntimeError(f"backward(): grad has shape {g.shape}, expected the output's {t.shape}")
    return g


def _run(roots: Sequence, seeds: Sequence, retain_graph: bool, wanted: dict | None) -> dict:
    """Propagate seeds from roots. Leaf gradients go to .grad, or into `wanted` when given."""
    grads: dict = {}
    for r, s in zip(roots, seeds):
        grads[id(r)] = grads[id(r)] + s if id(r) in grads else s
    leaf_out: dict = {}

    def deliver(node: Any, g: np.ndarray) -> None:
        if wanted is not None:
            if id(node) in wanted:
                leaf_out[id(node)] = leaf_out[id(node)] + g if id(node) in leaf_out else g
        elif node.grad is None:
            node.grad = _tensor.Tensor(np.array(g, dtype=node.dtype))
        else:
            node.grad.data = node.grad.data + g

    # one toposort over a virtual root that depends on every output
    order: list = []
    if len(roots) == 1 and roots[0]._ctx is not None:
        order = _toposort(roots[0])
    elif roots:
        holder = _tensor.Tensor.__new__(_tensor.Tensor)
        holder._ctx = _Roots(tuple(r for r in roots if r._ctx is not None))
        holder.requires_grad = True
        order = _toposort(holder)[1:]
    for r in roots:
        if r._ctx is None and id(r) in grads:
            deliver(r, grads.pop(id(r)))

    for node in order:
        g = grads.pop(id(node), None)
        ctx = node._ctx
        if wanted is not None and g is not None and id(node) in wanted:
            leaf_out[id(node)] = leaf_out[id(node)] + g if id(node) in leaf_out else g
        if g is None:
            if not retain_graph:
                _release(ctx)
            continue
        pgrads = ctx.backward(ctx, g)
        parents = ctx.parents
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
            if pg.shape != p.data.shape:
                pg = _sum_to(np.asarray(pg), p.data.shape, ctx, i)
            if pg.dtype != p.data.dtype:
                pg = pg.astype(p.data.dtype)
            if p._ctx is not None:
                k = id(p)
                grads[k] = grads[k] + pg if k in grads else pg
            else:
                deliver(p, pg)
        if not retain_graph:
            _release(ctx)
    return leaf_out


class _Roots:
    """A stand-in Function whose parents are several outputs (for grad() of many outputs)."""

    released = False

    def __init__(self, parents: tuple):
        self.parents = parents


def _release(ctx: Any) -> None:
    ctx.saved_arrays = ()
    ctx.parents = ()
    ctx.released = True


def backward(t: Any, grad: Any = None, retain_graph: bool = False) -> None:
    """Accumulate gradients of t into `.grad` of every leaf behind it that requires grad."""
    if not t.requires_grad:
        raise RuntimeError(
            "backward() on a tensor that does not require grad: no input of the computation "
            "had requires_grad=True, or it ran under no_grad()"
        )
    _run([t], [_seed(t, grad)], retain_graph, None)


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None,
         retain_graph: bool = False) -> tuple:
    """Gradients of `outputs` with respect to `inputs`, as a tuple, leaving `.grad` untouched.

    Inputs that the outputs do not depend on get a zero gradient.
    """
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
    found = _run(outs, [_seed(o, g) for o, g in zip(outs, gos)], retain_graph, wanted)
    return tuple(
        Tensor(np.array(found[id(x)], dtype=x.dtype)) if id(x) in found
        else Tensor(np.zeros(x.shape, dtype=x.dtype))
        for x in ins
    )
