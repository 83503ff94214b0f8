"""tinygrad_rnn.profile(): per-op calls, forward/backward time and bytes saved for backward."""
from __future__ import annotations

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, function, nn


def test_profile_counts_calls_times_and_saved_bytes():
    x = Tensor(np.ones((10, 10)), requires_grad=True)
    w = Tensor(np.ones((10, 10)), requires_grad=True)
    with tg.profile() as p:
        for _ in range(3):
            y = (x * w).tanh()
        y.sum().backward()
        with tg.profiler.section("my block"):
            pass
    rows = p.rows
    assert rows["Mul"].calls == 3 and rows["Tanh"].calls == 3 and rows["Sum"].calls == 1
    assert rows["Mul"].saved == 3 * 2 * 800  # Mul saves both float64 inputs
    assert rows["Tanh"].saved == 3 * 800 and rows["Sum"].saved == 0
    assert rows["Mul"].forward > 0 and rows["Mul"].backward > 0
    assert rows["my block"].calls == 1
    assert 0 < p.total() <= p.wall
    table = p.table()
    assert table.splitlines()[0].split()[:2] == ["op", "calls"]
    assert "wall time" in table.splitlines()[-1]
    assert function.observer is None  # nothing is timed once the block is left


def test_profile_covers_most_of_a_training_step():
    tg.manual_seed(0)
    lstm, head = nn.LSTM(8, 32), nn.Linear(32, 8)
    x = tg.randn(16, 4, 8)
    with tg.profile() as p:
        out, _ = lstm(x)
        loss = nn.functional.cross_entropy(head(out), np.zeros((16, 4), np.int64))
        loss.backward()
    assert "LSTMSequence" in p.rows and "Linear" in p.rows and "CrossEntropy" in p.rows
    assert p.total() / p.wall > 0.5  # the rest is Python between ops (noisy on small sizes)


def test_profilers_and_other_observers_combine():
    x = Tensor(np.ones(3), requires_grad=True)
    with tg.profile() as outer, tg.detect_anomaly(), tg.profile() as inner:
        (x * 2).sum().backward()
    assert outer.rows["Mul"].calls == inner.rows["Mul"].calls == 1
    assert function.observer is None


def test_modules_are_timed_per_class_and_inclusive():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    with tg.profile() as p:
        model(tg.randn(3, 4)).sum().backward()
    assert p.modules["Linear"].calls == 2 and p.modules["Sequential"].calls == 1
    assert p.modules["Sequential"].forward >= p.modules["Linear"].forward
    assert "forward by module" in p.table()
    from tinygrad_rnn import profiler
    assert profiler.running is False
