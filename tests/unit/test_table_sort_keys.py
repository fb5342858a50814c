"""The table's sort keys: Vietnamese alphabetical order, numbers and moments by value, choices by
their place in the list, empty as nothing, and anything that does not read as its type kept in
text order after the values that do."""

from __future__ import annotations

import json

from server.domain.table_sort import collation_key, table_key


def test_text_follows_the_vietnamese_alphabet_then_the_tones_then_case():
    ordered = [
        "1 Đông",
        "a",
        "A",
        "à",
        "ả",
        "ã",
        "á",
        "ạ",
        "an",
        "anh",
        "ăn",
        "ân",
        "bà",
        "dương",
        "Dương",
        "đào",
        "e",
        "ê",
        "o",
        "ô",
        "ơ",
        "u",
        "ư",
        "y",
        "z",
    ]
    assert sorted(reversed(ordered), key=collation_key) == ordered


def test_composed_and_decomposed_text_sort_alike():
    assert collation_key("Nguyễn") == collation_key("Nguye\u0302\u0303n")
    assert collation_key("  Lò   Văn ") == collation_key("Lò Văn")


def test_keys_by_type():
    assert table_key("integer", 10, None) > table_key("integer", 9, None)
    assert table_key("integer", "10", None) == 10.0
    assert table_key("decimal", "2.5", None) == 2.5
    assert table_key("integer", "nhiều", None) == collation_key("nhiều")
    assert table_key("date", "2026-01-02", None) > table_key("date", "2025-12-31", None)
    assert table_key("dateTime", "2026-11-20T07:30:00+07:00", None) < table_key(
        "dateTime", "2026-11-19T23:30:00-05:00", None
    )
    assert table_key("time", "08:00:00.000+07:00", None) == table_key("time", "01:00:00Z", None)
    choices = json.dumps(["often", "sometimes", "never"])
    assert table_key("select_one", "never", choices) == 2.0
    assert table_key("select_one", "gone", choices) == collation_key("gone")
    assert table_key("select_multiple", '["b", "a"]', None) == collation_key("b a")
    for empty in (None, "", "  ", "[]"):
        assert table_key("select_multiple", empty, None) is None
    assert table_key("text", float("nan"), None) is None
