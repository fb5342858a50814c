"""Upstream replication: a commune server (the test app's database) sends its records to a
province server (a real waitress server on loopback) with a peer token."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.domain.blobs import blob_path
from server.domain.db import connect, write_transaction
from server.domain.devices import issue_peer_token
from server.domain.register import add_household, add_village
from server.domain.replication import UpstreamError, local_checkpoint, replicate, server_id
from sync.client import HttpError, RetryPolicy, SyncClient
from tests.api.test_review_helpers import CSRF, staff
from tests.records import household_data, record
from tests.sync.live import LiveServer
from tests.sync.photo_form import PHOTO_VERSION, install_photo_form, photo

COMMUNE = "99999"


@pytest.fixture
def province(tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path / "province", seed=False).start()
    yield server
    server.stop()


def peer_client(province: LiveServer, commune: str = COMMUNE) -> SyncClient:
    with province.db() as db, write_transaction(db):
        _, token = issue_peer_token(db, commune, "Xã Minh Họa")
    return SyncClient(province.base, token, retry=RetryPolicy(attempts=2, base=0.01))


def push(client: Any, phone: dict[str, Any], *items: dict[str, Any]) -> list[dict[str, Any]]:
    return client.post(
        "/api/v1/sync/push", json={"items": list(items)}, headers=phone["headers"]
    ).get_json()["results"]


def rows(db: Any, sql: str) -> set[tuple[Any, ...]]:
    return {tuple(r) for r in db.execute(sql)}


SAME = {
    "revisions": "SELECT record_id, rev, base_rev, status, answers(data), meta FROM revisions",
    "records": "SELECT id, rev, commune_id, village_id, household_id, form_id, form_version,"
    " answers(data), review_state FROM records",
    "villages": "SELECT id, commune_id, name, active FROM villages",
    "households": "SELECT id, village_id, code, head_name, address, removed_at FROM households",
    "forms": "SELECT form_id, version, definition FROM forms",
}


def assert_same(commune: Any, province: LiveServer) -> None:
    with province.db() as upstream:
        for name, sql in SAME.items():
            assert rows(commune, sql) == rows(upstream, sql), name


def test_records_villages_households_and_forms_travel_then_nothing_is_new(
    client, phone, db, province
):
    village = phone["villages"][0]["id"]
    first, met = record(village), record(village, str(uuid.uuid4()))
    push(client, phone, first, met)
    edit = {
        **first,
        "rev": str(uuid.uuid4()),
        "base_rev": first["rev"],
        "data": household_data(zalo_group="no"),
    }
    stale = {**first, "rev": str(uuid.uuid4()), "base_rev": first["rev"]}
    assert [r["status"] for r in push(client, phone, edit, stale)] == ["applied", "conflict"]

    upstream = peer_client(province)
    report = replicate(db, upstream, province.base, db_dir(db))
    assert report.counts == {"applied": 3, "conflict": 1, "duplicate": 0, "rejected": 0}
    assert_same(db, province)
    newest = db.execute("SELECT max(seq) FROM outbox").fetchone()[0]
    assert report.checkpoint == newest == local_checkpoint(db, province.base)
    assert upstream.status(server_id(db))["checkpoint"] == newest  # stored on both sides

    upstream.attempts = 0
    again = replicate(db, upstream, province.base, db_dir(db))
    assert (again.batches, again.items, upstream.attempts) == (0, 0, 1)  # one status call


def db_dir(db: Any) -> Path:
    return Path(db.execute("PRAGMA database_list").fetchone()[2]).parent


def test_reviews_renames_removals_and_new_households_follow(client, phone, db, province):
    village = phone["villages"][0]["id"]
    item = record(village)
    push(client, phone, item)
    upstream = peer_client(province)
    replicate(db, upstream, province.base, db_dir(db))
    household = db.execute(
        "SELECT id FROM households WHERE village_id = ? LIMIT 1", [village]
    ).fetchone()[0]
    with write_transaction(db):
        db.execute("UPDATE records SET review_state = 'approved' WHERE id = ?", [item["id"]])
        db.execute("UPDATE villages SET name = 'Thôn Đông Mới' WHERE id = ?", [village])
        db.execute(
            "UPDATE households SET removed_at = '2026-11-21T00:00:00Z' WHERE id = ?", [household]
        )
        add_household(db, village, "Hộ Mới")
        gone = add_village(db, COMMUNE, "Thôn Tạm")["id"]
        brief = add_household(db, gone, "Hộ Tạm")["id"]
    replicate(db, upstream, province.base, db_dir(db))
    with write_transaction(db):  # entered by mistake, deleted outright
        db.execute("DELETE FROM households WHERE id = ?", [brief])
        db.execute("DELETE FROM village_names WHERE village_id = ?", [gone])
        db.execute("DELETE FROM villages WHERE id = ?", [gone])
    report = replicate(db, upstream, province.base, db_dir(db))
    assert report.batches == 1 and report.items == 0
    with province.db() as up:  # gone from the province's feed too, but for its deletion
        left = up.execute("SELECT op FROM changes WHERE entity_id = ?", [brief]).fetchall()
        assert [r[0] for r in left] == ["delete"]
    with province.db() as up, write_transaction(up):
        # Deleted there too, or kept inactive where rows of the province still name it.
        left = [r[0] for r in up.execute("SELECT active FROM villages WHERE id = ?", [gone])]
        assert left in ([], [0])
        up.execute("DELETE FROM village_names WHERE village_id = ?", [gone])
        up.execute("DELETE FROM villages WHERE id = ?", [gone])
    assert_same(db, province)


def test_an_erasure_in_place_reaches_the_province(client, phone, db, province):
    first = record(phone["villages"][0]["id"])
    edit = {
        **first,
        "rev": str(uuid.uuid4()),
        "base_rev": first["rev"],
        "data": household_data(zalo_group="no"),
    }
    push(client, phone, first)
    push(client, phone, edit)
    upstream = peer_client(province)
    replicate(db, upstream, province.base, db_dir(db))
    erased = json.dumps(
        household_data(head_name="", respondent_name=""), ensure_ascii=False, separators=(",", ":")
    )
    with write_transaction(db):  # as a person's right to deletion scrubs every revision
        db.execute("UPDATE revisions SET data = ?", [erased])
        db.execute("UPDATE records SET data = ?", [erased])
    report = replicate(db, upstream, province.base, db_dir(db))
    assert report.items == 0
    assert_same(db, province)
    with province.db() as up:
        assert {r[0] for r in up.execute("SELECT answers(data) FROM revisions")} == {erased}


def test_photos_are_uploaded_before_the_records_that_name_them(client, phone, db, province):
    install_photo_form(db)
    content, sha = photo("house")
    client.put(f"/api/v1/blobs/{sha}", data=content, headers=phone["headers"])
    item = record(
        phone["villages"][0]["id"], data=household_data(house_photo=sha), form_version=PHOTO_VERSION
    )
    assert push(client, phone, item)[0]["status"] == "applied"
    report = replicate(db, peer_client(province), province.base, db_dir(db))
    assert report.blobs == 1 and report.counts["applied"] == 1
    assert blob_path(province.data_dir, sha).read_bytes() == content
    assert_same(db, province)


def test_a_forms_media_go_up_with_the_form(client, phone, db, province, tmp_path):
    from schemas.xlsform import read_xlsform
    from server.domain.blobs import keep_form_media
    from server.domain.forms import install_form
    from tests.api.test_form_media import FILES, FORM_ID, SURVEY
    from tests.workbooks import workbook

    book = tmp_path / "tham_anh.xlsx"
    book.write_bytes(workbook(SURVEY, form_id=FORM_ID, version="1"))
    definition = read_xlsform(book, attachments=dict(FILES))
    keep_form_media(db_dir(db), definition, dict(FILES))
    with write_transaction(db):
        install_form(db, definition)
    report = replicate(db, peer_client(province), province.base, db_dir(db))
    assert report.blobs == len(FILES)
    for body in FILES.values():
        assert blob_path(province.data_dir, hashlib.sha256(body).hexdigest()).read_bytes() == body
    assert_same(db, province)


def test_a_replayed_old_batch_does_not_undo_newer_states(client, phone, db, province):
    item = record(phone["villages"][0]["id"])
    push(client, phone, item)
    upstream = peer_client(province)
    first = replicate(db, upstream, province.base, db_dir(db)).checkpoint
    with write_transaction(db):
        db.execute("UPDATE records SET review_state = 'approved' WHERE id = ?", [item["id"]])
        db.execute("UPDATE villages SET name = 'Tên Mới' WHERE id = ?", [item["village_id"]])
    replicate(db, upstream, province.base, db_dir(db))
    # The first batch again, late: its states and village names are older than the province's.
    old = {
        "source": server_id(db),
        "checkpoint": first,
        "villages": [{"id": item["village_id"], "name": "Tên Cũ"}],
        "records": [{"id": item["id"], "rev": item["rev"], "review_state": "received"}],
    }
    answer = upstream.push_batch([item], old)
    assert answer["results"][0]["status"] == "duplicate"
    assert_same(db, province)


def test_a_restored_commune_database_sends_everything_again_as_a_new_source(
    client, phone, db, province
):
    push(client, phone, record(phone["villages"][0]["id"]))
    upstream = peer_client(province)
    replicate(db, upstream, province.base, db_dir(db))
    before = server_id(db)
    with province.db() as up, write_transaction(up):  # the province saw more than we ever wrote
        up.execute("UPDATE peer_checkpoints SET checkpoint = checkpoint + 1000")
    report = replicate(db, upstream, province.base, db_dir(db))
    assert server_id(db) != before
    assert report.counts["duplicate"] == 1 and report.counts["applied"] == 0
    assert_same(db, province)


def test_a_record_the_province_refuses_is_offered_again_next_time(client, phone, db, province):
    village = phone["villages"][0]["id"]
    household = db.execute(
        "SELECT id FROM households WHERE village_id = ? LIMIT 1", [village]
    ).fetchone()[0]
    upstream = peer_client(province)
    replicate(db, upstream, province.base, db_dir(db))
    other = db.execute("SELECT id FROM villages WHERE id != ? LIMIT 1", [village]).fetchone()[0]
    with province.db() as up, write_transaction(up):  # the province's register disagrees
        up.execute("UPDATE households SET village_id = ? WHERE id = ?", [other, household])
    item = record(village, household)
    push(client, phone, item)
    refused = replicate(db, upstream, province.base, db_dir(db))
    assert [r["id"] for r in refused.rejects] == [item["id"]]
    assert refused.rejects[0]["errors"]["household_id"][0]["code"] == "wrong_village"
    with province.db() as up, write_transaction(up):
        up.execute("UPDATE households SET village_id = ? WHERE id = ?", [village, household])
    offered = replicate(db, upstream, province.base, db_dir(db))
    assert offered.counts["applied"] == 1 and not offered.rejects
    assert db.execute("SELECT count(*) FROM upstream_rejects").fetchone()[0] == 0


def test_a_token_is_for_one_commune_and_context_is_for_servers_only(client, phone, db, province):
    other = peer_client(province, "11111")
    with pytest.raises(UpstreamError) as not_here:
        replicate(db, other, province.base, db_dir(db))
    assert not_here.value.code == "commune_not_here"
    commune = {
        "id": COMMUNE,
        "name": "Xã Khác",
        "province_code": "99",
        "province_name": "Tỉnh Minh Họa",
    }
    with pytest.raises(HttpError) as refused:
        other.push_batch([], {"source": "x", "checkpoint": 1, "commune": commune})
    assert refused.value.status == 403 and refused.value.code == "wrong_commune"
    response = client.post(
        "/api/v1/sync/push",
        headers=phone["headers"],
        json={"items": [], "upstream": {"source": "x", "checkpoint": 1}},
    )
    assert response.status_code == 403 and response.get_json()["code"] == "peers_only"
    with connect(province.database) as up:
        assert up.execute("SELECT count(*) FROM communes").fetchone()[0] == 0


def test_a_peer_pulls_its_whole_commune_and_nothing_meant_for_one_volunteer(client, phone, db):
    with write_transaction(db):
        _, token = issue_peer_token(db, COMMUNE)
        db.execute(
            "INSERT INTO changes (commune_id, user_id, kind, entity_id, op, payload,"
            " created_at) VALUES (?, 1, 'review', 'r', 'put', '{}', 'now')",
            [COMMUNE],
        )
    body = client.get(
        "/api/v1/sync/pull?limit=1000", headers={"Authorization": f"Bearer {token}"}
    ).get_json()
    villages = {c["id"] for c in body["changes"] if c["kind"] == "village"}
    assert villages == {r[0] for r in db.execute("SELECT id FROM villages")}  # all three
    assert "review" not in {c["kind"] for c in body["changes"]}
    status = client.get(
        "/api/v1/sync/status?source=abc", headers={"Authorization": f"Bearer {token}"}
    ).get_json()
    assert status["peer"] is True and status["checkpoint"] == 0


def whole_feed(upstream: SyncClient) -> str:
    pages: list[dict[str, Any]] = []
    upstream.pull_all(0, on_page=pages.append)
    return json.dumps(pages, ensure_ascii=False)


def test_a_person_erased_at_the_commune_is_erased_at_the_province_and_its_feed(
    client, app, phone, db, province
):
    name, address = "Phạm Văn Đức", "Số 4, xóm Chùa"
    item = record(
        phone["villages"][0]["id"],
        str(uuid.uuid4()),
        data=household_data(head_name=name, respondent_name=name, address=address),
    )
    push(client, phone, item)
    with province.db() as up, write_transaction(up):
        _, token = issue_peer_token(up, COMMUNE, "Xã Minh Họa")
    upstream = SyncClient(province.base, token, retry=RetryPolicy(attempts=2, base=0.01))
    replicate(db, upstream, province.base, db_dir(db))
    assert name in whole_feed(upstream)  # before: it is there

    staff(client, app)
    found = re.findall(
        r'<tr data-key="([^"]+)">', client.get("/people?q=pham van duc").get_data(as_text=True)
    )
    assert any(k.startswith("register:") for k in found)
    assert (
        client.post(
            "/people/erase", data={"csrf_token": CSRF, "key": found, "reason": "Đơn yêu cầu xóa"}
        ).status_code
        == 200
    )
    with province.db() as busy:  # another connection open: the WAL is not removed on close
        busy.execute("SELECT 1").fetchone()
        replicate(db, upstream, province.base, db_dir(db))
        for file in ("gocua.db", "gocua.db-wal"):  # nor in the province's WAL or free pages
            path = province.data_dir / file
            assert name.encode() not in path.read_bytes(), file

    assert_same(db, province)
    feed = whole_feed(upstream)
    for gone in (name, address):
        assert gone not in feed
    with province.db() as up:
        kept = "\n".join(
            [r[0] for r in up.execute("SELECT payload FROM changes")]
            + [r[0] for r in up.execute("SELECT answers(data) FROM revisions")]
            + [r[0] for r in up.execute("SELECT answers(data) FROM records")]
            + ["|".join(map(str, r)) for r in up.execute("SELECT * FROM households")]
        )
    for gone in (name, address):
        assert gone not in kept


def test_a_peers_times_and_names_are_checked_before_anything_is_stored(province):
    peer = peer_client(province)
    commune = {"id": COMMUNE, "name": "Xã Minh Họa", "province_code": "99",
               "province_name": "Tỉnh Minh Họa"}  # fmt: skip
    village = {"id": f"{COMMUNE}-v9", "op": "put", "name": "Thôn Chín"}
    household = {"id": str(uuid.uuid4()), "op": "put", "village_id": village["id"],
                 "code": "H1", "head_name": "Nguyễn Văn A", "address": ""}  # fmt: skip
    resolution = {"id": str(uuid.uuid4()), "rev": str(uuid.uuid4()), "resolution": "merged"}
    bad = {
        "merged_at": ("villages", {**village, "merged_into": "x", "merged_at": "hôm qua"}),
        "removed_at": ("households", {**household, "removed_at": "2026-11-30"}),
        "resolved_at": ("resolutions", {**resolution, "resolved_at": "2026-13-45T00:00:00Z"}),
        "name": ("villages", {**village, "name": "x" * 121}),
        "head_name": ("households", {**household, "head_name": "x" * 201}),
        "code": ("households", {**household, "code": "x" * 101}),
    }
    for field, (kind, item) in bad.items():
        with pytest.raises(HttpError) as refused:
            peer.push_batch([], {"source": "s", "checkpoint": 1, "commune": commune, kind: [item]})
        assert refused.value.status == 422, field
        assert field in json.dumps(refused.value.body), (field, refused.value.body)
    with connect(province.database) as up:
        assert up.execute("SELECT count(*) FROM villages").fetchone()[0] == 0
        assert up.execute("SELECT count(*) FROM households").fetchone()[0] == 0
    # The same items with real times are taken.
    peer.push_batch(
        [],
        {"source": "s", "checkpoint": 1, "commune": commune, "villages": [village],
         "households": [{**household, "removed_at": "2026-11-30T04:15:00Z"}]},
    )  # fmt: skip
    with connect(province.database) as up:
        assert up.execute("SELECT removed_at FROM households").fetchone()[0] == (
            "2026-11-30T04:15:00Z"
        )
