"""Staff edits (a new revision, checked by the form's rules, with its diff) and conflicts
settled by choosing or merging, never by losing a version."""

from __future__ import annotations

import json
import uuid

from markupsafe import escape

from schemas.form import Form
from server.domain.db import write_transaction
from server.domain.forms import install_form
from tests.api.test_review_helpers import (
    audit_actions,
    post,
    problem,
    pull,
    push,
    staff,
    text_of,
)
from tests.records import adult, child, household_data, record


def revisions(db, record_id):
    return db.execute(
        "SELECT rev, base_rev, status, device_id, user_id, resolution"
        " FROM revisions WHERE record_id = ? ORDER BY rowid",
        [record_id],
    ).fetchall()


def admin_id(db):
    return db.execute("SELECT id FROM users WHERE username = 'admin'").fetchone()[0]


def test_a_staff_edit_is_a_checked_new_revision_with_its_diff(client, app, phone, db):
    item = record(
        phone["villages"][0]["id"],
        data=household_data(
            head_name="Nguyen Thi Hoa",
            members=[adult("Nguyễn Thị Hoa", 1980), child("Nguyễn Văn Nam", 2016)],
        ),
    )
    push(client, phone, item)
    staff(client, app)
    form = text_of(client.get(f"/records/{item['id']}/edit"))
    assert 'name="q:head_name" value="Nguyen Thi Hoa"' in form
    assert 'name="q:members:1:birth_year"' in form

    saved = post(
        client,
        f"/records/{item['id']}/edit",
        rev=item["rev"],
        **{"q:head_name": "Nguyễn Thị Hoa", "q:members:1:birth_year": "2015"},
        comment="Sửa dấu tên chủ hộ",
    )
    assert saved.status_code == 302
    rows = revisions(db, item["id"])
    assert [(r["status"], r["device_id"], r["user_id"]) for r in rows] == [
        ("superseded", phone["device_id"], rows[0]["user_id"]),
        ("current", None, admin_id(db)),
    ]
    new_rev = rows[1]["rev"]
    assert rows[1][1] == item["rev"]
    stored = json.loads(
        db.execute("SELECT answers(data) FROM records WHERE id = ?", [item["id"]]).fetchone()[0]
    )
    assert stored["head_name"] == "Nguyễn Thị Hoa"
    assert stored["members"][1]["birth_year"] == 2015
    assert stored["members"][1]["age"] == 11  # worked out again for the visit's year
    assert dict(db.execute("SELECT review_state, rev, device_id FROM records").fetchone()) == {
        "review_state": "edited",
        "rev": new_rev,
        "device_id": phone["device_id"],
    }

    page = text_of(client.get(f"/records/{item['id']}"))
    change = page.split(f'id="rev-{new_rev}"')[1].split("</details>")[0]
    assert '<tr data-path="head_name">' in change
    assert f'<td class="old">{escape("Nguyen Thi Hoa")}</td>' in change
    assert f'<td class="new">{escape("Nguyễn Thị Hoa")}</td>' in change
    assert 'data-path="members[1].birth_year"' in change
    assert 'data-path="members[0].birth_year"' not in change  # unchanged answers stay out
    assert "edit_record" in audit_actions(db)
    edited = [c["data"] for c in pull(client, phone) if c["kind"] == "review"]
    assert [(e["review_state"], e["rev"], e["comment"]) for e in edited] == [
        ("edited", new_rev, "Sửa dấu tên chủ hộ")
    ]


def test_an_edit_that_breaks_the_form_rules_is_shown_back_and_not_stored(client, app, phone, db):
    item = record(phone["villages"][0]["id"])
    push(client, phone, item)
    staff(client, app)
    bad = post(
        client,
        f"/records/{item['id']}/edit",
        rev=item["rev"],
        **{"q:residents": "0", "q:members:0:birth_year": "một chín tám"},
    )
    assert bad.status_code == 422
    page = text_of(bad)
    assert 'id="edit-errors"' in page and "members[0].birth_year" in page
    assert "Phải là số nguyên." in page
    emptied = post(client, f"/records/{item['id']}/edit", rev=item["rev"], **{"q:residents": "0"})
    assert emptied.status_code == 422 and 'data-path="residents"' in text_of(emptied)
    required = post(client, f"/records/{item['id']}/edit", rev=item["rev"], **{"q:head_name": ""})
    assert required.status_code == 422
    assert escape("Cần trả lời câu này.") in text_of(required)
    assert len(revisions(db, item["id"])) == 1
    assert "edit_record" not in audit_actions(db)


def test_an_edit_of_a_revision_replaced_meanwhile_is_refused(client, app, phone, db):
    item = record(phone["villages"][0]["id"])
    push(client, phone, item)
    staff(client, app)
    push(client, phone, {**item, "rev": str(uuid.uuid4()), "base_rev": item["rev"]})
    stale = post(client, f"/records/{item['id']}/edit", rev=item["rev"], **{"q:head_name": "Ai đó"})
    assert stale.status_code == 409 and problem(stale)
    nothing = post(
        client,
        f"/records/{item['id']}/edit",
        rev=db.execute("SELECT rev FROM records").fetchone()[0],
    )
    assert nothing.status_code == 400 and "Không có gì thay đổi" in problem(nothing)


def small_form(db) -> Form:
    """A form whose calculations give a ratio and a yes/no, installed next to the default."""
    definition = {
        "settings": {"form_id": "ho_nho", "version": "1"},
        "survey": [
            {"type": "integer", "name": "households"},
            {"type": "integer", "name": "people"},
            {
                "type": "calculate",
                "name": "per_household",
                "calculation": "${people} div ${households}",
            },
            {"type": "calculate", "name": "crowded", "calculation": "${people} > 5"},
        ],
    }
    with write_transaction(db):
        return install_form(db, definition)[0]


def stored_data(db, record_id):
    return json.loads(
        db.execute("SELECT answers(data) FROM records WHERE id = ?", [record_id]).fetchone()[0]
    )


def test_an_edit_settles_calculations_as_the_phone_does(client, app, phone, db):
    # As the phone settled it: 4 div 2 = 2; 4 > 5 is false, stored as the text 'false'.
    item = record(
        phone["villages"][0]["id"],
        form=small_form(db),
        data={"households": 2, "people": 4, "per_household": 2, "crowded": "false"},
    )
    push(client, phone, item)
    staff(client, app)
    saved = post(
        client,
        f"/records/{item['id']}/edit",
        rev=item["rev"],
        **{"q:households": "0", "q:people": "6"},
    )
    assert saved.status_code == 302
    # 6 > 5 is stored 'true' as the phone stores it; 6 div 0 is not a finite number, so the
    # phone keeps no answer, and neither does the office.
    assert stored_data(db, item["id"]) == {"households": 0, "people": 6, "crowded": "true"}


def test_an_edit_works_out_a_calculation_the_record_had_no_answer_for(client, app, phone, db):
    # Pushed with no households: 3 div 0 left no per_household answer on the phone.
    item = record(
        phone["villages"][0]["id"],
        form=small_form(db),
        data={"households": 0, "people": 3, "crowded": "false"},
    )
    push(client, phone, item)
    staff(client, app)
    saved = post(
        client,
        f"/records/{item['id']}/edit",
        rev=item["rev"],
        **{"q:households": "2", "q:people": "3"},
    )
    assert saved.status_code == 302
    assert stored_data(db, item["id"]) == {
        "households": 2,
        "people": 3,
        "per_household": 1.5,
        "crowded": "false",
    }


def test_an_edit_that_lowers_the_residents_drops_the_members_beyond_them(client, app, phone, db):
    item = record(
        phone["villages"][0]["id"],
        data=household_data(members=[adult("Nguyễn Thị Hoa", 1980), child("Nguyễn Văn Nam", 2016)]),
    )
    push(client, phone, item)
    staff(client, app)
    saved = post(client, f"/records/{item['id']}/edit", rev=item["rev"], **{"q:residents": "1"})
    assert saved.status_code == 302  # the phone would fit the roster to one member too
    assert [m["member_name"] for m in stored_data(db, item["id"])["members"]] == ["Nguyễn Thị Hoa"]


def conflicted(client, app, phone, db):
    """A record the staff edited while the phone edited it too: the phone's is a conflict."""
    item = record(phone["villages"][0]["id"], data=household_data(internet="fibre"))
    push(client, phone, item)
    staff(client, app)
    post(
        client, f"/records/{item['id']}/edit", rev=item["rev"], **{"q:head_name": "Nguyễn Thị Hoà"}
    )
    mine = {
        **item,
        "rev": str(uuid.uuid4()),
        "base_rev": item["rev"],
        "data": household_data(internet="mobile_only", head_name="Nguyễn T. Hoa"),
    }
    result = push(client, phone, mine)[0]
    assert result["status"] == "conflict"
    return item, mine, result["server_rev"]


def test_a_conflict_is_merged_question_by_question_and_both_versions_stay(client, app, phone, db):
    item, mine, staff_rev = conflicted(client, app, phone, db)
    page = text_of(client.get(f"/records/{item['id']}"))
    assert f"/records/{item['id']}/conflicts/{mine['rev']}" in page
    side = text_of(client.get(f"/records/{item['id']}/conflicts/{mine['rev']}"))
    assert '<tr data-question="internet" class="differs">' in side
    assert '<tr data-question="head_name" class="differs">' in side
    assert '<tr data-question="residents" class="same">' in side

    done = post(
        client,
        f"/records/{item['id']}/conflicts/{mine['rev']}",
        rev=staff_rev,
        choice="merge",
        **{"pick:internet": "other", "pick:head_name": "current"},
    )
    assert done.status_code == 302
    data = json.loads(db.execute("SELECT answers(data) FROM records").fetchone()[0])
    assert (data["internet"], data["head_name"]) == ("mobile_only", "Nguyễn Thị Hoà")
    rows = {r["rev"]: r for r in revisions(db, item["id"])}
    assert rows[mine["rev"]]["status"] == "conflict" and rows[mine["rev"]]["resolution"] == "merged"
    current = [r for r in rows.values() if r["status"] == "current"]
    assert len(current) == 1 and current[0]["base_rev"] == staff_rev
    kept = json.loads(
        db.execute("SELECT answers(data) FROM revisions WHERE rev = ?", [mine["rev"]]).fetchone()[0]
    )
    assert kept == mine["data"]  # the phone's version is still there, whole
    assert f"/conflicts/{mine['rev']}" not in text_of(client.get(f"/records/{item['id']}"))
    assert "resolve_conflict" in audit_actions(db)


def test_keeping_the_current_version_marks_the_conflict_resolved_without_a_revision(
    client, app, phone, db
):
    item, mine, staff_rev = conflicted(client, app, phone, db)
    before = len(revisions(db, item["id"]))
    post(client, f"/records/{item['id']}/conflicts/{mine['rev']}", rev=staff_rev, choice="current")
    rows = revisions(db, item["id"])
    assert len(rows) == before
    assert [r["resolution"] for r in rows if r["rev"] == mine["rev"]] == ["kept_current"]
    assert db.execute("SELECT rev FROM records").fetchone()[0] == staff_rev


def test_taking_the_phones_version_makes_it_current_on_top_of_the_staff_edit(
    client, app, phone, db
):
    item, mine, staff_rev = conflicted(client, app, phone, db)
    post(client, f"/records/{item['id']}/conflicts/{mine['rev']}", rev=staff_rev, choice="other")
    data = json.loads(db.execute("SELECT answers(data) FROM records").fetchone()[0])
    assert data == mine["data"]
    assert [r["base_rev"] for r in revisions(db, item["id"]) if r["status"] == "current"] == [
        staff_rev
    ]


def test_a_range_answer_shows_as_its_number_and_is_edited_in_a_bounded_number_input(
    client, app, phone, db
):
    definition = {
        "settings": {"form_id": "thang_do", "version": "1", "default_language": "vi"},
        "survey": [
            {
                "type": "range",
                "name": "hai_long",
                "label": "Mức hài lòng",
                "parameters": "start=10 end=0 step=2.5",
            }
        ],
        "choices": [],
    }
    with write_transaction(db):
        install_form(db, definition)
    item = record(phone["villages"][0]["id"], data={"hai_long": 7.5}, form=Form(definition))
    push(client, phone, item)
    staff(client, app)
    assert "7.5" in text_of(client.get(f"/records/{item['id']}"))
    form = text_of(client.get(f"/records/{item['id']}/edit"))
    assert 'type="number" name="q:hai_long" min="0" max="10" step="2.5" value="7.5"' in form
    # Off the slider's steps: refused in the catalogue's words, and nothing is saved.
    off = post(client, f"/records/{item['id']}/edit", rev=item["rev"], **{"q:hai_long": "6"})
    assert off.status_code == 422 and escape("Phải là một nấc trên thanh trượt.") in text_of(off)
    assert len(revisions(db, item["id"])) == 1
    saved = post(client, f"/records/{item['id']}/edit", rev=item["rev"], **{"q:hai_long": "5"})
    assert saved.status_code == 302
    stored = json.loads(
        db.execute("SELECT answers(data) FROM records WHERE id = ?", [item["id"]]).fetchone()[0]
    )
    assert stored == {"hai_long": 5}
