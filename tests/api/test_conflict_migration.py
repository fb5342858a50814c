"""Conflicts settled before the server told anyone: upgrading tells both phones, and queues the
resolution for the province, once."""

from __future__ import annotations

import uuid

from server.domain import migrations
from server.domain.db import write_transaction
from tests.api.test_review_helpers import last_seq, other_phone, pull, push
from tests.records import answers_as_text, household_data, record


def test_past_resolutions_reach_both_phones_and_the_outbox_once(client, phone, db):
    village = phone["villages"][0]["id"]
    other = other_phone(client, db, [village])
    first = record(village)
    push(client, phone, first)
    theirs = {**first, "rev": str(uuid.uuid4()), "base_rev": first["rev"]}
    assert push(client, other, theirs)[0]["status"] == "applied"
    mine = {
        **first,
        "rev": str(uuid.uuid4()),
        "base_rev": first["rev"],
        "data": household_data(zalo_group="no"),
    }
    assert push(client, phone, mine)[0]["status"] == "conflict"
    since = last_seq(db)
    # As the server settled it before this step: the revision marked, nobody told.
    with write_transaction(db):
        db.execute("DROP TRIGGER outbox_resolution")
        answers_as_text(db)
        db.execute(
            "UPDATE revisions SET resolved_at = '2026-11-21T00:00:00Z', resolution ="
            " 'kept_current' WHERE rev = ?",
            [mine["rev"]],
        )
        db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm008_conflict_resolutions'")
    assert pull(client, phone, since) == []
    assert migrations.apply(db) == ["m008_conflict_resolutions"]

    for device in (phone, other):
        (change,) = pull(client, device, since)
        assert change["kind"] == "review" and change["id"] == first["id"]
        assert change["data"]["rev"] == theirs["rev"]
        assert change["data"]["resolved"] == {"rev": mine["rev"], "resolution": "kept_current"}
        assert change["data"]["data"] == theirs["data"]
        assert change["data"]["review_state"] == "received"
    outbox = "SELECT kind, entity_id, rev FROM outbox WHERE kind = 'resolution'"
    assert [tuple(r) for r in db.execute(outbox)] == [("resolution", first["id"], mine["rev"])]
    # From now on a trigger queues each resolution, whoever writes it.
    with write_transaction(db):
        db.execute("UPDATE revisions SET resolved_at = NULL WHERE rev = ?", [mine["rev"]])
        db.execute(
            "UPDATE revisions SET resolved_at = '2026-11-22T00:00:00Z' WHERE rev = ?",
            [mine["rev"]],
        )
    assert len(list(db.execute(outbox))) == 2
