"""How answers are kept on disk (server/domain/answers.py)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from server.domain import answers
from tests.records import adult, child, household_data

DICTIONARY_1 = "aaaf0b6db2e509abcae2f4c839e0aba9f157adb4461521fac3a0e8f79785f5f8"


def test_the_first_dictionary_never_changes():
    # Rows packed with it are read with it for ever: a better one is a new file and number.
    path = Path(answers.__file__).with_name("answers_dictionary_1.json")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == DICTIONARY_1


@pytest.mark.parametrize(
    "data",
    [
        household_data(),
        household_data([adult("Lò Thị Ánh", 1970), adult("Vì Văn Páo", 1968), child("Bé", 2020)]),
        {"outcome": "nobody_home"},
        {"notes": "𝒻 \u0000 \\ \" 'quoted' \ud7ff" * 50},
        {},
    ],
)
def test_packed_answers_read_back_as_the_very_same_json(data):
    text = answers.dumps(data)
    packed = answers.pack(data)
    assert isinstance(packed, bytes) and packed[0] == 1
    assert answers.text(packed) == text and answers.load(packed) == data
    assert answers.pack(text) == packed  # JSON text is packed as it is


def test_json_text_from_before_the_packing_reads_as_it_is():
    text = json.dumps({"b": 1, "a": [1, 2]})  # any spelling, spaces included
    assert answers.text(text) == text and answers.load(text) == {"b": 1, "a": [1, 2]}
    assert answers.text(None) is None


def test_a_household_of_four_takes_a_few_hundred_bytes():
    members = [adult(f"Người {i}", 1960 + 9 * i) for i in range(3)] + [child("Cháu", 2018)]
    data = household_data(members)
    assert len(answers.dumps(data).encode()) > 1800
    assert len(answers.pack(data)) < 400
