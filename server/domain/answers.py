"""How a record's answers are kept on disk: JSON, deflated against a fixed dictionary.

A household's answers are about 2 KB of JSON, most of it the same question and choice names in
every record. Deflate with a preset dictionary of those names and a few sample households keeps
them in about 250 bytes, so a row of ``records`` or ``revisions`` no longer takes a whole 4 KB
page of its own (``bench/storage_size.py``).

A stored value is either that blob, its first byte naming the dictionary (``1``:
``answers_dictionary_1.json``), or plain JSON text: a row from before migration m009, or one a
tool wrote by hand; both read the same. A dictionary file never changes once rows use it (a
test holds it to its hash): a better one is a new file with the next number.

SQL reads answers through ``answers(column)`` (registered on every connection by
``server.domain.db.connect``), which gives the JSON text that ``json_extract`` takes.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

_DICTIONARIES = {1: (Path(__file__).with_name("answers_dictionary_1.json")).read_bytes()}
_CURRENT = 1
# Raw deflate (negative window bits): no zlib header or checksum to store in every row; the
# database's own pages are what keeps the bytes whole.
_WBITS = -15


def dumps(data: Any) -> str:
    """The one JSON spelling of answers (compact, UTF-8 as is)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def pack(data: Any) -> bytes:
    """Answers (a value, or its JSON text) as they are stored."""
    text = data if isinstance(data, str) else dumps(data)
    packer = zlib.compressobj(9, zlib.DEFLATED, _WBITS, zdict=_DICTIONARIES[_CURRENT])
    return bytes([_CURRENT]) + packer.compress(text.encode("utf-8")) + packer.flush()


def text(stored: bytes | str | None) -> str | None:
    """The JSON text of stored answers, whichever way they were stored."""
    if stored is None or isinstance(stored, str):
        return stored
    unpacker = zlib.decompressobj(_WBITS, zdict=_DICTIONARIES[stored[0]])
    return (unpacker.decompress(stored[1:]) + unpacker.flush()).decode("utf-8")


def load(stored: bytes | str) -> Any:
    """Stored answers as the value they hold."""
    return json.loads(text(stored))  # type: ignore[arg-type]
