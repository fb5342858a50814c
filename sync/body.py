"""Reading a JSON request body so that one bad item cannot make the whole body unreadable.

Python's ``json`` follows nesting with the C stack and gives up (RecursionError) a few hundred
levels down, and refuses integers of more than 4,300 digits: both are legal JSON, and one such
item would fail a whole batch. Here the body is read with the C decoder as usual; only when it
gives up on depth are the containers on the way down read one level at a time, and a container
still too deep at ``MAX_BODY_DEPTH`` becomes ``TOO_DEEP`` in place (an over-long integer
becomes ``TOO_LARGE``), for the item's check to reject (``sync.protocol.value_problems``).
``NaN`` and ``Infinity`` are not JSON: the body is refused, as any other broken JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sync.protocol import TOO_DEEP, TOO_LARGE

# Containers followed by the level-at-a-time reader: a push body's record data starts at
# level 4 ({items: [{data: …}]}), and sync.protocol.MAX_RECORD_DEPTH allows 32 below it.
MAX_BODY_DEPTH = 64
# Python's own limit is 4,300 digits; no record holds more than a phone's 2**53 (16 digits).
MAX_INTEGER_DIGITS = 400


def _integer(text: str) -> Any:
    return int(text) if len(text) <= MAX_INTEGER_DIGITS else TOO_LARGE


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_int=_integer, parse_constant=_not_json)
_SPACE = re.compile(r"[ \t\n\r]*")
# A string (with its escapes) or a bracket: enough to find where a skipped container ends.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


def loads(raw: bytes | str) -> Any:
    """The body's value; ValueError (json.JSONDecodeError, UnicodeDecodeError) when it is not
    JSON in UTF-8."""
    # As json.loads reads bytes (it accepts UTF-16 and -32 too, and a UTF-8 BOM).
    text = raw.decode(json.detect_encoding(raw), "surrogatepass") if isinstance(raw, bytes) else raw
    try:
        return _DECODER.decode(text)
    except RecursionError:
        pass
    value, end = _value(text, _SPACE.match(text, 0).end(), 1)  # type: ignore[union-attr]
    end = _SPACE.match(text, end).end()  # type: ignore[union-attr]
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return value


def _value(text: str, index: int, depth: int) -> tuple[Any, int]:
    try:
        return _DECODER.raw_decode(text, index)
    except RecursionError:
        pass
    if depth >= MAX_BODY_DEPTH:
        return TOO_DEEP, _skip(text, index)
    if text[index] == "[":
        items: list[Any] = []
        index = _space(text, index + 1)
        if _at(text, index) == "]":
            return items, index + 1
        while True:
            item, index = _value(text, index, depth + 1)
            items.append(item)
            index = _space(text, index)
            if _at(text, index) == ",":
                index = _space(text, index + 1)
            elif _at(text, index) == "]":
                return items, index + 1
            else:
                raise json.JSONDecodeError("Expecting ',' delimiter", text, index)
    members: dict[str, Any] = {}
    index = _space(text, index + 1)
    if _at(text, index) == "}":
        return members, index + 1
    while True:
        if _at(text, index) != '"':
            raise json.JSONDecodeError(
                "Expecting property name enclosed in double quotes", text, index
            )
        key, index = _DECODER.raw_decode(text, index)
        index = _space(text, index)
        if _at(text, index) != ":":
            raise json.JSONDecodeError("Expecting ':' delimiter", text, index)
        members[key], index = _value(text, _space(text, index + 1), depth + 1)
        index = _space(text, index)
        if _at(text, index) == ",":
            index = _space(text, index + 1)
        elif _at(text, index) == "}":
            return members, index + 1
        else:
            raise json.JSONDecodeError("Expecting ',' delimiter", text, index)


def _skip(text: str, index: int) -> int:
    """Where the container that opens at ``index`` ends (its contents are not read)."""
    depth = 0
    for token in _TOKEN.finditer(text, index):
        mark = token.group()
        if mark in "[{":
            depth += 1
        elif mark in "]}":
            depth -= 1
            if depth == 0:
                return token.end()
    raise json.JSONDecodeError("Unterminated container", text, index)


def _space(text: str, index: int) -> int:
    return _SPACE.match(text, index).end()  # type: ignore[union-attr]


def _at(text: str, index: int) -> str:
    return text[index] if index < len(text) else ""
