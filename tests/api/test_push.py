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
    return db.execute(
        "SELECT id FROM households WHERE village_id = ? LIMIT 1", [village_id]
    ).fetchone()[0]


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
        (bad["id"], "rejected"),
        (good["id"], "applied"),
        (None, "rejected"),
    ]


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
    other = db.execute(
        "SELECT id FROM villages WHERE id NOT IN (SELECT village_id FROM user_villages)"
    ).fetchone()[0]
    result = push(client, phone, [record(other)]).get_json()["results"][0]
    assert result["errors"]["village_id"][0]["code"] == "out_of_scope"


def test_edit_from_the_current_rev_is_applied_and_a_stale_one_is_a_kept_conflict(client, phone, db):
    village = _village(phone)
    first = record(village)
    push(client, phone, [first])
    edit = {
        **first,
        "rev": str(uuid.uuid4()),
        "base_rev": first["rev"],
        "data": household_data(zalo_group="no"),
    }
    assert push(client, phone, [edit]).get_json()["results"][0]["status"] == "applied"
    stale = {**first, "rev": str(uuid.uuid4()), "base_rev": first["rev"]}
    result = push(client, phone, [stale]).get_json()["results"][0]
    assert result["status"] == "conflict"
    assert result["server_rev"] == edit["rev"]
    states = dict(
        db.execute(
            "SELECT rev, status FROM revisions WHERE record_id = ?", [first["id"]]
        ).fetchall()
    )
    assert states == {first["rev"]: "superseded", edit["rev"]: "current", stale["rev"]: "conflict"}
    assert (
        db.execute("SELECT rev FROM records WHERE id = ?", [first["id"]]).fetchone()[0]
        == edit["rev"]
    )


def test_new_household_met_on_the_lane_joins_the_register(client, phone, db):
    village = _village(phone)
    household_id = str(uuid.uuid4())
    item = record(village, household_id, data=household_data(head_name="Hộ Mới"))
    assert push(client, phone, [item]).get_json()["results"][0]["status"] == "applied"
    row = db.execute(
        "SELECT village_id, head_name FROM households WHERE id = ?", [household_id]
    ).fetchone()
    assert dict(row) == {"village_id": village, "head_name": "Hộ Mới"}


def _at_the_door(outcome: str, **answers: Any) -> dict[str, Any]:
    """The answers of a visit that ended at the door: nothing about the household is asked."""
    data = household_data(outcome=outcome, **answers)
    kept = (
        "start",
        "age_vneid",
        "age_account",
        "age_adult",
        "outcome",
        "revisit_date",
        "consent_notice_version",
    )
    return {key: value for key, value in data.items() if key in kept}


def test_new_household_nobody_home_joins_the_register_with_the_name_typed(client, phone, db):
    village = _village(phone)
    household_id = str(uuid.uuid4())
    item = record(
        village,
        household_id,
        data=_at_the_door("nobody_home"),
        household={"head_name": "Lò Thị  Mai", "address": "Bản Pá, nhà thứ ba"},
    )
    assert push(client, phone, [item]).get_json()["results"][0]["status"] == "applied"
    row = db.execute(
        "SELECT village_id, head_name, address FROM households WHERE id = ?", [household_id]
    ).fetchone()
    assert tuple(row) == (village, "Lò Thị Mai", "Bản Pá, nhà thứ ba")  # spaces as the register's
    # The phone's next pull carries the name, so it keeps showing it.
    changes = client.get(
        "/api/v1/sync/pull?since=0&limit=1000", headers=phone["headers"]
    ).get_json()["changes"]
    put = [c["data"] for c in changes if c["kind"] == "household" and c["id"] == household_id]
    assert put[-1]["head_name"] == "Lò Thị Mai"
    assert put[-1]["address"] == "Bản Pá, nhà thứ ba"


def test_the_typed_household_wins_over_answers_and_never_renames_a_known_one(client, phone, db):
    village = _village(phone)
    household_id = str(uuid.uuid4())
    come_back = record(
        village,
        household_id,
        household={"head_name": "Hộ Gõ Cửa"},
        data=_at_the_door("come_back", revisit_date="2099-01-01"),
    )
    assert push(client, phone, [come_back]).get_json()["results"][0]["status"] == "applied"
    # A later visit's answers and a household object both leave the register's entry alone.
    later = record(
        village,
        household_id,
        data=household_data(head_name="Tên Khác"),
        household={"head_name": "Cũng Khác", "address": "Nơi khác"},
    )
    assert push(client, phone, [later]).get_json()["results"][0]["status"] == "applied"
    known = _household(db, village)
    before = db.execute(
        "SELECT head_name, address FROM households WHERE id = ?", [known]
    ).fetchone()
    visit = record(village, known, household={"head_name": "Đổi Tên", "address": "Đổi chỗ"})
    assert push(client, phone, [visit]).get_json()["results"][0]["status"] == "applied"
    rows = dict(
        db.execute(
            "SELECT id, head_name || '|' || address FROM households WHERE id IN (?, ?)",
            [household_id, known],
        ).fetchall()
    )
    assert rows == {household_id: "Hộ Gõ Cửa|", known: "|".join(before)}


def test_a_completed_visit_from_an_older_phone_still_names_the_household(client, phone, db):
    # No household object (a phone from before it existed): the answers name the household.
    village = _village(phone)
    household_id = str(uuid.uuid4())
    item = record(
        village, household_id, data=household_data(head_name="Hộ  Cũ", address="Xóm Trên")
    )
    assert "household" not in item
    assert push(client, phone, [item]).get_json()["results"][0]["status"] == "applied"
    assert tuple(
        db.execute(
            "SELECT head_name, address FROM households WHERE id = ?", [household_id]
        ).fetchone()
    ) == ("Hộ Cũ", "Xóm Trên")


def test_the_household_object_is_checked_like_every_input(client, phone, db):
    village = _village(phone)
    cases = {
        "long name": ({"head_name": "A" * 201}, "household.head_name", "bad_length"),
        "empty name": ({"head_name": "", "address": "x"}, "household.head_name", "bad_length"),
        "long address": (
            {"head_name": "A", "address": "B" * 301},
            "household.address",
            "bad_length",
        ),
        "number": ({"head_name": 7}, "household.head_name", "wrong_type"),
        "unknown key": ({"head_name": "A", "phone": "09"}, "household.phone", "unknown_field"),
        "not an object": ("Hộ A", "household", "wrong_type"),
        "lone surrogate": ({"head_name": "\ud800"}, "household", "bad_text"),
    }
    items = [
        record(village, str(uuid.uuid4()), data=_at_the_door("nobody_home"), household=h)
        for h, _, _ in cases.values()
    ]
    results = push(client, phone, items).get_json()["results"]
    for (name, (_, field, code)), result in zip(cases.items(), results, strict=True):
        assert result["status"] == "rejected", name
        assert [e["code"] for e in result["errors"][field]] == [code], name
    ids = [i["household_id"] for i in items]
    assert (
        count(db, f"SELECT count(*) FROM households WHERE id IN ({','.join('?' * len(ids))})", *ids)
        == 0
    )
    fine = record(
        village,
        str(uuid.uuid4()),
        data=_at_the_door("refused"),
        household={"head_name": "A" * 200, "address": "B" * 300},
    )
    assert push(client, phone, [fine]).get_json()["results"][0]["status"] == "applied"


def test_no_token_and_bad_token_are_401(client, phone):
    no_token = client.post("/api/v1/sync/push", json={"items": []})
    assert no_token.status_code == 401
    assert no_token.get_json()["code"] == "no_token"
    bad = client.post(
        "/api/v1/sync/push", json={"items": []}, headers={"Authorization": "Bearer nope"}
    )
    assert bad.status_code == 401
    assert bad.get_json()["code"] == "bad_token"
    assert bad.get_json()["message"]["vi"]


def test_malformed_json_is_400_with_a_message(client, phone):
    response = client.post(
        "/api/v1/sync/push",
        data='{"items": [',
        headers={**phone["headers"], "Content-Type": "application/json"},
    )
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
    return client.post(
        "/api/v1/sync/push",
        data=body,
        headers={**phone["headers"], "Content-Type": "application/json", **headers},
    )


def test_more_than_100_items_is_413_stating_the_limit(client, phone):
    response = push(client, phone, [{}] * 101)
    assert response.status_code == 413
    assert "100" in response.get_json()["message"]["en"]


def test_gzip_request_and_response(client, phone):
    body = gzip.compress(json.dumps({"items": [record(_village(phone))]}).encode())
    response = push_raw(client, phone, body, **{"Content-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.get_json()["results"][0]["status"] == "applied"
    pulled = client.get(
        "/api/v1/sync/pull", headers={**phone["headers"], "Accept-Encoding": "gzip"}
    )
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
    db.execute(
        "CREATE TRIGGER count_device_writes AFTER UPDATE ON devices"
        " BEGIN INSERT INTO device_writes VALUES (1); END"
    )
    db.conn.commit()
    village = _village(phone)
    db.execute("UPDATE devices SET last_seen_at = NULL")  # a phone not seen for a while
    db.execute("DELETE FROM device_writes")
    db.conn.commit()
    response = push(client, phone, [record(village, _household(db, village))])
    assert response.get_json()["results"][0]["status"] == "applied"
    assert count(db, "SELECT count(*) FROM device_writes") == 1
    assert count(db, "SELECT count(*) FROM devices WHERE last_seen_at IS NOT NULL") == 1


def test_a_pushed_records_list_facts_are_the_ones_its_answers_give(client, phone, db):
    # The push writes outcome, needs_help and visit_date with its INSERT (migration m016);
    # rewriting the row makes the facts trigger work them out again from the stored answers:
    # both must agree, whatever the answers and the meta say.
    village = _village(phone)
    helped = household_data(members=[{**adult("A", 1980), "needs_help": ["vneid"]}])
    unhelped = household_data(members=[{**adult("B", 1981), "needs_help": ["none"]}])
    items = [
        record(village, data=helped),
        record(village, data=unhelped),
        record(village, data=unhelped, meta={"started_at": "2026-11-18T23:30:00Z"}),
        record(village, data=helped, meta={}),
        record(village, data=_at_the_door("nobody_home")),
    ]
    results = push(client, phone, items).get_json()["results"]
    assert [r["status"] for r in results] == ["applied"] * len(items), results
    ids = [i["id"] for i in items]
    marks = ",".join("?" * len(ids))

    def facts() -> list[tuple[Any, ...]]:
        rows = db.execute(
            f"SELECT id, outcome, needs_help, visit_date FROM records WHERE id IN ({marks})", ids
        ).fetchall()
        by_id = {r[0]: tuple(r[1:]) for r in rows}
        return [by_id[i] for i in ids]

    pushed = facts()
    today = db.execute("SELECT substr(received_at, 1, 10) FROM records WHERE id = ?", [ids[3]])
    assert pushed == [
        ("completed", 1, "2026-11-20"),
        ("completed", 0, "2026-11-20"),
        ("completed", 0, "2026-11-18"),
        ("completed", 1, today.fetchone()[0]),
        ("nobody_home", 0, "2026-11-20"),
    ]
    with db.conn:
        db.execute(f"UPDATE records SET meta = meta WHERE id IN ({marks})", ids)
    assert facts() == pushed


def test_a_batch_naming_a_record_twice_or_a_new_household_twice_is_stored_in_order(
    client, phone, db
):
    # What the batch finds stored is read for it at once (push.py: _look_ahead): a record
    # whose next revision comes later in the same batch, and a household met on the lane that
    # a second visit names too, must still be seen as the earlier items left them.
    village = _village(phone)
    stored = record(village)
    assert push(client, phone, [stored]).get_json()["results"][0]["status"] == "applied"
    first = record(village)
    then = {**first, "rev": str(uuid.uuid4()), "base_rev": first["rev"]}
    lane = str(uuid.uuid4())
    visit = record(village, lane, data=household_data(head_name="Hộ Mới"))
    again = record(village, lane, data=household_data(head_name="Hộ Mới"))
    stale = {**stored, "rev": str(uuid.uuid4()), "base_rev": str(uuid.uuid4())}
    batch = [first, then, visit, again, stored, stale]
    results = push(client, phone, batch).get_json()["results"]
    assert [(r["id"], r["status"]) for r in results] == [
        (first["id"], "applied"),
        (first["id"], "applied"),
        (visit["id"], "applied"),
        (again["id"], "applied"),
        (stored["id"], "duplicate"),
        (stored["id"], "conflict"),
    ]
    assert count(db, "SELECT count(*) FROM households WHERE id = ?", lane) == 1
    assert (
        db.execute("SELECT rev FROM records WHERE id = ?", [first["id"]]).fetchone()[0]
        == then["rev"]
    )
