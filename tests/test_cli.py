"""The `tinygrad-rnn` command, run in-process through `main(argv)` (plus one real subprocess)."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_rnn as tg
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
                                            ("bench", "--full")])
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
    ckpt = load_checkpoint(out_dir / "checkpoint.npz")
    assert ckpt.step == 6 and ckpt.model_config["hidden_size"] == 12 and ckpt.vocab

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
    assert "interrupted: checkpoint saved at step 2" in err and "--resume" in err
    assert load_checkpoint(tmp_path / "checkpoint.npz").step == 2


def _interrupt_at(monkeypatch, step):
    original = Trainer.__init__

    def init(self, *a, **kw):
        original(self, *a, **kw)

        def ctrl_c(t):
            if t.step == step:
                raise KeyboardInterrupt
        self.hooks.append(ctrl_c)
    monkeypatch.setattr(Trainer, "__init__", init)


@pytest.mark.slow
def test_cli_resume_is_bit_identical(capsys, corpus, tmp_path, monkeypatch):
    args = ["train", "--data", corpus, "--steps", "12", "--layers", "2", "--dropout", "0.3",
            "--lr-schedule", "cosine", "--checkpoint-every", "5", "--seed", "7", *TINY]
    code, _, err = run(capsys, *args, "--out", tmp_path / "straight")
    assert code == 0, err
    with monkeypatch.context() as m:
        _interrupt_at(m, 6)
        code, _, err = run(capsys, *args, "--out", tmp_path / "split")
        assert code == 130, err
    code, _, err = run(capsys, *args, "--out", tmp_path / "split", "--resume")
    assert code == 0, err
    a = load_checkpoint(tmp_path / "straight" / "checkpoint.npz")
    b = load_checkpoint(tmp_path / "split" / "checkpoint.npz")
    assert a.step == b.step == 12
    for group in ("params", "optimizer", "state"):
        ga, gb = getattr(a, group), getattr(b, group)
        assert sorted(ga) == sorted(gb)
        for k in ga:
            assert np.array_equal(ga[k], gb[k]), (group, k)
    assert a.meta["rng_state"] == b.meta["rng_state"]


@pytest.mark.parametrize("argv,code,message", [
    (["train", "--hidden", "0"], 2, "--hidden: expected a positive integer, got 0"),
    (["train", "--cell", "transformer"], 2, "--cell: invalid choice: 'transformer'"),
    (["train", "--dropout", "1.5"], 2, "--dropout: expected a number in [0, 1), got 1.5"),
    (["train", "--lr", "abc"], 2, "--lr: expected a positive number, got 'abc'"),
    (["train", "--clip-norm", "1", "--clip-value", "1"], 2, "not allowed with argument"),
    (["train", "--bogus"], 2, "unrecognized arguments: --bogus"),
    (["sample"], 2, "the following arguments are required: --checkpoint"),
    (["frobnicate"], 2, "invalid choice: 'frobnicate'"),
    (["train", "--data", "/no/such/file.txt"], 1, "text file not found"),
    (["train", "--lr-schedule", "cosine", "--time-budget", "1"], 1, "cosine needs --steps"),
    (["sample", "--checkpoint", "/no/such/ckpt.npz"], 1, "does not exist"),
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
])
def test_unusable_corpora(capsys, tmp_path, content, message):
    path = tmp_path / "c.txt"
    path.write_text(content)
    code, _, err = run(capsys, "train", "--data", path, "--steps", "2", "--out", tmp_path / "o", *TINY)
    assert code == 1
    assert message in one_line_error(err)


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
                                             (b"PK\x03\x04trunc", "truncated")])
def test_bad_checkpoint_files(capsys, tmp_path, content, message):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    code, _, err = run(capsys, "sample", "--checkpoint", path)
    assert code == 1 and message in one_line_error(err)


def test_resume_checks(capsys, corpus, tmp_path):
    code, _, err = run(capsys, "train", "--data", corpus, "--steps", "2", "--out", tmp_path, "--resume", *TINY)
    assert code == 1 and "does not exist" in one_line_error(err)
    code, _, err = run(capsys, "train", "--data", corpus, "--steps", "2", "--out", tmp_path, *TINY)
    assert code == 0, err
    # another model: a different hidden size
    code, _, err = run(capsys, "train", "--data", corpus, "--steps", "4", "--out", tmp_path,
                       "--resume", *TINY, "--hidden", "10")
    assert code == 1 and "another model: hidden_size=12 (this model: 10)" in one_line_error(err)
    # another text: a different vocabulary
    other = tmp_path / "other.txt"
    other.write_text("completely different words here, zzz qqq! " * 40)
    code, _, err = run(capsys, "train", "--data", other, "--steps", "4", "--out", tmp_path,
                       "--resume", *TINY)
    assert code == 1 and "another vocabulary" in one_line_error(err)
    # another optimizer
    code, _, err = run(capsys, "train", "--data", corpus, "--steps", "4", "--out", tmp_path,
                       "--resume", *TINY, "--optimizer", "sgd")
    assert code == 1 and "saved with optimizer Adam, this run uses SGD" in one_line_error(err)


def test_diverged_training_is_one_line(capsys, corpus, tmp_path, monkeypatch):
    original = Trainer.__init__

    def init(self, *a, **kw):
        original(self, *a, **kw)

        def poison(t):
            if t.step == 3:
                t.model.decoder.bias.data[:] = np.inf
        self.hooks.append(poison)
    monkeypatch.setattr(Trainer, "__init__", init)
    code, _, err = run(capsys, "train", "--data", corpus, "--steps", "8", "--out", tmp_path,
                       "--checkpoint-every", "2", *TINY)
    assert code == 1
    line = one_line_error(err)
    assert "diverged at step 4" in line and "(step 2)" in line
    assert load_checkpoint(tmp_path / "checkpoint.npz").step == 2


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


def test_bench_without_a_checkout_prints_how(capsys, monkeypatch):
    monkeypatch.setattr(cli, "_bench_script", lambda: None)
    code, out, _ = run(capsys, "bench")
    assert code == 0 and "python benchmarks/run.py --quick" in out


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
