"""Push against hostile input and other people's data: one bad item is rejected alone, no input
is a 5xx, and a phone learns nothing of records, households or photos it may not see."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from server.domain import migrations
from server.domain.accounts import add_user
from server.domain.db import write_transaction
from tests.api.admin_helpers import second_commune
from tests.conftest import new_code
from tests.records import answers_as_text, household_data, record
from tests.sync.photo_form import PHOTO_VERSION, install_photo_form, photo


def _village(phone: dict[str, Any]) -> str:
    return phone["villages"][0]["id"]


def push_raw(client: Any, phone: dict[str, Any], items: list[str]) -> Any:
    """A push whose items are JSON texts as written, for what json.dumps would not write."""
    return client.post(
        "/api/v1/sync/push",
        data='{"items": [' + ", ".join(items) + "]}",
        headers={**phone["headers"], "Content-Type": "application/json"},
    )


def push(client: Any, phone: dict[str, Any], items: list[Any]) -> Any:
    return client.post("/api/v1/sync/push", json={"items": items}, headers=phone["headers"])


def stored(db: Any, *ids: str) -> set[str]:
    marks = ",".join("?" * len(ids))
    return {r[0] for r in db.execute(f"SELECT id FROM records WHERE id IN ({marks})", ids)}


def enrolled(client: Any, db: Any, username: str) -> dict[str, Any]:
    body = client.post("/api/v1/enroll", json={"code": new_code(db, username)}).get_json()
    body["headers"] = {"Authorization": f"Bearer {body['token']}"}
    return body


@pytest.fixture
def neighbour(client: Any, db: Any) -> dict[str, Any]:
    """The phone of another volunteer of the demo commune, in the one village the demo
    volunteer is not assigned to."""
    village = db.execute(
        "SELECT id FROM villages WHERE commune_id = '99999' AND id NOT IN"
        " (SELECT village_id FROM user_villages)"
    ).fetchone()[0]
    with write_transaction(db):
        add_user(db, "tnv.bacson", "Người Bắc Sơn", "volunteer", "99999", village_ids=[village])
    return enrolled(client, db, "tnv.bacson")


@pytest.fixture
def stranger(client: Any, db: Any) -> dict[str, Any]:
    """The phone of a volunteer of another commune."""
    second_commune(db)
    return enrolled(client, db, "tnv.zeta")


# -- 1. one bad item is rejected alone ------------------------------------------------------
DEEP = "[" * 5000 + "]" * 5000


def _bad_items(village: str) -> dict[str, tuple[str, str, str]]:
    """Name → (the item's JSON, the field named in the error, its code)."""

    def written(data_json: str | None = None, **envelope: Any) -> str:
        item = record(village, data=household_data(head_name="@@"), **envelope)
        text = json.dumps(item)
        return text.replace('"@@"', data_json) if data_json else text

    return {
        "lone surrogate in a text answer": (written('"\\ud800"'), "data", "bad_text"),
        "lone surrogate in a key of meta": (
            written(meta={"x": 1}).replace('"meta": {"x"', '"meta": {"\\udfff"'),
            "meta",
            "bad_text",
        ),
        "empty household_id": (written(household_id=""), "household_id", "not_uuid"),
        "5,000-deep nesting in data": (written(DEEP), "data", "too_deep"),
        "33-deep nesting in data": (written("[" * 32 + "]" * 32), "data", "too_deep"),
        "a 5,000-digit integer": (written("9" * 5000), "data", "out_of_range"),
        "an integer past 2**53 in meta": (written(meta={"n": 2**60}), "meta", "out_of_range"),
        "1e400": (written("1e400"), "data", "out_of_range"),
    }


@pytest.mark.parametrize("case", list(_bad_items("v")))
def test_one_bad_item_is_rejected_alone_and_the_others_applied(client, phone, db, case):
    village = _village(phone)
    good = [record(village) for _ in range(3)]
    bad, field, code = _bad_items(village)[case]
    response = push_raw(
        client, phone, [json.dumps(good[0]), bad, json.dumps(good[1]), json.dumps(good[2])]
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["applied", "rejected", "applied", "applied"]
    assert [e["code"] for e in results[1]["errors"][field]] == [code]
    error = results[1]["errors"][field][0]
    assert error["vi"] and error["en"] and error["vi"] != error["en"]
    assert stored(db, *(g["id"] for g in good)) == {g["id"] for g in good}
    assert db.execute("SELECT count(*) FROM records").fetchone()[0] == 3


def test_nan_is_not_json_and_the_batch_is_refused_as_such(client, phone):
    response = push_raw(client, phone, ['{"data": NaN}'])
    assert response.status_code == 400
    assert response.get_json()["code"] == "bad_json"


# -- 2. a checkpoint past what SQLite holds ------------------------------------------------
@pytest.mark.parametrize("query", ["since=100000000000000000000000", "since=9223372036854775808"])
def test_pull_with_a_huge_number_is_422_not_500(client, phone, query):
    response = client.get(f"/api/v1/sync/pull?{query}", headers=phone["headers"])
    assert response.status_code == 422
    name = query.split("=")[0]
    assert response.get_json()["errors"][name][0]["code"] == "out_of_range"


# -- 3. scope is checked against the stored record too -------------------------------------
def test_a_phone_cannot_take_over_a_record_of_a_village_it_is_not_assigned(
    client, phone, neighbour, db
):
    theirs = record(_village(neighbour))
    assert push(client, neighbour, [theirs]).get_json()["results"][0]["status"] == "applied"
    takeover = {
        **theirs,
        "rev": str(uuid.uuid4()),
        "base_rev": theirs["rev"],
        "village_id": _village(phone),
        "data": household_data(head_name="Của tôi"),
    }
    result = push(client, phone, [takeover]).get_json()["results"][0]
    assert result["status"] == "rejected"
    assert [e["code"] for e in result["errors"]["id"]] == ["out_of_scope"]
    row = db.execute(
        "SELECT rev, village_id, user_id, device_id FROM records WHERE id = ?", [theirs["id"]]
    ).fetchone()
    assert tuple(row) == (
        theirs["rev"],
        _village(neighbour),
        neighbour["user"]["id"],
        neighbour["device_id"],
    )
    assert (
        db.execute("SELECT count(*) FROM revisions WHERE record_id = ?", [theirs["id"]]).fetchone()[
            0
        ]
        == 1
    )


# -- 4. text answers are bounded -----------------------------------------------------------
def test_a_text_answer_past_the_limit_is_rejected_too_long(client, phone, db):
    village = _village(phone)
    long_one = record(village, data=household_data(address="x" * 10_001))
    at_limit = record(village, data=household_data(address="x" * 10_000))
    results = push(client, phone, [long_one, at_limit]).get_json()["results"]
    assert [r["status"] for r in results] == ["rejected", "applied"]
    error = results[0]["errors"]["address"][0]
    assert error["code"] == "too_long"
    assert "10000" in error["en"] and "10000" in error["vi"]
    assert stored(db, long_one["id"], at_limit["id"]) == {at_limit["id"]}


# -- 5. ids are UUIDs, spelled one way --------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("household_id", "../../admin", "not_uuid"),
        ("household_id", "a/b", "not_uuid"),
        ("household_id", "", "not_uuid"),
        ("household_id", "8450836B-419D-4814-AFF4-11508F4C0286", "not_lowercase"),
        ("id", "{72d2720e-5722-42d9-8679-c4e521b3059f}", "not_uuid"),
        ("id", "urn:uuid:441e5fa3-f447-4bbb-8118-46fe70338d24", "not_uuid"),
        ("rev", "0f3c8e2a9b5d4c6e8f1a2b3c4d5e6f70", "not_uuid"),
        ("base_rev", "urn:uuid:5b1e9d2c-3a4f-4e6b-9c8d-7e6f5a4b3c2d", "not_uuid"),
    ],
)
def test_ids_must_be_canonical_uuids(client, phone, db, field, value, code):
    item = record(_village(phone), **{field: value})
    result = push(client, phone, [item]).get_json()["results"][0]
    assert result["status"] == "rejected"
    assert [e["code"] for e in result["errors"][field]] == [code]
    assert db.execute("SELECT count(*) FROM records").fetchone()[0] == 0


# -- 6. no existence oracle -------------------------------------------------------------------
def _answer(result: dict[str, Any]) -> tuple[str, Any]:
    return result["status"], result.get("errors")


def test_another_communes_id_answers_as_an_out_of_scope_one_of_ones_own_commune(
    client, phone, neighbour, stranger, db
):
    elsewhere, next_door = record(_village(stranger)), record(_village(neighbour))
    assert push(client, stranger, [elsewhere]).get_json()["results"][0]["status"] == "applied"
    assert push(client, neighbour, [next_door]).get_json()["results"][0]["status"] == "applied"
    mine = _village(phone)
    probes = [
        {**elsewhere, "rev": str(uuid.uuid4()), "village_id": mine},
        {**next_door, "rev": str(uuid.uuid4()), "village_id": mine},
        {**elsewhere, "village_id": mine},  # the same (id, rev): not a "duplicate" either
        {**next_door, "village_id": mine},
    ]
    results = push(client, phone, probes).get_json()["results"]
    assert _answer(results[0]) == _answer(results[1])
    assert _answer(results[2]) == _answer(results[3]) == _answer(results[0])
    assert results[0]["status"] == "rejected"
    assert tuple(
        db.execute(
            "SELECT commune_id, village_id FROM records WHERE id = ?", [elsewhere["id"]]
        ).fetchone()
    ) == ("88888", _village(stranger))


def _put(client: Any, phone: dict[str, Any], sha: str, content: bytes) -> Any:
    return client.put(
        f"/api/v1/blobs/{sha}",
        data=content,
        headers={**phone["headers"], "Content-Type": "image/jpeg"},
    )


def test_a_blob_is_visible_only_to_the_commune_that_holds_it(client, phone, stranger):
    content, sha = photo("secret")
    assert _put(client, stranger, sha, content).status_code == 201
    assert client.head(f"/api/v1/blobs/{sha}", headers=stranger["headers"]).status_code == 200
    # The other commune's phone hears what it would of a photo nobody has...
    assert client.head(f"/api/v1/blobs/{sha}", headers=phone["headers"]).status_code == 404
    # ...and, uploading the same bytes, what it would of a new one.
    mine = _put(client, phone, sha, content)
    assert mine.status_code == 201 and mine.get_json()["created"] is True
    assert client.head(f"/api/v1/blobs/{sha}", headers=phone["headers"]).status_code == 200
    again = _put(client, phone, sha, content)
    assert again.status_code == 200 and again.get_json()["created"] is False


def test_a_record_cannot_name_another_communes_photo(client, phone, stranger, db):
    install_photo_form(db)
    content, sha = photo("theirs")
    assert _put(client, stranger, sha, content).status_code == 201
    item = record(_village(phone), data=household_data(house_photo=sha), form_version=PHOTO_VERSION)
    result = push(client, phone, [item]).get_json()["results"][0]
    assert result["status"] == "rejected"
    assert [e["code"] for e in result["errors"]["house_photo"]] == ["missing_blob"]


def test_the_migration_gives_existing_blobs_to_the_communes_whose_records_name_them(
    client, phone, stranger, db
):
    install_photo_form(db)
    content, sha = photo("before")
    _put(client, phone, sha, content)
    item = record(_village(phone), data=household_data(house_photo=sha), form_version=PHOTO_VERSION)
    assert push(client, phone, [item]).get_json()["results"][0]["status"] == "applied"
    # As the database was before the step: no owners table, the step not applied.
    with write_transaction(db):
        db.execute("DROP TABLE blob_owners")
        answers_as_text(db)
        db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm007_blob_owners'")
    assert migrations.apply(db) == ["m007_blob_owners"]
    assert [tuple(r) for r in db.execute("SELECT commune_id, sha256 FROM blob_owners")] == [
        ("99999", sha)
    ]
    assert client.head(f"/api/v1/blobs/{sha}", headers=phone["headers"]).status_code == 200
    assert client.head(f"/api/v1/blobs/{sha}", headers=stranger["headers"]).status_code == 404


def test_a_null_item_is_rejected_alone(client, phone, db):
    good = record(_village(phone))
    response = push(client, phone, [None, good])
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert [r["status"] for r in response.get_json()["results"]] == ["rejected", "applied"]
    assert stored(db, good["id"]) == {good["id"]}


def test_the_answers_encoded_by_the_first_check_are_the_ones_stored(client, phone, db):
    # The value check encodes the answers once (sync.protocol.value_problems' texts) and the
    # push stores that text: it must be the one spelling of answers, whatever they hold.
    from server.domain import answers
    from sync.protocol import value_problems

    data = household_data(address='Số 12, ngõ 3 — "nhà" {xanh} [cuối]', residents=2)
    item = record(_village(phone), data=data)
    texts: dict[str, str] = {}
    assert value_problems(item, texts) == {} and texts["data"] == answers.dumps(data)
    # Sent as written (the test client's json= would sort the keys).
    answer = push_raw(client, phone, [json.dumps(item, ensure_ascii=False)])
    assert answer.get_json()["results"][0]["status"] == "applied"
    for table, key in (("records", "id"), ("revisions", "record_id")):
        row = db.execute(f"SELECT answers(data) FROM {table} WHERE {key} = ?", [item["id"]])
        assert row.fetchone()[0] == answers.dumps(data)
    # An item the shortcut does not prove fine gives no text: the push encodes its own.
    for odd in ({"n": 12345678901234567}, {"t": "\ud800"}, {"deep": [[[[[[[[]]]]]]]] * 5}):
        texts = {}
        value_problems({**item, "data": odd}, texts)
        assert "data" not in texts


def test_answers_encoded_before_the_lock_are_stored_as_the_push_would_store_them(
    phone, db, monkeypatch
):
    # An OpenRosa submission's answers and meta are checked and encoded before the write lock
    # (records.push.encode_ahead), its envelope only under it: what is stored (the record, its
    # revision, its household's follow-up) must be what the push makes of the same item
    # encoding it itself, and a bad envelope is still refused on its field.
    from server.domain.devices import device_for_token
    from server.domain.forms import get_form
    from server.domain.records import store
    from server.domain.records.push import encode_ahead, push_within
    from sync.protocol import visit_day
    from tests.records import adult

    caller = device_for_token(db, phone["token"], touch=False)
    village = _village(phone)
    homes = [r[0] for r in db.execute("SELECT id FROM households WHERE village_id = ?", [village])][
        :2
    ]
    data = household_data(
        address='Số 12, ngõ 3 — "nhà" {xanh} [cuối]',
        members=[{**adult("Hoa", 1980), "needs_help": ["vneid"]}],
    )
    plain, ahead = record(village, homes[0], data=data), record(village, homes[1], data=data)
    bad = record("\ud800", data=data)
    found = get_form(db, plain["form_id"], plain["form_version"], commune_id="99999")
    checked = found[1].check(data, today=visit_day(ahead))
    assert checked == {}
    with write_transaction(db):
        told = [push_within(db, caller, [plain])[0]]
        worked = [encode_ahead(item["data"], item["meta"]) for item in (ahead, bad)]
        assert None not in worked

        def encoded_again(*_: Any) -> Any:
            raise AssertionError("encoded under the lock again")

        monkeypatch.setattr(store, "encode_pushed", encoded_again)
        for item, done in zip((ahead, bad), worked, strict=True):
            told += push_within(db, caller, [item], None, found, [checked], [done])
    assert [t["status"] for t in told] == ["applied", "applied", "rejected"]
    assert told[2]["errors"]["village_id"][0]["code"] == "bad_text"

    def row(item: dict[str, Any]) -> dict[str, Any]:
        kept = db.execute("SELECT * FROM records WHERE id = ?", [item["id"]]).fetchone()
        # Its own ids, household and times apart, the row is the same.
        return {
            k: v
            for k, v in dict(kept).items()
            if k not in ("id", "rev", "household_id") and k[-3:] != "_at"
        }

    assert row(ahead) == row(plain)
    assert stored(db, bad["id"]) == set()
    revisions = db.execute(
        "SELECT data, meta FROM revisions WHERE record_id IN (?, ?)", [plain["id"], ahead["id"]]
    ).fetchall()
    assert len(revisions) == 2 and tuple(revisions[0]) == tuple(revisions[1])
    followups = [
        db.execute(
            "SELECT followup FROM household_followups WHERE household_id = ?", [home]
        ).fetchone()[0]
        for home in homes
    ]
    assert followups[0] == followups[1] and json.loads(followups[0])["topics"] == ["vneid"]


def test_ids_made_at_random_and_ids_ordered_by_time_are_both_taken(client, phone, db):
    # A collector of this version makes its ids ordered by time (pwa/js/ids.js, version 7); a
    # phone not yet updated makes them at random (version 4). One batch may hold both: a
    # visit begun before the update and finished after it.
    village = _village(phone)
    earlier = record(village, id=str(uuid.uuid4()), rev=str(uuid.uuid4()))
    now = record(village)
    assert uuid.UUID(now["id"]).version == 7 and uuid.UUID(earlier["id"]).version == 4
    answer = push(client, phone, [earlier, now]).get_json()
    assert [r["status"] for r in answer["results"]] == ["applied", "applied"]
    assert stored(db, earlier["id"], now["id"]) == {earlier["id"], now["id"]}
