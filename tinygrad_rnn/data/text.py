"""Character vocabularies, encoding/decoding, and the text corpora a char-RNN trains on."""
from __future__ import annotations

import functools
import json
import os
from typing import Any, Iterable

import numpy as np

from tinygrad_rnn.tensor import Tensor


class CharVocab:
    """A character-level vocabulary: id i <-> the i-th character.

    `CharVocab(text)` holds the sorted unique characters (Unicode code points) of `text`.
    Encoding a character the vocabulary lacks raises, unless it was built with `unk`, a single
    character that unknown ones map to (it is added to the vocabulary when `text` lacks it).
    `to_json()` / `from_json()` and `to_list()` / `from_list()` store it without pickle.
    """

    def __init__(self, text: str | Iterable[str], unk: str | None = None):
        chars = set(text)
        if isinstance(unk, str) and len(unk) == 1:
            chars.add(unk)  # anything else is refused by _set with a message
        self._set(sorted(chars), unk)

    @classmethod
    def from_list(cls, chars: Iterable[str], unk: str | None = None) -> "CharVocab":
        """The vocabulary with exactly these characters, in this order (id = position)."""
        vocab = cls.__new__(cls)
        vocab._set(list(chars), unk)
        return vocab

    def to_list(self) -> list[str]:
        """The characters in id order."""
        return list(self._chars)

    def to_json(self) -> str:
        return json.dumps({"chars": self._chars, "unk": self.unk}, ensure_ascii=True)

    @classmethod
    def from_json(cls, s: str) -> "CharVocab":
        try:
            d = json.loads(s)
            return cls.from_list(d["chars"], unk=d["unk"])
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"not a stored CharVocab (expected JSON with 'chars' and 'unk'): {e}") from None

    def _set(self, chars: list[str], unk: str | None) -> None:
        for i, c in enumerate(chars):
            if not isinstance(c, str) or len(c) != 1:
                raise ValueError(f"CharVocab: entry {i} must be a single character, got {c!r}")
        if len(set(chars)) != len(chars):
            dup = sorted({c for c in chars if chars.count(c) > 1})
            raise ValueError(f"CharVocab: characters must be unique, repeated: {dup!r}")
        if not chars:
            raise ValueError("CharVocab: the vocabulary is empty (built from an empty text?)")
        if unk is not None:
            if not isinstance(unk, str) or len(unk) != 1:
                raise ValueError(f"CharVocab: unk must be a single character, got {unk!r}")
            if unk not in chars:
                raise ValueError(f"CharVocab: unk={unk!r} is not among the characters")
        self._chars = chars
        self.unk = unk
        self._index = {c: i for i, c in enumerate(chars)}
        # code points sorted, with the id of each: encoding is a vectorised searchsorted
        codes = np.array([ord(c) for c in chars], dtype=np.int64)
        order = np.argsort(codes)
        self._sorted_codes = codes[order]
        self._sorted_ids = order.astype(np.int64)
        self._codes = codes

    def __len__(self) -> int:
        return len(self._chars)

    def __contains__(self, char: object) -> bool:
        return char in self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CharVocab) and self._chars == other._chars and self.unk == other.unk

    def __repr__(self) -> str:
        return f"CharVocab(size={len(self)}, unk={self.unk!r})"

    @property
    def unk_id(self) -> int | None:
        return None if self.unk is None else self._index[self.unk]

    def encode(self, text: str) -> np.ndarray:
        """The ids of the characters of `text`, an int64 array of length len(text)."""
        if not isinstance(text, str):
            raise TypeError(f"CharVocab.encode expects a str, got {type(text).__name__}")
        cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.int64)
        pos = np.searchsorted(self._sorted_codes, cps)
        pos = np.minimum(pos, len(self._sorted_codes) - 1)
        known = self._sorted_codes[pos] == cps
        ids = self._sorted_ids[pos]
        if not known.all():
            if self.unk is None:
                missing = sorted({chr(c) for c in cps[~known]})
                shown = ", ".join(repr(c) for c in missing[:10]) + (" ..." if len(missing) > 10 else "")
                raise ValueError(
                    f"{len(missing)} character(s) not in the vocabulary: {shown}; build the "
                    "vocabulary from a text that contains them, or pass unk='<char>' to map "
                    "unknown characters to one symbol"
                )
            ids[~known] = self._index[self.unk]
        return ids

    def decode(self, ids: Any) -> str:
        """The text of a sequence of ids (list, int ndarray or Tensor)."""
        arr = np.asarray(ids.data if isinstance(ids, Tensor) else ids)
        if arr.size == 0:
            return ""
        if not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"CharVocab.decode expects integer ids, got dtype {arr.dtype}")
        arr = arr.reshape(-1).astype(np.int64)
        bad = (arr < 0) | (arr >= len(self))
        if bad.any():
            raise IndexError(
                f"CharVocab.decode: id {int(arr[bad][0])} out of range for a vocabulary of "
                f"{len(self)} characters (valid ids 0..{len(self) - 1})"
            )
        return self._codes[arr].astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")


@functools.lru_cache(maxsize=1)
def default_corpus() -> str:
    """The built-in corpus: Python's own help topics (`pydoc_data.topics`), in sorted key order.

    It ships with every CPython, is about half a million characters of English prose and code,
    and needs no download.
    """
    from pydoc_data.topics import topics

    return "".join(topics[key] for key in sorted(topics))


def load_text(path: str | os.PathLike) -> str:
    """The UTF-8 text of a file, refusing files a character model cannot train on. A byte
    order mark at the start (some editors write one) is not part of the text; line endings
    are kept as they are (CRLF stays two characters)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"text file not found: {path!r}")
    if os.path.isdir(path):
        raise ValueError(f"{path!r} is a directory, expected a UTF-8 text file")
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(
            f"{path!r} is not UTF-8 text: invalid byte {raw[e.start]:#04x} at offset {e.start}"
        ) from None
    if len(text) == 0:
        raise ValueError(f"{path!r} is empty; a corpus needs at least 2 characters")
    if len(text) < 2:
        raise ValueError(
            f"{path!r} holds a single character; a corpus needs at least 2 characters "
            "(one input and the next character as its target)"
        )
    return text
