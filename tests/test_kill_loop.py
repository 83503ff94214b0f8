"""SIGKILL at random moments over several resumes: nothing is lost and nothing differs.

`tinygrad-rnn train` runs in subprocesses that are killed (SIGKILL: no handler, no cleanup)
at random times, each time resumed from whatever is on disk, until one run finishes. The
run folder must then hold a readable checkpoint, a loss.csv without gaps or repeats, no
temporary files, and the same final state as a run that was never interrupted.
"""
import csv
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tinygrad_rnn import cli
from tinygrad_rnn.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
TEXT = ("It was the best of times, it was the worst of times, it was the age of wisdom, "
        "it was the age of foolishness.\n") * 30
STEPS = 400
OPTIONS = ["--steps", str(STEPS), "--hidden", "12", "--layers", "2", "--dropout", "0.3",
           "--embedding", "6", "--seq-len", "8", "--batch-size", "4", "--val-every", "10",
           "--checkpoint-every", "7", "--seed", "3", "--sample-length", "0", "--quiet",
           "--threads", "1"]


@pytest.mark.slow
def test_random_sigkills_and_resumes_lose_nothing(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    train = ["train", "--data", str(corpus), *OPTIONS]
    assert cli.main(train + ["--out", str(tmp_path / "straight")]) == 0
    capsys.readouterr()

    out = tmp_path / "killed"
    rng = random.Random(12)
    kills, resumed_at, deadline = 0, [], time.monotonic() + 120
    # kills land at random moments until the run has been resumed from 3 different steps; on a
    # busy machine a run may be killed before it writes a checkpoint (its start-up alone
    # takes longer), so the window grows whenever a kill found no newer checkpoint
    window = 1.0
    while True:
        assert time.monotonic() < deadline, "the kill loop did not finish"
        again = ["--overwrite"]
        if (out / "checkpoint.npz").exists():
            again = ["--resume"]
            resumed_at.append(load_checkpoint(out / "checkpoint.npz")["step"])
            if len(resumed_at) > 1 and resumed_at[-1] == resumed_at[-2]:
                window *= 1.5
        proc = subprocess.Popen([sys.executable, "-m", "tinygrad_rnn", *train, "--out", str(out),
                                 *again], cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        enough = kills >= 4 and len(set(resumed_at)) >= 3
        try:
            _, err = proc.communicate(timeout=60 if enough else
                                      rng.uniform(0.25, 0.6) * window)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            kills += 1
            continue
        assert proc.returncode == 0, err
        break
    assert kills >= 4 and len(set(resumed_at)) >= 3, resumed_at  # killed at different steps

    final = load_checkpoint(out / "checkpoint.npz")
    want = load_checkpoint(tmp_path / "straight" / "checkpoint.npz")
    assert final["step"] == want["step"] == STEPS
    for k in want["model"]:
        assert np.array_equal(want["model"][k], final["model"][k]), k
    for i, entry in want["optimizer"]["state"].items():
        for name, v in entry.items():
            assert np.array_equal(v, final["optimizer"]["state"][i][name]), (i, name)
    for key in ("scheduler", "rng", "position", "smooth_loss", "val_loss"):
        assert want[key] == final[key], key
    with open(out / "loss.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == list(range(1, STEPS + 1))
    with open(tmp_path / "straight" / "loss.csv", newline="") as f:
        straight = list(csv.DictReader(f))
    for a, b in zip(rows, straight):  # the same losses, rates and validations, step by step
        assert (a["loss"], a["lr"], a["val_loss"]) == (b["loss"], b["lr"], b["val_loss"])
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
    best = load_checkpoint(out / "best.npz")
    assert best["val_loss"] == load_checkpoint(tmp_path / "straight" / "best.npz")["val_loss"]
