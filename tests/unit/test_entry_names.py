"""Which question names a repeat's entries (schemas/form.py), against the shared case file
(schemas/entry_name_cases.json) that the phone's pwa/js/form.js passes too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from schemas.form import Form

CASES = json.loads(
    (Path(__file__).resolve().parents[2] / "schemas" / "entry_name_cases.json").read_text("utf-8")
)["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_entry_names(case: dict[str, Any]) -> None:
    form = Form({"settings": {"form_id": "names", "version": "1"}, "survey": case["survey"],
                 "choices": []})  # fmt: skip
    repeat = form.nodes[case["repeat"]]
    named = form.entry_name_field(repeat)
    assert (named.name if named else None) == case["field"]
    assert [form.entry_name(repeat, entry) for entry in case["entries"]] == case["names"]
