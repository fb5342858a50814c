"""Follow-up lists per village from the latest visit's answers, and the follow-up on the
household changes phones pull."""

from __future__ import annotations

import re
import uuid
from typing import Any

from server.domain.followups import followup_of
from tests.api.test_review_helpers import last_seq, post, pull, push, staff, text_of
from tests.records import adult, household_data, record


def households_of(db, village):
    return [
        r[0]
        for r in db.execute(
            "SELECT id FROM households WHERE village_id = ? ORDER BY created_at, id", [village]
        )
    ]


def shown(page: str) -> dict[str, str]:
    return dict(re.findall(r'<tr data-household="([^"]+)" data-reason="([^"]+)">', page))


def test_the_answers_that_call_for_another_visit():
    assert followup_of({"outcome": "come_back", "revisit_date": "2026-12-01"}) == {
        "reason": "come_back",
        "date": "2026-12-01",
        "topics": [],
    }
    assert followup_of({"outcome": "nobody_home"})["reason"] == "nobody_home"
    assert followup_of({"outcome": "refused"}) is None
    assert followup_of({"outcome": "empty_house"}) is None
    helped = household_data(members=[adult("A", 1980)])
    assert followup_of(helped) == {
        "reason": "needs_help",
        "date": None,
        "topics": ["digital_signature"],
    }
    content = household_data(members=[{**adult("A", 1980), "needs_help": ["none"]}])
    assert followup_of(content) is None
    later = household_data(
        members=[{**adult("A", 1980), "needs_help": ["none"]}],
        support_given="yes",
        support=[
            {
                "support_member": 1,
                "support_actions": ["install_vneid"],
                "support_result": "revisit",
                "support_revisit_date": "2026-11-27",
            }
        ],
    )
    assert followup_of(later) == {"reason": "needs_help", "date": "2026-11-27", "topics": []}
    # A form of the commune's own may keep a number or a text under that name: no topic, and
    # no failure (a list's names still count).
    for odd in (3, "vneid", None, {"a": 1}):
        assert followup_of({"outcome": "completed", "members": [{"needs_help": odd}]}) is None
    mixed = {"outcome": "completed", "members": [{"needs_help": [4, "vneid", None]}]}
    assert followup_of(mixed) == {"reason": "needs_help", "date": None, "topics": ["vneid"]}


def test_a_visit_of_a_form_whose_members_help_is_a_number_is_stored(admin, client, db, phone):
    # An imported form's own `needs_help` question, an integer in its `members` repeat: the
    # household's follow-up reads none from it, and the push stores the visit (it failed
    # with a 500, the follow-up iterating the number).
    from tests.api.test_admin_forms import publish
    from tests.workbooks import workbook

    rows = [
        ("type", "name", "label", "required"),
        ("text", "outcome", "Outcome", None),
        ("begin_repeat", "members", "Members", None),
        ("text", "ten", "Name", "yes"),
        ("integer", "needs_help", "Times helped", None),
        ("end_repeat", None, None, None),
    ]
    assert publish(admin, workbook(rows, version="1", form_id="giup_so")).status_code == 303
    village = phone["villages"][0]["id"]
    household = households_of(db, village)[0]
    data = {"outcome": "completed", "members": [{"ten": "A", "needs_help": 3}]}
    item = record(village, household, data=data, form_id="giup_so", form_version="1")
    answer = client.post("/api/v1/sync/push", json={"items": [item]}, headers=phone["headers"])
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    assert answer.get_json()["results"][0]["status"] == "applied"
    kept = db.execute(
        "SELECT followup FROM household_followups WHERE household_id = ?", [household]
    ).fetchone()
    assert kept is None or kept[0] == "null"


def test_the_follow_up_list_of_a_village_follows_each_households_latest_visit(
    client, app, phone, db
):
    village = phone["villages"][0]["id"]
    first, second = households_of(db, village)[:2]
    come_back = household_data(outcome="come_back", revisit_date="2026-11-25")
    for key in list(come_back):
        if key not in (
            "start",
            "age_vneid",
            "age_account",
            "age_adult",
            "outcome",
            "revisit_date",
            "consent_notice_version",
        ):
            del come_back[key]
    earlier = record(
        village,
        first,
        data=come_back,
        meta={"started_at": "2026-11-20T01:00:00Z", "visit_date": "2026-11-20"},
    )
    helped = record(village, second)  # the default member needs help with a digital signature
    assert [r["status"] for r in push(client, phone, earlier, helped)] == ["applied"] * 2
    staff(client, app)
    page = text_of(client.get(f"/followups?village={village}"))
    assert shown(page) == {first: "come_back", second: "needs_help"}
    assert page.index(first) < page.index(second)  # the dated visit first
    assert "2026-11-25" in page and "Chữ ký số" in page  # the topic in the form's words

    done = household_data(members=[{**adult("Nguyễn Thị Hoa", 1980), "needs_help": ["none"]}])
    later = record(
        village,
        first,
        data=done,
        meta={"started_at": "2026-11-25T01:00:00Z", "visit_date": "2026-11-25"},
    )
    push(client, phone, later)
    assert shown(text_of(client.get(f"/followups?village={village}"))) == {second: "needs_help"}
    household = text_of(client.get(f"/households/{second}"))
    assert 'id="followup">Có người cần hỗ trợ' in household


def test_staff_edits_that_change_a_follow_up_tell_the_phones(client, app, phone, db):
    village = phone["villages"][0]["id"]
    household = households_of(db, village)[0]
    item = record(village, household)
    push(client, phone, item)
    staff(client, app)
    since = last_seq(db)

    def edit(help_with: str) -> None:
        rev = db.execute("SELECT rev FROM records").fetchone()[0]
        assert (
            post(
                client,
                f"/records/{item['id']}/edit",
                rev=rev,
                **{"q:members:0:needs_help:present": "1", "q:members:0:needs_help": help_with},
            ).status_code
            == 302
        )

    def followups(after: int) -> list[tuple[str, Any]]:
        return [
            (c["id"], c["data"]["followup"])
            for c in pull(client, phone, after)
            if c["kind"] == "household" and c["id"] == household
        ]

    edit("vneid")
    assert followups(since) == [
        (household, {"reason": "needs_help", "date": None, "topics": ["vneid"]})
    ]
    between = last_seq(db)
    edit("none")
    assert followups(between) == [(household, None)]
    # A household's change is its whole state: a phone that pulls only now gets the latest
    # alone, and the feed keeps one row for the household, not one per edit.
    assert followups(since) == [(household, None)]
    assert followups(0) == [(household, None)]
    decided = last_seq(db)
    post(
        client,
        f"/records/{item['id']}/review",
        review_state="approved",
        rev=db.execute("SELECT rev FROM records").fetchone()[0],
    )
    # The decision changes no follow-up: nothing new about the household.
    assert followups(decided) == []


def test_a_pushed_visit_puts_its_follow_up_on_the_household_phones_pull(client, phone, db):
    village = phone["villages"][0]["id"]
    household = households_of(db, village)[0]
    since = last_seq(db)
    push(client, phone, record(village, household, id=str(uuid.uuid4())))
    changes = [c for c in pull(client, phone, since) if c["kind"] == "household"]
    assert [c["data"].get("followup") for c in changes] == [
        {"reason": "needs_help", "date": None, "topics": ["digital_signature"]}
    ]
