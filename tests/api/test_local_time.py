"""Times on the staff site: stored in UTC, shown and filtered by the server's zone
(GOCUA_TIMEZONE, Asia/Ho_Chi_Minh unless set)."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

from server import create_app
from server.domain.db import write_transaction
from tests.api.test_review_helpers import staff, text_of
from tests.conftest import config
from tests.records import adult, household_data

# 21:15 UTC on the 29th is 04:15 on the 30th in Việt Nam (UTC+7).
EARLY_MORNING = "2026-11-29T21:15:00Z"
LATE_EVENING = "2026-11-29T16:30:00Z"  # 23:30 on the 29th in Việt Nam
NEXT_NIGHT = "2026-11-30T17:30:00Z"  # 00:30 on 1 December in Việt Nam


def store(db: Any, received_at: str) -> str:
    village = db.execute("SELECT id FROM villages ORDER BY name").fetchone()[0]
    user = db.execute("SELECT id FROM users WHERE username = 'tnv.demo'").fetchone()[0]
    record_id = str(uuid.uuid4())
    with write_transaction(db):
        db["records"].insert(
            {
                "id": record_id,
                "rev": str(uuid.uuid4()),
                "commune_id": "99999",
                "village_id": village,
                "household_id": None,
                "form_id": "ho_gia_dinh_cds",
                "form_version": "2026.11.1",
                "data": json.dumps(household_data(members=[adult("A", 1980)])),
                "meta": json.dumps({"visit_date": "2026-11-30"}),
                "device_id": None,
                "user_id": user,
                "review_state": "received",
                "received_at": received_at,
                "updated_at": received_at,
            }
        )
    return record_id


def listed(client: Any, query: str = "") -> list[str]:
    return re.findall(r'<tr data-record="([^"]+)">', text_of(client.get(f"/?{query}")))


def test_the_list_and_the_record_show_the_local_time_not_raw_utc(client, app, db):
    record = store(db, EARLY_MORNING)
    staff(client, app)
    page = text_of(client.get("/"))
    assert "30/11/2026 04:15" in page
    assert ">2026-11-29T21:15:00Z<" not in page
    shown = text_of(client.get(f"/records/{record}"))
    assert "30/11/2026 04:15" in shown
    assert ">2026-11-29T21:15:00Z<" not in shown and "2026-11-29T21:15" not in shown.replace(
        'datetime="2026-11-29T21:15:00Z"', ""
    )
    english = text_of(client.get(f"/records/{record}?lang=en"))
    assert "30/11/2026 04:15" in english


def test_the_received_dates_are_local_days(client, app, db):
    early = store(db, EARLY_MORNING)
    evening = store(db, LATE_EVENING)
    next_night = store(db, NEXT_NIGHT)
    staff(client, app)
    assert set(listed(client, "date_from=2026-11-30")) == {early, next_night}
    assert set(listed(client, "date_from=2026-11-30&date_to=2026-11-30")) == {early}
    assert set(listed(client, "date_to=2026-11-29")) == {evening}


def test_another_zone_from_the_setting(app, db, monkeypatch):
    record = store(db, EARLY_MORNING)
    monkeypatch.setenv("GOCUA_TIMEZONE", "Europe/London")
    london = create_app(config(Path(app.config["DATA_DIR"])))
    london.config["ADMIN_PASSWORD"] = app.config["ADMIN_PASSWORD"]
    client = london.test_client()
    staff(client, london)
    page = text_of(client.get(f"/records/{record}"))
    assert "29/11/2026 21:15" in page and "30/11/2026 04:15" not in page
    assert listed(client, "date_from=2026-11-30") == []
    assert listed(client, "date_from=2026-11-29&date_to=2026-11-29") == [record]
