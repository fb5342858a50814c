"""Push over the Flask test client on a real SQLite file: idempotence, rejection, auth, limits."""

from __future__ import annotations

import gzip
import json
import uuid
from typing import Any

from tests.records import adult, household_data, record


def _village(phone: dict[str, Any]) -> str:
    return phone["villages"][0]["id"]


def _household(db: Any, village_id: str) -> str:
    return db.execute("SELECT id FROM households WHERE village_id = ? LIMIT 1",
                      [village_id]).fetchone()[0]


def push(client: Any, phone: dict[str, Any], items: list[Any]) -> Any:
    return client.post("/api/v1/sync/push", json={"items": items}, headers=phone["headers"])


def count(db: Any, sql: str, *params: Any) -> int:
    return db.execute(sql, params).fetchone()[0]


def test_same_batch_twice_is_applied_then_duplicate(client, phone, db):
    village = _village(phone)
    items = [record(village, _household(db, village)), record(village)]
    first = push(client, phone, items)
    assert first.status_code == 200
    assert [r["status"] for r in first.get_json()["results"]] == ["applied", "applied"]
    second = push(client, phone, items)
    assert [r["status"] for r in second.get_json()["results"]] == ["duplicate", "duplicate"]
    assert [r["first_status"] for r in second.get_json()["results"]] == ["applied", "applied"]
    ids = [i["id"] for i in items]
    assert count(db, "SELECT count(*) FROM records WHERE id IN (?, ?)", *ids) == 2
    assert count(db, "SELECT count(*) FROM revisions WHERE record_id IN (?, ?)", *ids) == 2


def test_results_come_back_one_per_item_in_order(client, phone, db):
    village = _village(phone)
    good, bad = record(village), record(village, data=household_data(residents="two"))
    results = push(client, phone, [bad, good, "not a record"]).get_json()["results"]
    assert [(r["id"], r["status"]) for r in results] == [
        (bad["id"], "rejected"), (good["id"], "applied"), (None, "rejected")]


def test_wrong_type_is_rejected_with_field_errors_in_both_languages(client, phone, db):
    item = record(_village(phone), data=household_data(residents="2"))
    result = push(client, phone, [item]).get_json()["results"][0]
    assert result["status"] == "rejected"
    error = result["errors"]["residents"][0]
    assert error["code"] == "not_integer"
    assert error["vi"] and error["en"] and error["vi"] != error["en"]
    assert count(db, "SELECT count(*) FROM records WHERE id = ?", item["id"]) == 0


def test_missing_required_answer_is_rejected_naming_the_member(client, phone):
    member = adult("Trần Văn Ba", 1970)
    del member["vneid_level"]
    data = household_data(members=[member])
    result = push(client, phone, [record(_village(phone), data=data)]).get_json()["results"][0]
    assert result["status"] == "rejected"
    assert [e["code"] for e in result["errors"]["members[0].vneid_level"]] == ["required"]


def test_constraint_message_is_the_forms_own(client, phone):
    data = household_data(phone="12345")
    result = push(client, phone, [record(_village(phone), data=data)]).get_json()["results"][0]
    error = result["errors"]["phone"][0]
    assert error["code"] == "constraint"
    assert "0" in error["vi"] and "10" in error["en"]


def test_answer_to_a_question_that_does_not_apply_is_rejected(client, phone):
    data = household_data(accepts_qr="yes")  # only asked when the household sells online
    result = push(client, phone, [record(_village(phone), data=data)]).get_json()["results"][0]
    assert result["errors"]["accepts_qr"][0]["code"] == "not_relevant"


def test_envelope_errors_are_field_errors(client, phone):
    item = record(_village(phone), id="not-a-uuid")
    del item["form_id"]
    result = push(client, phone, [item]).get_json()["results"][0]
    assert result["status"] == "rejected"
    assert result["errors"]["id"][0]["code"] == "not_uuid"
    assert result["errors"]["form_id"][0]["code"] == "required"


def test_village_outside_the_volunteers_scope_is_rejected(client, phone, db):
    other = db.execute("SELECT id FROM villages WHERE id NOT IN (SELECT village_id FROM"
                       " user_villages)").fetchone()[0]
    result = push(client, phone, [record(other)]).get_json()["results"][0]
    assert result["errors"]["village_id"][0]["code"] == "out_of_scope"


def test_edit_from_the_current_rev_is_applied_and_a_stale_one_is_a_kept_conflict(
        client, phone, db):
    village = _village(phone)
    first = record(village)
    push(client, phone, [first])
    edit = {**first, "rev": str(uuid.uuid4()), "base_rev": first["rev"],
            "data": household_data(zalo_group="no")}
    assert push(client, phone, [edit]).get_json()["results"][0]["status"] == "applied"
    stale = {**first, "rev": str(uuid.uuid4()), "base_rev": first["rev"]}
    result = push(client, phone, [stale]).get_json()["results"][0]
    assert result["status"] == "conflict"
    assert result["server_rev"] == edit["rev"]
    states = dict(db.execute("SELECT rev, status FROM revisions WHERE record_id = ?",
                             [first["id"]]).fetchall())
    assert states == {first["rev"]: "superseded", edit["rev"]: "current",
                      stale["rev"]: "conflict"}
    assert db.execute("SELECT rev FROM records WHERE id = ?", [first["id"]]).fetchone()[0] \
        == edit["rev"]


def test_new_household_met_on_the_lane_joins_the_register(client, phone, db):
    village = _village(phone)
    household_id = str(uuid.uuid4())
    item = record(village, household_id, data=household_data(head_name="Hộ Mới"))
    assert push(client, phone, [item]).get_json()["results"][0]["status"] == "applied"
    row = db.execute("SELECT village_id, head_name FROM households WHERE id = ?",
                     [household_id]).fetchone()
    assert dict(row) == {"village_id": village, "head_name": "Hộ Mới"}


def test_no_token_and_bad_token_are_401(client, phone):
    no_token = client.post("/api/v1/sync/push", json={"items": []})
    assert no_token.status_code == 401
    assert no_token.get_json()["code"] == "no_token"
    bad = client.post("/api/v1/sync/push", json={"items": []},
                      headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert bad.get_json()["code"] == "bad_token"
    assert bad.get_json()["message"]["vi"]


def test_malformed_json_is_400_with_a_message(client, phone):
    response = client.post("/api/v1/sync/push", data='{"items": [', headers={
        **phone["headers"], "Content-Type": "application/json"})
    assert response.status_code == 400
    body = response.get_json()
    assert body["code"] == "bad_json"
    assert body["message"]["en"].startswith("The body is not valid JSON")


def test_json_that_is_not_an_object_or_lacks_items_is_refused(client, phone):
    assert push_raw(client, phone, "[1, 2]").status_code == 400
    response = push_raw(client, phone, '{"things": []}')
    assert response.status_code == 422
    assert response.get_json()["errors"]["items"][0]["code"] == "required"


def push_raw(client: Any, phone: dict[str, Any], body: str | bytes, **headers: str) -> Any:
    return client.post("/api/v1/sync/push", data=body, headers={
        **phone["headers"], "Content-Type": "application/json", **headers})


def test_more_than_100_items_is_413_stating_the_limit(client, phone):
    response = push(client, phone, [{}] * 101)
    assert response.status_code == 413
    assert "100" in response.get_json()["message"]["en"]


def test_gzip_request_and_response(client, phone):
    body = gzip.compress(json.dumps({"items": [record(_village(phone))]}).encode())
    response = push_raw(client, phone, body, **{"Content-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.get_json()["results"][0]["status"] == "applied"
    pulled = client.get("/api/v1/sync/pull", headers={**phone["headers"],
                                                      "Accept-Encoding": "gzip"})
    assert pulled.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(pulled.data))["changes"]


def test_broken_gzip_is_400(client, phone):
    response = push_raw(client, phone, b"\x1f\x8bnot gzip", **{"Content-Encoding": "gzip"})
    assert response.status_code == 400
    assert response.get_json()["code"] == "bad_gzip"


def test_a_push_writes_the_phones_row_once(client, phone, db):
    """The phone's "last sync" is noted inside the push's own transaction: one write of its
    row per push, not a second transaction before it (pushes at dusk contend for the lock)."""
    db.execute("CREATE TABLE device_writes (n INTEGER)")
    db.execute("CREATE TRIGGER count_device_writes AFTER UPDATE ON devices"
               " BEGIN INSERT INTO device_writes VALUES (1); END")
    db.conn.commit()
    village = _village(phone)
    db.execute("UPDATE devices SET last_seen_at = NULL")  # a phone not seen for a while
    db.execute("DELETE FROM device_writes")
    db.conn.commit()
    response = push(client, phone, [record(village, _household(db, village))])
    assert response.get_json()["results"][0]["status"] == "applied"
    assert count(db, "SELECT count(*) FROM device_writes") == 1
    assert count(db, "SELECT count(*) FROM devices WHERE last_seen_at IS NOT NULL") == 1
