"""to_dot: the graph behind a tensor as Graphviz DOT text; render: DOT to SVG/PNG with `dot`.

One node per op (its Function's name and output shape), one per leaf (its shape, and its
parameter name when `params=` names it), edges in data direction (input -> op).

Repeated steps of a loop are drawn once. The ops are put in creation order (each node's
`seq`); for a period p, op i and op i+p *correspond* when they are the same Function with
the same output shapes and each pair of their inputs is either the same tensor (a weight, a
value computed before the loop), or the outputs of two ops p places apart (same output
index), or two distinct leaves of the same shape and dtype (the per-step inputs x[t]).
A run is a stretch of consecutive blocks of p ops, each block corresponding op by op to
the next one: blocks that are isomorphic, with the same edges to each other, to shared
inputs and to per-step leaves. Among the block boundaries a stretch allows, the one that
cuts the fewest edges between neighbouring blocks wins (the step boundary of a cell loop,
where only the state crosses). Runs of at least `min_repeats` blocks are kept, largest
first, without overlaps. A run is drawn as a cluster labelled "x n" holding its first
block; every edge of the graph is drawn between the pictures of its two ends, so the edges
from one block to the next become a dashed loop inside the cluster (the recurrence), and
the n edges from the run to an op outside (a `Stack` of all outputs) one edge labelled "x n".

The compiled path's recurrence is a single `Scan` node: it is drawn with the count of ops
it replays per step and the number of steps.
"""
from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

from tinygrad_rnn.tensor import Tensor

_SHARED, _SHIFTED, _FRESH = "shared", "shifted", "fresh"


def _shape(s: tuple) -> str:
    return "(" + ", ".join(str(d) for d in s) + ("," if len(s) == 1 else "") + ")"


def _param_names(params: Any) -> dict:
    """{id(tensor): name} from a Module, a dict name -> Tensor, or (name, tensor) pairs."""
    if params is None:
        return {}
    if hasattr(params, "named_parameters"):
        params = params.named_parameters()
    elif hasattr(params, "items"):
        params = params.items()
    names = {}
    for pair in params:
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[1], Tensor)):
            raise TypeError("to_dot: params= must be a Module, a dict name -> Tensor or "
                            f"(name, Tensor) pairs, got an element {type(pair).__name__}")
        names.setdefault(id(pair[1]), str(pair[0]))
    return names


class _Graph:
    """The ops (in creation order) and leaves behind a tensor, with their inputs."""

    def __init__(self, root: Tensor):
        self.ops: list = []  # Function instances, oldest first
        self.index: dict = {}  # id(ctx) -> position in ops
        self.out_shapes: dict = {}  # id(ctx) -> tuple of output shapes
        self.leaves: dict = {}  # id(tensor) -> tensor
        self.inputs: list = []  # per op: [("op", position, output index) | ("leaf", id)]
        seen: dict = {}
        stack = [root]
        while stack:
            t = stack.pop()
            ctx = t._ctx
            if ctx is None:
                self.leaves[id(t)] = t
                continue
            if id(ctx) not in seen:
                seen[id(ctx)] = ctx
                self.out_shapes[id(ctx)] = self._outputs(ctx, t)
                stack.extend(p for p in (ctx.parents or ()) if isinstance(p, Tensor))
        self.ops = sorted(seen.values(), key=lambda c: getattr(c, "seq", -1))
        self.index = {id(c): i for i, c in enumerate(self.ops)}
        for c in self.ops:
            ins = []
            for p in (c.parents or ()):
                if not isinstance(p, Tensor):
                    continue
                if p._ctx is None:
                    ins.append(("leaf", id(p)))
                else:
                    ins.append(("op", self.index[id(p._ctx)], _output_index(p)))
            self.inputs.append(ins)
        self.root = ("leaf", id(root)) if root._ctx is None else \
            ("op", self.index[id(root._ctx)], _output_index(root))

    @staticmethod
    def _outputs(ctx: Any, t: Tensor) -> tuple:
        if ctx.outputs:
            return tuple(s for s, _ in ctx.outputs)
        return (t.shape,)

    def label(self, i: int) -> str:
        c = self.ops[i]
        name = type(c).__name__
        shapes = ", ".join(_shape(s) for s in self.out_shapes[id(c)])
        if c.parents is None:
            return f"{name} {shapes} (released by backward)"
        plan = getattr(c, "plan", None)
        if name == "Scan" and plan is not None:  # the compiled recurrence: what it replays
            counts = Counter(op[0].__name__ for op in plan.ops)
            inner = ", ".join(f"{n} x{k}" if k > 1 else n for n, k in counts.items())
            return (f"Scan {shapes}\\n{len(plan.ops)} ops per step x {plan.steps} steps"
                    f"\\n{_wrap(inner)}")
        return f"{name} {shapes}"


def _output_index(t: Tensor) -> int:
    ids = getattr(t._ctx, "output_ids", None)
    return ids.index(id(t)) if ids and id(t) in ids else 0


def _wrap(text: str, width: int = 48) -> str:
    lines, line = [], ""
    for word in text.split(", "):
        if line and len(line) + len(word) > width:
            lines.append(line + ",")
            line = word
        else:
            line = f"{line}, {word}" if line else word
    return "\\n".join(lines + [line])


# ----- repeated steps -----------------------------------------------------------------------
def _correspond(g: _Graph, i: int, p: int, named: dict) -> bool:
    """Whether op i+p repeats op i (see the module docstring)."""
    a, b = g.ops[i], g.ops[i + p]
    if type(a) is not type(b) or g.out_shapes[id(a)] != g.out_shapes[id(b)]:
        return False
    ia, ib = g.inputs[i], g.inputs[i + p]
    if len(ia) != len(ib) or (a.parents is None) != (b.parents is None):
        return False
    for x, y in zip(ia, ib):
        if x == y:
            continue  # the same tensor: a weight, or a value made before the loop
        if x[0] != y[0]:
            return False
        if x[0] == "op":
            if y[1] - x[1] != p or x[2] != y[2]:
                return False
        else:  # two leaves: per-step inputs, unless named (a parameter keeps its identity)
            lx, ly = g.leaves[x[1]], g.leaves[y[1]]
            if x[1] in named or y[1] in named or lx.shape != ly.shape or lx.dtype != ly.dtype:
                return False
    return True


def _kinds(g: _Graph, i: int, p: int) -> list:
    """How each input of op i relates to op i+p's (after _correspond held)."""
    return [_SHARED if x == y else (_SHIFTED if x[0] == "op" else _FRESH)
            for x, y in zip(g.inputs[i], g.inputs[i + p])]


def _candidate_periods(g: _Graph, limit: int = 24) -> list:
    """Periods worth checking: distances between ops with the same name and inputs' kinds,
    kept when they occur often enough to make at least two blocks."""
    keys = [(type(c).__name__, g.out_shapes[id(c)], tuple(x[0] for x in ins))
            for c, ins in zip(g.ops, g.inputs)]
    where: dict = {}
    count: Counter = Counter()
    for i, k in enumerate(keys):
        earlier = where.setdefault(k, [])
        for j in earlier[-32:]:  # 32 back: an op used more often in one step is missed
            count[i - j] += 1
        earlier.append(i)
    return [p for p, n in count.most_common() if n >= p][:limit]


def _best_phase(g: _Graph, start: int, length: int, p: int, min_repeats: int) -> tuple | None:
    """(cut edges, -blocks, first op) of the best block boundary in a stretch where op j
    repeats op j+p for j in [start, start+length): fewest edges between blocks."""
    best = None
    for phase in range(min(p, length)):
        s = start + phase
        n = 1 + (length - phase) // p
        if n < min_repeats:
            break
        cut = sum(1 for j in range(s, s + p) for x in g.inputs[j]
                  if x[0] == "op" and x[1] < s and x[1] >= s - p)
        key = (cut, -n, s)
        if best is None or key < best:
            best = key
    return best


def find_runs(g: _Graph, named: dict, min_repeats: int = 3) -> list:
    """Non-overlapping runs (first op, period, blocks) of repeated steps, by coverage."""
    found = []
    n = len(g.ops)
    for p in _candidate_periods(g):
        j = 0
        while j + p < n:
            if not _correspond(g, j, p, named):
                j += 1
                continue
            start = j
            while j + p < n and _correspond(g, j, p, named):
                j += 1
            phase = _best_phase(g, start, j - start, p, min_repeats)
            if phase is not None:
                s, blocks = phase[2], -phase[1]
                found.append((blocks * p, -p, s, blocks))
    runs, taken = [], []
    for cover, neg_p, s, blocks in sorted(found, reverse=True):
        e = s + cover
        if all(e <= a or s >= b for a, b in taken) and _closed(g, s, -neg_p, blocks):
            taken.append((s, e))
            runs.append((s, -neg_p, blocks))
    return sorted(runs)


def _closed(g: _Graph, s: int, p: int, blocks: int) -> bool:
    """A shared op input must come from outside the run (else a block would see it once as
    its own and once as an earlier block's op)."""
    e = s + p * blocks
    for j in range(s, e - p):
        for x, k in zip(g.inputs[j], _kinds(g, j, p)):
            if k == _SHARED and x[0] == "op" and s <= x[1] < e:
                return False
    return True


# ----- DOT ------------------------------------------------------------------------------------
def _quote(text: str) -> str:
    return '"' + text.replace('"', '\\"') + '"'


def to_dot(tensor: Tensor, params: Any = None, *, group_repeats: bool = True,
           min_repeats: int = 3) -> str:
    """The graph behind `tensor` in Graphviz DOT.

    One box per op ("Tanh (4, 8)"), an ellipse per leaf (its parameter name when `params`
    names it: a Module, a dict name -> Tensor or `model.named_parameters()`), edges from
    inputs to ops (labelled with the output index for an op with several outputs). Repeated
    steps of a loop (at least `min_repeats` of them) are drawn once, in a cluster "x n"
    (see the module docstring for the rule); group_repeats=False draws every op.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"to_dot: expected a Tensor, got {type(tensor).__name__}")
    named = _param_names(params)
    g = _Graph(tensor)
    runs = find_runs(g, named, min_repeats) if group_repeats else []
    # every op's picture: itself, or its counterpart in its run's first block
    picture = list(range(len(g.ops)))
    run_of: dict = {}
    for r, (s, p, blocks) in enumerate(runs):
        for j in range(s, s + p * blocks):
            picture[j] = s + (j - s) % p
            run_of[j] = r
    # a leaf consumed only inside one run, by one block's ops, is a per-step input: drawn
    # once in the cluster, keyed by the input slot of its op's picture
    consumers: dict = {}
    for j, ins in enumerate(g.inputs):
        for k, x in enumerate(ins):
            if x[0] == "leaf":
                consumers.setdefault(x[1], []).append((j, k))
    leaf_picture: dict = {}
    for lid, uses in consumers.items():
        rs = {run_of.get(j) for j, _ in uses}
        if len(rs) == 1 and None not in rs and lid not in named:
            s, p, _ = runs[rs.pop()]
            if len({(j - s) // p for j, _ in uses}) == 1:
                j, k = uses[0]
                leaf_picture[lid] = ("step-leaf", picture[j], k)
                continue
        leaf_picture[lid] = ("leaf", lid)

    ids: dict = {}

    def node_id(key: Any) -> str:
        return ids.setdefault(key, f"n{len(ids)}")

    root_key = ("op", picture[g.root[1]]) if g.root[0] == "op" else leaf_picture.get(
        g.root[1], ("leaf", g.root[1]))
    lines = ["digraph G {", '  graph [rankdir=TB, fontname="Helvetica"];',
             '  node [fontname="Helvetica", fontsize=10];', '  edge [fontsize=9];']
    declared: set = set()

    def declare(key: Any, indent: str = "  ") -> None:
        if key in declared:
            return
        declared.add(key)
        if key[0] == "op":
            attrs = f"label={_quote(g.label(key[1]))}, shape=box"
            attrs += ', style=filled, fillcolor="#c8e6c9"' if key == root_key else ""
        else:
            t = g.leaves[key[1]] if key[0] == "leaf" else _leaf_at(g, key)
            name = named.get(id(t))
            if name is not None:
                text, fill = f"{name} {_shape(t.shape)}", "#bbdefb"
            elif key[0] == "step-leaf":
                text, fill = f"input per step {_shape(t.shape)}", "#eeeeee"
            else:
                kind = "leaf" if t.requires_grad else "constant"
                text, fill = f"{kind} {_shape(t.shape)}", "#bbdefb" if t.requires_grad \
                    else "#eeeeee"
            attrs = f"label={_quote(text)}, shape=ellipse, style=filled, fillcolor=\"{fill}\""
            if key == root_key:
                attrs += ", peripheries=2"
        lines.append(f"{indent}{node_id(key)} [{attrs}];")

    # clusters first, with their ops and per-step leaves
    for r, (s, p, blocks) in enumerate(runs):
        lines.append(f"  subgraph cluster_{r} {{")
        lines.append(f"    label={_quote(f'x {blocks}  ({p} ops per step)')}; "
                     'style="dashed,rounded"; color="#1565c0"; fontcolor="#1565c0";')
        for j in range(s, s + p):
            declare(("op", j), "    ")
        for lid, key in leaf_picture.items():
            if key[0] == "step-leaf" and s <= key[1] < s + p:
                declare(key, "    ")
        lines.append("  }")
    for j in range(len(g.ops)):
        if picture[j] == j:
            declare(("op", j))
    for lid in consumers:
        declare(leaf_picture[lid])
    if g.root[0] == "leaf":
        declare(root_key)

    # edges: every input of every op, between the pictures of both ends, counted
    edges: Counter = Counter()
    for j, ins in enumerate(g.inputs):
        dst = ("op", picture[j])
        for x in ins:
            if x[0] == "op":
                src = ("op", picture[x[1]])
                back = run_of.get(x[1]) is not None and run_of.get(x[1]) == run_of.get(j) \
                    and (x[1] - runs[run_of[j]][0]) // runs[run_of[j]][1] \
                    < (j - runs[run_of[j]][0]) // runs[run_of[j]][1]
                several = len(g.out_shapes[id(g.ops[x[1]])]) > 1
                edges[(src, dst, x[2] if several else None, back)] += 1
            else:
                edges[(leaf_picture[x[1]], dst, None, False)] += 1
    for (src, dst, out, back), n in edges.items():
        attrs = []
        text = [] if out is None else [f"out {out}"]
        inside = src[0] != "leaf" and run_of.get(src[1]) is not None and \
            run_of.get(src[1]) == run_of.get(dst[1])
        if back:
            attrs += ["style=dashed", 'color="#1565c0"', "constraint=false"]
            text.append("from previous step")
        elif n > 1 and not inside:
            text.append(f"x {n}")
        if text:
            attrs.append(f"label={_quote(', '.join(text))}")
        suffix = f" [{', '.join(attrs)}]" if attrs else ""
        lines.append(f"  {node_id(src)} -> {node_id(dst)}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _leaf_at(g: _Graph, key: tuple) -> Tensor:
    """The leaf that input `key[2]` of op `key[1]` (a run's first block) reads."""
    return g.leaves[g.inputs[key[1]][key[2]][1]]


# ----- rendering ------------------------------------------------------------------------------
FORMATS = ("svg", "png", "pdf")


def render(dot_or_tensor: Any, path: Any, format: str | None = None,
           params: Any = None) -> Path:
    """Write a picture of a graph (DOT text from to_dot, or a Tensor) with Graphviz's `dot`.

    The format is `format`, else the path's suffix (.svg, .png or .pdf; another suffix is
    refused), else svg; a path without a suffix gets the format's. A suffix that names
    another format than `format` is refused. Returns the written path. Raises RuntimeError saying how to
    install Graphviz when `dot` is not on PATH.
    """
    out = Path(path)
    named = out.suffix[1:].lower()
    if format is None:
        if named and named not in FORMATS:
            raise ValueError(f"render: the path {str(out)!r} ends in .{named}, which is none "
                             f"of the formats {FORMATS}; end it in one, or pass format=")
        format = named or "svg"
    if format not in FORMATS:
        raise ValueError(f"render: format must be one of {FORMATS}, got {format!r}")
    if named in FORMATS and named != format:
        raise ValueError(f"render: the path {str(out)!r} names {named} but format={format!r}; "
                         f"give a path ending in .{format}, or leave format out")
    if isinstance(dot_or_tensor, Tensor):
        text = to_dot(dot_or_tensor, params)
    elif isinstance(dot_or_tensor, str):
        text = dot_or_tensor
    else:
        raise TypeError(f"render: expected DOT text (str) or a Tensor, got "
                        f"{type(dot_or_tensor).__name__}")
    exe = shutil.which("dot")
    if exe is None:
        raise RuntimeError(
            "render: Graphviz's `dot` program is not installed (or not on PATH). Install "
            "Graphviz: `apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` "
            "(macOS), `conda install graphviz`, or see https://graphviz.org/download/. "
            "Without it, save to_dot(...) to a .dot file and render it elsewhere.")
    if not out.suffix:
        out = out.with_suffix("." + format)
    done = subprocess.run([exe, f"-T{format}", "-o", str(out)], input=text.encode(),
                          capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"render: dot -T{format} failed (exit {done.returncode}): "
                           f"{done.stderr.decode(errors='replace').strip()}")
    return out
