"""Villages added, renamed and merged as versions; households edited and removed; every
change phones must know is in their pull feed."""

from __future__ import annotations

from server.domain.db import write_transaction
from server.domain.register import add_household
from tests.api.test_review_helpers import (
    audit_actions,
    last_seq,
    other_phone,
    post,
    problem,
    pull,
    push,
    reviewer,
    staff,
    text_of,
)
from tests.records import record


def village_id(db, name):
    return db.execute("SELECT id FROM villages WHERE name = ?", [name]).fetchone()[0]


def test_a_new_village_and_a_rename_are_kept_as_history_and_reach_phones(client, app, phone, db):
    staff(client, app)
    assert post(client, "/villages", name="  Thôn   Nam  ").status_code == 302
    assert db.execute("SELECT count(*) FROM villages WHERE name = 'Thôn Nam'").fetchone()[0] == 1
    duplicate = post(client, "/villages", name="thôn nam")
    assert duplicate.status_code == 400 and "Thôn Nam" in problem(duplicate)

    east = village_id(db, "Thôn Đông")
    since = last_seq(db)
    assert post(client, f"/villages/{east}/rename", name="Thôn Đông Hải").status_code == 302
    history = db.execute(
        "SELECT name, valid_to IS NULL FROM village_names WHERE village_id = ? ORDER BY id", [east]
    ).fetchall()
    assert [tuple(r) for r in history] == [("Thôn Đông", 0), ("Thôn Đông Hải", 1)]
    changes = pull(client, phone, since)
    assert [(c["kind"], c["id"], c["op"], c["data"]["name"]) for c in changes] == [
        ("village", east, "put", "Thôn Đông Hải")
    ]
    page = text_of(client.get("/villages"))
    assert "Thôn Đông Hải" in page and "Thôn Đông <span" in page  # the old name, dated
    assert {"village_add", "village_rename"} <= set(audit_actions(db))


def test_a_merge_keeps_old_records_pointing_at_their_village_and_moves_the_households(
    client, app, phone, db
):
    east, west = village_id(db, "Thôn Đông"), village_id(db, "Thôn Tây")
    north = village_id(db, "Thôn Bắc Sơn")
    item = record(east)
    push(client, phone, item)
    north_phone = other_phone(client, db, [north])
    staff(client, app)
    since, north_since = last_seq(db), last_seq(db)
    households = [
        r[0] for r in db.execute("SELECT id FROM households WHERE village_id = ?", [east])
    ]
    assert households

    assert post(client, "/villages/merge", source=east, target=north).status_code == 302
    assert dict(
        db.execute("SELECT active, merged_into FROM villages WHERE id = ?", [east]).fetchone()
    ) == {"active": 0, "merged_into": north}
    assert db.execute("SELECT village_id FROM records").fetchone()[0] == east
    moved = {
        db.execute("SELECT village_id FROM households WHERE id = ?", [h]).fetchone()[0]
        for h in households
    }
    assert moved == {north}
    listing = text_of(client.get(f"/?village={north}"))
    assert f"/records/{item['id']}" in listing  # the survivor shows the merged one's records

    # The merged village's volunteer: the village goes, the survivor and its households come.
    mine = pull(client, phone, since)
    assert ("village", east, "delete") in [(c["kind"], c["id"], c["op"]) for c in mine]
    assert ("village", north, "put") in [(c["kind"], c["id"], c["op"]) for c in mine]
    got = {c["id"]: c["data"] for c in mine if c["kind"] == "household"}
    assert set(households) <= set(got) and all(got[h]["village_id"] == north for h in households)
    # The survivor's own volunteer learns of the households that joined it.
    theirs = pull(client, north_phone, north_since)
    assert set(households) <= {c["id"] for c in theirs if c["kind"] == "household"}
    assert east not in {c["id"] for c in theirs if c["kind"] == "village"}
    assert {
        r[0]
        for r in db.execute(
            "SELECT village_id FROM user_villages WHERE user_id ="
            " (SELECT id FROM users WHERE username = 'tnv.demo')"
        )
    } == {east, west, north}

    again = post(client, "/villages/merge", source=east, target=west)
    assert again.status_code == 400
    same = post(client, "/villages/merge", source=west, target=west)
    assert same.status_code == 400
    assert "village_merge" in audit_actions(db)


def test_a_merge_writes_the_feed_once_per_household_however_many_volunteers_it_gives(
    client, app, phone, db
):
    """A merge once wrote every survivor's household again for each volunteer it gave the
    survivor, in one write transaction (households x volunteers: pushes waited past the busy
    timeout). Now each household once, scoped to the survivor, whose volunteers all see it."""
    east, north = village_id(db, "Thôn Đông"), village_id(db, "Thôn Bắc Sơn")
    with write_transaction(db):
        for i in range(40):
            add_household(db, (east, north)[i % 2], f"Hộ {i}")
    phones = [phone, *(other_phone(client, db, [east], f"tnv.dong{i}") for i in range(3))]
    own = [r[0] for r in db.execute("SELECT id FROM households WHERE village_id = ?", [north])]
    moved = [r[0] for r in db.execute("SELECT id FROM households WHERE village_id = ?", [east])]
    staff(client, app)
    since = last_seq(db)
    assert post(client, "/villages/merge", source=east, target=north).status_code == 302
    written = db.execute(
        "SELECT kind, entity_id, op, village_id, user_id FROM changes WHERE seq > ?", [since]
    ).fetchall()
    assert len(written) == len(own) + len(moved) + 2  # the survivor's put, the merged's delete
    assert {w[3] for w in written if w[0] == "household"} == {north}
    assert all(w[4] is None for w in written)
    for each in phones:  # every volunteer given the survivor: its households, old and new
        got = {c["id"] for c in pull(client, each, since) if c["kind"] == "household"}
        assert got == set(own) | set(moved)


def test_a_household_is_edited_and_removed_and_phones_hear_of_it(client, app, phone, db):
    household = db.execute(
        "SELECT id FROM households WHERE village_id = ?", [village_id(db, "Thôn Tây")]
    ).fetchone()[0]
    staff(client, app)
    since = last_seq(db)
    post(
        client,
        f"/households/{household}",
        action="update",
        head_name="Trần Thị Bình An",
        address="Cạnh nhà văn hóa thôn",
    )
    post(client, f"/households/{household}", action="remove")
    changes = [(c["kind"], c["op"], c["data"].get("head_name")) for c in pull(client, phone, since)]
    assert changes == [("household", "put", "Trần Thị Bình An"), ("household", "delete", None)]
    assert (
        db.execute(
            "SELECT removed_at IS NOT NULL FROM households WHERE id = ?", [household]
        ).fetchone()[0]
        == 1
    )
    assert household not in text_of(client.get("/households?village=" + village_id(db, "Thôn Tây")))


def test_changing_the_register_is_for_the_admin(client, app, db):
    reviewer(client, db)
    assert client.get("/villages").status_code == 200
    assert client.get("/followups").status_code == 200
    assert post(client, "/villages", name="Thôn Mới").status_code == 403
    assert client.get("/households/import").status_code == 403
    assert client.get("/people").status_code == 403
    assert db.execute("SELECT count(*) FROM villages WHERE name = 'Thôn Mới'").fetchone()[0] == 0


def test_a_village_merged_into_another_is_the_same_place_for_its_households(client, app, db):
    from server.domain.register import same_place

    east, west = village_id(db, "Thôn Đông"), village_id(db, "Thôn Tây")
    north = village_id(db, "Thôn Bắc Sơn")
    staff(client, app)
    post(client, "/villages/merge", source=east, target=north)
    assert same_place(db, east, north) and same_place(db, north, north)
    assert not same_place(db, west, north) and not same_place(db, north, east)


def test_a_visit_made_before_a_merge_still_syncs(client, app, phone, db):
    east, north = village_id(db, "Thôn Đông"), village_id(db, "Thôn Bắc Sơn")
    household = db.execute("SELECT id FROM households WHERE village_id = ?", [east]).fetchone()[0]
    staff(client, app)
    post(client, "/villages/merge", source=east, target=north)
    assert push(client, phone, record(east, household))[0]["status"] == "applied"


def test_a_merge_of_a_merge_means_one_thing_on_the_register_and_in_the_reports(client, app, db):
    """Xóm Một merged into Xóm Hai, then Xóm Hai into Xóm Ba: every page that asks "this
    village and what merged into it" gets the same answer from the register."""
    from server.domain import register
    from server.domain.reports import service as reports

    staff(client, app)
    for name in ("Xóm Một", "Xóm Hai", "Xóm Ba"):
        assert post(client, "/villages", name=name).status_code == 302
    east, west, north = (village_id(db, n) for n in ("Xóm Một", "Xóm Hai", "Xóm Ba"))
    assert post(client, "/villages/merge", source=east, target=west).status_code == 302
    assert post(client, "/villages/merge", source=west, target=north).status_code == 302
    assert set(register.village_ids_under(db, north)) == {north, west, east}
    assert set(register.village_ids_under(db, west)) == {west, east}
    assert register.village_ids_under(db, east) == [east]
    assert register.survivors(db, "99999") == {east: north, west: north}
    current = {v["id"] for v in register.current_villages(db, "99999")}
    assert north in current and not current & {east, west}
    listed = [v["id"] for v in register.villages(db, "99999")]
    assert listed.index(north) < listed.index(east) and listed.index(north) < listed.index(west)
    report = reports.dashboard(db, "99999", north, approved=False, lang="vi", with_volunteers=False)
    assert [v["id"] for v in report["villages"]] == [north]
