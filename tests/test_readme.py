"""Every code block of README.md runs: Python blocks as written, commands in reduced form.

Python blocks run one by one in a fresh namespace inside a temporary folder. Shell commands
run in order in one temporary folder: `tinygrad-rnn` / `python -m tinygrad_rnn` through
`cli.main` in-process, with training shrunk to a few steps of a tiny model (`--steps 3
--hidden 12 ...` appended: the last occurrence of an option wins); the rest is skipped
with its reason.
"""
import re
import shlex
from pathlib import Path

import pytest

from tinygrad_rnn import cli

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
REDUCED_TRAIN = ["--steps", "3", "--hidden", "12", "--seq-len", "8", "--batch-size", "4",
                 "--val-every", "2", "--sample-length", "20", "--quiet"]
QUICKSTART = ['python3 -m pip install -e ".[plot]" && tinygrad-rnn train',
              'python3 -m pip install -e ".[dev]" && python3 -m pytest -q']


def _blocks():
    return [(lang, body) for lang, body in BLOCK.findall(README.read_text(encoding="utf-8"))]


def _commands():
    """Shell commands in README order: continuation lines joined, comments and && split."""
    out = []
    for lang, body in _blocks():
        if lang not in ("", "bash", "sh", "console"):
            continue
        for line in body.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].split(" # ")[0].strip()
            if line and not line.startswith("#"):
                out.extend(part.strip() for part in line.split("&&"))
    return out


def test_quickstart_is_the_first_thing_after_the_title():
    text = README.read_text(encoding="utf-8").splitlines()
    assert text[0].startswith("# ")
    body = [l for l in text[1:] if l.strip()]
    assert body[0] == "```"
    assert [l.split("#")[0].strip() for l in body[1:3]] == QUICKSTART
    assert body[3] == "```"


PYTHON_BLOCKS = [body for lang, body in _blocks() if lang == "python"]


@pytest.mark.parametrize("code", PYTHON_BLOCKS, ids=[f"python-{i}" for i in range(len(PYTHON_BLOCKS))])
def test_python_block_runs(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})


def test_readme_has_the_promised_sections():
    text = README.read_text(encoding="utf-8")
    for title in ("Tensors and autograd", "Writing a new op and checking it",
                  "Composing a recurrent model", "Training from the command line",
                  "Checkpoints and resuming", "Sampling", "Benchmarks"):
        assert f"## {title}" in text
    assert len(PYTHON_BLOCKS) >= 5


def _reduced(argv):
    if argv[:1] == ["train"] and "--help" not in argv:
        if "--resume" in argv:  # (a resume goes on past the reduced run it continues)
            return argv + ["--steps", "5"] + REDUCED_TRAIN[2:]
        return argv + REDUCED_TRAIN
    return argv


@pytest.mark.slow
def test_shell_commands_run_in_reduced_form(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "input.txt").write_text("First Citizen: Before we proceed any further, hear me "
                                        "speak.\nAll: Speak, speak.\n" * 40, encoding="utf-8")
    ran, skipped = [], []
    for command in _commands():
        argv = shlex.split(command)
        if argv[0] == "tinygrad-rnn":
            argv = argv[1:]
        elif argv[:3] == ["python", "-m", "tinygrad_rnn"]:
            argv = argv[3:]
        else:
            # pip installs and the test suite itself belong to CI; the benchmarks take
            # minutes and have their own --quick mode
            skipped.append(command)
            continue
        code = cli.main(_reduced(argv))
        out, err = capsys.readouterr()
        assert code == 0, f"README command failed: {command}\n{err}"
        ran.append(command)
    assert any(c.endswith("--resume") for c in ran) and any(" sample " in c for c in ran)
    assert len(ran) >= 6
    assert all(c.startswith(("python3 -m pip", "python3 -m pytest", "python benchmarks/"))
               for c in skipped), skipped


def test_the_scan_info_calls_quoted_in_the_text_print_what_they_say(capsys):
    """Inline `print(scan_info()...)` in the prose runs, after a scan, and prints source code."""
    import tinygrad_rnn as tg
    from tinygrad_rnn.compiled import scan_info
    quoted = re.findall(r"`(print\(scan_info\(\)[^`]*)`", README.read_text(encoding="utf-8"))
    assert quoted, "README quotes no print(scan_info()...) call"
    tg.scan(lambda x, h: (x if h is None else x + 0.9 * h).tanh(), tg.randn(6, 2))
    for call in quoted:
        eval(call, {"scan_info": scan_info})
        assert "def " in capsys.readouterr().out, call


def test_every_data_file_of_a_command_is_explained():
    """A `--data FILE` the reader has to supply is said to be any UTF-8 text file."""
    files = {argv[i + 1] for argv in map(shlex.split, _commands())
             for i, a in enumerate(argv[:-1]) if a == "--data"}
    assert files
    lines = README.read_text(encoding="utf-8").splitlines()
    for name in files:
        told = [l for l in lines if name in l and "--data" not in l and "UTF-8" in l]
        assert told, f"README uses --data {name} without saying what the file is"
