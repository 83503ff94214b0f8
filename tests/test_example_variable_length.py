"""examples/variable_length.py: the data is what the docstring says, with lengths a
sequence's logits do not depend on its batch's padding (and match a PackedSequence), and
(reduced run) the lengths-aware model learns the count while the baseline's answers change
with the padding."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from tinygrad_rnn import Tensor, no_grad
from tinygrad_rnn.data import BucketBatcher, pad_batch
from tinygrad_rnn.nn.utils.rnn import pack_padded_sequence

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "variable_length.py"


def _load():
    spec = importlib.util.spec_from_file_location("variable_length_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dataset_counts_the_a_symbols_near_the_threshold():
    ex = _load()
    seqs, labels = ex.make_dataset(np.random.default_rng(0), 400)
    assert len(seqs) == 400 and labels.shape == (400,)
    lengths = np.array([len(s) for s in seqs])
    assert lengths.min() >= ex.MIN_LEN and lengths.max() <= ex.MAX_LEN
    counts = np.array([(s == 0).sum() for s in seqs])
    assert (labels == (counts >= ex.THRESHOLD)).all()
    assert counts.min() >= 1 and counts.max() <= 2 * ex.THRESHOLD
    assert 0.4 < labels.mean() < 0.6
    assert all(s.dtype.kind == "i" and 0 <= s.min() and s.max() < ex.N_SYMBOLS for s in seqs)


def test_with_lengths_the_padding_changes_nothing():
    ex = _load()
    seqs, _ = ex.make_dataset(np.random.default_rng(1), 6)
    x, lengths = pad_batch(seqs, num_classes=ex.N_SYMBOLS)
    for use_lengths in (True, False):
        model = ex.Classifier(hidden=8, use_lengths=use_lengths)
        with no_grad():
            batched = model(x, lengths).numpy()
            alone = np.concatenate([model(x[:n, b:b + 1], lengths[b:b + 1]).numpy()
                                    for b, n in enumerate(lengths)])
        if use_lengths:
            np.testing.assert_allclose(batched, alone, rtol=1e-5, atol=1e-6)
        else:  # the baseline's logits move with the padding after the shorter sequences
            assert not np.allclose(batched, alone, atol=1e-4)


def test_lengths_match_a_packed_sequence_through_the_same_gru():
    ex = _load()
    seqs, _ = ex.make_dataset(np.random.default_rng(2), 16)
    batch = next(iter(BucketBatcher(seqs, batch_size=16, num_classes=ex.N_SYMBOLS)))
    gru = ex.Classifier(hidden=8).gru
    with no_grad():
        _, h_lengths = gru(Tensor(batch.inputs), lengths=batch.lengths)
        # a bucketed batch is sorted longest first, as enforce_sorted=True wants
        _, h_packed = gru(pack_padded_sequence(Tensor(batch.inputs), batch.lengths))
    np.testing.assert_allclose(h_lengths.numpy(), h_packed.numpy(), rtol=1e-5, atol=1e-6)


def test_variable_length_quick_run_learns_and_beats_the_baseline(capsys, monkeypatch):
    monkeypatch.setenv("TINYGRAD_RNN_QUICK", "1")  # the same as --quick: about 1 s
    result = _load().main([])
    out = capsys.readouterr().out
    assert "held-out accuracy" in out and "one batch padded" in out
    aware, plain = result["lengths"], result["no_lengths"]
    assert len(aware["losses"]) == len(plain["losses"]) == 150
    assert np.mean(aware["losses"][-20:]) < 0.5 * np.mean(aware["losses"][:20])
    assert aware["accuracy"] > 0.85 and aware["changed"] < 0.01
    assert aware["accuracy_padded"] > plain["accuracy_padded"] + 0.05, \
        (aware["accuracy_padded"], plain["accuracy_padded"])
