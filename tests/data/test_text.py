"""Character vocabulary and corpora: round trips on arbitrary Unicode, unknowns, storage, files."""
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_rnn import Tensor
from tinygrad_rnn.data import CharVocab, default_corpus, load_text


@given(st.text(min_size=1))
def test_round_trip_any_unicode(text):
    vocab = CharVocab(text)
    ids = vocab.encode(text)
    assert ids.dtype == np.int64 and ids.shape == (len(text),)
    assert vocab.decode(ids) == text
    assert vocab.to_list() == sorted(set(text))
    assert len(vocab) == len(set(text))
    # ids are positions in the sorted character list
    assert [vocab.to_list()[i] for i in ids] == list(text)


@given(st.text(min_size=1), st.text())
def test_unknowns_map_to_unk(known, other):
    vocab = CharVocab(known, unk="\ufffd")
    ids = vocab.encode(other)
    expected = [c if c in vocab else "\ufffd" for c in other]
    assert vocab.decode(ids) == "".join(expected)


def test_unknown_character_error_names_it_and_the_fix():
    vocab = CharVocab("hello world")
    with pytest.raises(ValueError, match=r"2 character\(s\) not in the vocabulary: 'Z', 'é'.*pass unk="):
        vocab.encode("hé Zoo")


def test_unk_is_added_and_used():
    vocab = CharVocab("abc", unk="?")
    assert vocab.to_list() == ["?", "a", "b", "c"]
    assert vocab.unk_id == 0
    np.testing.assert_array_equal(vocab.encode("axc"), [1, 0, 3])
    assert CharVocab("abc").unk_id is None


def test_storage_round_trips():
    vocab = CharVocab("naïve 日本語 text\n", unk="~")
    assert CharVocab.from_json(vocab.to_json()) == vocab
    assert CharVocab.from_list(vocab.to_list(), unk="~") == vocab
    stored = np.array(vocab.to_json())  # how a checkpoint keeps it: a unicode array, no pickle
    assert stored.dtype.kind == "U"
    assert CharVocab.from_json(str(stored)) == vocab
    custom = CharVocab.from_list(["z", "a"])
    np.testing.assert_array_equal(custom.encode("aza"), [1, 0, 1])


def test_decode_accepts_lists_and_tensors():
    vocab = CharVocab("abc")
    assert vocab.decode([2, 1, 0]) == "cba"
    assert vocab.decode(Tensor(np.array([[0, 1]]))) == "ab"
    assert vocab.decode([]) == ""


@pytest.mark.parametrize("call,exc,match", [
    (lambda v: v.decode([0, 3]), IndexError, r"id 3 out of range for a vocabulary of 3 characters \(valid ids 0..2\)"),
    (lambda v: v.decode([-1]), IndexError, r"id -1 out of range"),
    (lambda v: v.decode(np.array([0.5])), TypeError, r"expects integer ids, got dtype float64"),
    (lambda v: v.encode(b"abc"), TypeError, r"expects a str, got bytes"),
    (lambda v: CharVocab(""), ValueError, r"the vocabulary is empty"),
    (lambda v: CharVocab("abc", unk="??"), ValueError, r"unk must be a single character, got '\?\?'"),
    (lambda v: CharVocab.from_list(["a", "bc"]), ValueError, r"entry 1 must be a single character, got 'bc'"),
    (lambda v: CharVocab.from_list(["a", "b", "a"]), ValueError, r"characters must be unique, repeated: \['a'\]"),
    (lambda v: CharVocab.from_list(["a"], unk="?"), ValueError, r"unk='\?' is not among the characters"),
    (lambda v: CharVocab.from_json("[1, 2]"), ValueError, r"not a stored CharVocab"),
])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call(CharVocab("abc"))


def test_default_corpus_is_large_and_stable():
    from pydoc_data.topics import topics

    text = default_corpus()
    assert isinstance(text, str) and len(text) > 100_000
    assert len(set(text)) > 60
    assert text.startswith(topics[sorted(topics)[0]])
    assert text is default_corpus()  # built once
    vocab = CharVocab(text)
    assert vocab.decode(vocab.encode(text[:5000])) == text[:5000]


def test_load_text(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("héllo\nwörld", encoding="utf-8")
    assert load_text(path) == "héllo\nwörld"
    assert load_text(str(path)) == "héllo\nwörld"
    path.write_bytes("\ufeffhé\r\nllo".encode("utf-8"))  # a byte order mark is not text
    assert load_text(path) == "hé\r\nllo"


@pytest.mark.parametrize("content,exc,match", [
    (None, FileNotFoundError, r"text file not found: '.*missing.txt'"),
    (b"", ValueError, r"'.*corpus.txt' is empty; a corpus needs at least 2 characters"),
    (b"x", ValueError, r"'.*corpus.txt' holds a single character"),
    (b"ab\xffcd", ValueError, r"'.*corpus.txt' is not UTF-8 text: invalid byte 0xff at offset 2"),
])
def test_load_text_errors_name_the_path_and_problem(tmp_path, content, exc, match):
    path = tmp_path / ("missing.txt" if content is None else "corpus.txt")
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(exc, match=match):
        load_text(path)


def test_load_text_refuses_a_directory(tmp_path):
    with pytest.raises(ValueError, match=r"is a directory, expected a UTF-8 text file"):
        load_text(tmp_path)


def test_to_json_is_plain_json():
    d = json.loads(CharVocab("ba", unk="?").to_json())
    assert d == {"chars": ["?", "a", "b"], "unk": "?"}
