"""The staff site's table of submissions: the form's questions as columns with their labels,
the column picker, the filter, pages by cursor, the view as CSV, pseudonymised for a viewer."""

from __future__ import annotations

import csv
import io
import re

from server.domain.db import write_transaction
from tests.api.test_reports_dashboard import login_as, push
from tests.api.test_reports_exports import PERSONAL
from tests.api.test_reports_exports import records as records  # noqa: F401 - the fixture
from tests.records import record
from tests.unit.test_indicators import A


def cells(page: str) -> list[list[str]]:
    body = page.split("<tbody>")[1].split("</tbody>")[0] if "<tbody>" in page else ""
    return [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", body)]


def headings(page: str) -> list[str]:
    """The columns' headings as people read them (the sort link's arrow and words aside)."""
    found = re.findall(r"<th scope=\"col\"[^>]*>(.*?)</th>", page)
    return [re.sub(r"<span.*?</span>|<[^>]+>| [↑↓]", "", h) for h in found]


def test_the_columns_are_the_questions_picked_with_their_labels(client, db, records):
    login_as(client, db, "reviewer")
    page = client.get("/reports/table?col=residents&col=head_name&col=nope").get_data(as_text=True)
    assert (
        headings(page)[-2:] == ["Số người đang sống trong hộ", "Họ tên chủ hộ"]
        or "residents" in page
    )
    rows = cells(page)
    assert len(rows) == 3 and all(len(r) == len(headings(page)) for r in rows)
    assert "Lò Văn A Một" in page
    english = client.get("/reports/table?col=residents&lang=en").get_data(as_text=True)
    assert headings(english)[:3] == [
        "Received by the server at (local time)",
        "Village",
        "Review state",
    ]


def test_filter_and_pages_by_cursor(client, db, phone, records):
    village = phone["villages"][0]["id"]
    push(client, phone, *[record(village, data=A) for _ in range(60)])
    with write_transaction(db):
        db.execute("UPDATE records SET review_state = 'approved' WHERE id = ?", [records[0]["id"]])
    login_as(client, db, "admin")
    approved = client.get("/reports/table?state=approved&col=residents").get_data(as_text=True)
    assert len(cells(approved)) == 1 and 'id="next-page"' not in approved
    assert cells(client.get("/reports/table?from=2100-01-01").get_data(as_text=True)) == []
    seen, url = [], "/reports/table?col=residents"
    while url:
        page = client.get(url).get_data(as_text=True)
        seen += cells(page)
        found = re.search(r'id="next-page" href="([^"]+)"', page)
        url = found.group(1).replace("&amp;", "&") if found else ""
    assert len(seen) == 63
    assert client.get("/reports/table?after=garbage").status_code == 400
    newest, url = [], "/reports/table?col=residents&sort=newest"
    while url:
        page = client.get(url).get_data(as_text=True)
        assert 'aria-sort="descending"' in page
        newest += cells(page)
        found = re.search(r'id="next-page" href="([^"]+)"', page)
        url = found.group(1).replace("&amp;", "&") if found else ""
    assert newest == seen[::-1]
    view = client.get("/reports/table.csv?col=residents&col=head_name")
    assert view.status_code == 200 and view.mimetype == "text/csv"
    lines = list(csv.reader(io.StringIO(view.data.decode("utf-8-sig"))))
    assert len(lines) == 64 and lines[0][-2:] == [
        "Số người thường trú trong hộ",
        "Họ và tên chủ hộ",
    ]
    audit = db.execute("SELECT detail FROM audit_log WHERE action = 'export_records'").fetchall()
    assert audit and '"table_csv"' in audit[-1][0]


def test_a_viewers_table_is_pseudonymised(client, db, records):
    login_as(client, db, "viewer")
    every = "&".join(f"col={c}" for c in ("head_name", "phone", "address", "notes", "residents"))
    page = client.get(f"/reports/table?{every}").get_data(as_text=True)
    view = client.get(f"/reports/table.csv?{every}").data.decode("utf-8-sig")
    assert len(cells(page)) == 3
    for secret in PERSONAL:
        assert secret not in page and secret not in view, secret


def test_a_province_admin_has_no_table(client, db, records):
    login_as(client, db, "admin", commune_id=None, province_code="01")
    assert client.get("/reports/table").status_code == 403


def test_days_at_the_ends_of_the_calendar_are_no_filter(client, db, records):
    login_as(client, db, "admin")
    for query in ("to=9999-12-31", "from=0001-01-01", "from=9999-12-31&to=0001-01-01"):
        for path in ("/reports/table", "/reports/table.csv"):
            response = client.get(f"{path}?{query}")
            assert response.status_code == 200, (path, query)
    page = client.get("/reports/table?from=0001-01-01").get_data(as_text=True)
    assert len(cells(page)) == 3
