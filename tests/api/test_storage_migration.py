"""Migration m009 on a database as the server kept it before: answers as JSON text in both
tables, each record's contribution to the reports as JSON. Converted in place: every answer
identical, every figure the same, nothing queued for a recount or for the province."""

from __future__ import annotations

import json
import uuid
from typing import Any

from server.domain import answers, migrations
from server.domain.db import write_transaction
from server.domain.reports import service
from server.domain.reports.facts import _contribution, refresh_dirty
from tests.api.test_review_helpers import other_phone, push
from tests.records import answers_as_text, household_data, record

SUMS = {
    "report_totals": "SELECT * FROM report_totals ORDER BY 1, 2, 3, 4, 5",
    "report_volunteers": "SELECT * FROM report_volunteers ORDER BY 1, 2, 3, 4, 5, 6",
}


def as_before_m009(db: Any) -> None:
    """Put the database back in the shape migration m008 left it in (with what the server
    wrote until then), inside one transaction."""
    facts = migrations._RECORD_FACTS
    for trigger in ("records_facts_insert", "records_facts_update", "records_report_update"):
        db.execute(f"DROP TRIGGER {trigger}")
    db.execute("DROP TRIGGER outbox_revision_data")
    answers_as_text(db)
    for statement in (
        f"CREATE TRIGGER records_facts_insert AFTER INSERT ON records"
        f" BEGIN UPDATE records SET {facts} WHERE id = NEW.id; END",
        f"CREATE TRIGGER records_facts_update AFTER UPDATE OF data, meta ON records"
        f" BEGIN UPDATE records SET {facts} WHERE id = NEW.id; END",
        "CREATE TRIGGER records_report_update AFTER UPDATE ON records"
        " BEGIN INSERT OR IGNORE INTO report_dirty (record_id) VALUES (NEW.id);"
        " INSERT OR IGNORE INTO report_dirty (record_id) VALUES (OLD.id); END",
        "CREATE TRIGGER outbox_revision_data AFTER UPDATE OF data ON revisions"
        " WHEN OLD.data IS NOT NEW.data BEGIN"
        " INSERT INTO outbox (kind, entity_id, rev, commune_id) VALUES ('revision_data',"
        " NEW.record_id, NEW.rev, (SELECT commune_id FROM records WHERE id = NEW.record_id));"
        " END",
        "CREATE INDEX records_village ON records(commune_id, village_id, received_at)",
        "CREATE INDEX records_list_outcome ON records(commune_id, outcome, received_at, id,"
        " village_id, user_id, review_state, needs_help)",
        "CREATE INDEX records_list_help ON records(commune_id, needs_help, received_at, id,"
        " village_id, user_id, review_state, outcome)",
        "ALTER TABLE report_facts ADD COLUMN contrib TEXT NOT NULL DEFAULT '{}'",
        "CREATE INDEX report_facts_commune ON report_facts(commune_id, user_id)",
    ):
        db.execute(statement)
    for row in db.execute("SELECT * FROM report_facts").fetchall():
        contrib = json.dumps(
            _contribution(dict(row), row["roles"]), separators=(",", ":"), sort_keys=True
        )
        db.execute(
            "UPDATE report_facts SET contrib = ? WHERE record_id = ?", [contrib, row["record_id"]]
        )
    for statement in (
        "ALTER TABLE report_facts DROP COLUMN roles",
        "DELETE FROM report_totals WHERE scope = 'states'",
        "DELETE FROM report_state WHERE key = 'counted_at'",
        "DROP TABLE report_volunteers",
        "DROP TRIGGER register_counts_insert",
        "DROP TRIGGER register_counts_update",
        "DROP TRIGGER register_counts_delete",
        "DROP TABLE register_counts",
        "DELETE FROM _sqlite_migrations WHERE name = 'm009_packed_answers'",
    ):
        db.execute(statement)


def test_answers_are_packed_in_place_and_every_figure_stays(client, db, phone):
    village = phone["villages"][0]["id"]
    household = db.execute(
        "SELECT id FROM households WHERE village_id = ? ORDER BY code", [village]
    ).fetchone()[0]
    first = record(village, household)
    edited = {
        **first,
        "rev": str(uuid.uuid4()),
        "base_rev": first["rev"],
        "data": household_data(head_name="Lò Văn Mới", zalo_group="no"),
    }
    mine = {**first, "rev": str(uuid.uuid4()), "base_rev": first["rev"]}
    other = record(village, data={"outcome": "nobody_home"})
    assert [r["status"] for r in push(client, phone, first, other)] == ["applied"] * 2
    assert push(client, other_phone(client, db, [village]), edited)[0]["status"] == "applied"
    assert push(client, phone, mine)[0]["status"] == "conflict"
    with write_transaction(db):
        db.execute("UPDATE records SET review_state = 'approved' WHERE id = ?", [other["id"]])
    refresh_dirty(db)
    report = service.dashboard(db, "99999", None, False, "vi", with_volunteers=True)
    sums = {name: db.execute(sql).fetchall() for name, sql in SUMS.items()}
    with write_transaction(db):
        as_before_m009(db)
    stored = {(r[0], r[1]): r[2] for r in db.execute("SELECT record_id, rev, data FROM revisions")}
    current = dict(db.execute("SELECT id, data FROM records").fetchall())
    assert len(stored) == 4 and all(isinstance(v, str) for v in stored.values())
    outbox = db.execute("SELECT max(seq) FROM outbox").fetchone()[0]
    assert db.execute("SELECT count(*) FROM report_dirty").fetchone()[0] == 0

    assert migrations.apply(db) == ["m009_packed_answers"]

    packed = db.execute("SELECT record_id, rev, data FROM revisions").fetchall()
    assert all(isinstance(r[2], bytes) for r in packed)
    assert {(r[0], r[1]): answers.text(r[2]) for r in packed} == stored  # byte for byte
    assert {r[0]: answers.text(r[1]) for r in db.execute("SELECT id, data FROM records")} == (
        current
    )
    assert sum(len(r[2]) for r in packed) * 4 < sum(len(v.encode()) for v in stored.values())
    # No answer changed: nothing to recount, nothing new for the province.
    assert db.execute("SELECT count(*) FROM report_dirty").fetchone()[0] == 0
    assert db.execute("SELECT max(seq) FROM outbox").fetchone()[0] == outbox
    assert {name: db.execute(sql).fetchall() for name, sql in SUMS.items()} == sums
    again = service.dashboard(db, "99999", None, False, "vi", with_volunteers=True)
    assert {**again, "freshness": None} == {**report, "freshness": None}
    assert again["freshness"]["pending"] == 0 and again["freshness"]["counted_at"]
    # The list's facts are worked out from packed answers as they were from text.
    assert db.execute("SELECT outcome FROM records WHERE id = ?", [other["id"]]).fetchone()[0] == (
        "nobody_home"
    )
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
