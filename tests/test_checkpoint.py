"""The checkpoint format: nested state dicts round trip, atomic writes, and refusal of every
kind of bad or crafted file with one CheckpointError (never NumPy's or pickle's words)."""
import io
import json
import os
import pickle
import zipfile

import numpy as np
import pytest

from tinygrad_rnn import optim
from tinygrad_rnn.checkpoint import (
    FORMAT_VERSION, CheckpointError, check_model_state, load_checkpoint, save_checkpoint,
)
from tinygrad_rnn.models import CharRNN
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.tensor import Tensor


def _trained(hidden=8, cell="lstm", dtype=np.float32):
    model = CharRNN(5, hidden_size=hidden, cell=cell).to(dtype)
    opt = optim.Adam(list(model.parameters()), lr=1e-2, betas=(0.8, 0.9))
    x = np.array([[0, 1], [2, 3], [4, 0]])
    out, _ = model(x)
    F.cross_entropy(out, Tensor(np.roll(x, -1, axis=0))).backward()
    opt.step()
    return model, opt


def _state(model, opt, **extra):
    return dict({"model": dict(model.state_dict()), "optimizer": opt.state_dict(),
                 "carried": (np.ones((1, 2, 8), np.float32), np.zeros((1, 2, 8), np.float32)),
                 "step": 7, "meta": {"model_config": model.config, "vocab": list("abcde")}},
                **extra)


def _equal(a, b):
    """Same structure, types and values; arrays equal with the same dtype."""
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, dict):
        return (isinstance(b, dict) and list(a) == list(b)
                and all(_equal(a[k], b[k]) for k in a))
    if isinstance(a, (list, tuple)):
        return (type(a) is type(b) and len(a) == len(b)
                and all(_equal(x, y) for x, y in zip(a, b)))
    return type(a) is type(b) and a == b


def test_nested_state_round_trips_exactly(tmp_path):
    model, opt = _trained()
    state = _state(model, opt, note="é ünïcode", none=None, flag=True, big=2 ** 70,
                   ints={3: "three", -1: [1.5, None]}, scalar=np.float32(2.5),
                   zero_d=np.array(3.0), empty=np.zeros((0, 4), np.int64),
                   odd={"a/b": np.ones(2), "a": {"b": np.zeros(2)}})
    path = save_checkpoint(tmp_path / "c.npz", state)
    back = load_checkpoint(path)
    assert back.pop("scalar") == 2.5
    state.pop("scalar")
    assert _equal(state, back)
    assert back["optimizer"]["param_groups"][0]["betas"] == (0.8, 0.9)  # tuples stay tuples
    assert set(back["optimizer"]["state"]) == set(range(len(list(model.parameters()))))

    fresh = CharRNN(5, hidden_size=8)
    fresh_opt = optim.Adam(list(fresh.parameters()), lr=1.0)
    fresh.load_state_dict(back["model"])
    fresh_opt.load_state_dict(back["optimizer"])
    assert fresh_opt.param_groups[0]["lr"] == 1e-2


def test_file_is_plain_npz_with_json_meta_and_no_pickle(tmp_path):
    model, opt = _trained()
    path = save_checkpoint(tmp_path / "c.npz", _state(model, opt))
    with np.load(path, allow_pickle=False) as z:
        assert z["meta"].dtype == np.uint8
        meta = json.loads(z["meta"].tobytes().decode())
        assert meta["format"] == "tinygrad_rnn-checkpoint"
        assert meta["format_version"] == FORMAT_VERSION
        assert "model/decoder.weight" in z.files
        assert all(z[k].dtype != object for k in z.files)


def test_unstorable_values_are_refused_when_saving(tmp_path):
    with pytest.raises(TypeError, match="only numeric arrays"):
        save_checkpoint(tmp_path / "c.npz", {"a": np.array([{}], dtype=object)})
    with pytest.raises(TypeError, match="a set"):
        save_checkpoint(tmp_path / "c.npz", {"a": {1, 2}})
    assert not list(tmp_path.iterdir())


def _saved(tmp_path):
    """(model, optimizer, path, bytes) of a checkpoint written to tmp_path / "c.npz"."""
    model, opt = _trained()
    path = tmp_path / "c.npz"
    save_checkpoint(path, _state(model, opt))
    return model, opt, path, path.read_bytes()


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path, monkeypatch):
    model, opt, path, before = _saved(tmp_path)

    def broken_savez(f, **arrays):
        f.write(b"PK partial")
        raise OSError("disk full")
    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, _state(model, opt, step=8))
    assert path.read_bytes() == before           # the old checkpoint is intact
    assert sorted(os.listdir(tmp_path)) == ["c.npz"]  # and the temp file is gone


def test_a_full_disk_names_the_file_and_says_the_old_one_is_kept(tmp_path, monkeypatch):
    import errno
    model, opt, path, before = _saved(tmp_path)

    def full(f, **arrays):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(np, "savez", full)
    with pytest.raises(OSError, match=r"No space left on device while writing .*c\.npz \(the "
                                      r"file there before, if any, is unchanged\)") as info:
        save_checkpoint(path, _state(model, opt, step=8))
    assert info.value.errno == errno.ENOSPC
    assert path.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["c.npz"]


def test_permissions_follow_the_umask(tmp_path):
    old = os.umask(0o002)
    try:
        path = save_checkpoint(tmp_path / "c.npz", {"a": np.ones(2)})
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o664


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.npz")
    with pytest.raises(CheckpointError, match="is a directory"):
        load_checkpoint(tmp_path)


def _refused(path, message):
    with pytest.raises(CheckpointError, match=message) as info:
        load_checkpoint(path)
    text = str(info.value)
    assert "\n" not in text and "allow_pickle" not in text and "pickle.load" not in text
    return text


def test_truncated_file_is_refused(tmp_path):
    model, opt = _trained()
    path = save_checkpoint(tmp_path / "c.npz", _state(model, opt))
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 30, 100):
        bad = tmp_path / f"cut{cut}.npz"
        bad.write_bytes(data[:cut])
        _refused(bad, "truncated or not a checkpoint")


@pytest.mark.parametrize("content", [b"", b"hello, not a checkpoint\n", bytes(range(256)) * 4,
                                     pickle.dumps({"a": 1}), pickle.dumps(np.zeros(3))])
def test_non_checkpoint_files_are_refused_in_our_words(tmp_path, content):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(content)
    _refused(bad, "not a checkpoint")


def test_npz_without_meta_plain_npy_and_other_formats_are_refused(tmp_path):
    np.savez(tmp_path / "other.npz", weight=np.zeros(3))
    _refused(tmp_path / "other.npz", "not a tinygrad_rnn checkpoint")
    np.save(tmp_path / "arr.npy", np.zeros(3))
    _refused(tmp_path / "arr.npy", "single .npy array")
    np.savez(tmp_path / "meta.npz", meta=np.frombuffer(b'{"format": "other"}', np.uint8))
    _refused(tmp_path / "meta.npz", "format tag")
    np.savez(tmp_path / "text.npz", meta=np.frombuffer(b"\xff\xfe", np.uint8))
    _refused(tmp_path / "text.npz", "unreadable metadata")
    with zipfile.ZipFile(tmp_path / "zip.npz", "w") as z:
        z.writestr("readme.txt", "hello")
    _refused(tmp_path / "zip.npz", "is not an array")


def test_object_arrays_are_refused_without_numpys_advice(tmp_path):
    np.savez(tmp_path / "obj.npz", meta=np.array([{"a": 1}], dtype=object))
    _refused(tmp_path / "obj.npz", "never Python objects")
    model, opt = _trained()
    path = save_checkpoint(tmp_path / "c.npz", _state(model, opt))

    def smuggle(a, m):  # an object array behind an honest-looking manifest entry
        a["step_obj"] = np.array([print], dtype=object)
        m["manifest"]["step_obj"] = [[1], "<f8"]
    _rewrite(path, tmp_path / "obj2.npz", smuggle)
    _refused(tmp_path / "obj2.npz", "never Python objects")


def _rewrite(path, out, change):
    """Copy a checkpoint, letting change(arrays, meta) edit both (meta is the parsed JSON)."""
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(arrays["meta"].tobytes())
    change(arrays, meta)
    if isinstance(meta, bytes):
        arrays["meta"] = np.frombuffer(meta, np.uint8)
    else:
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    out.write_bytes(buf.getvalue())
    return out


W = "model/decoder.bias"


def _set(d, key, value):
    d[key] = value


@pytest.mark.parametrize("change,message", [
    (lambda a, m: a.pop(W), r"entries missing \['model/decoder.bias'\]"),
    (lambda a, m: _set(a, W, a[W][:2]), "entry 'model/decoder.bias' has shape"),
    (lambda a, m: _set(a, W, a[W].astype(np.float64)), "float64"),
    (lambda a, m: _set(m, "manifest", [1, 2]), "manifest is not a JSON object"),
    (lambda a, m: _set(m["manifest"], W, "f4"), "not \\[shape, dtype\\]"),
    (lambda a, m: _set(m["manifest"], W, [[5], "not-a-dtype"]), "expected a numeric dtype"),
    (lambda a, m: _set(m["manifest"], W, [[5], 42]), "expected a numeric dtype"),
    (lambda a, m: _set(m["manifest"], W, [[5], "O"]), "expected a numeric dtype"),
    (lambda a, m: _set(m["manifest"], W, [[5], [["x", "<f4"]]]), "expected a numeric dtype"),
    (lambda a, m: _set(m["manifest"], W, [[-5], "<f4"]), "not \\[shape, dtype\\]"),
    (lambda a, m: _set(m["manifest"], W, [["5"], "<f4"]), "not \\[shape, dtype\\]"),
    (lambda a, m: _set(m, "tree", [1, 2]), "state is not a dict"),
    (lambda a, m: _set(m["tree"], "step", {"$array": "nope"}), "names an array 'nope'"),
    (lambda a, m: _set(m["tree"], "step", {"$array": 5}), "names an array 5"),
    (lambda a, m: _set(m["tree"], "step", {"$pickle": "x"}), "unknown entry"),
    (lambda a, m: _set(m["tree"], "step", {"$tuple": "abc"}), "expected a list"),
    (lambda a, m: _set(m["tree"], "step", {"$items": [[1]]}), "not a \\[key, value\\] pair"),
    (lambda a, m: _set(m["tree"], "step", {"$items": [[[1], 2]]}), "not a \\[key, value\\] pair"),
    (lambda a, m: _set(m["tree"], "step", {"$array": W}), "named twice"),
    (lambda a, m: m["tree"].pop("carried"), "belong to no part of its state"),
    (lambda a, m: _set(m, "format_version", "2"), "format version '2'"),
    (lambda a, m: _set(m, "format_version", FORMAT_VERSION + 1),
     f"format version {FORMAT_VERSION + 1}"),
])
def test_crafted_checkpoints_are_refused_with_one_line(tmp_path, change, message):
    model, opt = _trained()
    path = save_checkpoint(tmp_path / "c.npz", _state(model, opt))
    _refused(_rewrite(path, tmp_path / "bad.npz", change), message)


def test_entry_whose_data_is_shorter_than_its_header_is_refused(tmp_path):
    good = save_checkpoint(tmp_path / "c.npz", {"a": np.ones(100)})
    with zipfile.ZipFile(good) as z:
        files = {n: z.read(n) for n in z.namelist()}
    files["a.npy"] = files["a.npy"][:-40]
    with zipfile.ZipFile(tmp_path / "short.npz", "w") as z:
        for n, data in files.items():
            z.writestr(n, data)
    _refused(tmp_path / "short.npz", "holds 760 bytes, its header says 800")


def _params(model):
    return {k: np.array(v, copy=True) for k, v in model.state_dict().items()}


def test_another_models_parameters_are_named(tmp_path):
    model, opt = _trained(hidden=8)
    state = load_checkpoint(save_checkpoint(tmp_path / "c.npz", _state(model, opt)))
    config = state["meta"]["model_config"]
    with pytest.raises(CheckpointError, match=r"another model: hidden_size=8 \(this model: 6\)"):
        check_model_state(CharRNN(5, hidden_size=6), state["model"], config)
    with pytest.raises(CheckpointError, match="cell='lstm'"):
        check_model_state(CharRNN(5, hidden_size=8, cell="gru"), state["model"], config)
    with pytest.raises(CheckpointError, match="parameter 'rnn.weight_ih_l0' has shape"):
        check_model_state(CharRNN(5, hidden_size=6), state["model"])
    with pytest.raises(CheckpointError, match="missing parameters"):
        check_model_state(CharRNN(5, hidden_size=8, embedding_dim=3), state["model"])
    with pytest.raises(CheckpointError, match="dtype float32, the model expects float64"):
        check_model_state(CharRNN(5, hidden_size=8).to(np.float64), state["model"])
    with pytest.raises(CheckpointError, match="is a str, expected an array"):
        check_model_state(model, dict(state["model"], **{"decoder.bias": "x"}))


def test_checkpoint_error_is_a_value_error():
    assert issubclass(CheckpointError, ValueError)
