"""schemas/text.py against the shared case file (the phone's pwa/js/text.js passes it too)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas.text import fold, like_pattern

CASES_FILE = Path(__file__).resolve().parents[2] / "schemas" / "fold_cases.json"
CASES = json.loads(CASES_FILE.read_text(encoding="utf-8"))["cases"]


def test_enough_cases() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_fold(case: dict[str, str]) -> None:
    assert fold(case["input"]) == case["expected"]
    assert fold(case["expected"]) == case["expected"], "folding twice changes nothing"


def test_like_pattern_escapes() -> None:
    assert like_pattern(" Số 5 ") == "%so 5%"
    assert like_pattern("50%_\\") == "%50\\%\\_\\\\%"
