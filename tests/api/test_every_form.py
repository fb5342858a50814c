"""Staff pages, exports and the data dictionary for a form other than the household survey:
a follow-up form built with openpyxl, with a repeat, published from the Forms page, filled,
pushed, then read on the records list, the record page, the exports and the dictionary."""

from __future__ import annotations

import csv
import html
import io
import re
import uuid
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.api.test_admin_forms import publish
from tests.records import VISIT_DATE, household_data, record
from tests.workbooks import FOLLOWUP_ID, workbook

HELPED = [
    {"ten": "Lò Thị Mai Followup", "viec": "vneid"},
    {"ten": "Lò Văn Sáng Followup", "viec": "ngan_hang"},
]


@pytest.fixture
def followup(admin: Any, client: Any, db: Any, phone: dict[str, Any]) -> dict[str, Any]:
    """The follow-up form published (version 1), one visit with it and one household survey."""
    assert publish(admin, workbook(version="1")).status_code == 303
    village = phone["villages"][0]["id"]
    item = {
        "id": str(uuid.uuid4()),
        "rev": str(uuid.uuid4()),
        "base_rev": None,
        "form_id": FOLLOWUP_ID,
        "form_version": "1",
        "household_id": None,
        "village_id": village,
        "data": {
            "ngay": VISIT_DATE,
            "gap_ho": "co",
            "ghi_chu": "Hẹn tuần sau",
            "nguoi_giup": HELPED,
        },
        "meta": {"started_at": "2026-11-20T01:00:00Z", "visit_date": VISIT_DATE},
    }
    survey = record(village, data=household_data())
    response = client.post(
        "/api/v1/sync/push", json={"items": [item, survey]}, headers=phone["headers"]
    )
    assert [r["status"] for r in response.get_json()["results"]] == ["applied", "applied"]
    return item


def text_of(response: Any) -> str:
    assert response.status_code == 200, response.status_code
    return html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def test_the_records_list_and_record_page_show_the_other_form(admin: Any, followup: Any) -> None:
    page = admin.get("/").get_data(as_text=True)
    rows = dict(re.findall(r'<tr data-record="([^"]+)">(.*?)</tr>', page, re.S))
    assert '<span class="tag form">Thăm lại hộ</span>' in rows[followup["id"]]
    others = [row for record_id, row in rows.items() if record_id != followup["id"]]
    assert [">Khảo sát công dân số hộ gia đình</span>" in row for row in others] == [True]
    page = text_of(admin.get(f"/records/{followup['id']}"))
    for words in ("Gặp được hộ?", "Hẹn tuần sau", "Người được giúp", "Lò Văn Sáng Followup"):
        assert words in page, words
    assert "Cài ứng dụng ngân hàng" in page  # the choice's label, not its name


def test_the_exports_page_offers_each_form_and_its_own_dictionary(
    admin: Any, followup: Any
) -> None:
    page = admin.get("/reports/exports").get_data(as_text=True)
    assert f'<option value="{FOLLOWUP_ID}"' in page and '<option value="ho_gia_dinh_cds"' in page
    page = admin.get(f"/reports/exports?form={FOLLOWUP_ID}").get_data(as_text=True)
    assert f"/reports/dictionary.xlsx?form={FOLLOWUP_ID}" in page
    assert "/reports/export/nguoi_giup.csv" in page
    assert f'<input type="hidden" name="form" value="{FOLLOWUP_ID}">' in page


def test_the_export_has_the_repeat_as_its_own_table(admin: Any, followup: Any) -> None:
    response = admin.get(f"/reports/export.xlsx?form={FOLLOWUP_ID}&pseudo=0")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["households", "nguoi_giup"]
    rows = list(book["nguoi_giup"].iter_rows(values_only=True))
    header = rows[0]
    helped = [dict(zip(header, row, strict=True)) for row in rows[1:]]
    assert [(h["record_id"], h["nguoi_giup_index"], h["ten"], h["viec"]) for h in helped] == [
        (followup["id"], 1, "Lò Thị Mai Followup", "vneid"),
        (followup["id"], 2, "Lò Văn Sáng Followup", "ngan_hang"),
    ]
    top = [
        dict(zip(rows_[0], r, strict=True))
        for rows_ in [list(book["households"].iter_rows(values_only=True))]
        for r in rows_[1:]
    ]
    assert [(r["record_id"], r["ghi_chu"], r["form_version"]) for r in top] == [
        (followup["id"], "Hẹn tuần sau", "1")
    ]
    response = admin.get(f"/reports/export/nguoi_giup.csv?form={FOLLOWUP_ID}&pseudo=1")
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert [r["viec"] for r in rows] == ["vneid", "ngan_hang"]
    assert "Followup" not in response.get_data(as_text=True)  # names stay out when pseudonymised


def test_the_dictionary_of_the_other_form(admin: Any, followup: Any) -> None:
    response = admin.get(f"/reports/dictionary.xlsx?form={FOLLOWUP_ID}")
    book = load_workbook(io.BytesIO(response.data))
    rows = list(book["questions"].iter_rows(values_only=True))
    questions = {r[rows[0].index("name")]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    assert {"gap_ho", "ghi_chu", "nguoi_giup", "ten", "viec"} <= questions.keys()
    assert questions["ten"]["table"] == "nguoi_giup"
    assert questions["viec"]["label_en"] == "What was done?"
    response = admin.get(f"/reports/dictionary.csv?form={FOLLOWUP_ID}")
    assert "vneid=Kích hoạt VNeID" in response.get_data(as_text=True)
    audit = admin.get("/admin/audit").get_data(as_text=True)
    assert FOLLOWUP_ID in audit


def test_the_office_edit_page_of_the_other_form(admin: Any, followup: Any) -> None:
    page = admin.get(f"/records/{followup['id']}/edit").get_data(as_text=True)
    assert "Tên người được giúp" in html.unescape(page)
    assert 'value="Lò Văn Sáng Followup"' in html.unescape(page)
