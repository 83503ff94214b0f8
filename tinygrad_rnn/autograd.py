"""Reverse-mode traversal: topological order, gradient accumulation, graph release.

Every recorded node carries a generation number (`ctx.seq`) that grows with creation, so a
node is always newer than its inputs. Backward pops nodes newest first from a heap: by the
time a node comes out, every consumer has handed it its gradient. One pass, no recursion,
and no counting walk beforehand (a chain keeps a heap of one entry, so a 100,000-op chain
costs linear time). Gradients wait in a dict keyed by node and are popped when the node is
processed; each node's Function is released right after it has been used.
"""
from __future__ import annotations

from heapq import heappop, heappush
from typing import Any, Sequence

import numpy as np

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
    """Propagate seeds from roots, newest node first. Leaf gradients accumulate into
    `.grad`, or, for grad(), into the returned dict for the `wanted` inputs."""
    grads: dict = {}
    owned: set = set()  # ids whose buffer in `grads` was allocated here and may grow in place
    leaf_out: dict = {}
    heap: list = []  # (-seq, node): newest first; a node enters when its first gradient arrives
    for r, s in zip(roots, seeds):
        k = id(r)
        if r._ctx is None:
            _deliver(r, s, wanted, leaf_out)
        elif k in grads:
            grads[k] = grads[k] + s
        else:
            grads[k] = s
            heappush(heap, (-r._ctx.seq, r))

    while heap:
        node = heappop(heap)[1]
        ctx = node._ctx
        parents = ctx.parents
        if parents is None:
            raise RuntimeError(_RELEASED)
        g = grads.pop(id(node))
        if owned:
            owned.discard(id(node))
        if wanted is not None and id(node) in wanted:
            _deliver(node, g, wanted, leaf_out)
        pgrads = ctx.backward(ctx, g)
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
            if pg.__class__ is IndexedGrad:
                if p._ctx is None:
                    _deliver(p, pg.dense(p.data.dtype), wanted, leaf_out)  # rare: keep simple
                    continue
                k = id(p)
                buf = grads.get(k)
                if buf is None:
                    heappush(heap, (-p._ctx.seq, p))
                if k not in owned:  # a fresh buffer that no other node shares
                    buf = np.zeros(p.data.shape, p.data.dtype) if buf is None else buf.copy()
                    owned.add(k)
                pg.add_to(buf)
                grads[k] = buf
                continue
            if pg.__class__ is not np.ndarray:
                pg = np.asarray(pg)
            if pg.shape != p.data.shape:
                pg = _sum_to(pg, p.data.shape, ctx, i)
            if pg.dtype != p.data.dtype:
                pg = pg.astype(p.data.dtype)
            if p._ctx is None:
                _deliver(p, pg, wanted, leaf_out)
                continue
            k = id(p)
            if k not in grads:
                grads[k] = pg
                heappush(heap, (-p._ctx.seq, p))
            elif owned and k in owned:
                grads[k] += pg
            else:
                grads[k] = grads[k] + pg
        if not retain_graph:  # free the saved arrays and the graph behind this node now
            ctx.__dict__.clear()
            ctx.parents = None  # marks the node as released
    return leaf_out


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
