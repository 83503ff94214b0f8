"""The `tinygrad-rnn` command, run in-process through `main(argv)` (plus one real subprocess)."""
import csv
import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import callbacks as cb
from tinygrad_rnn import cli
from tinygrad_rnn.checkpoint import load_checkpoint
from tinygrad_rnn.train import Trainer

ROOT = Path(__file__).resolve().parents[1]
TEXT = ("It was the best of times, it was the worst of times, it was the age of wisdom, "
        "it was the age of foolishness.\n") * 30
TINY = ["--hidden", "12", "--seq-len", "8", "--batch-size", "4", "--val-every", "3",
        "--sample-length", "40", "--quiet"]


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err):
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got: {err!r}"
    assert "Traceback" not in err
    return lines[0]


def test_python_m_help_in_a_subprocess():
    proc = subprocess.run([sys.executable, "-m", "tinygrad_rnn", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    for command in ("train", "sample", "gradcheck", "bench"):
        assert command in proc.stdout


@pytest.mark.parametrize("command,option", [("train", "--time-budget"), ("train", "--clip-value"),
                                            ("sample", "--top-k"), ("gradcheck", "--seed"),
                                            ("bench", "--full"), ("bench", "--profile")])
def test_help_of_every_command(capsys, command, option):
    code, out, _ = run(capsys, command, "--help")
    assert code == 0 and option in out


def test_no_command_prints_help(capsys):
    code, out, _ = run(capsys)
    assert code == 2 and "train" in out


def test_train_then_sample(capsys, corpus, tmp_path):
    out_dir = tmp_path / "run"
    code, out, err = run(capsys, "train", "--data", corpus, "--steps", "6", "--out", out_dir, *TINY)
    assert code == 0, err
    assert "step 6:" in out and "validation loss" in out and "--- sample" in out
    assert (out_dir / "checkpoint.npz").exists() and (out_dir / "loss.csv").exists()
    assert (out_dir / "best.npz").exists() and "best validation loss" in out
    state = load_checkpoint(out_dir / "checkpoint.npz")
    assert state["step"] == 6 and state["meta"]["model_config"]["hidden_size"] == 12
    assert state["meta"]["vocab"] and state["meta"]["options"]["batch_size"] == 4

    code, out, err = run(capsys, "sample", "--checkpoint", out_dir / "checkpoint.npz",
                         "--length", "30", "--prime", "It was", "--seed", "3")
    assert code == 0, err
    assert out.startswith("It was") and len(out.rstrip("\n")) >= 30
    code, out2, _ = run(capsys, "sample", "--checkpoint", out_dir / "checkpoint.npz",
                        "--length", "30", "--prime", "It was", "--seed", "3")
    assert out2 == out  # a seed repeats the sample
    code, greedy, _ = run(capsys, "sample", "--checkpoint", out_dir / "checkpoint.npz",
                          "--length", "20", "--greedy", "--top-k", "3")
    assert code == 0 and len(greedy.rstrip("\n")) == 20


@pytest.mark.parametrize("option", ["--optimizer sgd --lr-schedule step --lr-step-size 2",
                                    "--optimizer adagrad --clip-value 1 --cell rnn",
                                    "--optimizer rmsprop --cell gru --layers 2 --dropout 0.2",
                                    "--optimizer adamw --lr-schedule cosine --dtype float64 "
                                    "--embedding 5"])
def test_train_options(capsys, corpus, tmp_path, option):
    code, out, err = run(capsys, "train", "--data", corpus, "--steps", "3", "--out", tmp_path / "r",
                         *TINY, *option.split())
    assert code == 0, err
    assert "step 3:" in out


def test_interrupt_saves_and_exits_130(capsys, corpus, tmp_path, monkeypatch):
    _interrupt_at(monkeypatch, 2)
    code, out, err = run(capsys, "train", "--data", corpus, "--steps", "5", "--out", tmp_path, *TINY)
    assert code == 130
    assert "interrupted: the checkpoint on disk is at step 2" in err and "--resume" in err
    assert load_checkpoint(tmp_path / "checkpoint.npz")["step"] == 2


class _At(cb.Callback):
    def __init__(self, fn):
        self.fn = fn

    def on_step_end(self, trainer, row):
        self.fn(trainer)


def _add_callback(monkeypatch, fn):
    """Every Trainer the CLI builds gets a callback calling fn(trainer) after each step."""
    original = Trainer.__init__

    def init(self, *a, **kw):
        original(self, *a, **kw)
        self.callbacks.append(_At(fn))
    monkeypatch.setattr(Trainer, "__init__", init)


def _interrupt_at(monkeypatch, step):
    def ctrl_c(t):
        if t.step == step:
            raise KeyboardInterrupt
    _add_callback(monkeypatch, ctrl_c)


def test_second_ctrl_c_inside_a_step_names_the_step_on_disk(capsys, corpus, tmp_path,
                                                            monkeypatch):
    import os
    import signal
    from tinygrad_rnn.nn import functional as F
    original = F.cross_entropy
    calls = []

    def loss(out, y):  # Ctrl-C twice inside step 4 (the first one sets a flag, the second aborts)
        calls.append(1)
        if len(calls) == 4:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
        return original(out, y)
    monkeypatch.setattr(cli.F, "cross_entropy", loss)
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        code, out, err = run(capsys, "train", "--data", corpus, "--steps", "8", "--out", tmp_path,
                             *TINY, "--checkpoint-every", "2", "--val-every", "0")
    finally:
        signal.signal(signal.SIGINT, old)
    assert code == 130
    assert "interrupted during step 4" in err and "(step 2)" in err
    assert "the checkpoint on disk is at step 2" in err and "step 3" not in err
    assert load_checkpoint(tmp_path / "checkpoint.npz")["step"] == 2


def _straight_and_interrupted(capsys, monkeypatch, args, tmp_path, step):
    """The run `args` in tmp_path/straight to its end, and in tmp_path/split interrupted by a
    Ctrl-C after `step` steps."""
    code, _, err = run(capsys, *args, "--out", tmp_path / "straight")
    assert code == 0, err
    with monkeypatch.context() as m:
        _interrupt_at(m, step)
        code, _, err = run(capsys, *args, "--out", tmp_path / "split")
        assert code == 130, err


@pytest.mark.slow
def test_cli_resume_is_bit_identical(capsys, corpus, tmp_path, monkeypatch):
    args = ["train", "--data", corpus, "--steps", "12", "--layers", "2", "--dropout", "0.3",
            "--lr-schedule", "cosine", "--checkpoint-every", "5", "--seed", "7", *TINY]
    _straight_and_interrupted(capsys, monkeypatch, args, tmp_path, 6)
    code, _, err = run(capsys, *args, "--out", tmp_path / "split", "--resume")
    assert code == 0, err
    a = load_checkpoint(tmp_path / "straight" / "checkpoint.npz")
    b = load_checkpoint(tmp_path / "split" / "checkpoint.npz")
    assert a["step"] == b["step"] == 12
    assert_same_run(a, b)


def test_a_resume_keeps_the_thread_count_the_run_chose(capsys, corpus, tmp_path, monkeypatch):
    # the thread count the first run used is recorded; a resume without --threads takes it
    # (at some sizes two threads give other last bits than one: the arithmetic stays the same
    # whatever the machine's load is at the resume), and --threads still overrides it
    from tinygrad_rnn import parallel
    monkeypatch.setattr(parallel, "default_num_threads", lambda: 2)
    args = ["train", "--data", corpus, "--steps", "2", "--out", tmp_path, *TINY]
    code, _, err = run(capsys, *args)
    assert code == 0, err
    assert load_checkpoint(tmp_path / "checkpoint.npz")["meta"]["threads"] == 2
    monkeypatch.setattr(parallel, "default_num_threads", lambda: 1)  # a busier machine now
    code, _, err = run(capsys, *args[:4], "4", *args[5:], "--resume")
    assert code == 0, err
    assert parallel.get_num_threads() == 2
    assert load_checkpoint(tmp_path / "checkpoint.npz")["meta"]["threads"] == 2
    code, _, err = run(capsys, *args[:4], "6", *args[5:], "--resume", "--threads", "1")
    assert code == 0, err
    assert parallel.get_num_threads() == 1
    assert load_checkpoint(tmp_path / "checkpoint.npz")["meta"]["threads"] == 1


def assert_same_run(a, b):
    """Two trainer states equal in everything that decides the next weights."""
    for k in a["model"]:
        assert np.array_equal(a["model"][k], b["model"][k]), k
    for i, entry in a["optimizer"]["state"].items():
        for name, v in entry.items():
            assert np.array_equal(v, b["optimizer"]["state"][i][name]), (i, name)
    assert a["optimizer"]["param_groups"] == b["optimizer"]["param_groups"]
    assert a["scheduler"] == b["scheduler"] and a["rng"] == b["rng"]
    assert a["position"] == b["position"]
    for x, y in zip(a["carried"], b["carried"]):
        assert np.array_equal(x, y)


@pytest.mark.parametrize("argv,code,message", [
    (["train", "--hidden", "0"], 2, "--hidden: expected a positive integer, got 0"),
    (["train", "--cell", "transformer"], 2, "--cell: invalid choice: 'transformer'"),
    (["train", "--dropout", "1.5"], 2, "--dropout: expected a number in [0, 1), got 1.5"),
    (["train", "--lr", "abc"], 2, "--lr: expected a positive finite number, got 'abc'"),
    (["train", "--clip-norm", "1", "--clip-value", "1"], 2, "not allowed with argument"),
    (["train", "--bogus"], 2, "unrecognized arguments: --bogus"),
    (["sample"], 2, "the following arguments are required: --checkpoint"),
    (["frobnicate"], 2, "invalid choice: 'frobnicate'"),
    (["train", "--data", "/no/such/file.txt"], 1, "text file not found"),
    (["train", "--lr-schedule", "cosine", "--time-budget", "1"], 1, "cosine needs --steps"),
    (["sample", "--checkpoint", "/no/such/ckpt.npz"], 1, "does not exist"),
    (["train", "--seed", "-1"], 2, "--seed: expected an integer >= 0, got -1"),
    (["sample", "--checkpoint", "x.npz", "--seed", "-1"], 2, "--seed: expected an integer >= 0"),
    (["gradcheck", "--seed", "-2"], 2, "--seed: expected an integer >= 0, got -2"),
    (["train", "--resume"], 1, "--resume without a CHECKPOINT needs --out DIR"),
])
def test_bad_arguments_give_one_line(capsys, argv, code, message):
    got, _, err = run(capsys, *argv)
    line = one_line_error(err)
    assert got == code
    assert message in line, line
    assert line.startswith("tinygrad-rnn")


@pytest.mark.parametrize("content,message", [
    ("", "is empty"),
    ("x", "single character"),
    ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "single distinct character"),
    ("abcdefghij" * 3, "--seq-len 8 is longer than the validation text"),
    ("abcdefgh", "holds 8 characters; --val-fraction 0.1 holds out 0 of them for validation "
                 "and leaves 8 for training, each part needs at least 2: use a longer text or "
                 "a larger --val-fraction"),
])
def test_unusable_corpora(capsys, tmp_path, content, message):
    path = tmp_path / "c.txt"
    path.write_text(content)
    code, _, err = run(capsys, "train", "--data", path, "--steps", "2", "--out", tmp_path / "o", *TINY)
    assert code == 1
    line = one_line_error(err)
    assert message in line and "train_val_split" not in line, line


def test_seq_len_longer_than_the_data(capsys, corpus, tmp_path):
    code, _, err = run(capsys, "train", "--data", corpus, "--steps", "2", "--out", tmp_path,
                       *TINY, "--seq-len", "5000")
    assert code == 1
    assert "--seq-len 5000 is longer than the training text" in one_line_error(err)


def test_not_utf8(capsys, tmp_path):
    path = tmp_path / "bin.txt"
    path.write_bytes(b"\xff\xfe\x00abc" * 10)
    code, _, err = run(capsys, "train", "--data", path, "--steps", "2")
    assert code == 1 and "not UTF-8" in one_line_error(err)


@pytest.mark.parametrize("content,message", [(b"garbage", "not a checkpoint"),
                                             (b"PK\x03\x04trunc", "truncated"),
                                             (pickle.dumps([1, 2]), "not a checkpoint")])
def test_bad_checkpoint_files(capsys, tmp_path, content, message):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    code, _, err = run(capsys, "sample", "--checkpoint", path)
    line = one_line_error(err)
    assert code == 1 and message in line and "pickle" not in line


def _crafted(path, out, change):
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(arrays["meta"].tobytes())
    change(meta)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(out, **arrays)
    return out


@pytest.mark.parametrize("change", [
    lambda m: m["manifest"].__setitem__("model/decoder.bias", [[3], "bogus"]),
    lambda m: m["manifest"].__setitem__("model/decoder.bias", "f4"),
    lambda m: m.__setitem__("manifest", ["x"]),
    lambda m: m["tree"]["meta"].__setitem__("model_config", ["lstm"]),
    lambda m: m["tree"]["meta"]["model_config"].__setitem__("hidden_size", "twelve"),
    lambda m: m["tree"]["meta"].__setitem__("vocab", [1, 2, 3]),
    lambda m: m["tree"]["meta"].__setitem__("dtype", "int8"),
    lambda m: m["tree"].__setitem__("model", [1]),
    lambda m: m["tree"].__setitem__("meta", "x"),
    lambda m: m["tree"]["model"].__setitem__("decoder.bias", {"$array": "nope"}),
])
def test_crafted_checkpoints_give_one_line_for_sample_and_resume(capsys, corpus, tmp_path, change):
    code, _, err = run(capsys, "train", "--data", corpus, "--steps", "2", "--out", tmp_path / "r",
                       *TINY)
    assert code == 0, err
    bad = _crafted(tmp_path / "r" / "checkpoint.npz", tmp_path / "bad.npz", change)
    for argv in (["sample", "--checkpoint", bad],
                 ["train", "--data", corpus, "--steps", "4", "--out", tmp_path / "r2",
                  "--resume", bad, *TINY]):
        code, _, err = run(capsys, *argv)
        if code == 0 and argv[0] == "train":
            continue  # a resume does not read the part that sample needs
        line = one_line_error(err)
        assert code == 1 and "checkpoint" in line and "pickle" not in line, line


def test_resume_checks(capsys, corpus, tmp_path):
    code, _, err = run(capsys, "train", "--data", corpus, "--steps", "2", "--out", tmp_path, "--resume", *TINY)
    assert code == 1 and "does not exist" in one_line_error(err)
    code, _, err = run(capsys, "train", "--data", corpus, "--steps", "2", "--out", tmp_path, *TINY)
    assert code == 0, err
    # another model: a different hidden size
    code, _, err = run(capsys, "train", "--data", corpus, "--steps", "4", "--out", tmp_path,
                       "--resume", *TINY, "--hidden", "10")
    assert code == 1 and "--hidden 10 (the run's: 12)" in one_line_error(err)
    # another text: a different vocabulary
    other = tmp_path / "other.txt"
    other.write_text("completely different words here, zzz qqq! " * 40)
    code, _, err = run(capsys, "train", "--data", other, "--steps", "4", "--out", tmp_path,
                       "--resume", *TINY)
    line = one_line_error(err)
    assert code == 1 and "another vocabulary than" in line and "only in the run's: " in line
    # another optimizer
    code, _, err = run(capsys, "train", "--data", corpus, "--steps", "4", "--out", tmp_path,
                       "--resume", *TINY, "--optimizer", "sgd")
    assert code == 1 and "--optimizer sgd (the run's: adam)" in one_line_error(err)


@pytest.mark.parametrize("option,now,was", [("--batch-size", "3", "4"), ("--seq-len", "6", "8"),
                                            ("--lr", "0.01", "0.005"),
                                            ("--lr-schedule", "none", "step")])
def test_resume_refuses_another_data_layout_naming_both_values(capsys, corpus, tmp_path, option,
                                                               now, was):
    code, _, err = run(capsys, "train", "--data", corpus, "--steps", "2", "--out", tmp_path, *TINY)
    assert code == 0, err
    before = (tmp_path / "checkpoint.npz").read_bytes()
    code, _, err = run(capsys, "train", "--data", corpus, "--steps", "4", "--out", tmp_path,
                       "--resume", *TINY, option, now)
    line = one_line_error(err)
    assert code == 1 and f"{option} {now} (the run's: {was})" in line, line
    assert (tmp_path / "checkpoint.npz").read_bytes() == before


def test_a_larger_steps_extends_the_cosine_schedule_to_the_new_total(capsys, corpus, tmp_path):
    import math
    args = ["train", "--data", corpus, "--out", tmp_path, "--lr-schedule", "cosine", "--lr",
            "3e-3", *TINY]
    code, _, err = run(capsys, *args, "--steps", "6")
    assert code == 0, err
    code, _, err = run(capsys, *args, "--steps", "12", "--resume")
    assert code == 0, err
    with open(tmp_path / "loss.csv") as f:
        lrs = [float(r["lr"]) for r in csv.DictReader(f)]
    assert len(lrs) == 12
    for k, lr in enumerate(lrs[6:], start=6):  # step k+1 uses the rate of epoch k
        want = 3e-3 * (1 + math.cos(math.pi * k / 12)) / 2
        assert abs(lr - want) <= 1e-6 * 3e-3 + 1e-9, (k, lr, want)
    assert lrs[-1] < lrs[6]  # still annealing towards 0, not climbing back


def test_help_says_what_resume_keeps_and_may_change(capsys):
    code, out, _ = run(capsys, "train", "--help")
    text = " ".join(out.split())
    assert "Resume keeps the model" in text and "--batch-size" in text
    assert "It may change --steps, --time-budget" in text
    assert "re-targets the anneal" in text


def test_a_new_run_never_replaces_an_earlier_one(capsys, corpus, tmp_path):
    code, _, err = run(capsys, "train", "--data", corpus, "--steps", "2", "--out", tmp_path, *TINY)
    assert code == 0, err
    before = (tmp_path / "checkpoint.npz").read_bytes()
    code, _, err = run(capsys, "train", "--data", corpus, "--steps", "3", "--out", tmp_path, *TINY)
    line = one_line_error(err)
    assert code == 1 and "--resume" in line and "--out" in line and "--overwrite" in line
    assert (tmp_path / "checkpoint.npz").read_bytes() == before
    code, _, err = run(capsys, "train", "--data", corpus, "--steps", "3", "--out", tmp_path,
                       "--overwrite", *TINY)
    assert code == 0, err
    assert load_checkpoint(tmp_path / "checkpoint.npz")["step"] == 3


def test_the_default_output_folder_is_new_for_every_run(capsys, corpus, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        code, _, err = run(capsys, "train", "--data", corpus, "--steps", "1", *TINY)
        assert code == 0, err
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert len(runs) == 2 and all(r.startswith("corpus-lstm-h12-") for r in runs)


def test_sample_from_a_run_folder_uses_best_npz(capsys, corpus, tmp_path, monkeypatch):
    code, _, err = run(capsys, "train", "--data", corpus, "--steps", "6", "--out", tmp_path, *TINY)
    assert code == 0, err
    from tinygrad_rnn import sample as sample_mod
    assert sample_mod.checkpoint_file(tmp_path) == tmp_path / "best.npz"
    code, by_folder, _ = run(capsys, "sample", "--checkpoint", tmp_path, "--length", "30", "--seed", "1")
    code, by_file, _ = run(capsys, "sample", "--checkpoint", tmp_path / "best.npz", "--length", "30",
                           "--seed", "1")
    assert code == 0 and by_folder == by_file
    (tmp_path / "best.npz").unlink()
    assert sample_mod.checkpoint_file(tmp_path) == tmp_path / "checkpoint.npz"


def test_patience_stops_early(capsys, corpus, tmp_path):
    code, out, err = run(capsys, "train", "--data", corpus, "--steps", "200", "--out", tmp_path,
                         *TINY, "--val-every", "1", "--patience", "1", "--lr", "1e-30")
    assert code == 0, err
    assert load_checkpoint(tmp_path / "checkpoint.npz")["step"] < 200
    assert "--quiet" in TINY and err.count("early stop: no better validation loss") == 1, err


def test_a_resume_keeps_the_runs_patience_and_cadence(capsys, corpus, tmp_path):
    # --patience, --val-every, --checkpoint-every and --sample-length left out of a resume are
    # the run's own (they were the defaults: the resumed run validated every 100 steps and
    # never stopped early, where the run it continues would have)
    args = ["train", "--data", corpus, "--out", tmp_path, *TINY, "--val-every", "1",
            "--patience", "6", "--checkpoint-every", "1", "--lr", "1e-30", "--sample-length", "0"]
    code, _, err = run(capsys, *args, "--steps", "200")
    assert code == 0 and "early stop" in err, err
    straight = load_checkpoint(tmp_path / "checkpoint.npz")["step"]
    assert straight < 200
    code, _, err = run(capsys, *args, "--steps", "3", "--overwrite")
    assert code == 0, err
    code, out, err = run(capsys, "train", "--out", tmp_path, "--resume", "--steps", "200")
    assert code == 0 and "early stop" in err, err
    assert load_checkpoint(tmp_path / "checkpoint.npz")["step"] == straight
    with open(tmp_path / "loss.csv", newline="") as f:
        assert all(row["val_loss"] for row in csv.DictReader(f))  # every step validated
    assert "--- sample" not in out


def test_patience_may_be_added_at_a_resume(capsys, corpus, tmp_path):
    args = ["train", "--data", corpus, "--out", tmp_path, *TINY, "--val-every", "1",
            "--lr", "1e-30"]
    code, _, err = run(capsys, *args, "--steps", "3")
    assert code == 0, err
    code, _, err = run(capsys, "train", "--out", tmp_path, "--resume", "--steps", "200",
                       "--patience", "2")
    assert code == 0 and "early stop" in err, err
    assert load_checkpoint(tmp_path / "checkpoint.npz")["step"] < 200


def test_diverged_training_is_one_line(capsys, corpus, tmp_path, monkeypatch):
    def poison(t):
        if t.step == 3:
            t.model.decoder.bias.data[:] = np.inf
    _add_callback(monkeypatch, poison)
    code, _, err = run(capsys, "train", "--data", corpus, "--steps", "8", "--out", tmp_path,
                       "--checkpoint-every", "2", *TINY)
    assert code == 1
    line = one_line_error(err)
    assert "diverged at step 4" in line and "(step 2)" in line
    assert load_checkpoint(tmp_path / "checkpoint.npz")["step"] == 2


@pytest.mark.slow
def test_gradcheck_command_prints_a_passing_table(capsys):
    code, out, err = run(capsys, "gradcheck")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["op", "shapes", "max"]
    names = {l.split()[0] for l in lines[1:-1]}
    assert {"matmul", "tanh", "sigmoid", "getitem", "LSTMCell", "GRUCell"} <= names
    assert "FAIL" not in out and lines[-1].endswith("passed")


def test_gradcheck_command_reports_a_failure(capsys, monkeypatch):
    from tinygrad_rnn import _checks
    x = lambda: [tg.Tensor(np.ones((2, 2)), requires_grad=True)]  # noqa: E731
    monkeypatch.setattr(_checks, "op_checks", lambda seed: [
        ("tanh", lambda a: a.tanh(), x()), ("broken", lambda a: a.detach() * a, x())])
    monkeypatch.setattr(_checks, "module_checks", lambda seed: [])
    code, out, err = run(capsys, "gradcheck")
    assert code == 1 and "FAIL" in out and "failed: broken" in err


def test_bench_without_a_checkout_says_so_and_fails(capsys, monkeypatch):
    monkeypatch.setattr(cli, "_bench_script", lambda: None)
    code, _, err = run(capsys, "bench")
    line = one_line_error(err)
    assert code == 1 and "need a source checkout" in line and "benchmarks/run.py --quick" in line


def test_bench_never_runs_a_foreign_benchmarks_folder(capsys, monkeypatch, tmp_path):
    """An installed package (no pyproject.toml of ours above it) in a folder that has some
    other project's benchmarks/run.py, in the current directory and beside site-packages."""
    site = tmp_path / "site-packages"
    (site / "tinygrad_rnn").mkdir(parents=True)
    marker = tmp_path / "ran"
    for root in (tmp_path / "cwd", site):
        (root / "benchmarks").mkdir(parents=True)
        (root / "benchmarks" / "run.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    (site / "pyproject.toml").write_text('[project]\nname = "something-else"\n')
    monkeypatch.setattr(cli, "__file__", str(site / "tinygrad_rnn" / "cli.py"))
    monkeypatch.chdir(tmp_path / "cwd")
    code, _, err = run(capsys, "bench")
    assert code == 1 and "source checkout" in err and not marker.exists()


def test_bench_finds_this_checkout():
    assert cli._bench_script() == ROOT / "benchmarks" / "run.py"


def test_bench_runs_the_script_quick(capsys, monkeypatch, tmp_path):
    script = tmp_path / "benchmarks" / "run.py"
    script.parent.mkdir()
    script.write_text("import sys\nprint('bench args', sys.argv[1:])\nsys.exit(3)\n")
    monkeypatch.setattr(cli, "_bench_script", lambda: script)
    code = cli.main(["bench"])
    assert code == 3  # the script's own status comes back


def test_batch_too_large_for_the_text(capsys, tmp_path):
    path = tmp_path / "short.txt"
    path.write_text(TEXT[:300])
    code, _, err = run(capsys, "train", "--data", path, "--steps", "2", "--out", tmp_path / "o",
                       *TINY, "--batch-size", "64")
    assert code == 1
    assert ("--batch-size 64 x --seq-len 8 needs at least 576 training characters"
            in one_line_error(err))


# ----- seeing inside: loss.csv columns, grad_flow.png, bench --profile --------------------
def test_train_logs_gradient_diagnostics_and_draws_grad_flow(capsys, corpus, tmp_path):
    out_dir = tmp_path / "run"
    code, _, err = run(capsys, "train", "--data", corpus, "--steps", "6", "--out", out_dir,
                       *TINY, "--clip-norm", "0.5")
    assert code == 0, err
    with open(out_dir / "loss.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == list(range(1, 7))
    for r in rows:
        assert float(r["grad_norm"]) > 0 and 0 < float(r["update_ratio"]) < 1
        assert r["clipped"] == ("1" if float(r["grad_norm"]) > 0.5 else "0")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert not (out_dir / "grad_flow.png").exists()
    else:
        assert (out_dir / "grad_flow.png").read_bytes()[:4] == b"\x89PNG"
        assert (out_dir / "loss.png").exists()


@pytest.mark.parametrize("cell", ["mingru", "minlstm", "indrnn"])
def test_every_cell_draws_grad_flow(capsys, corpus, tmp_path, cell):
    """--help promises grad_flow.png in the output folder: the cells without a step loop too."""
    pytest.importorskip("matplotlib")
    out_dir = tmp_path / "run"
    code, _, err = run(capsys, "train", "--data", corpus, "--steps", "3", "--out", out_dir,
                       "--cell", cell, *TINY)
    assert code == 0, err
    assert (out_dir / "grad_flow.png").read_bytes()[:4] == b"\x89PNG"


def test_grad_flow_recording_leaves_the_run_bit_identical(capsys, corpus, tmp_path, monkeypatch):
    args = ["train", "--data", corpus, "--steps", "7", "--layers", "2", "--dropout", "0.3",
            "--seed", "3", *TINY]
    recorded = []
    original = cb.GradientFlow.record

    def spy(self, trainer):
        recorded.append(trainer.step)
        return original(self, trainer)
    with monkeypatch.context() as m:
        m.setattr(cb.GradientFlow, "record", spy)
        code, _, err = run(capsys, *args, "--out", tmp_path / "with")
        assert code == 0, err
    assert recorded == [3, 6, 7]  # each validation, the last one too
    with monkeypatch.context() as m:
        m.setattr(cb.GradientFlow, "record", lambda self, trainer: {})
        code, _, err = run(capsys, *args, "--out", tmp_path / "without")
        assert code == 0, err
    a = load_checkpoint(tmp_path / "with" / "checkpoint.npz")
    b = load_checkpoint(tmp_path / "without" / "checkpoint.npz")
    assert_same_run(a, b)
    assert a["val_loss"] == b["val_loss"]


def _coverage(table):
    last = table.strip().splitlines()[-1]
    assert last.startswith("ops and sections cover") and "wall time" in last
    return float(last.rsplit("(", 1)[1].rstrip("%)"))


def test_bench_profile_works_without_a_checkout_and_covers_the_step(capsys, monkeypatch):
    """From an installed package: no benchmarks/ folder, no subprocess; the default model."""
    monkeypatch.setattr(cli, "_bench_script", lambda: None)
    monkeypatch.setattr(cli.subprocess, "call", lambda *a, **k: pytest.fail("ran a script"))
    best = 0.0
    for _ in range(3):  # a busy machine may pause the process between two ops
        code, out, err = run(capsys, "bench", "--profile", "--steps", "3")
        assert code == 0, err
        best = max(best, _coverage(out))
        if best >= 95:
            break
    lines = out.splitlines()
    assert lines[0].startswith("profile of 3 training steps of LSTM 1x256")
    assert "the built-in corpus" in lines[0] and "batch 32 x 32" in lines[0]
    names = {l.split()[0] for l in lines[2:-1]}
    assert {"LSTMSequence", "Linear", "CrossEntropy", "Adam.step"} <= names
    assert best >= 95, out


@pytest.mark.parametrize("argv,code,message", [
    (["bench", "--steps", "3"], 1, "--steps counts profiled steps: it needs --profile"),
    (["bench", "--profile", "--full"], 2, "not allowed with argument"),
    (["bench", "--profile", "--steps", "0"], 2, "expected a positive integer, got 0"),
])
def test_bench_profile_arguments(capsys, argv, code, message):
    got, _, err = run(capsys, *argv)
    assert got == code and message in one_line_error(err)


@pytest.mark.parametrize("cell", ["mingru", "minlstm", "indrnn"])
def test_train_and_sample_the_cells_without_a_product_in_the_time_loop(capsys, corpus, tmp_path,
                                                                         cell):
    out_dir = tmp_path / cell
    code, out, err = run(capsys, "train", "--data", corpus, "--steps", "4", "--out", out_dir,
                         "--cell", cell, "--layers", "2", *TINY)
    assert code == 0, err
    code, out, err = run(capsys, "sample", "--checkpoint", out_dir, "--length", "20")
    assert code == 0 and len(out.strip()) > 0, err


def test_grad_flow_png_keeps_the_runs_first_validation_across_a_resume(capsys, corpus, tmp_path,
                                                                        monkeypatch):
    import tinygrad_rnn.debug as debug
    drawn = []

    def spy(curves, path=None, **kw):
        drawn.append(sorted(curves))
        raise ImportError  # as without matplotlib: nothing is written
    monkeypatch.setattr(debug, "plot_grad_flow", spy)
    args = ["train", "--data", corpus, "--out", tmp_path, "--cell", "gru", "--layers", "2",
            *TINY]  # validation every 3 steps
    with monkeypatch.context() as m:
        _interrupt_at(m, 4)
        code, _, err = run(capsys, *args, "--steps", "10")
        assert code == 130, err
    assert drawn[-1] == sorted(f"GRU layer {i}, step {s}" for s in (3, 4) for i in (0, 1))
    code, _, err = run(capsys, *args, "--steps", "10", "--resume")
    assert code == 0, err
    assert drawn[-1] == sorted(f"GRU layer {i}, step {s}" for s in (3, 10) for i in (0, 1))


def test_time_budget_is_for_the_whole_run_and_the_summary_says_which_time(capsys, corpus,
                                                                         tmp_path, monkeypatch):
    args = ["train", "--data", corpus, "--out", tmp_path, *TINY]
    code, out, err = run(capsys, *args, "--steps", "3")
    assert code == 0, err
    spent = load_checkpoint(tmp_path / "checkpoint.npz")["elapsed"]
    assert f"{spent:.1f} s" in out  # the run's training time, as the progress lines count it
    budgets = []
    original = Trainer.fit

    def fit(self, steps=None, time_budget=None):
        budgets.append(time_budget)
        return original(self, steps=steps, time_budget=time_budget)
    monkeypatch.setattr(Trainer, "fit", fit)
    code, out, err = run(capsys, *args, "--steps", "5", "--time-budget", "100", "--resume")
    assert code == 0, err
    assert budgets == [pytest.approx(100 - spent)]  # what the interrupted run left
    total = load_checkpoint(tmp_path / "checkpoint.npz")["elapsed"]
    assert f"{total:.1f} s in all ({total - spent:.1f} s in this session)" in out  # adds up

    ckpt = tmp_path / "checkpoint.npz"
    (tmp_path / "late").mkdir()
    _crafted(ckpt, tmp_path / "late" / "checkpoint.npz",
             lambda m: m["tree"].__setitem__("elapsed", 250.0))
    code, _, err = run(capsys, "train", "--time-budget", "200", "--resume", tmp_path / "late",
                       *TINY)
    assert code == 1
    line = one_line_error(err)
    assert "--time-budget 200" in line and "250" in line and "larger --time-budget" in line


def test_a_resume_of_a_run_whose_own_budget_is_spent_has_nothing_to_train(capsys, corpus,
                                                                          tmp_path):
    """As a run that reached its own --steps: a note and exit 0 (a budget given anew that is
    already spent stays an error, above)."""
    code, _, err = run(capsys, "train", "--data", corpus, "--out", tmp_path, *TINY,
                       "--time-budget", "0.5")
    assert code == 0, err
    (tmp_path / "late").mkdir()
    _crafted(tmp_path / "checkpoint.npz", tmp_path / "late" / "checkpoint.npz",
             lambda m: m["tree"].__setitem__("elapsed", 250.0))
    code, out, err = run(capsys, "train", "--resume", tmp_path / "late")
    assert code == 0, err
    assert "has used its 0.5 s time budget: nothing to train" in " ".join(err.split())
    assert "larger --time-budget" in err and "step" not in out


def test_number_options_say_finite_and_greedy_says_what_it_leaves(capsys):
    code, _, err = run(capsys, "sample", "--checkpoint", "x", "--temperature", "inf")
    assert code == 2 and "expected a positive finite number, got inf" in err
    _, out, _ = run(capsys, "sample", "--help")
    assert "--temperature and --top-k do not apply" in " ".join(out.split())


def test_help_says_the_time_budget_counts_the_whole_run(capsys):
    _, out, _ = run(capsys, "train", "--help")
    assert "whole run" in " ".join(out.split())


@pytest.mark.parametrize("meta", [{}, None])
def test_sampling_a_trainer_checkpoint_without_meta_says_what_to_pass(capsys, tmp_path, meta):
    from tinygrad_rnn.checkpoint import save_checkpoint
    from tinygrad_rnn.models import CharRNN
    model = CharRNN(vocab_size=5, hidden_size=4)
    trainer = Trainer(model, tg.optim.Adam(list(model.parameters())), tg.nn.functional.cross_entropy,
                      tg.data.TBPTTBatcher(np.arange(40) % 5, batch_size=2, seq_len=4))
    state = trainer.state_dict() if meta is None else dict(trainer.state_dict(), meta=meta)
    save_checkpoint(tmp_path / "checkpoint.npz", state)  # None: no 'meta' entry at all
    code, _, err = run(capsys, "sample", "--checkpoint", tmp_path)
    line = one_line_error(err)
    assert code == 1
    for needed in ("meta=", "'model_config': model.config", "'vocab': vocab.to_list()",
                   "Checkpoint("):
        assert needed in line, line


def test_gradcheck_command_covers_every_built_in_cell_and_layer_and_scan():
    import inspect
    from tinygrad_rnn import _checks, nn
    from tinygrad_rnn.nn.recurrent import _SequenceRunner
    built_in = sorted(name for name, c in vars(nn).items() if inspect.isclass(c)
                      and name != "RNNBase"  # the base class of RNN, LSTM and GRU
                      and (name.endswith("Cell") or issubclass(c, _SequenceRunner)))
    names = [name for name, _, _ in _checks._MODULES]
    missing = [c for c in built_in + ["scan"] if not any(n.split()[0] == c for n in names)]
    assert not missing, f"tinygrad-rnn gradcheck has no row for {missing}"


@pytest.mark.parametrize("resume", [[], ["--resume"]])
def test_out_naming_a_file_is_refused_before_training_starts(capsys, corpus, tmp_path, resume):
    taken = tmp_path / "notes.txt"
    taken.write_text("mine")
    loud = [a for a in TINY if a != "--quiet"]  # the banner would come first
    code, _, err = run(capsys, "train", "--data", corpus, "--steps", "2", "--out", taken, *loud,
                       *resume)
    assert code == 1
    line = one_line_error(err)
    assert f"--out {taken} is a file, not a folder" in line, line
    assert taken.read_text() == "mine"


@pytest.mark.parametrize("command", ["train", "sample", "gradcheck", "bench"])
def test_a_closed_pipe_ends_any_command_quietly(capsys, monkeypatch, command):
    def closed(args):
        raise BrokenPipeError(32, "Broken pipe")
    monkeypatch.setitem(cli.COMMANDS, command, closed)
    argv = {"sample": ["sample", "--checkpoint", "x"]}.get(command, [command])
    code, _, err = run(capsys, *argv)
    assert code == cli.BROKEN_PIPE_STATUS and err == ""


def test_piping_into_head_gives_no_error_message():
    # a command printing more than `head` reads, as `tinygrad-rnn gradcheck | head -1` does
    script = ("import sys; from tinygrad_rnn import cli\n"
              "def many(args):\n"
              "    for i in range(200000):\n"
              "        print('row', i)\n"
              "    return 0\n"
              "cli.COMMANDS['gradcheck'] = many\n"
              "sys.exit(cli.main(['gradcheck']))\n")
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout.readline() == b"row 0\n"
    proc.stdout.close()  # what head does after its line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == cli.BROKEN_PIPE_STATUS and err == "", err


@pytest.mark.parametrize("argv,hint", [
    (["train", "--foo"], "(see tinygrad-rnn train --help)"),
    (["sample", "--checkpoint", "x", "--nope", "1"], "(see tinygrad-rnn sample --help)"),
    (["train", "--hidden", "0"], "(see tinygrad-rnn train --help)"),
    (["--foo"], "(see tinygrad-rnn --help)"),
    (["--foo", "train"], "(see tinygrad-rnn --help)"),  # before the command: the top level's
])
def test_a_usage_error_points_to_the_help_of_its_command(capsys, argv, hint):
    code, _, err = run(capsys, *argv)
    line = one_line_error(err)
    assert code == 2 and line.endswith(hint), line


def test_a_resume_takes_the_runs_options_and_text_from_the_checkpoint(capsys, corpus, tmp_path,
                                                                      monkeypatch):
    """Only --out and --resume (and what may change): the model, data, optimizer, schedule
    and seed come from the checkpoint, and the run continues bit for bit."""
    args = ["train", "--data", corpus, "--steps", "10", "--layers", "2", "--optimizer", "sgd",
            "--lr-schedule", "cosine", "--clip-value", "0.5", "--checkpoint-every", "4",
            "--seed", "3", *TINY]
    _straight_and_interrupted(capsys, monkeypatch, args, tmp_path, 5)
    monkeypatch.chdir(tmp_path)  # (the text is found by the path the run recorded)
    code, _, err = run(capsys, "train", "--out", tmp_path / "split", "--resume", "--steps", "10",
                       "--quiet", "--sample-length", "0")
    assert code == 0, err
    a = load_checkpoint(tmp_path / "straight" / "checkpoint.npz")
    b = load_checkpoint(tmp_path / "split" / "checkpoint.npz")
    assert a["step"] == b["step"] == 10
    assert_same_run(a, b)
    assert b["meta"]["options"]["lr"] == cli.DEFAULT_LR["sgd"]  # sgd's own default rate


def test_a_resume_names_every_option_that_differs(capsys, corpus, tmp_path):
    code, _, err = run(capsys, "train", "--data", corpus, "--steps", "2", "--out", tmp_path, *TINY)
    assert code == 0, err
    code, _, err = run(capsys, "train", "--data", corpus, "--steps", "4", "--out", tmp_path,
                       "--resume", *TINY, "--hidden", "10", "--cell", "gru", "--clip-value", "1")
    line = one_line_error(err)
    assert code == 1
    for part in ("--cell gru (the run's: lstm)", "--hidden 10 (the run's: 12)",
                 "--clip-value 1.0 (the run's: not set)", "leave these options out"):
        assert part in line, line


def test_a_resume_refuses_another_text_of_the_same_vocabulary(capsys, corpus, tmp_path):
    code, _, err = run(capsys, "train", "--data", corpus, "--steps", "2", "--out", tmp_path, *TINY)
    assert code == 0, err
    shorter = tmp_path / "shorter.txt"
    shorter.write_text(TEXT[:-200], encoding="utf-8")
    code, _, err = run(capsys, "train", "--data", shorter, "--steps", "4", "--out", tmp_path,
                       "--resume", *TINY)
    line = one_line_error(err)
    assert code == 1 and "is another text: resume with the same --data" in line, line


def test_resuming_into_another_runs_folder_is_refused_then_replaces_it_with_overwrite(
        capsys, corpus, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for out, steps in ((a, "4"), (b, "2")):
        code, _, err = run(capsys, "train", "--data", corpus, "--steps", steps, "--out", out,
                           *TINY)
        assert code == 0, err
    before = (b / "checkpoint.npz").read_bytes()
    code, _, err = run(capsys, "train", "--steps", "6", "--resume", a, "--out", b, *TINY)
    line = one_line_error(err)
    assert code == 1 and "holds another run" in line and "--overwrite" in line, line
    assert (b / "checkpoint.npz").read_bytes() == before
    code, _, err = run(capsys, "train", "--steps", "6", "--resume", a, "--out", b,
                       "--overwrite", *TINY)
    assert code == 0, err
    assert load_checkpoint(b / "checkpoint.npz")["step"] == 6
    with open(b / "loss.csv") as f:  # a's history, continued; nothing of b's own run
        steps = [int(r["step"]) for r in csv.DictReader(f)]
    assert steps == [1, 2, 3, 4, 5, 6]
    assert load_checkpoint(a / "checkpoint.npz")["step"] == 4  # the source is untouched


def test_resuming_best_npz_in_its_own_folder_needs_overwrite_to_rewind(capsys, corpus, tmp_path):
    code, _, err = run(capsys, "train", "--data", corpus, "--steps", "6", "--out", tmp_path, *TINY)
    assert code == 0, err
    best_step = load_checkpoint(tmp_path / "best.npz")["step"]
    before = (tmp_path / "checkpoint.npz").read_bytes()
    code, _, err = run(capsys, "train", "--steps", "7", "--resume", tmp_path / "best.npz", *TINY)
    line = one_line_error(err)
    assert code == 1 and "rewinds the run" in line and "--overwrite" in line, line
    assert (tmp_path / "checkpoint.npz").read_bytes() == before
    code, _, err = run(capsys, "train", "--steps", "7", "--resume", tmp_path / "best.npz",
                       "--overwrite", *TINY)
    assert code == 0, err
    with open(tmp_path / "loss.csv") as f:
        steps = [int(r["step"]) for r in csv.DictReader(f)]
    assert steps == list(range(1, best_step + 1)) + list(range(best_step + 1, 8))


def test_a_missing_checkpoint_points_to_best_npz_when_it_is_there(capsys, corpus, tmp_path):
    code, _, err = run(capsys, "train", "--data", corpus, "--steps", "3", "--out", tmp_path, *TINY)
    assert code == 0, err
    (tmp_path / "checkpoint.npz").unlink()  # (a run killed before its first checkpoint)
    code, _, err = run(capsys, "train", "--steps", "4", "--out", tmp_path, "--resume", *TINY)
    line = one_line_error(err)
    assert code == 1 and "does not exist" in line and f"--resume {tmp_path / 'best.npz'}" in line


def test_a_resume_with_steps_already_reached_says_so(capsys, corpus, tmp_path):
    code, _, err = run(capsys, "train", "--data", corpus, "--steps", "4", "--out", tmp_path, *TINY)
    assert code == 0, err
    code, _, err = run(capsys, "train", "--steps", "3", "--out", tmp_path, "--resume", *TINY)
    line = one_line_error(err)
    assert code == 1 and "at step 4 already" in line and "give --steps above 4" in line, line


def test_sigterm_finishes_the_step_saves_and_exits_143(capsys, corpus, tmp_path, monkeypatch):
    """`kill`, `timeout` and job schedulers send SIGTERM: it is handled as Ctrl-C is."""
    import os
    import signal

    def term(t):
        if t.step == 3:
            os.kill(os.getpid(), signal.SIGTERM)
    _add_callback(monkeypatch, term)
    code, out, err = run(capsys, "train", "--data", corpus, "--steps", "8", "--out", tmp_path,
                         *TINY)
    assert code == 128 + signal.SIGTERM, err
    assert "terminate signal: finishing this step" in err
    assert "the checkpoint on disk is at step 3" in err and "--resume" in err
    assert load_checkpoint(tmp_path / "checkpoint.npz")["step"] == 3
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # put back


@pytest.mark.parametrize("second", ["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("when", ["in the step", "while finishing"])
def test_after_a_sigterm_a_second_signal_aborts_and_the_status_stays_143(
        capsys, corpus, tmp_path, monkeypatch, second, when):
    """SIGTERM asks the run to stop; a second signal (in the same step, or while the run
    validates and saves at its end) aborts at once. The status is the first signal's, the
    reason the run stopped, on both paths (a Ctrl-C while finishing gave 130)."""
    import os
    import signal
    from tinygrad_rnn.nn import functional as F
    original, calls = F.cross_entropy, []

    def loss(out, y):
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGTERM)
            if when == "in the step":
                os.kill(os.getpid(), getattr(signal, second))
        return original(out, y)
    monkeypatch.setattr(cli.F, "cross_entropy", loss)
    end = Trainer._end

    def finishing(self, *args):
        os.kill(os.getpid(), getattr(signal, second))
        return end(self, *args)
    if when == "while finishing":
        monkeypatch.setattr(Trainer, "_end", finishing)
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        code, _, err = run(capsys, "train", "--data", corpus, "--steps", "8", "--out",
                           tmp_path, *TINY, "--val-every", "0")
    finally:
        signal.signal(signal.SIGINT, old)
    assert code == 128 + signal.SIGTERM, err
    assert "the checkpoint on disk is" in err or "no checkpoint was written" in err


def test_a_resume_without_steps_continues_to_the_runs_own_target(capsys, corpus, tmp_path,
                                                                 monkeypatch):
    _interrupt_at(monkeypatch, 3)
    code, _, err = run(capsys, "train", "--data", corpus, "--steps", "7", "--out", tmp_path, *TINY)
    assert code == 130, err
    monkeypatch.undo()
    code, out, err = run(capsys, "train", "--out", tmp_path, "--resume", "--quiet",
                         "--sample-length", "0")
    assert code == 0, err
    assert load_checkpoint(tmp_path / "checkpoint.npz")["step"] == 7
    assert "step 7:" in out and "(step 7)" in out


def test_resuming_a_finished_run_without_steps_says_there_is_nothing_to_do(capsys, corpus,
                                                                           tmp_path):
    code, _, err = run(capsys, "train", "--data", corpus, "--steps", "3", "--out", tmp_path, *TINY)
    assert code == 0, err
    before = (tmp_path / "checkpoint.npz").read_bytes()
    code, _, err = run(capsys, "train", "--out", tmp_path, "--resume")
    assert code == 0 and "has reached its 3 steps: nothing to train" in err, err
    assert (tmp_path / "checkpoint.npz").read_bytes() == before


def test_a_checkpoint_of_an_earlier_version_resumes(capsys, corpus, tmp_path):
    """Written before the run's text and target were recorded: the options still come from
    the checkpoint, --data must be given, and the run goes on to the new --steps."""
    code, _, err = run(capsys, "train", "--data", corpus, "--steps", "3", "--out", tmp_path / "a",
                       "--lr-schedule", "step", *TINY)
    assert code == 0, err
    (tmp_path / "old").mkdir()

    def older(m):
        del m["tree"]["meta"]["data"], m["tree"]["meta"]["target"]
    _crafted(tmp_path / "a" / "checkpoint.npz", tmp_path / "old" / "checkpoint.npz", older)
    code, _, err = run(capsys, "train", "--data", corpus, "--steps", "5", "--resume",
                       tmp_path / "old", "--quiet", "--sample-length", "0")
    assert code == 0, err
    assert load_checkpoint(tmp_path / "old" / "checkpoint.npz")["step"] == 5


def test_overwrite_changes_nothing_when_the_command_is_refused(capsys, corpus, tmp_path):
    """--overwrite replaces a run only once everything else has been checked."""
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        code, _, err = run(capsys, "train", "--data", corpus, "--steps", "2", "--out", out, *TINY)
        assert code == 0, err
    before = {p.name: p.read_bytes() for p in b.iterdir()}
    code, _, err = run(capsys, "train", "--resume", a, "--out", b, "--overwrite", "--hidden", "32",
                       "--steps", "4")
    assert code == 1 and "--hidden 32 (the run's: 12)" in one_line_error(err)
    code, _, err = run(capsys, "train", "--data", tmp_path / "missing.txt", "--out", b,
                       "--overwrite", "--steps", "2", *TINY)
    assert code == 1 and "not found" in one_line_error(err)
    assert {p.name: p.read_bytes() for p in b.iterdir()} == before


def test_a_resume_into_a_new_folder_brings_the_best_weights_along(capsys, corpus, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    code, _, err = run(capsys, "train", "--data", corpus, "--steps", "6", "--out", a, *TINY)
    assert code == 0, err
    code, out, err = run(capsys, "train", "--resume", a, "--out", b, "--steps", "7",
                         "--val-every", "100", "--quiet", "--sample-length", "0")
    assert code == 0, err
    best_a = load_checkpoint(a / "best.npz")["step"]
    assert load_checkpoint(b / "best.npz")["step"] in (best_a, 7)  # a's, or a better one at 7
    assert f"({b / 'best.npz'})" in out
    from argparse import Namespace
    from tinygrad_rnn import runs
    _, _, changes = runs.prepare_out(Namespace(out=str(tmp_path / "c"), resume=str(a),
                                               overwrite=False))
    assert ("copy", a / "best.npz", tmp_path / "c" / "best.npz") in changes
    assert not (tmp_path / "c").exists()  # (nothing happens before apply)
