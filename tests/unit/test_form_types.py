"""Every question type, or_other and cascading selects: the server and the phone agree."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from schemas.form import Form
from schemas.validate import RecordChecker

ROOT = Path(__file__).resolve().parents[2]
DEFINITION = json.loads((ROOT / "tests/forms/all_types.json").read_text(encoding="utf-8"))
FORM = Form(DEFINITION)
CHECKER = RecordChecker(FORM)
TODAY = "2026-11-20"


def valid(**changes: Any) -> dict[str, Any]:
    data = {
        "name": "Lan",
        "started": "2026-11-20T08:00:00.000Z",
        "ended": "2026-11-20T08:40:00.000Z",
        "on_day": "2026-11-20",
        "device": "3f2c9a",
        "volunteer": "tnv.demo",
        "count": 2,
        "weight": 3.5,
        "visit_day": "2026-11-20",
        "visit_time": "08:30",
        "moment": "2026-11-20T08:30",
        "ack": "OK",
        "secret": "h1",
        "double": 4,
        "colour": "red",
        "fruit": ["mango", "other"],
        "fruit_other": "ổi",
        "region": "north",
        "province": "namdinh",
        "where": "21.0 105.8 12 5",
        "photo": "a" * 64,
        "code": "8938505974192",
        "kids": [{"kid_name": "Bi", "kid_age": 3}, {"kid_name": "Na", "kid_age": 1}],
        "visits": [{"visit_on": "2026-11-01"}],
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


CASES = {
    "valid": valid(),
    "constraint": valid(count=11, kids=[{"kid_name": str(i)} for i in range(11)]),
    "other without other": valid(fruit=["mango"], fruit_other="x"),
    "cascade mismatch": valid(region="south"),
    "cascade ok": valid(region="south", province="cantho"),
    "repeat count": valid(kids=[{"kid_name": "Bi"}]),
    "user repeat required": valid(visits=[{}, {"visit_on": "2026-11-02"}]),
    "acknowledge missing": valid(ack=None),
    "acknowledge wrong": valid(ack="yes"),
    "bad choice": valid(colour="blue"),
    "bad geopoint": valid(where="91 0"),
    "bad photo": valid(photo="not-a-hash"),
    "bad time": valid(visit_time="25:00"),
    "bad datetime": valid(moment="yesterday"),
    "bad decimal": valid(weight="3,5"),
    "note answered": valid(info="x"),
    "metadata left out": valid(started=None, ended=None, on_day=None, device=None, volunteer=None),
    "bad start": valid(started="soon"),
    "bad today": valid(on_day="2026-11-31"),
    "device id not text": valid(device=7),
    "username not text": valid(volunteer=["tnv.demo"]),
    "phone number given": valid(phone_no="0912345678"),
    "email given": valid(mail="lan@example.org"),
}


def server_codes(data: dict[str, Any]) -> dict[str, list[str]]:
    return {p: [e["code"] for e in errs] for p, errs in CHECKER.check(data, today=TODAY).items()}


def phone(cases: list[dict[str, Any]], settle: bool = False) -> list[dict[str, Any]]:
    payload = {
        "form": DEFINITION,
        "cases": [{"data": d, "today": TODAY, "settle": settle} for d in cases],
    }
    out = subprocess.run(
        ["node", str(ROOT / "tests/js/check_cli.mjs")],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(out.stdout)


def test_the_expected_problems_are_found():
    assert server_codes(CASES["valid"]) == {}
    assert server_codes(CASES["cascade ok"]) == {}
    assert server_codes(CASES["constraint"]) == {"count": ["constraint"]}
    assert server_codes(CASES["other without other"]) == {"fruit_other": ["not_relevant"]}
    assert server_codes(CASES["cascade mismatch"]) == {"province": ["not_a_choice"]}
    assert server_codes(CASES["repeat count"]) == {"kids": ["repeat_count"]}
    assert server_codes(CASES["user repeat required"]) == {"visits[0].visit_on": ["required"]}
    assert server_codes(CASES["acknowledge missing"]) == {"ack": ["required"]}
    assert server_codes(CASES["bad geopoint"]) == {"where": ["not_geopoint"]}
    assert server_codes(CASES["note answered"]) == {"info": ["no_answer_expected"]}


def test_metadata_is_checked_never_required_and_the_unreadable_kind_stays_empty():
    assert server_codes(CASES["metadata left out"]) == {}
    assert server_codes(CASES["bad start"]) == {"started": ["not_datetime"]}
    assert server_codes(CASES["bad today"]) == {"on_day": ["not_date"]}
    assert server_codes(CASES["device id not text"]) == {"device": ["wrong_type"]}
    assert server_codes(CASES["username not text"]) == {"volunteer": ["wrong_type"]}
    assert server_codes(CASES["phone number given"]) == {"phone_no": ["no_answer_expected"]}
    assert server_codes(CASES["email given"]) == {"mail": ["no_answer_expected"]}
    metadata = ["started", "ended", "on_day", "device", "volunteer", "phone_no", "mail"]
    assert all(FORM.nodes[name].type != "text" for name in metadata)


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_phone_finds_the_same_problems(name):
    js = phone([CASES[name]])[0]["errors"]
    assert {p: [e["code"] for e in errs] for p, errs in js.items()} == {
        p: c for p, c in server_codes(CASES[name]).items() if c != ["not_relevant"]
    }


def test_settling_drops_a_choice_the_cascade_no_longer_offers_and_the_orphan_other():
    changed = valid(region="south", fruit=["lychee"])
    settled = phone([changed], settle=True)[0]["settled"]
    assert "province" not in settled and "fruit_other" not in settled
    assert settled["double"] == 4  # calculated again by the phone
    assert server_codes(settled) == {}


def test_or_other_adds_the_choice_and_the_question_in_form_order():
    assert [c["name"] for c in FORM.choice_list(FORM.nodes["fruit"])][-1] == "other"
    names = list(FORM.nodes)
    assert names.index("fruit_other") == names.index("fruit") + 1
    assert FORM.label(FORM.nodes["fruit_other"], "vi") == "Ghi rõ lựa chọn khác"


def test_staff_never_type_metadata_and_an_edit_keeps_it():
    from werkzeug.datastructures import MultiDict

    from server.domain.records.edit import edit_view, read_form

    shown = {f["name"] for s in edit_view(FORM, valid(), "vi") for f in s["fields"]}
    assert "q:name" in shown
    metadata = ["started", "ended", "on_day", "device", "volunteer", "phone_no", "mail"]
    assert not shown & {f"q:{name}" for name in metadata}
    data, errors = read_form(FORM, valid(), MultiDict({"q:name": "Lan", "q:device": "forged"}))
    assert errors == {} and data["device"] == "3f2c9a" and data["volunteer"] == "tnv.demo"
