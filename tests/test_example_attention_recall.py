"""examples/attention_recall.py: the task is what it says, masked positions get no attention,
and (reduced run, slow) attention learns the recall far better than the final states."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "attention_recall.py"


def _load():
    spec = importlib.util.spec_from_file_location("attention_recall_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_batches_ask_for_the_value_of_the_query_key():
    ex = _load()
    tokens, target, pad = ex.make_batch(np.random.default_rng(0), 64)
    assert tokens.shape == (64, ex.LENGTH) and (pad == (tokens == ex.PAD)).all()
    for row, value in zip(tokens, target):
        pairs = row[2:][row[2:] != ex.PAD].reshape(-1, 2)
        assert ex.MIN_PAIRS <= len(pairs) <= ex.MAX_PAIRS and row[1] == ex.SEP
        (hit,) = np.flatnonzero(pairs[:, 0] == row[0])  # the query key occurs exactly once
        assert pairs[hit, 1] == ex.VALUE0 + value


def test_attention_ignores_padding_and_the_query_positions():
    ex = _load()
    tokens, target, pad = ex.make_batch(np.random.default_rng(1), 8)
    logits, weights = ex.Recall()(tokens, pad)
    assert logits.shape == (8, ex.N_VALUES) and weights.shape == tokens.shape
    w = weights.numpy()
    np.testing.assert_allclose(w.sum(axis=-1), 1.0, rtol=1e-5)
    assert (w[pad] == 0).all() and (w[:, :2] == 0).all()
    logits, weights = ex.Recall(attention=False)(tokens, pad)
    assert logits.shape == (8, ex.N_VALUES) and weights is None


@pytest.mark.slow
def test_attention_recall_quick_run_beats_the_final_states(capsys):
    result = _load().main(["--quick"])
    out = capsys.readouterr().out
    assert "held-out accuracy" in out and "attention:" in out
    att, plain = result["attention"], result["final_states"]
    assert np.mean(att["losses"][-20:]) < 0.5 * np.mean(att["losses"][:20])
    assert att["accuracy"] > 0.75 and att["accuracy"] > plain["accuracy"] + 0.2, \
        (att["accuracy"], plain["accuracy"])
