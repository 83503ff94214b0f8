"""Checkpoints: round trip, atomic writes, and refusal of every kind of bad file."""
import json
import os

import numpy as np
import pytest

import tinygrad_rnn
from tinygrad_rnn import optim
from tinygrad_rnn.checkpoint import (
    FORMAT_VERSION, Checkpoint, CheckpointError, load_checkpoint, save_checkpoint,
)
from tinygrad_rnn.models import CharRNN
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.optim import optimizer_state_to_arrays
from tinygrad_rnn.tensor import Tensor


def _trained(hidden=8, cell="lstm", dtype=np.float32):
    model = CharRNN(5, hidden_size=hidden, cell=cell).to(dtype)
    opt = optim.Adam(list(model.parameters()), lr=1e-2)
    x = np.array([[0, 1], [2, 3], [4, 0]])
    out, _ = model(x)
    F.cross_entropy(out, Tensor(np.roll(x, -1, axis=0))).backward()
    opt.step()
    return model, opt


def _ckpt(model, opt, **meta):
    return Checkpoint(params={k: np.asarray(v) for k, v in model.state_dict().items()},
                      optimizer=optimizer_state_to_arrays(opt.state_dict()),
                      state={"h0": np.ones((1, 2, 8), np.float32)},
                      meta=dict({"step": 7, "model_config": model.config,
                                 "vocab": list("abcde"), "optimizer_class": "Adam"}, **meta))


def test_round_trip_restores_model_and_optimizer(tmp_path):
    model, opt = _trained()
    path = save_checkpoint(tmp_path / "c.npz", _ckpt(model, opt, note="é ünïcode"))
    ckpt = load_checkpoint(path)
    assert ckpt.step == 7 and ckpt.vocab == list("abcde") and ckpt.meta["note"] == "é ünïcode"
    assert ckpt.meta["format_version"] == FORMAT_VERSION
    np.testing.assert_array_equal(ckpt.state["h0"], np.ones((1, 2, 8), np.float32))

    tinygrad_rnn.manual_seed(123)
    fresh = CharRNN(5, hidden_size=8)
    fresh_opt = optim.Adam(list(fresh.parameters()), lr=1e-2)
    ckpt.restore(fresh, fresh_opt)
    for (k, a), (k2, b) in zip(model.state_dict().items(), fresh.state_dict().items()):
        assert k == k2 and a.dtype == b.dtype and np.array_equal(a, b), k
    want, got = opt.state_dict(), fresh_opt.state_dict()
    assert want["param_groups"] == got["param_groups"]
    for i, entry in want["state"].items():
        for name, v in entry.items():
            assert np.array_equal(np.asarray(v), np.asarray(got["state"][i][name])), (i, name)


def test_file_is_plain_npz_with_json_meta_and_no_pickle(tmp_path):
    model, opt = _trained()
    path = save_checkpoint(tmp_path / "c.npz", _ckpt(model, opt))
    with np.load(path, allow_pickle=False) as z:
        assert z["meta"].dtype == np.uint8
        meta = json.loads(z["meta"].tobytes().decode())
        assert meta["format"] == "tinygrad_rnn-checkpoint"
        assert "param.decoder.weight" in z.files
        assert all(z[k].dtype != object for k in z.files)


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path, monkeypatch):
    model, opt = _trained()
    path = tmp_path / "c.npz"
    save_checkpoint(path, _ckpt(model, opt))
    before = path.read_bytes()

    def broken_savez(f, **arrays):
        f.write(b"PK partial")
        raise OSError("disk full")
    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, _ckpt(model, opt, step=8))
    assert path.read_bytes() == before           # the old checkpoint is intact
    assert sorted(os.listdir(tmp_path)) == ["c.npz"]  # and the temp file is gone


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.npz")


def test_truncated_file_is_refused(tmp_path):
    model, opt = _trained()
    path = save_checkpoint(tmp_path / "c.npz", _ckpt(model, opt))
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 30, 100):
        bad = tmp_path / f"cut{cut}.npz"
        bad.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match="truncated or not a checkpoint"):
            load_checkpoint(bad)


@pytest.mark.parametrize("content", [b"", b"hello, not a checkpoint\n", bytes(range(256)) * 4])
def test_non_checkpoint_files_are_refused(tmp_path, content):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(content)
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        load_checkpoint(bad)


def test_npz_without_meta_and_plain_npy_are_refused(tmp_path):
    np.savez(tmp_path / "other.npz", weight=np.zeros(3))
    with pytest.raises(CheckpointError, match="not a tinygrad_rnn checkpoint"):
        load_checkpoint(tmp_path / "other.npz")
    np.save(tmp_path / "arr.npy", np.zeros(3))
    with pytest.raises(CheckpointError, match="single .npy array"):
        load_checkpoint(tmp_path / "arr.npy")
    np.savez(tmp_path / "meta.npz", meta=np.frombuffer(b'{"format": "other"}', np.uint8))
    with pytest.raises(CheckpointError, match="format tag"):
        load_checkpoint(tmp_path / "meta.npz")


def test_object_arrays_would_need_pickle_and_are_refused(tmp_path):
    np.savez(tmp_path / "obj.npz", meta=np.array([{"a": 1}], dtype=object))
    with pytest.raises(CheckpointError, match="truncated or not a checkpoint"):
        load_checkpoint(tmp_path / "obj.npz")


def _rewrite(path, out, change):
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    change(arrays)
    np.savez(out, **arrays)


def test_entries_that_disagree_with_the_manifest_are_refused(tmp_path):
    model, opt = _trained()
    path = save_checkpoint(tmp_path / "c.npz", _ckpt(model, opt))
    _rewrite(path, tmp_path / "drop.npz", lambda a: a.pop("param.decoder.bias"))
    with pytest.raises(CheckpointError, match=r"damaged: entries missing \['param.decoder.bias'\]"):
        load_checkpoint(tmp_path / "drop.npz")

    def reshape(a):
        a["param.decoder.bias"] = a["param.decoder.bias"][:2]
    _rewrite(path, tmp_path / "shape.npz", reshape)
    with pytest.raises(CheckpointError, match="damaged: entry 'param.decoder.bias' has shape"):
        load_checkpoint(tmp_path / "shape.npz")

    def retype(a):
        a["param.decoder.bias"] = a["param.decoder.bias"].astype(np.float64)
    _rewrite(path, tmp_path / "dtype.npz", retype)
    with pytest.raises(CheckpointError, match="float64"):
        load_checkpoint(tmp_path / "dtype.npz")


def test_future_format_version_is_refused(tmp_path):
    model, opt = _trained()
    path = save_checkpoint(tmp_path / "c.npz", _ckpt(model, opt))

    def bump(a):
        meta = json.loads(a["meta"].tobytes())
        meta["format_version"] = FORMAT_VERSION + 1
        a["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    _rewrite(path, tmp_path / "v2.npz", bump)
    with pytest.raises(CheckpointError, match=f"format version {FORMAT_VERSION + 1}"):
        load_checkpoint(tmp_path / "v2.npz")


def _params(model):
    return {k: np.array(v, copy=True) for k, v in model.state_dict().items()}


def test_another_models_checkpoint_is_refused_and_nothing_changes(tmp_path):
    model, opt = _trained(hidden=8)
    path = save_checkpoint(tmp_path / "c.npz", _ckpt(model, opt))
    other = CharRNN(5, hidden_size=6)
    before = _params(other)
    with pytest.raises(CheckpointError, match=r"another model: hidden_size=8 \(this model: 6\)"):
        load_checkpoint(path).restore(other)
    assert all(np.array_equal(before[k], v) for k, v in other.state_dict().items())

    gru = CharRNN(5, hidden_size=8, cell="gru")
    with pytest.raises(CheckpointError, match="cell='lstm'"):
        load_checkpoint(path).restore(gru)


def test_parameter_names_and_shapes_are_checked_without_a_config(tmp_path):
    model, opt = _trained(hidden=8)
    ckpt = _ckpt(model, opt)
    ckpt.meta.pop("model_config")
    path = save_checkpoint(tmp_path / "c.npz", ckpt)
    with pytest.raises(CheckpointError, match="parameter 'rnn.weight_ih_l0' has shape"):
        load_checkpoint(path).restore(CharRNN(5, hidden_size=6))
    with pytest.raises(CheckpointError, match="missing parameters"):
        load_checkpoint(path).restore(CharRNN(5, hidden_size=8, embedding_dim=3))


def test_dtype_mismatch_is_named(tmp_path):
    model, opt = _trained(dtype=np.float32)
    path = save_checkpoint(tmp_path / "c.npz", _ckpt(model, opt))
    wide = CharRNN(5, hidden_size=8).to(np.float64)
    with pytest.raises(CheckpointError, match="dtype float32, the model expects float64"):
        load_checkpoint(path).restore(wide)


def test_wrong_optimizer_leaves_model_and_optimizer_untouched(tmp_path):
    model, opt = _trained()
    path = save_checkpoint(tmp_path / "c.npz", _ckpt(model, opt))
    tinygrad_rnn.manual_seed(5)
    fresh = CharRNN(5, hidden_size=8)
    sgd = optim.SGD(list(fresh.parameters()), lr=0.1, momentum=0.9)
    before = _params(fresh)
    with pytest.raises(CheckpointError, match="saved with optimizer Adam, this run uses SGD"):
        load_checkpoint(path).restore(fresh, sgd)
    assert all(np.array_equal(before[k], v) for k, v in fresh.state_dict().items())
    assert sgd.state_dict()["param_groups"][0]["lr"] == 0.1


def test_checkpoint_error_is_a_value_error():
    assert issubclass(CheckpointError, ValueError)
