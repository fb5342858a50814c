"""The server's record checker on the default survey, and its agreement with the phone's rules."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from schemas.form import DEFAULT_FORM, Form
from schemas.validate import ERASED, RecordChecker
from schemas.xlsform import read_xlsform
from tests.phone_rules import error_codes, phone_check
from tests.records import VISIT_DATE, adult, child, household_data
from tests.unit.test_xlsform import workbook

FORM = Form.load()
CHECKER = RecordChecker(FORM)


def codes(data: dict[str, Any]) -> dict[str, list[str]]:
    return {
        path: [e["code"] for e in errs]
        for path, errs in CHECKER.check(data, today=VISIT_DATE).items()
    }


def test_a_complete_household_passes():
    assert codes(household_data()) == {}


def test_refused_consent_allows_no_personal_answers():
    data = household_data(consent="no")
    problems = codes(data)
    assert problems["head_name"] == ["not_relevant"]
    assert problems["members"] == ["not_relevant"]
    minimal = {"outcome": "completed", "consent": "no", "consent_notice_version": "2026-1"}
    assert codes(minimal) == {}


def test_a_visit_nobody_answered_ends_after_the_outcome():
    assert codes({"outcome": "nobody_home"}) == {}
    assert codes({"outcome": "come_back"}) == {"revisit_date": ["required"]}


def test_the_roster_must_match_the_number_of_residents():
    data = household_data(residents=3)
    assert codes(data) == {"members": ["repeat_count"]}


def test_member_questions_follow_age():
    young = child("Bé", 2015)  # 11: no digital questions
    assert codes(household_data(members=[young])) == {}
    teen = child("Em", 2011)  # 15: asked, so now required
    problems = codes(household_data(members=[teen]))
    assert problems["members[0].vneid_level"] == ["required"]
    assert problems["members[0].phone_access"] == ["required"]
    assert "members[0].digital_signature" not in problems  # from 18


def test_unknown_fields_and_wrong_choices_are_named():
    member = adult("A", 1980)
    member["cccd"] = "001234567890"
    data = household_data(members=[member], devices=["smartphone", "fax"], surprise=1)
    problems = codes(data)
    assert problems["surprise"] == ["unknown_field"]
    assert problems["members[0].cccd"] == ["unknown_field"]
    assert problems["devices"] == ["not_a_choice"]


def test_a_calculated_answer_of_the_wrong_type_is_refused():
    member = adult("A", 1980)
    member["age"] = [46]
    assert codes(household_data(members=[member]))["members[0].age"] == ["wrong_type"]


def test_a_text_answer_is_at_most_max_text_length_code_points():
    assert codes(household_data(address="x" * 10_001)) == {"address": ["too_long"]}
    assert codes(household_data(address="x" * 10_000)) == {}
    # Counted as the form language's string-length counts: code points, not UTF-16 units.
    assert codes(household_data(address="\U0001f3e0" * 10_000)) == {}


# -- the phone and the server agree ------------------------------------------------------------
def _mutations() -> list[dict[str, Any]]:
    base = household_data(members=[adult("Hoa", 1980), child("Nam", 2012), child("Bé", 2020)])
    cases = [
        base,
        household_data(consent="no"),
        {"outcome": "refused"},
        household_data(phone="0912345678"),
        household_data(phone="912345678"),
        household_data(residents=31),
        household_data(devices=["none", "smartphone"]),
        household_data(internet="none"),
        household_data(sells_online="yes"),
        household_data(
            support_given="yes",
            support=[
                {"support_member": 4, "support_actions": ["scam_warning"], "support_result": "done"}
            ],
        ),
    ]
    for name in ("vneid_level", "account_type", "birth_year", "answered_by"):
        mutated = copy.deepcopy(base)
        del mutated["members"][0][name]
        cases.append(mutated)
    cases += [
        household_data(address="x" * 10_001),
        household_data(address="x" * 10_000),
        household_data(address="\U0001f3e0" * 10_000),
        household_data(address="\U0001f3e0" * 10_001),
    ]
    wrong_year = copy.deepcopy(base)
    wrong_year["members"][1]["birth_year"] = 1850
    cases.append(wrong_year)
    return cases


def test_python_and_javascript_rules_give_the_same_errors():
    cases = _mutations()
    form = json.loads(DEFAULT_FORM.read_text(encoding="utf-8"))
    checked = phone_check(form, [{"data": c, "today": VISIT_DATE} for c in cases])
    for case, js in zip(cases, checked, strict=True):
        js_codes = error_codes(js["errors"])
        # The phone settles data before checking, so it never reports 'not_relevant' or
        # 'unknown_field': those only come from a sender that is not our app.
        server = {
            p: c for p, c in codes(case).items() if c not in (["not_relevant"], ["unknown_field"])
        }
        assert js_codes == server, case


@pytest.mark.parametrize("members", [1, 4, 6])
def test_phone_settled_data_always_passes_the_server(members):
    roster = [adult(f"Người {i}", 1960 + i) for i in range(members)]
    data = household_data(members=roster)
    form = json.loads(DEFAULT_FORM.read_text(encoding="utf-8"))
    settled = phone_check(form, [{"data": data, "today": VISIT_DATE, "settle": True}])[0]["settled"]
    assert settled["members"][0]["age"] == 2026 - 1960
    assert codes(settled) == {}


def test_a_forms_own_messages_name_the_answers_on_both_checkers():
    # required_message and constraint_message with ${references}: filled in for the member the
    # error is about, in each language, by the server's checker and the phone's alike.
    definition = {
        "settings": {"form_id": "msg", "version": "1"},
        "survey": [
            {"type": "text", "name": "head_name"},
            {"type": "begin_repeat", "name": "members"},
            {"type": "text", "name": "member_name"},
            {
                "type": "integer",
                "name": "age",
                "required": "yes",
                "constraint": ". < 120",
                "constraint_message::Tiếng Việt (vi)": "Tuổi của ${member_name} (hộ ${head_name})",
                "constraint_message::English (en)": "${member_name}'s age",
                "required_message::Tiếng Việt (vi)": "Hỏi tuổi của ${member_name}",
                "required_message::English (en)": "Ask ${member_name}'s age",
            },
            {"type": "end_repeat"},
        ],
    }
    data = {
        "head_name": "Lan",
        "members": [{"member_name": "An", "age": 130}, {"member_name": "Bình"}],
    }
    expected = {
        "members[0].age": [{"code": "constraint", "vi": "Tuổi của An (hộ Lan)", "en": "An's age"}],
        "members[1].age": [{"code": "required", "vi": "Hỏi tuổi của Bình", "en": "Ask Bình's age"}],
    }
    assert RecordChecker(Form(definition)).check(data) == expected
    assert phone_check(definition, [{"data": data}])[0]["errors"] == expected


def test_a_record_checked_while_another_is_being_checked_keeps_its_own_date_and_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One checker serves every record of a form version, and the server's threads check at the
    # same time. Here a second record (visited in 1950: its members' birth years are in the
    # future) is checked in the middle of the first one's check, as another thread would.
    checker = RecordChecker(Form.load())
    first = household_data(members=[adult("A", 1980), child("B", 2016)])
    second = household_data(members=[adult("C", 1981)], residents=1)
    evaluate = RecordChecker._holds
    nested: list[Any] = []

    def interleaved(self: RecordChecker, expr: str, ctx: Any) -> Any:
        if not nested:
            nested.append(None)
            nested[0] = checker.check(second, today="1950-06-01")
        return evaluate(self, expr, ctx)

    monkeypatch.setattr(RecordChecker, "_holds", interleaved)
    assert checker.check(first, today=VISIT_DATE) == {}
    assert "members[0].birth_year" in nested[0]  # the other record's own date did count


def test_an_erased_answer_passes_its_questions_checks(tmp_path):
    """A person's erasure leaves ERASED in a name or place the form requires: the province's
    check and an office correction must still take the record."""
    survey = [
        ["type", "name", "label", "required", "constraint"],
        ["text", "ten_chu_ho", "Head", "yes", "regex(., '^[A-Za-zÀ-ỹ ]+$')"],
        ["geopoint", "vi_tri", "Where", "yes", ""],
        ["geotrace", "duong", "Way", "yes", ""],
        ["integer", "nam", "Year", "yes", ". > 1900"],
    ]
    checker = RecordChecker(Form(read_xlsform(workbook(tmp_path, survey))))
    erased = {"ten_chu_ho": ERASED, "vi_tri": ERASED, "duong": ERASED, "nam": 1970}
    assert checker.check(erased) == {}
    # Only the marker itself: anything like it is checked as any answer is.
    near = {"ten_chu_ho": "[đã xoá]", "vi_tri": "[da xoa]", "duong": ERASED + " ", "nam": 1970}
    assert {path: [e["code"] for e in errs] for path, errs in checker.check(near).items()} == {
        "ten_chu_ho": ["constraint"],
        "vi_tri": ["not_geopoint"],
        "duong": ["not_geotrace"],
    }
    # Nor where an erasure never writes it: a number, a choice, a date, a file.
    assert {
        path: [e["code"] for e in errs]
        for path, errs in checker.check({**erased, "nam": ERASED}).items()
    } == {"nam": ["not_integer"]}
