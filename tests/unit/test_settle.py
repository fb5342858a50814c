"""schemas/settle.py against the shared case file (the phone's settle passes it too), plus what
the file cannot say."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from schemas.form import Form
from schemas.settle import defaults, settle, stored_number

CASES_FILE = Path(__file__).resolve().parents[2] / "schemas" / "settle_cases.json"
CASES = json.loads(CASES_FILE.read_text(encoding="utf-8"))["cases"]


def as_stored(data: Any) -> str:
    # The JSON text the record is stored as: 5 and 5.0 differ here, as 'true' and True do.
    return json.dumps(data, sort_keys=True, ensure_ascii=False)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_settle_case(case: dict[str, Any]) -> None:
    data = copy.deepcopy(case["data"])
    settled = settle(Form(case["form"]), data, today=case.get("today"), now=case.get("now"))
    assert as_stored(settled) == as_stored(case["expected"])
    assert data == case["data"]  # the input is not changed


def test_the_case_file_names_each_case_once_and_covers_the_rules() -> None:
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names))
    assert len(CASES) >= 25
    kinds = {row["type"].split()[0] for c in CASES for row in c["form"]["survey"]}
    columns = {col for c in CASES for row in c["form"]["survey"] for col in row}
    assert {"calculate", "begin_repeat", "begin_group", "select_one", "select_multiple"} <= kinds
    assert {"relevant", "repeat_count", "choice_filter", "default", "calculation"} <= columns


def test_stored_numbers_are_written_as_javascript_writes_them() -> None:
    # JSON.stringify(3) is '3', of -0 '0', of 2**60 '1152921504606847000', of 1e21 '1e+21'.
    assert json.dumps(stored_number(3.0)) == "3"
    assert json.dumps(stored_number(-0.0)) == "0"
    assert json.dumps(stored_number(2.0**60)) == "1152921504606847000"
    assert json.dumps(stored_number(1e21)) == "1e+21"
    assert stored_number(0.5) == 0.5 and isinstance(stored_number(0.5), float)


def test_an_instance_that_is_not_an_object_is_left_for_the_checker() -> None:
    form = Form(
        {
            "settings": {"form_id": "f", "version": "1"},
            "survey": [
                {"type": "begin_repeat", "name": "r"},
                {"type": "calculate", "name": "k", "calculation": "1"},
                {"type": "end_repeat"},
            ],
        }
    )
    assert settle(form, {"r": ["x", {}]}) == {"r": ["x", {"k": 1}]}


def test_defaults_of_the_root_are_a_new_records_answers() -> None:
    form = Form(
        {
            "settings": {"form_id": "f", "version": "1"},
            "survey": [
                {"type": "integer", "name": "n", "default": "2"},
                {"type": "begin_repeat", "name": "r"},
                {"type": "text", "name": "inside", "default": "x"},
                {"type": "end_repeat"},
                {"type": "calculate", "name": "c", "calculation": "1", "default": "9"},
            ],
        }
    )
    # The repeat's own defaults belong to its instances; a calculation's default is not used.
    assert defaults(form.root) == {"n": 2}
