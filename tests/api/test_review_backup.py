"""A phone's backup file imported by staff: the same per-record push rules as the phone's
own sync, each record's result shown, nothing stored twice."""

from __future__ import annotations

import io
import json
import re
import uuid

from tests.api.test_review_helpers import CSRF, audit_actions, problem, push, staff, text_of
from tests.records import adult, household_data, record


def backup_file(phone, records, **changes):
    body = {
        "format": "gocua-backup",
        "version": 1,
        "device_id": phone["device_id"],
        "user": {"id": phone["user"]["id"], "username": phone["user"]["username"]},
        "exported_at": "2026-11-21T10:00:00Z",
        "records": records,
        "local": [],
    }
    body.update(changes)
    return json.dumps(body, ensure_ascii=False).encode()


def upload(client, content: bytes, lang: str = "vi"):
    return client.post(
        f"/backups?lang={lang}",
        data={"csrf_token": CSRF, "file": (io.BytesIO(content), "gocua-backup.json")},
        content_type="multipart/form-data",
    )


def results(page: str) -> list[tuple[str, str]]:
    return re.findall(r'<tr data-status="([a-z]+)" data-record="([^"]*)">', page)


def test_each_record_of_a_backup_is_applied_duplicate_conflict_or_rejected(client, app, phone, db):
    village = phone["villages"][0]["id"]
    synced = record(village)
    push(client, phone, synced)
    fresh = record(village)
    stale_edit = {**synced, "rev": str(uuid.uuid4()), "base_rev": str(uuid.uuid4())}
    broken = record(village, data=household_data(members=[adult("Bà Tư", 1850)]))
    staff(client, app)

    content = backup_file(phone, [fresh, synced, stale_edit, broken])
    page = text_of(upload(client, content))
    assert results(page) == [
        ("applied", fresh["id"]),
        ("duplicate", synced["id"]),
        ("conflict", synced["id"]),
        ("rejected", broken["id"]),
    ]
    assert "members[0].birth_year" in page
    stored = db.execute(
        "SELECT device_id, user_id FROM records WHERE id = ?", [fresh["id"]]
    ).fetchone()
    # As if the phone sent it.
    assert dict(stored) == {"device_id": phone["device_id"], "user_id": phone["user"]["id"]}
    assert (
        db.execute("SELECT status FROM revisions WHERE rev = ?", [stale_edit["rev"]]).fetchone()[0]
        == "conflict"
    )

    again = text_of(upload(client, content, lang="en"))
    assert [s for s, _ in results(again)] == ["duplicate", "duplicate", "duplicate", "rejected"]
    assert "Already here" in again
    assert db.execute("SELECT count(*) FROM records").fetchone()[0] == 2
    assert audit_actions(db).count("import_backup") == 2


def test_a_backup_of_an_unknown_phone_is_stored_without_a_device(client, app, phone, db):
    fresh = record(phone["villages"][0]["id"])
    staff(client, app)
    page = text_of(upload(client, backup_file(phone, [fresh], device_id=str(uuid.uuid4()))))
    assert results(page) == [("applied", fresh["id"])]
    assert dict(db.execute("SELECT device_id, user_id FROM records").fetchone()) == {
        "device_id": None,
        "user_id": phone["user"]["id"],
    }


def test_files_that_are_not_a_volunteers_backup_are_refused(client, app, phone, db):
    staff(client, app)
    fresh = record(phone["villages"][0]["id"])
    cases = [
        (b"not json", "không phải JSON"),
        (json.dumps({"format": "other"}).encode(), "không phải tệp sao lưu"),
        (backup_file(phone, [fresh], version=2), "phiên bản tệp sao lưu 2"),
        (backup_file(phone, [fresh], user=None), "không ghi tình nguyện viên"),
        (backup_file(phone, {"id": 1}), "không có danh sách phiếu"),
        (backup_file(phone, [fresh], user={"id": 1, "username": "admin"}), "không thuộc xã này"),
        (
            backup_file(
                phone, [fresh], user={"id": phone["user"]["id"], "username": "someone.else"}
            ),
            "không thuộc xã này",
        ),
    ]
    for content, words in cases:
        answer = upload(client, content)
        assert answer.status_code == 400, words
        assert words in problem(answer)
    assert db.execute("SELECT count(*) FROM records").fetchone()[0] == 0
