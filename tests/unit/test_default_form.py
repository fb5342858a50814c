"""The default survey "Khảo sát công dân số hộ gia đình": complete, bilingual, lawful, checkable."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from schemas.form import AUTOMATIC_TYPES, DEFAULT_FORM, Form
from schemas.formcheck import EXPRESSION_COLUMNS, check_form, functions, review_form
from schemas.validate import RecordChecker

VI, EN = "label::Tiếng Việt (vi)", "label::English (en)"
# DESIGN.md's expression language, plus format-date() for the birth year.
DESIGN_FUNCTIONS = {
    "selected",
    "count-selected",
    "if",
    "coalesce",
    "string-length",
    "regex",
    "today",
    "int",
    "number",
    "concat",
    "count",
    "sum",
    "position",
    "not",
    "format-date",
}
# Words (in names: tokens) that would mean the form asks for data the law or DESIGN.md forbids.
FORBIDDEN_NAME_TOKENS = {
    "cccd",
    "cmnd",
    "password",
    "otp",
    "pin",
    "ethnic",
    "ethnicity",
    "dantoc",
    "iban",
}
FORBIDDEN_NAME_PARTS = (
    "id_number",
    "account_number",
    "so_tai_khoan",
    "dan_toc",
    "mat_khau",
    "can_cuoc",
)
FORBIDDEN_LABEL_WORDS = (
    "cccd",
    "căn cước",
    "password",
    "mật khẩu",
    "otp",
    "dân tộc",
    "ethnic",
    "số tài khoản",
    "account number",
    "id number",
    "id card number",
)
FREE_ENTRY = {"text", "integer", "decimal", "barcode", "image", "hidden"}


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    return json.loads(DEFAULT_FORM.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def form() -> Form:
    return Form.load()


def asked(form: Form) -> list[Any]:
    return [
        n
        for n in form.walk()
        if n.kind == "field" and n.type not in AUTOMATIC_TYPES and n.type != "note"
    ]


def test_settings(form: Form) -> None:
    assert form.form_id == "ho_gia_dinh_cds"
    assert form.version == "2026.11.1"
    assert form.title == "Khảo sát công dân số hộ gia đình"
    assert form.default_language == "vi"
    assert form.languages == ["vi", "en"]


def test_about_45_questions(form: Form) -> None:
    assert 40 <= len(asked(form)) <= 50


def test_every_row_and_choice_is_labelled_in_both_languages(definition: dict[str, Any]) -> None:
    for number, row in enumerate(definition["survey"], start=2):
        if not row["type"].startswith("end_"):
            assert row.get(VI, "").strip() and row.get(EN, "").strip(), number
    for number, choice in enumerate(definition["choices"], start=2):
        assert choice.get(VI, "").strip() and choice.get(EN, "").strip(), number


def test_every_translated_column_has_both_languages(definition: dict[str, Any]) -> None:
    for row in definition["survey"]:
        for base in ("hint", "constraint_message", "required_message"):
            present = {k.split("::", 1)[1] for k in row if k.startswith(base + "::")}
            assert present in (set(), {"Tiếng Việt (vi)", "English (en)"}), row["name"]


def test_parts_a_to_f_in_order(form: Form) -> None:
    parts = [
        form.label(n, "vi")[:2]
        for n in form.walk()
        if n.kind != "field" and re.match(r"^[A-F]\. ", form.label(n, "vi"))
    ]
    assert parts == ["A.", "B.", "C.", "D.", "E.", "F."]


def test_no_forbidden_field(form: Form) -> None:
    for node in form.walk():
        tokens = set(node.name.lower().split("_"))
        assert not tokens & FORBIDDEN_NAME_TOKENS, node.name
        assert not any(part in node.name.lower() for part in FORBIDDEN_NAME_PARTS), node.name
        if node.type in FREE_ENTRY:
            labels = f"{form.label(node, 'vi')} {form.label(node, 'en')}".lower()
            assert not any(word in labels for word in FORBIDDEN_LABEL_WORDS), node.name


def test_every_reference_resolves(definition: dict[str, Any], form: Form) -> None:
    for row in definition["survey"]:
        for value in row.values():
            for name in re.findall(r"\$\{([^}]*)\}", str(value)):
                assert name in form.nodes, (row.get("name"), name)


def test_only_design_functions(definition: dict[str, Any]) -> None:
    for row in definition["survey"]:
        for column in EXPRESSION_COLUMNS:
            assert functions(str(row.get(column, ""))) <= DESIGN_FUNCTIONS, row["name"]


def test_check_form_finds_no_problem(definition: dict[str, Any]) -> None:
    assert check_form(definition) == []


def test_rules_of_the_brief(form: Form) -> None:
    n = form.nodes
    assert [n[x].get("calculation") for x in ("age_vneid", "age_account", "age_adult")] == [
        "14",
        "15",
        "18",
    ]
    assert n["consent_notice_version"].get("calculation") == "'2026-1'"
    assert n["start"].type == "start" and n["end"].type == "end"
    assert n["members"].kind == "repeat" and n["members"].get("repeat_count") == "${residents}"
    assert n["birth_year"].get("constraint") == ". >= 1900 and . <= format-date(today(), '%Y')"
    assert n["age"].get("calculation") == "int(format-date(today(), '%Y')) - ${birth_year}"
    assert n["phone"].get("constraint") == "regex(., '^0[0-9]{9}$')"
    assert n["phone"].get("required") == ""
    assert n["residents"].get("constraint") == ". >= 1 and . <= 30"
    assert n["support"].kind == "repeat"
    assert n["support_member"].get("constraint") == ". >= 1 and . <= count(${members})"
    assert n["digital"].kind == "group" and n["digital"].parent is n["members"]
    assert "${age_account}" in n["digital"].get("relevant")
    assert n["gps"].type == "geopoint" and not n["gps"].get("required")
    notice = form.label(n["consent_notice"], "vi")
    for words in ("Ủy ban nhân dân xã", "xem", "sửa", "xóa", "rút lại sự đồng ý"):
        assert words in notice


def test_nothing_personal_before_consent(form: Form) -> None:
    # Every answer after the consent question is gated on it, directly or through its group.
    seen_consent = False
    for node in form.walk():
        if node.name == "consent":
            seen_consent = True
            continue
        if not seen_consent or node.kind == "field" and node.type in AUTOMATIC_TYPES:
            continue
        gates = [node, *_ancestors(node)]
        assert any(
            "${consent} = 'yes'" in g.get("relevant") or "${consent} = 'no'" in g.get("relevant")
            for g in gates
        ), node.name


def _ancestors(node: Any) -> list[Any]:
    out = []
    while node.parent is not None:
        node = node.parent
        out.append(node)
    return out


# -- the form's logic, run by the same checker the server uses ----------------------------------
TODAY = "2026-11-20"
THRESHOLDS = {"age_vneid": "14", "age_account": "15", "age_adult": "18"}


def adult(**overrides: Any) -> dict[str, Any]:
    member = {
        "member_name": "Nguyễn Văn An",
        "relation": "head",
        "sex": "male",
        "birth_year": 1970,
        "age": 56,
        "answered_by": "self",
        "phone_access": "own_smartphone",
        "used_internet": "yes",
        "vneid_level": "level2",
        "vneid_login": "yes",
        "account_type": ["bank_app"],
        "cashless_30d": "yes",
        "dvctt": "with_help",
        "health_book": "cannot_open",
        "digital_signature": "no",
        "bought_online": "yes",
        "social_apps": ["zalo", "facebook"],
        "skill_apps_wifi": "alone",
        "skill_information": "with_help",
        "skill_messaging": "alone",
        "skill_safety": "cannot",
        "bdhvs": "not_yet",
        "needs_help": ["health_book"],
        "barriers": ["fear_scams"],
    }
    return {**member, **overrides}


def household(**overrides: Any) -> dict[str, Any]:
    data = {
        **THRESHOLDS,
        "outcome": "completed",
        "consent_notice_version": "2026-1",
        "consent": "yes",
        "respondent_name": "Nguyễn Văn An",
        "head_name": "Nguyễn Văn An",
        "address": "Số 12 ngõ 3",
        "phone": "0912345678",
        "residents": 2,
        "devices": ["smartphone"],
        "internet": "fibre",
        "zalo_group": "yes",
        "sells_online": "no",
        "members": [
            adult(),
            {
                "member_name": "Nguyễn Minh Khôi",
                "relation": "child",
                "sex": "male",
                "birth_year": 2012,
                "age": 14,
                "answered_by": "proxy",
                "vneid_level": "none",
            },
        ],
        "support_given": "yes",
        "support": [
            {
                "support_member": 1,
                "support_actions": ["open_health_book"],
                "support_result": "revisit",
                "support_revisit_date": "2026-12-01",
            }
        ],
    }
    return {**data, **overrides}


def test_a_completed_visit_passes(form: Form) -> None:
    assert RecordChecker(form).check(household(), today=TODAY) == {}


@pytest.mark.parametrize("outcome", ["nobody_home", "refused", "empty_house"])
def test_any_other_outcome_ends_the_form(form: Form, outcome: str) -> None:
    checker = RecordChecker(form)
    assert checker.check({**THRESHOLDS, "outcome": outcome}, today=TODAY) == {}
    errors = checker.check({**THRESHOLDS, "outcome": outcome, "head_name": "X"}, today=TODAY)
    assert errors["head_name"][0]["code"] == "not_relevant"


def test_come_back_later_needs_a_date(form: Form) -> None:
    checker = RecordChecker(form)
    errors = checker.check({**THRESHOLDS, "outcome": "come_back"}, today=TODAY)
    assert errors["revisit_date"][0]["code"] == "required"


def test_no_consent_ends_the_form(form: Form) -> None:
    checker = RecordChecker(form)
    refused = {
        **THRESHOLDS,
        "outcome": "completed",
        "consent_notice_version": "2026-1",
        "consent": "no",
    }
    assert checker.check(refused, today=TODAY) == {}
    errors = checker.check({**refused, "respondent_name": "X"}, today=TODAY)
    assert errors["respondent_name"][0]["code"] == "not_relevant"


def test_a_14_year_old_is_asked_about_vneid_only(form: Form) -> None:
    checker = RecordChecker(form)
    data = household()
    data["members"][1]["phone_access"] = "none"
    assert "members[1].phone_access" in checker.check(data, today=TODAY)


def test_wrong_phone_and_too_many_residents_are_refused(form: Form) -> None:
    errors = RecordChecker(form).check(household(phone="912345678", residents=31), today=TODAY)
    assert errors["phone"][0]["code"] == "constraint"
    assert errors["residents"][0]["code"] == "constraint"


def test_support_names_an_existing_member(form: Form) -> None:
    data = household()
    data["support"][0]["support_member"] = 3
    errors = RecordChecker(form).check(data, today=TODAY)
    assert errors["support[0].support_member"][0]["code"] == "constraint"


# -- check_form catches what would break the default form ---------------------------------------
def _row(definition: dict[str, Any], name: str) -> tuple[int, dict[str, Any]]:
    for index, row in enumerate(definition["survey"]):
        if row.get("name") == name:
            return index + 2, row
    raise KeyError(name)


@pytest.mark.parametrize(
    ("name", "change", "column"),
    [
        ("accepts_qr", {"relevant": "${sells_onlin} = 'yes'"}, "relevant"),
        ("residents", {"constraint": ". >= 1 and"}, "constraint"),
        ("residents", {"repeat_count": "2"}, "repeat_count"),
        ("phone", {"calculation": "pulldata('a', 'b', 'c', ${phone})"}, "calculation"),
        ("age", {"type": "background-audio"}, "type"),
    ],
)
def test_check_form_names_the_row(
    definition: dict[str, Any], name: str, change: dict[str, str], column: str
) -> None:
    broken = copy.deepcopy(definition)
    number, row = _row(broken, name)
    row.update(change)
    problems = check_form(broken)
    assert problems, change
    first = problems[0]
    assert (first.sheet, first.row, first.column) == ("survey", number, column)
    assert first.message_en and first.message_vi and first.message_en != first.message_vi


def test_a_label_missing_a_language_is_a_warning_not_a_problem(
    definition: dict[str, Any],
) -> None:
    """The phone shows the text in another language, as ODK Collect does: nothing collected
    changes, so the form imports and the check lists where."""
    broken = copy.deepcopy(definition)
    number, row = _row(broken, "phone")
    row["label::English (en)"] = ""
    problems, warnings = review_form(broken)
    assert problems == []
    before = review_form(definition)[1]
    [added] = [w for w in warnings if w not in before]
    assert (added.sheet, added.row, added.feature) == ("survey", number, "label::en")
    assert "'en'" in added.message_en and "'en'" in added.message_vi


def test_check_form_reports_a_missing_form_id_not_a_missing_version(
    definition: dict[str, Any],
) -> None:
    broken = copy.deepcopy(definition)
    del broken["settings"]["version"]
    assert check_form(broken) == []  # the import makes one
    del broken["settings"]["form_id"]
    problems = check_form(broken)
    assert [(p.sheet, p.column) for p in problems] == [("settings", "form_id")]


def test_check_form_reports_a_missing_choice_list_in_both_languages(
    definition: dict[str, Any],
) -> None:
    broken = copy.deepcopy(definition)
    broken["choices"] = [c for c in broken["choices"] if c["list_name"] != "sex"]
    problems = check_form(broken)
    assert [(p.sheet, p.row, p.feature) for p in problems] == [
        ("survey", _row(broken, "sex")[0], "list 'sex'")
    ]
    assert "danh sách lựa chọn 'sex'" in problems[0].message_vi
