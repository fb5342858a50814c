"""A push batch reads its households once (``followups.known_households``) and works each
follow-up out from the visit just stored when it is the household's latest: whatever order a
batch's visits come in, the follow-up phones are told must be the one a household's latest
visit calls for, as reading every visit again would give it."""

from __future__ import annotations

import json
import uuid
from typing import Any

from server.domain import feeds
from server.domain.db import connect, write_transaction
from server.domain.followups import household_followup
from server.domain.register import add_household
from server.web import admission
from tests.api.test_push import _at_the_door, _village, push
from tests.records import adult, household_data, record


def helped() -> dict[str, Any]:
    return household_data(members=[{**adult("A", 1980), "needs_help": ["vneid"]}])


def fine() -> dict[str, Any]:
    return household_data(members=[{**adult("B", 1981), "needs_help": ["none"]}])


def told(db: Any, household_id: str) -> Any:
    """What phones were last told of the household: its latest change in the pull feed."""
    row = db.execute(
        "SELECT payload FROM changes WHERE kind = 'household' AND entity_id = ?"
        " ORDER BY seq DESC LIMIT 1",
        [household_id],
    ).fetchone()
    return json.loads(row[0]).get("followup") if row else None


def at(day: str) -> dict[str, str]:
    return {"started_at": f"{day}T01:00:00Z", "visit_date": day}


def test_every_household_is_told_what_its_latest_visit_calls_for(client, phone, db):
    village = _village(phone)
    with write_transaction(db):
        homes = [add_household(db, village, f"Hộ {n}", f"Số {n}")["id"] for n in range(6)]
    a, b, c, d, e, f = homes
    # Visits stored before the batch: the latest of d is a later day than the batch's visit.
    earlier = [
        record(village, d, data=_at_the_door("come_back", revisit_date="2026-12-24"),
               meta=at("2026-11-25")),
        record(village, e, data=helped(), meta=at("2026-11-10")),
        record(village, f, data=_at_the_door("nobody_home"), meta=at("2026-11-10")),
    ]  # fmt: skip
    assert {r["status"] for r in push(client, phone, earlier).get_json()["results"]} == {"applied"}
    corrected = {
        **earlier[2],
        "rev": str(uuid.uuid4()),
        "base_rev": earlier[2]["rev"],
        "data": fine(),
        "meta": at("2026-11-30"),
    }
    batch = [
        # a: two visits in one batch, the second a later day that needs no follow-up.
        record(village, a, data=_at_the_door("nobody_home"), meta=at("2026-11-20")),
        record(village, a, data=fine(), meta=at("2026-11-21")),
        # b: two visits, the second an earlier day: the first stays the latest.
        record(village, b, data=helped(), meta=at("2026-11-22")),
        record(village, b, data=fine(), meta=at("2026-11-19")),
        # c: the same day twice, arriving together: the greater id is the latest.
        record(village, c, data=fine(), meta=at("2026-11-20"), id=f"f{str(uuid.uuid4())[1:]}"),
        record(village, c, data=helped(), meta=at("2026-11-20"), id=f"0{str(uuid.uuid4())[1:]}"),
        # d: a visit of a day before the stored one: the stored one still calls for a visit.
        record(village, d, data=fine(), meta=at("2026-11-21")),
        # e: the stored visit replaced by a later one that needs nothing.
        record(village, e, data=fine(), meta=at("2026-11-20")),
        # f: the stored visit's next revision, a later day, then a visit of a day between
        # them: the revision stays the latest.
        corrected,
        record(village, f, data=helped(), meta=at("2026-11-20")),
    ]
    results = push(client, phone, batch).get_json()["results"]
    assert [r["status"] for r in results] == ["applied"] * len(batch), results
    expected = {
        a: None,
        b: {"reason": "needs_help", "date": None, "topics": ["vneid"]},
        c: None,
        d: {"reason": "come_back", "date": "2026-12-24", "topics": []},
        e: None,
        f: None,
    }
    for household, followup in expected.items():
        assert household_followup(db, household) == followup, household
        assert told(db, household) == followup, household
        stored = db.execute(
            "SELECT followup FROM household_followups WHERE household_id = ?", [household]
        ).fetchone()
        assert (json.loads(stored[0]) if stored else None) == followup, household
    # However many times the batch told a household, the feed keeps its latest put alone.
    puts = db.execute(
        "SELECT entity_id, count(*) FROM changes WHERE kind = 'household' AND op = 'put'"
        " GROUP BY entity_id"
    ).fetchall()
    assert {tuple(r) for r in puts if r[0] in expected} == {(h, 1) for h in expected}


def test_a_replaced_put_waits_while_another_phone_syncs_and_goes_once_it_is_quiet(
    app, client, phone, db
):
    village = _village(phone)
    with write_transaction(db):
        home = add_household(db, village, "Hộ Chờ", "Số 1")["id"]

    def puts() -> list[Any]:
        return [
            json.loads(r[0]).get("followup")
            for r in db.execute(
                "SELECT payload FROM changes WHERE kind = 'household' AND op = 'put'"
                " AND entity_id = ? ORDER BY seq",
                [home],
            )
        ]

    waiting = "SELECT count(*) FROM feed_replaced"
    gate = app.extensions["gocua_admission"]
    other = gate.enter()  # another phone's batch in hand
    try:
        first = [record(village, home, data=helped(), meta=at("2026-11-20"))]
        assert push(client, phone, first).get_json()["results"][0]["status"] == "applied"
        # The register's put, replaced, stays in the feed while a phone syncs.
        assert puts() == [None, {"reason": "needs_help", "date": None, "topics": ["vneid"]}]
        assert db.execute(waiting).fetchone()[0] == 1
    finally:
        gate.leave(other)
    later = [record(village, home, data=fine(), meta=at("2026-11-21"))]
    assert push(client, phone, later).get_json()["results"][0]["status"] == "applied"
    assert puts() == [None]  # quiet: both replaced puts swept, the latest alone stays
    assert db.execute(waiting).fetchone()[0] == 0


def waiting_households(app: Any, client: Any, phone: Any, db: Any, n: int) -> None:
    """``n`` visits that each replace a household's put while another phone syncs: their
    replaced puts wait in the feed."""
    village = _village(phone)
    with write_transaction(db):
        homes = [add_household(db, village, f"Hộ {i}", f"Số {i}")["id"] for i in range(n)]
    gate = app.extensions["gocua_admission"]
    other = gate.enter()
    try:
        pushed = [record(village, home, data=helped(), meta=at("2026-11-20")) for home in homes]
        results = push(client, phone, pushed).get_json()["results"]
        assert [r["status"] for r in results] == ["applied"] * n
    finally:
        gate.leave(other)


WAITING = "SELECT count(*) FROM feed_replaced"


def report(client: Any, phone: Any) -> None:
    """The phone's report at the end of its sync: a write request that holds no sync slot."""
    answer = client.post(
        "/api/v1/device/report",
        json={"unsynced": 0, "app_version": "1.4"},
        headers=phone["headers"],
    )
    assert answer.status_code == 200


def test_a_write_request_that_holds_no_slot_sweeps_only_when_no_phone_syncs(app, client, phone, db):
    waiting_households(app, client, phone, db, 2)
    gate = app.extensions["gocua_admission"]
    other = gate.enter()  # a phone syncing
    try:
        report(client, phone)
        assert db.execute(WAITING).fetchone()[0] == 2
    finally:
        gate.leave(other)
    report(client, phone)  # the last phone's report: the server is quiet
    assert db.execute(WAITING).fetchone()[0] == 0


def test_one_request_sweeps_a_bounded_number_of_times(app, client, phone, db, monkeypatch):
    waiting_households(app, client, phone, db, 3)
    monkeypatch.setattr(feeds, "SWEEP_MOST", 1)
    monkeypatch.setattr(admission, "SWEEP_ROUNDS", 2)
    report(client, phone)
    assert db.execute(WAITING).fetchone()[0] == 1  # the oldest two went, one a sweep
    report(client, phone)
    assert db.execute(WAITING).fetchone()[0] == 0


def test_a_sweep_that_fails_leaves_the_puts_for_the_next_and_the_answer_stands(
    app, client, phone, db
):
    waiting_households(app, client, phone, db, 1)
    failing = connect(app.config["DATABASE"])
    failing.execute("PRAGMA query_only = 1")  # every write refused, as a full disk would
    with app.test_request_context("/api/v1/device/report", method="POST"):
        admission.sweep_when_quiet(failing)
    assert db.execute(WAITING).fetchone()[0] == 1
    report(client, phone)
    assert db.execute(WAITING).fetchone()[0] == 0
