"""A form may name its own questions ``members`` or ``support`` (a select_multiple, a text):
its records are stored, edited and searched like any other, though the survey's roster and
support repeats go by those names and the list's facts look into them (an XLSForm written
here with openpyxl)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from server.domain.db import write_transaction
from server.domain.form_files import read_form_file
from server.domain.forms import import_form
from tests.api.test_review_helpers import push, staff, text_of
from tests.records import adult, household_data, record
from tests.workbooks import EN, VI, workbook


def install(db: Any, tmp_path: Path) -> Any:
    rows = [
        ("type", "name", VI, EN, "required"),
        ("text", "ho_ten", "Họ tên", "Full name", "yes"),
        ("select_multiple co_khong", "members", "Ai có mặt?", "Who was there?", "yes"),
        ("select_multiple viec", "support", "Đã giúp gì?", "What was done?", None),
    ]
    path = tmp_path / "ai_co_mat.xlsx"
    path.write_bytes(workbook(rows, version="1", form_id="ai_co_mat", title="Ai có mặt"))
    definition, _ = read_form_file(path)
    with write_transaction(db):
        return import_form(db, definition)[0]


def facts(db: Any, record_id: str) -> tuple[Any, ...]:
    row = db.execute(
        "SELECT outcome, needs_help, visit_date FROM records WHERE id = ?", [record_id]
    ).fetchone()
    return tuple(row)


def test_a_select_multiple_named_members_is_stored_edited_and_searched(
    client, app, phone, db, tmp_path
):
    form = install(db, tmp_path)
    village = phone["villages"][0]["id"]
    answers = {"ho_ten": "Lò Văn Páo", "members": ["co", "khong"], "support": ["vneid"]}
    first = record(village, data=answers, form=form)
    assert [r["status"] for r in push(client, phone, first)] == ["applied"]
    assert facts(db, first["id"]) == (None, 0, "2026-11-20")
    # Its next revision is written over the stored row, whose facts the trigger works out.
    second = {
        **first,
        "rev": str(uuid.uuid4()),
        "base_rev": first["rev"],
        "data": {**answers, "members": ["co"]},
    }
    assert [r["status"] for r in push(client, phone, second)] == ["applied"]
    stored = db.execute("SELECT answers(data) FROM records WHERE id = ?", [first["id"]])
    assert json.loads(stored.fetchone()[0])["members"] == ["co"]
    assert facts(db, first["id"]) == (None, 0, "2026-11-20")

    # The survey's roster still counts, through the same expressions: a record whose meta
    # dates nothing has its facts worked out in SQL.
    survey = record(village, str(uuid.uuid4()), data=household_data([adult("Lò Thị Mai", 1980)]))
    survey["meta"] = {}
    assert [r["status"] for r in push(client, phone, survey)] == ["applied"]
    assert facts(db, survey["id"])[:2] == ("completed", 1)

    staff(client, app)
    found = client.get("/people?q=lo thi mai")
    assert found.status_code == 200
    assert f"member:{survey['id']}:0" in text_of(found)
