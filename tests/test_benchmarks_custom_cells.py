"""Smoke test of benchmarks/custom_cells.py at a tiny size: it runs, and its cells agree with
their PyTorch twins on the first step's loss. No timing is checked (that is the benchmark's)."""
import importlib.util
import json
import os

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = dict(batch=2, hidden=8, seq=4, vocab=65, dtype="float32", lr=0.1)


@pytest.fixture(scope="module")
def bench():
    path = os.path.join(ROOT, "benchmarks", "custom_cells.py")
    spec = importlib.util.spec_from_file_location("_bench_custom_cells", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _batch():
    rng = np.random.default_rng(3)
    shape = (TINY["seq"], TINY["batch"])
    return rng.integers(0, TINY["vocab"], shape), rng.integers(0, TINY["vocab"], shape)


@pytest.mark.parametrize("cell", ["peephole", "lngru", "indrnn", "mingru", "lstm"])
def test_one_step_runs_and_learns(bench, cell):
    w = bench.initial_weights(cell, TINY)
    meta = {}
    step = bench.make_tinygrad(cell, TINY, w, meta=meta)
    batch = _batch()
    first = step(*batch)
    assert np.isfinite(first) and 0 < first < 10
    assert step(*batch) < first  # one SGD step on the same batch lowers its loss
    assert meta["compiled_arg"] == "default"


@pytest.mark.parametrize("cell", ["peephole", "lngru", "indrnn", "mingru", "lstm"])
def test_first_loss_matches_torch(bench, cell, torch):
    w = bench.initial_weights(cell, TINY)
    ours = bench.make_tinygrad(cell, TINY, w)(*_batch())
    eager = bench.make_tinygrad(cell, TINY, w, compiled=False)(*_batch())
    theirs = bench.make_torch(torch, cell, TINY, w, threads=1)(*_batch())
    assert ours == pytest.approx(theirs, rel=1e-4)
    assert eager == pytest.approx(theirs, rel=1e-4)


def test_main_writes_table_and_json(bench, tmp_path, capsys):
    out = tmp_path / "r.json"
    bench.main(["--quick", "--repeats", "1", "--batch", "2", "--hidden", "8", "--seq", "4",
                "--only", "mingru,lstm", "--torch-threads", "1", "--json", str(out)])
    text = capsys.readouterr().out
    assert "minGRU" in text and "goals" in text
    res = json.loads(out.read_text())
    assert set(res["cells"]) == {"mingru", "lstm"}
    assert res["loss_check"]["ok"]
    tiny = res["overhead_floor"]["mingru"]  # the per-op overhead rows ran, for both sides
    assert tiny["tg_s"] > 0 and tiny.get("torch_s", 1.0) > 0
    row = res["floor_rows"]["mingru"]
    assert row["bound_1t_s"] == pytest.approx(row["gemm_1t_s"] + tiny["tg_s"])
    assert "per-op overhead" in text


@pytest.mark.parametrize("cell", ["peephole", "lngru", "indrnn", "mingru", "lstm"])
def test_gemm_shapes_are_the_products_a_step_runs(bench, cell, monkeypatch):
    """The floor's shapes count exactly the matrix-product work of one training step: the
    FLOPs of every np.dot / np.matmul of two matrices in a step on the eager cell loop (the
    compiled path does the same work in other splits, plus the products of the two steps it
    records; the built-in LSTM runs its fused kernel either way)."""
    w = bench.initial_weights(cell, TINY)
    step = bench.make_tinygrad(cell, TINY, w, compiled=False)
    step(*_batch())  # first call: anything done once (code generation) is out of the way
    seen = []

    def spy(real):
        def product(a, b, *args, **kwargs):
            a_, b_ = np.asarray(a), np.asarray(b)
            if a_.ndim >= 2 and b_.ndim >= 2:
                rows = int(np.prod(a_.shape[:-1]))
                seen.append((rows, a_.shape[-1], b_.shape[-1]))
            return real(a, b, *args, **kwargs)
        return product
    monkeypatch.setattr(np, "dot", spy(np.dot))
    monkeypatch.setattr(np, "matmul", spy(np.matmul))
    step(*_batch())
    monkeypatch.undo()
    expected = [(m, k, n) for count, m, k, n in bench.gemm_shapes(cell, TINY)
                for _ in range(count)]

    def flops(shapes):
        return sum(2 * m * k * n for m, k, n in shapes)
    assert flops(seen) == flops(expected), (sorted(seen), sorted(expected))
