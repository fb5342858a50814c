"""Exports: XLSX and CSV read back and compared with the records, the pseudonymised variant
searched for names and phone numbers, the data dictionary, the indicator table, the audit log."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from typing import Any

import pytest
from openpyxl import load_workbook

from schemas.form import Form
from server.domain.db import write_transaction
from server.domain.forms import install_form
from server.domain.register import add_village
from tests.api.test_reports_dashboard import fresh_body, login_as, push
from tests.records import adult, child, household_data, record
from tests.unit.test_indicators import A, C

PERSONAL = [
    "Lò Văn A Một",
    "Lò Thị A Hai",
    "Bản Mường, nhà số 7",
    "0912345678",
    "0987654321",
    "Nguyễn Thị Hoa",
    "Nguyễn Văn Nam",
    "Số 12, ngõ 3",
    "21.35 103.91",
    "anh Tùng",
]
FORMULA = '=HYPERLINK("http://example.com","x")'


@pytest.fixture
def records(client: Any, db: Any, phone: dict[str, Any]) -> list[dict[str, Any]]:
    village = phone["villages"][0]["id"]
    first = {
        **A,
        "head_name": "Lò Văn A Một",
        "respondent_name": "Lò Thị A Hai",
        "address": "Bản Mường, nhà số 7",
        "phone": "0912345678",
        "gps": "21.35 103.91 500 5",
        "notes": "Gọi anh Tùng 0987654321",
    }
    third = household_data(
        members=[adult("Nguyễn Thị Hoa", 1980), child("Nguyễn Văn Nam", 2016)],
        notes=FORMULA,
        support_given="yes",
        support=[
            {
                "support_member": 1,
                "support_actions": ["install_vneid", "scam_warning"],
                "support_result": "done",
            }
        ],
    )
    items = [record(village, data=first), record(village, data=C), record(village, data=third)]
    push(client, phone, *items)
    return items


def workbook(response: Any) -> Any:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype.endswith("spreadsheetml.sheet")
    return load_workbook(io.BytesIO(response.data))


def sheet_rows(book: Any, name: str) -> list[dict[str, Any]]:
    rows = list(book[name].iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def csv_rows(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))


def as_cell(answer: Any) -> Any:
    """What a cell should hold for an answer, worked out here and not by the exporter."""
    if answer in (None, "", []):
        return None
    return " ".join(answer) if isinstance(answer, list) else answer


def every_text(response: Any) -> str:
    if response.mimetype == "text/csv":
        return response.data.decode("utf-8-sig")
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        return "".join(archive.read(n).decode("utf-8") for n in archive.namelist())


def test_the_xlsx_export_read_back_matches_the_records(client, db, records):
    login_as(client, db, "admin")
    book = workbook(client.get("/reports/export.xlsx"))
    assert book.sheetnames == ["households", "members", "support"]
    households = {row["record_id"]: row for row in sheet_rows(book, "households")}
    assert set(households) == {r["id"] for r in records}
    form = Form.load()
    for item in records:
        row = households[item["id"]]
        assert row["review_state"] == "received" and row["visit_date"] == "2026-11-20"
        for name, cell in row.items():
            if name in form.nodes:
                assert cell == as_cell(item["data"].get(name)), (item["id"], name)
    members = sheet_rows(book, "members")
    for item in records:
        mine = [m for m in members if m["record_id"] == item["id"]]
        assert [m["members_index"] for m in mine] == list(
            range(1, len(item["data"].get("members", [])) + 1)
        )
        for row, answers in zip(mine, item["data"].get("members", []), strict=True):
            for name, cell in row.items():
                if name in form.nodes:
                    assert cell == as_cell(answers.get(name)), (item["id"], name)
    support = sheet_rows(book, "support")
    assert support == [
        {
            "record_id": records[2]["id"],
            "support_index": 1,
            "support_member": 1,
            "support_actions": "install_vneid scam_warning",
            "support_result": "done",
            "support_revisit_date": None,
        }
    ]


def test_an_answer_that_looks_like_a_formula_stays_text(client, db, records):
    login_as(client, db, "admin")
    book = load_workbook(io.BytesIO(client.get("/reports/export.xlsx").data))
    cells = [c for row in book["households"].iter_rows() for c in row if c.value == FORMULA]
    assert cells and all(c.data_type == "s" for c in cells)
    rows = csv_rows(client.get("/reports/export/households.csv"))
    assert "'" + FORMULA in [r["notes"] for r in rows]


def test_labels_instead_of_codes_in_either_language(client, db, records):
    login_as(client, db, "admin")
    book = workbook(client.get("/reports/export.xlsx?labels=1&lang=vi"))
    form = Form.load()
    rows = list(book["households"].iter_rows(values_only=True))
    assert form.label(form.nodes["internet"], "vi") in rows[0]
    column = rows[0].index(form.label(form.nodes["internet"], "vi"))
    assert form.choice_label("internet", "fibre", "vi") in [r[column] for r in rows[1:]]
    assert "Đã nhận" in [r[rows[0].index("Trạng thái duyệt")] for r in rows[1:]]
    members = csv_rows(client.get("/reports/export/members.csv?labels=1&lang=en"))
    label = form.label(form.nodes["account_type"], "en")
    assert form.choice_label("account_type", "bank_app", "en") in [m[label] for m in members]


def test_the_csv_export_rows_match_the_records(client, db, records):
    login_as(client, db, "reviewer")
    households = csv_rows(client.get("/reports/export/households.csv"))
    by_id = {r["record_id"]: r for r in households}
    assert set(by_id) == {r["id"] for r in records}
    for item in records:
        for name in ("outcome", "internet", "devices", "residents", "head_name"):
            expected = as_cell(item["data"].get(name))
            assert by_id[item["id"]][name] == ("" if expected is None else str(expected))
    members = csv_rows(client.get("/reports/export/members.csv"))
    expected = [
        (item["id"], str(i), m["member_name"], str(m["birth_year"]))
        for item in records
        for i, m in enumerate(item["data"].get("members", []), 1)
    ]
    assert sorted(
        (m["record_id"], m["members_index"], m["member_name"], m["birth_year"]) for m in members
    ) == sorted(expected)


def test_the_pseudonymised_exports_hold_no_names_phones_or_addresses(client, db, records):
    login_as(client, db, "admin")
    responses = [
        client.get("/reports/export.xlsx?pseudo=1"),
        client.get("/reports/export.xlsx?pseudo=1&labels=1"),
        *(
            client.get(f"/reports/export/{t}.csv?pseudo=1")
            for t in ("households", "members", "support")
        ),
    ]
    for response in responses:
        assert response.status_code == 200
        found = every_text(response)
        for secret in PERSONAL + [r["id"] for r in records]:
            assert secret not in found, secret
    book = workbook(responses[0])
    households = sheet_rows(book, "households")
    members = sheet_rows(book, "members")
    assert "head_name" not in households[0] and "member_name" not in members[0]
    assert {m["record_key"] for m in members} <= {h["record_key"] for h in households}
    assert len({h["record_key"] for h in households}) == 3
    assert [m["birth_year"] for m in members if m["members_index"] == 1][:1] == [1980]


def test_every_export_is_in_the_audit_log(client, db, records):
    user = login_as(client, db, "admin")
    client.get("/reports/export.xlsx?pseudo=1")
    client.get("/reports/export/members.csv")
    client.get("/reports/dictionary.xlsx")
    client.get("/reports/indicators.csv?approved=1")
    rows = db.execute(
        "SELECT user_id, action, target, detail FROM audit_log"
        " WHERE action LIKE 'export%' ORDER BY id"
    ).fetchall()
    assert [(r["user_id"], r["action"], r["target"]) for r in rows] == [
        (user["id"], "export_records", "99999"),
        (user["id"], "export_records", "99999"),
        (user["id"], "export_dictionary", "99999"),
        (user["id"], "export_indicators", "99999"),
    ]
    details = [json.loads(r["detail"]) for r in rows]
    assert details[0]["format"] == "xlsx" and details[0]["pseudonymised"] is True
    assert details[1]["table"] == "members" and details[1]["pseudonymised"] is False
    assert details[3]["approved"] is True


def test_approved_only_and_one_village(client, db, phone, records):
    login_as(client, db, "admin")
    with db.conn:
        db.execute("UPDATE records SET review_state = 'approved' WHERE id = ?", [records[0]["id"]])
    approved = csv_rows(client.get("/reports/export/households.csv?approved=1"))
    assert [r["record_id"] for r in approved] == [records[0]["id"]]
    other = phone["villages"][1]["id"]
    assert csv_rows(client.get(f"/reports/export/households.csv?village={other}")) == []
    assert client.get("/reports/export/nothing.csv").status_code == 404
    assert client.get("/reports/export.xlsx?village=nope").status_code == 404


def test_the_data_dictionary_names_every_question_and_choice(client, db, records):
    login_as(client, db, "viewer")
    form = Form.load()
    book = workbook(client.get("/reports/dictionary.xlsx"))
    questions = sheet_rows(book, "questions")
    names = {q["name"] for q in questions}
    assert names == {n.name for n in form.nodes.values() if n.kind != "group" and n.type != "note"}
    phone = next(q for q in questions if q["name"] == "phone")
    assert phone["label_en"] == form.label(form.nodes["phone"], "en")
    assert phone["pseudonymised_export"] == "no"
    assert next(q for q in questions if q["name"] == "vneid_level")["table"] == "members"
    choices = {(c["list_name"], c["name"]) for c in sheet_rows(book, "choices")}
    assert choices == {(ln, c["name"]) for ln, cs in form.choices.items() for c in cs}
    assert "smartphone_adults" in {i["id"] for i in sheet_rows(book, "indicators")}
    rows = csv_rows(client.get("/reports/dictionary.csv"))
    internet = next(r for r in rows if r["name"] == "internet")
    assert "fibre=Cáp quang" in internet["choices"]


def test_the_indicator_table_gives_the_counts(client, db, records):
    login_as(client, db, "viewer")
    fresh_body(client, db)
    rows = csv_rows(client.get("/reports/indicators.csv"))
    commune = [r for r in rows if r["area_id"] == "99999"]
    by_key = {r["indicator"]: r for r in commune}
    assert by_key["households_surveyed"]["numerator"] == "2"
    # Surveyed: A (A1 own smartphone) and the third (Nguyễn Thị Hoa, 46, own smartphone).
    assert (
        by_key["smartphone_adults"]["numerator"],
        by_key["smartphone_adults"]["denominator"],
    ) == ("2", "2")
    assert by_key["smartphone_adults"]["target_percent"] == "80.0"
    assert (by_key["fibre_households"]["numerator"], by_key["fibre_households"]["denominator"]) == (
        "2",
        "2",
    )


HOSTILE = [
    '=HYPERLINK("http://x","y")',
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]
STARTS = ("=", "+", "-", "@", "\t", "\r")


def hostile_form_and_villages(db: Any, village_id: str) -> None:
    """A form version whose labels, and villages whose names, start like formulas."""
    definition = json.loads(json.dumps(Form.load().definition))
    definition["settings"]["version"] = "2026.11.99"
    labelled = {"head_name", "outcome", "internet", "residents", "devices", "notes"}
    rows = [r for r in definition["survey"] if r.get("name") in labelled]
    for row, label in zip(rows, HOSTILE, strict=True):
        row["label::Tiếng Việt (vi)"] = row["label::English (en)"] = label
    for choice in definition["choices"]:
        if (choice["list_name"], choice["name"]) == ("internet", "fibre"):
            choice["label::Tiếng Việt (vi)"] = choice["label::English (en)"] = HOSTILE[0]
    with write_transaction(db):
        install_form(db, definition)
        db.execute("UPDATE villages SET name = ? WHERE id = ?", [HOSTILE[0], village_id])
        for name in HOSTILE[1:]:
            add_village(db, "99999", name)


def assert_no_formula_in_csv(response: Any) -> list[str]:
    assert response.status_code == 200
    content = response.data.decode("utf-8-sig")
    cells = [c for row in csv.reader(io.StringIO(content, newline="")) for c in row]
    assert cells and not [c for c in cells if c.startswith(STARTS)]
    return cells


def assert_no_formula_in_xlsx(response: Any) -> list[Any]:
    book = workbook(response)
    cells = [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row]
    assert cells and not [c.coordinate for c in cells if c.data_type == "f"]
    return [c.value for c in cells]


def test_labels_village_names_and_headers_that_look_like_formulas_stay_text(
    client, db, records, phone
):
    hostile_form_and_villages(db, phone["villages"][0]["id"])
    login_as(client, db, "admin")
    for labels in ("", "?labels=1&lang=vi"):
        values = assert_no_formula_in_xlsx(client.get(f"/reports/export.xlsx{labels}"))
        assert HOSTILE[0] in values  # the village, and with labels a header and a choice
        cells = assert_no_formula_in_csv(client.get(f"/reports/export/households.csv{labels}"))
        assert "'" + HOSTILE[0] in cells
    headers = assert_no_formula_in_xlsx(client.get("/reports/export.xlsx?labels=1&lang=en"))
    assert set(HOSTILE[:4]) <= set(headers)
    assert set(HOSTILE[:4]) <= {
        c.removeprefix("'")
        for c in assert_no_formula_in_csv(
            client.get("/reports/export/households.csv?labels=1&lang=en")
        )
    }
    dictionary = assert_no_formula_in_xlsx(client.get("/reports/dictionary.xlsx"))
    assert set(HOSTILE[:4]) <= set(dictionary)
    cells = assert_no_formula_in_csv(client.get("/reports/dictionary.csv"))
    assert {"'" + h for h in HOSTILE} <= set(cells)
    cells = assert_no_formula_in_csv(client.get("/reports/indicators.csv"))
    assert {"'" + h for h in HOSTILE} <= set(cells)


def test_a_repeat_keyed_by_its_path_exports_as_a_sheet_and_a_csv(client, db, phone):
    # XLSForm allows a repeat's name on a question of another group: both are keyed by path.
    definition = {
        "settings": {"form_id": "visits_twice", "version": "1"},
        "survey": [
            {"type": "begin_group", "name": "a", "label": "A"},
            {"type": "begin_repeat", "name": "visits", "label": "Visits"},
            {"type": "date", "name": "day", "label": "Day"},
            {"type": "end_repeat"},
            {"type": "end_group"},
            {"type": "begin_group", "name": "b", "label": "B"},
            {"type": "integer", "name": "visits", "label": "How many visits"},
            {"type": "end_group"},
        ],
        "choices": [],
    }
    with write_transaction(db):
        install_form(db, definition)
    form = Form(definition)
    data = {"a/visits": [{"day": "2026-11-01"}, {"day": "2026-11-02"}], "b/visits": 2}
    push(client, phone, record(phone["villages"][0]["id"], data=data, form=form))
    login_as(client, db, "admin")
    book = workbook(client.get("/reports/export.xlsx?form=visits_twice"))
    assert book.sheetnames == ["households", "a-visits"]
    assert sheet_rows(book, "households")[0]["b/visits"] == 2
    assert [r["day"] for r in sheet_rows(book, "a-visits")] == ["2026-11-01", "2026-11-02"]
    rows = csv_rows(client.get("/reports/export/a/visits.csv?form=visits_twice"))
    assert [r["day"] for r in rows] == ["2026-11-01", "2026-11-02"]
    page = client.get("/reports/exports?form=visits_twice").get_data(as_text=True)
    assert "/reports/export/a/visits.csv" in page
