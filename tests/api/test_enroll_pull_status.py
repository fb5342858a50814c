"""Enrollment codes, the pull feed's pages and scope, and what the server says it holds."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import uuid
from typing import Any

from server.domain.db import write_transaction
from server.domain.register import add_household, add_village
from tests.api.test_review_helpers import other_phone, push
from tests.conftest import new_code
from tests.records import record


def test_enroll_gives_a_token_stored_only_as_a_hash(client, db):
    code = new_code(db)
    body = client.post("/api/v1/enroll", json={"code": code.lower()}).get_json()
    assert body["user"]["username"] == "tnv.demo"
    assert {v["name"] for v in body["villages"]} == {"Thôn Đông", "Thôn Tây"}
    stored = db.execute(
        "SELECT token_hash FROM devices WHERE id = ?", [body["device_id"]]
    ).fetchone()[0]
    assert stored == hashlib.sha256(body["token"].encode()).hexdigest()
    assert (
        db.execute("SELECT count(*) FROM devices WHERE token_hash = ?", [body["token"]]).fetchone()[
            0
        ]
        == 0
    )


def test_a_code_works_once(client, db):
    code = new_code(db)
    assert client.post("/api/v1/enroll", json={"code": code}).status_code == 200
    again = client.post("/api/v1/enroll", json={"code": code})
    assert again.status_code == 410
    assert again.get_json()["code"] == "enroll_used"


def test_an_expired_code_is_refused(client, db):
    code = new_code(db)
    with write_transaction(db):
        db.execute("UPDATE enrollment_codes SET expires_at = '2000-01-01T00:00:00Z'")
    response = client.post("/api/v1/enroll", json={"code": code})
    assert response.status_code == 410
    assert response.get_json()["code"] == "enroll_expired"


def test_an_unknown_code_or_a_missing_one_is_refused_clearly(client):
    unknown = client.post("/api/v1/enroll", json={"code": "ABCDEFGHJK"})
    assert unknown.status_code == 400
    assert unknown.get_json()["code"] == "enroll_unknown"
    missing = client.post("/api/v1/enroll", json={})
    assert missing.status_code == 422
    assert missing.get_json()["errors"]["code"][0]["code"] == "required"


def pull_all(client: Any, phone: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    since, changes = 0, []
    while True:
        page = client.get(
            f"/api/v1/sync/pull?since={since}&limit={limit}", headers=phone["headers"]
        ).get_json()
        changes += page["changes"]
        assert page["next_since"] >= since
        since = page["next_since"]
        if not page["has_more"]:
            return changes


def test_pull_pages_hold_the_form_and_only_the_volunteers_villages(client, phone, db):
    changes = pull_all(client, phone, limit=2)
    kinds = [c["kind"] for c in changes]
    assert kinds.count("form") == 1
    villages = {c["data"]["name"] for c in changes if c["kind"] == "village"}
    assert villages == {"Thôn Đông", "Thôn Tây"}  # not Thôn Bắc Sơn
    mine = {v["id"] for v in phone["villages"]}
    households = [c for c in changes if c["kind"] == "household"]
    assert households and all(c["data"]["village_id"] in mine for c in households)
    seqs = [c["seq"] for c in changes]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_pull_from_a_checkpoint_brings_only_what_is_new(client, phone, db):
    since = client.get("/api/v1/sync/pull", headers=phone["headers"]).get_json()["next_since"]
    village = phone["villages"][0]["id"]
    with write_transaction(db):
        add_household(db, village, "Hộ Thêm")
        add_village(db, phone["commune"]["id"], "Thôn Ngoài Phạm Vi")
    page = client.get(f"/api/v1/sync/pull?since={since}", headers=phone["headers"]).get_json()
    assert [(c["kind"], c["data"].get("head_name")) for c in page["changes"]] == [
        ("household", "Hộ Thêm")
    ]


def test_a_pull_within_the_minute_takes_no_write_lock(app, client, phone, db):
    """The phone's "last sync" is written once a minute; a pull in between only reads, so it
    is answered while a push (here another connection) holds the write lock."""
    assert client.get("/api/v1/sync/pull", headers=phone["headers"]).status_code == 200
    writer = sqlite3.connect(app.config["DATABASE"], isolation_level=None)
    answered: list[int] = []
    try:
        writer.execute("BEGIN IMMEDIATE")
        pulling = threading.Thread(
            target=lambda: answered.append(
                app.test_client().get("/api/v1/sync/pull", headers=phone["headers"]).status_code
            )
        )
        pulling.start()
        # Far below the 30 s busy timeout a write transaction would wait for the lock.
        pulling.join(timeout=15)
        assert answered == [200], "the pull waited for the write lock"
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        pulling.join()


def test_a_pull_after_a_minute_notes_the_phones_last_sync(client, phone, db):
    with write_transaction(db):
        db.execute(
            "UPDATE devices SET last_seen_at = '2026-01-01T00:00:00Z' WHERE id = ?",
            [phone["device_id"]],
        )
    assert client.get("/api/v1/sync/pull", headers=phone["headers"]).status_code == 200
    seen = db.execute(
        "SELECT last_seen_at FROM devices WHERE id = ?", [phone["device_id"]]
    ).fetchone()[0]
    assert seen > "2026-01-01T00:00:00Z"


def test_pull_rejects_a_bad_checkpoint(client, phone):
    response = client.get("/api/v1/sync/pull?since=-1", headers=phone["headers"])
    assert response.status_code == 422
    assert response.get_json()["errors"]["since"][0]["code"] == "out_of_range"


def test_status_counts_and_digest_of_what_the_phone_sent(client, phone):
    village = phone["villages"][0]["id"]
    items = [record(village), record(village)]
    client.post("/api/v1/sync/push", json={"items": items}, headers=phone["headers"])
    status = client.get("/api/v1/sync/status", headers=phone["headers"]).get_json()
    assert status["records"] == 2 and status["by_state"] == {"received": 2}
    pairs = sorted((i["id"], i["rev"]) for i in items)
    expected = hashlib.sha256("".join(f"{a} {b}\n" for a, b in pairs).encode()).hexdigest()
    assert status["digest"] == expected


def test_status_counts_the_records_whose_current_revision_the_phone_sent(client, phone, db):
    village = phone["villages"][0]["id"]
    other = other_phone(client, db, [village])
    mine, theirs = record(village), record(village)
    assert [r["status"] for r in push(client, phone, mine)] == ["applied"]
    assert [r["status"] for r in push(client, other, theirs)] == ["applied"]
    # This phone edits the other's record, which the other edits too: this one's conflicts.
    edit = {**theirs, "rev": str(uuid.uuid4()), "base_rev": theirs["rev"]}
    assert push(client, other, edit)[0]["status"] == "applied"
    late = {**theirs, "rev": str(uuid.uuid4()), "base_rev": theirs["rev"]}
    assert push(client, phone, late)[0]["status"] == "conflict"
    # And takes over a record of the other's, as its last sender.
    handed = record(village)
    push(client, other, handed)
    took = {**handed, "rev": str(uuid.uuid4()), "base_rev": handed["rev"]}
    assert push(client, phone, took)[0]["status"] == "applied"

    status = client.get("/api/v1/sync/status", headers=phone["headers"]).get_json()
    assert status["revisions"] == 3  # mine, the conflict, the record taken over
    assert status["records"] == 2 and status["by_state"] == {"received": 2}
    theirs_now = client.get("/api/v1/sync/status", headers=other["headers"]).get_json()
    assert theirs_now["revisions"] == 3 and theirs_now["records"] == 1
