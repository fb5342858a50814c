"""schemas/labels.py against the shared case file (the phone's pwa/js/labels.js passes it too),
and the staff pages' use of it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from schemas import labels
from schemas.form import Form
from schemas.settle import settle

CASES_FILE = Path(__file__).resolve().parents[2] / "schemas" / "label_cases.json"
SUITE = json.loads(CASES_FILE.read_text(encoding="utf-8"))
CASES = SUITE["cases"]


def run(case: dict[str, Any]) -> str:
    definition = case["form"]
    form = Form(SUITE["forms"][definition] if isinstance(definition, str) else definition)
    data = copy.deepcopy(case["data"])
    if case.get("settle"):
        data = settle(form, data)
    position = case.get("position", [])
    if "text" in case:
        return labels.fill(case["text"], form, data, position)
    if "choice" in case:
        list_name, name = case["choice"]
        row = next(c for c in form.choices[list_name] if c["name"] == name)
        return labels.text(form, row, case["column"], case["lang"], data, position)
    node = form.nodes[case["field"]]
    if case["column"] == "label":
        return labels.label(form, node, case["lang"], data, position)
    return labels.text(form, node.row, case["column"], case["lang"], data, position)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_label_case(case: dict[str, Any]) -> None:
    before = copy.deepcopy(case["data"])
    assert run(case) == case["expected"]
    assert case["data"] == before  # the input is not changed


def test_the_case_file_names_each_case_once_and_covers_the_rules() -> None:
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names))
    assert len(CASES) >= 15
    columns = {c.get("column") for c in CASES}
    assert {"label", "hint", "guidance_hint", "constraint_message", "required_message"} <= columns
    assert {c.get("lang") for c in CASES} >= {"vi", "en"}
    assert any("choice" in c for c in CASES) and any(c.get("position") for c in CASES)
    assert any("<script>" in c["expected"] for c in CASES)
