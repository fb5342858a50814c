"""What no record may hold (``sync.protocol.value_problems``), at the edges of its shortcut:
the shortcut proves an item plain from its JSON text (no run of sixteen ASCII digits, few
brackets), and anything it cannot prove takes the walk that names the field. Both must give
the same answer."""

from __future__ import annotations

from typing import Any

import pytest

from server.domain.answers import dumps
from sync.protocol import MAX_SAFE_INTEGER, value_problems

ITEMS: list[tuple[dict[str, Any], dict[str, str]]] = [
    ({"data": {"n": MAX_SAFE_INTEGER}}, {}),
    ({"data": {"n": -MAX_SAFE_INTEGER}}, {}),
    ({"data": {"n": MAX_SAFE_INTEGER + 1}}, {"data": "out_of_range"}),
    ({"data": {"n": -MAX_SAFE_INTEGER - 1}}, {"data": "out_of_range"}),
    ({"meta": {"n": [1, 2, 10**15, 10**16]}}, {"meta": "out_of_range"}),
    ({"data": {"n": 1.5e300, "t": "1234567890123456789"}}, {}),
    ({"data": {"t": "٣" * 20, "٣" * 20: 1}}, {}),
    ({"data": {"t": "Hà Nội 2026-11-30 0912345678 " * 40}}, {}),
    ({"data": {"deep": [[[[]]]] * 40}}, {}),
    ({"data": {"n": 10**16, "deep": [[[[]]]] * 40}}, {"data": "out_of_range"}),
]


@pytest.mark.parametrize(("item", "problems"), ITEMS)
def test_the_shortcut_and_the_walk_agree(item: dict[str, Any], problems: dict[str, str]) -> None:
    texts: dict[str, str] = {}
    assert value_problems(item, texts) == problems
    assert value_problems(item) == problems
    # The answers' text is kept only for an item the shortcut found plain: as stored.
    if "data" in texts:
        assert not problems and texts["data"] == dumps(item["data"])


def test_a_plain_households_answers_come_back_as_text() -> None:
    item = {"id": "x", "data": {"name": "Lò Văn Ba", "year": 1980, "ids": ["12", "345"]}}
    texts: dict[str, str] = {}
    assert value_problems(item, texts) == {}
    assert texts == {"data": dumps(item["data"])}
