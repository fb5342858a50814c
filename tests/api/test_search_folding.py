"""Staff search ignores case, tone marks and đ/d, as the phone's does (schemas/text.py): a
volunteer's "cuong", "le van" or "so 5" finds Lê Văn Cường of Số 5, so nobody adds him twice."""

from __future__ import annotations

import re
import uuid

from tests.api.test_review_helpers import audit_actions, push, staff, text_of
from tests.records import household_data, record

NAME = "Lê Văn Cường"
ADDRESS = "Số 5, ngõ 12"


def new_household(client, phone, name, address):
    village = phone["villages"][0]["id"]
    household = str(uuid.uuid4())
    data = household_data(head_name=name, respondent_name=name, address=address)
    push(client, phone, record(village, household, data=data))
    return village, household


def listed(client, village, query):
    page = text_of(client.get("/households", query_string={"village": village, "q": query}))
    return re.findall(r'<tr data-household="([^"]+)">', page)


def test_the_household_list_finds_without_accents_case_or_d(client, app, phone, db):
    village, cuong = new_household(client, phone, NAME, ADDRESS)
    _, other = new_household(client, phone, "Trần Thị Đào", "Xóm Đồng")
    staff(client, app)
    for query in ("cuong", "le van", "LE VAN", "so 5", "  Lê   Văn ", "Cường", "ngo 12"):
        assert listed(client, village, query) == [cuong], query
    assert listed(client, village, "dao") == [other]
    assert listed(client, village, "dong") == [other]
    assert listed(client, village, "nobody by that name") == []
    # The query's % and _ are letters, not LIKE's wildcards.
    assert listed(client, village, "%") == []
    assert listed(client, village, "_") == []
    everyone = listed(client, village, "")
    assert {cuong, other} <= set(everyone) and len(everyone) > 2
    assert "household_search" in audit_actions(db)


def test_the_people_search_finds_without_accents(client, app, phone, db):
    _, household = new_household(client, phone, NAME, ADDRESS)
    staff(client, app)
    for query in ("cuong", "le van", "LÊ VĂN CƯỜNG"):
        page = text_of(client.get("/people", query_string={"q": query}))
        assert f"register:{household}:" in page, query


def test_the_database_folds_in_sql(db):
    assert db.execute("SELECT fold('  Đặng  THỊ Cường ')").fetchone()[0] == "dang thi cuong"
    assert db.execute("SELECT fold(NULL)").fetchone()[0] == ""
