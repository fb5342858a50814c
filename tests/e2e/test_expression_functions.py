"""ODK's functions worked out on a phone in its own time zone, synced, and kept by the server."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from server.domain.db import connect
from tests.e2e.collector import Collector
from tests.e2e.conftest import phone_context

pytestmark = pytest.mark.e2e
VI = "label::Tiếng Việt (vi)"
EN = "label::English (en)"

FORM = {
    "settings": {
        "form_id": "odk_functions",
        "version": "1",
        "form_title": "Hàm của ODK",
        "default_language": "Tiếng Việt (vi)",
    },
    "survey": [
        {"type": "text", "name": "head", VI: "Chủ hộ", EN: "Head", "required": "yes"},
        {"type": "date", "name": "visit_day", VI: "Ngày thăm", EN: "Visit day"},
        {"type": "select_one source", "name": "source", VI: "Nguồn nước", EN: "Water source"},
        {"type": "begin_repeat", "name": "kids", VI: "Trẻ em", EN: "Children"},
        {"type": "text", "name": "kid_name", VI: "Tên trẻ", EN: "Child's name"},
        {"type": "end_repeat", "name": "kids"},
        # A date read as a number counts days in the phone's own zone: not whole in Việt Nam.
        {
            "type": "calculate",
            "name": "whole_days",
            "calculation": "if(decimal-date-time(${visit_day}) mod 1 = 0, 'whole', 'fraction')",
        },
        {
            "type": "calculate",
            "name": "next_visit",
            "calculation": "format-date(${visit_day} + 30, '%a %e %b %Y')",
        },
        {
            "type": "calculate",
            "name": "source_label",
            "calculation": "jr:choice-name(${source}, '${source}')",
        },
        {
            "type": "calculate",
            "name": "head_hash",
            "calculation": "digest(${head}, 'SHA-256', 'hex')",
        },
        {
            "type": "calculate",
            "name": "second_kid",
            "calculation": "indexed-repeat(${kid_name}, ${kids}, 2)",
        },
        {
            "type": "calculate",
            "name": "initials",
            "calculation": "translate(substring(normalize-space(${head}), 1, 3), 'abc', 'ABC')",
        },
        {
            "type": "calculate",
            "name": "kids_in_order",
            "calculation": "join(' ', randomize(${kid_name}, 3))",
        },
    ],
    "choices": [
        {"list_name": "source", "name": "well", VI: "Giếng", EN: "Well"},
        {"list_name": "source", "name": "river", VI: "Sông", EN: "River"},
    ],
}


@pytest.mark.parametrize(("zone", "whole"), [("Asia/Ho_Chi_Minh", "fraction"), ("UTC", "whole")])
def test_a_phone_works_out_odks_functions_in_its_own_zone(
    server: Any, browser: Any, tmp_path: Path, zone: str, whole: str
) -> None:
    path = tmp_path / "odk_functions.json"
    path.write_text(json.dumps(FORM, ensure_ascii=False), encoding="utf-8")
    server.cli("form", "import", str(path))
    context = phone_context(browser, timezone_id=zone)
    page = context.new_page()
    page.set_default_timeout(15_000)
    app = Collector(page)
    app.enroll(server.cli("enroll").strip().splitlines()[-1])
    app.households().first.click()
    page.locator('#choose-form [data-form="odk_functions"]').click()
    page.locator("#finalize").wait_for()
    app.type("head", "abc  Nguyễn")
    app.type("visit_day", "2026-11-20")
    app.choose("source", "river")
    app.add("kids")
    app.type("kids[0].kid_name", "Bi")
    app.add("kids")
    app.type("kids[1].kid_name", "Na")
    app.add("kids")
    app.type("kids[2].kid_name", "Tí")
    app.finalize()
    page.locator("#sync").click()
    page.locator("#record-list .pill.state-synced").wait_for()
    context.close()

    with connect(server.data_dir / "gocua.db") as db:
        (raw,) = db.execute(
            "SELECT answers(data) FROM records WHERE form_id = 'odk_functions'"
        ).fetchone()
    data = json.loads(raw)
    assert data["whole_days"] == whole
    assert data["next_visit"] == "Sun 20 Dec 2026"  # the same day in every zone
    assert data["source_label"] == "Sông"  # the default language's label
    assert data["head_hash"] == hashlib.sha256("abc  Nguyễn".encode()).hexdigest()
    assert data["second_kid"] == "Na"
    assert data["initials"] == "ABC"
    assert data["kids_in_order"] == "Tí Bi Na"  # the Park-Miller order for seed 3
