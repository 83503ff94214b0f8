"""to_dot: the graph in DOT (it parses, names ops, shapes and parameters), repeated steps
grouped, and render() with Graphviz when installed."""
import re
import shutil
import subprocess

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Function, nn
from tinygrad_rnn.debug import dot as dotmod

_NODE = re.compile(r'^\s*(n\d+) \[(.*)\];$')
_EDGE = re.compile(r'^\s*(n\d+) -> (n\d+)( \[(.*)\])?;$')


def parse(text):
    """A small DOT reader for what to_dot writes: balanced braces, quoted labels, every
    edge endpoint declared. Returns (nodes {id: label}, edges [(a, b, attrs)], clusters
    [(label, [ids])])."""
    assert text.startswith("digraph G {") and text.rstrip().endswith("}")
    depth, nodes, edges, clusters = 0, {}, [], []
    current = None
    for line in text.splitlines():
        stripped = re.sub(r'"(\\.|[^"\\])*"', '""', line)  # braces inside labels don't count
        depth += stripped.count("{") - stripped.count("}")
        assert depth >= 0, line
        if line.strip().startswith("subgraph cluster_"):
            current = [None, []]
            clusters.append(current)
            continue
        if current is not None and line.strip().startswith("label=") and current[0] is None:
            current[0] = re.match(r'\s*label="((\\.|[^"\\])*)"', line).group(1)
            continue
        if line.strip() == "}" and current is not None and depth == 1:
            current = None
            continue
        m = _NODE.match(line)
        if m:
            label = re.search(r'label="((\\.|[^"\\])*)"', m.group(2)).group(1)
            assert m.group(1) not in nodes, f"{m.group(1)} declared twice"
            nodes[m.group(1)] = label
            if current is not None:
                current[1].append(m.group(1))
            continue
        m = _EDGE.match(line)
        if m:
            edges.append((m.group(1), m.group(2), m.group(4) or ""))
    assert depth == 0, "unbalanced braces"
    for a, b, _ in edges:
        assert a in nodes and b in nodes, f"edge {a} -> {b} has an undeclared end"
    return nodes, edges, [tuple(c) for c in clusters]


def check_with_graphviz(text):
    if shutil.which("dot") is None:
        return
    done = subprocess.run(["dot", "-Tsvg"], input=text.encode(), capture_output=True)
    assert done.returncode == 0, done.stderr.decode()
    assert b"<svg" in done.stdout


def cell_loop(cell, T, x=None, batch=2):
    x = tg.randn(T, batch, cell.input_size) if x is None else x
    state, hs = None, []
    for t in range(T):
        state = cell(x[t], state)
        hs.append(state[0] if isinstance(state, tuple) else state)
    return tg.stack(hs)


def test_small_graph_names_ops_shapes_and_parameters():
    lin = nn.Linear(3, 4)
    x = tg.randn(2, 3)
    y = lin(x).tanh().sum()
    nodes, edges, clusters = parse(tg.to_dot(y, lin))
    labels = sorted(nodes.values())
    assert labels == sorted(["Linear (2, 4)", "Tanh (2, 4)", "Sum ()", "constant (2, 3)",
                             "weight (4, 3)", "bias (4,)"])
    by = {v: k for k, v in nodes.items()}
    assert (by["Linear (2, 4)"], by["Tanh (2, 4)"], "") in edges  # data direction
    assert (by["weight (4, 3)"], by["Linear (2, 4)"], "") in edges
    assert not clusters
    check_with_graphviz(tg.to_dot(y, lin))


def test_params_as_dict_pairs_or_module_and_leaves_without_names():
    a = tg.randn(3, requires_grad=True)
    b = tg.randn(3, requires_grad=True)
    y = (a * b).sum()
    for params in ({"alpha": a}, [("alpha", a)], iter([("alpha", a)])):
        labels = set(parse(tg.to_dot(y, params))[0].values())
        assert {"alpha (3,)", "leaf (3,)", "Mul (3,)", "Sum ()"} == labels
    assert "leaf (3,)" in tg.to_dot(y)
    with pytest.raises(TypeError, match="params="):
        tg.to_dot(y, [a])
    with pytest.raises(TypeError, match="expected a Tensor"):
        tg.to_dot(np.ones(3))


def test_a_leaf_alone_and_a_released_graph():
    a = tg.randn(2, requires_grad=True)
    nodes, edges, _ = parse(tg.to_dot(a))
    assert list(nodes.values()) == ["leaf (2,)"] and not edges
    y = (a * 2.0).sum()
    y.backward()  # frees the graph: the result is then a lone node
    parse(tg.to_dot(y))


def test_several_outputs_are_one_node_with_numbered_edges():
    class Halves(Function):
        """y0, y1 = x[:n], x[n:];  dx = concat(g0, g1)"""

        @staticmethod
        def forward(ctx, x):
            n = x.shape[0] // 2
            return x[:n].copy(), x[n:].copy()

        @staticmethod
        def backward(ctx, g0, g1):
            return np.concatenate([g0, g1])

    x = tg.randn(6, requires_grad=True)
    a, b = Halves.apply(x)
    y = (a.exp() + b * 2.0).sum()
    nodes, edges, _ = parse(tg.to_dot(y))
    halves = [k for k, v in nodes.items() if v.startswith("Halves")]
    assert len(halves) == 1 and nodes[halves[0]] == "Halves (3,), (3,)"
    outs = sorted(attrs for src, _, attrs in edges if src == halves[0])
    assert outs == ['label="out 0"', 'label="out 1"']


@pytest.mark.parametrize("cell_cls", [nn.LSTMCell, nn.RNNCell, nn.GRUCell])
def test_an_eager_cell_loop_is_one_cluster(cell_cls):
    cell = cell_cls(3, 8)
    out = cell_loop(cell, 64).sum()
    text = tg.to_dot(out, cell)
    nodes, edges, clusters = parse(text)
    assert len(clusters) == 1
    label, members = clusters[0]
    assert label.startswith("x 63")  # the first step differs (it starts from zeros)
    per_step = int(re.search(r"\((\d+) ops per step\)", label).group(1))
    ops = [n for n in members if not nodes[n].startswith("input")]
    assert len(ops) == per_step
    # the first step, one step in the cluster, Stack and Sum; leaves: parameters, inputs
    n_ops = sum(1 for v in nodes.values() if "(" in v and v[0].isupper())
    assert n_ops == 2 * per_step + 2
    assert len(nodes) < 60
    assert any("from previous step" in attrs for *_, attrs in edges)
    assert any('label="x 63"' in attrs for *_, attrs in edges)  # the outputs into Stack
    names = {v.split(" ")[0] for v in nodes.values()}
    assert {"weight_ih", "weight_hh"} <= names
    check_with_graphviz(text)


def test_grouping_is_sound_on_the_whole_op_sequence():
    """Every op of a run corresponds to the op one period later (the rule itself)."""
    cell = nn.LSTMCell(2, 4)
    out = cell_loop(cell, 20).sum()
    g = dotmod._Graph(out)
    named = dotmod._param_names(cell)
    runs = dotmod.find_runs(g, named)
    assert len(runs) == 1
    s, p, blocks = runs[0]
    assert blocks == 19 and p * 20 + 2 == len(g.ops)
    assert type(g.ops[s]).__name__ == "Linear"  # the block starts where the step does
    for j in range(s, s + p * (blocks - 1)):
        assert dotmod._correspond(g, j, p, named)


def test_ungrouped_and_min_repeats():
    cell = nn.RNNCell(2, 3)
    out = cell_loop(cell, 6).sum()
    nodes, _, clusters = parse(tg.to_dot(out, group_repeats=False))
    assert not clusters and sum(v.startswith("Tanh") for v in nodes.values()) == 6
    _, _, clusters = parse(tg.to_dot(out, min_repeats=6))
    assert not clusters  # 5 repeated steps only
    _, _, clusters = parse(tg.to_dot(out, min_repeats=5))
    assert clusters and clusters[0][0].startswith("x 5")


def test_different_weights_per_step_are_not_grouped_when_named():
    layers = [nn.Linear(4, 4) for _ in range(6)]
    x = tg.randn(2, 4)
    for m in layers:
        x = m(x).tanh()
    model = nn.Sequential(*layers)
    _, _, clusters = parse(tg.to_dot(x.sum(), model))
    assert not clusters  # each layer shows its own parameter names
    _, _, clusters = parse(tg.to_dot(x.sum()))
    assert clusters  # unnamed, the stack of identical layers is one repeated block


def test_a_two_layer_bidirectional_loop_gets_a_cluster_per_direction():
    cells = [nn.RNNCell(3, 4), nn.RNNCell(3, 4), nn.RNNCell(8, 4), nn.RNNCell(8, 4)]
    x = tg.randn(30, 2, 3)
    for layer in range(2):
        fwd = cell_loop(cells[2 * layer], 30, x)
        bwd = cell_loop(cells[2 * layer + 1], 30, x.flip(0)).flip(0)
        x = tg.cat([fwd, bwd], axis=-1)
    text = tg.to_dot(x.sum(), nn.ModuleList(cells))
    nodes, _, clusters = parse(text)
    assert [c[0].split("  ")[0] for c in clusters] == ["x 29"] * 4
    assert len(nodes) < 80
    check_with_graphviz(text)


def _layer_loop(compiled):
    m = nn.Recurrent(lambda i: nn.LSTMCell(i, 8), input_size=3, compiled=compiled)
    out, _ = m(tg.randn(64, 2, 3))
    return m, out.sum()


def test_recurrent_eager_and_compiled():
    m, loss = _layer_loop(compiled=False)
    text = tg.to_dot(loss, m)
    nodes, _, clusters = parse(text)
    assert len(clusters) == 1 and clusters[0][0].startswith("x 63")
    assert any(v.startswith("cell_l0.weight_ih") for v in nodes.values())
    check_with_graphviz(text)

    m, loss = _layer_loop(compiled=True)
    text = tg.to_dot(loss, m)
    nodes, _, clusters = parse(text)
    scans = [v for v in nodes.values() if v.startswith("Scan")]
    if tg.compiled.scan_info()["path"] != "compiled":
        pytest.skip(f"the step ran eagerly: {tg.compiled.scan_info()['why']}")
    assert len(scans) == 1
    plan_ops = re.search(r"(\d+) ops per step x (\d+) steps", scans[0])
    assert plan_ops and int(plan_ops.group(2)) == 61 and int(plan_ops.group(1)) > 3
    assert not clusters and len(nodes) < 80  # steps 0-2 as the loop ran them, then one Scan
    check_with_graphviz(text)


def test_labels_with_quotes_are_escaped():
    a = tg.randn(2, requires_grad=True)
    text = tg.to_dot((a * 2.0).sum(), {'we"ird {name}': a})
    nodes, _, _ = parse(text)
    assert 'we\\"ird {name} (2,)' in nodes.values()
    check_with_graphviz(text)


# ----- render -----------------------------------------------------------------------------
def test_render_without_graphviz_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(dotmod.shutil, "which", lambda name: None)
    a = tg.randn(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        tg.render((a * 2.0).sum(), tmp_path / "g")


def test_render_checks_its_arguments(tmp_path):
    with pytest.raises(ValueError, match="format"):
        tg.render("digraph G {}", tmp_path / "g", format="gif")
    with pytest.raises(TypeError, match="DOT text"):
        tg.render(3, tmp_path / "g")
    with pytest.raises(ValueError, match=r"names png but format='svg'.*ending in \.svg"):
        tg.render("digraph G {}", tmp_path / "g.png", format="svg")  # (was SVG in a .png)
    with pytest.raises(ValueError, match=r"ends in \.jpg, which is none of the formats"):
        tg.render("digraph G {}", tmp_path / "g.jpg")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_render_takes_the_format_from_the_suffix(tmp_path):
    assert tg.render("digraph G { a -> b }", tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"
    assert b"<svg" in tg.render("digraph G { a -> b }", tmp_path / "g").read_bytes()[:1000]


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
@pytest.mark.parametrize("fmt,magic", [("svg", b"<svg"), ("png", b"\x89PNG")])
def test_render_with_graphviz(tmp_path, fmt, magic):
    cell = nn.GRUCell(3, 4)
    loss = cell_loop(cell, 10).sum()
    path = tg.render(loss, tmp_path / "graph", format=fmt, params=cell)
    assert path.suffix == "." + fmt and magic in path.read_bytes()[:1000]
    path = tg.render(tg.to_dot(loss), tmp_path / "g2.out", format=fmt)
    assert path.name == "g2.out" and path.stat().st_size > 0
    with pytest.raises(RuntimeError, match="dot -T"):
        tg.render("digraph G { this is not dot", tmp_path / "bad", format=fmt)


def test_debug_loads_on_first_use():
    import subprocess
    import sys
    code = ("import sys, tinygrad_rnn; assert 'tinygrad_rnn.debug' not in sys.modules; "
            "f = tinygrad_rnn.to_dot; import tinygrad_rnn.debug as d; "
            "assert f is d.to_dot and tinygrad_rnn.render is d.render")
    subprocess.run([sys.executable, "-c", code], check=True)
