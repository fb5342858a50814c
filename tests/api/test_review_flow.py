"""Review → the volunteer's phone pulls the comment → a corrected revision comes back with
what changed → approved; decisions reach only the phones of the volunteer who sent it."""

from __future__ import annotations

import re
import uuid

from markupsafe import escape

from tests.api.test_review_helpers import (
    audit_actions,
    other_phone,
    post,
    problem,
    pull,
    push,
    staff,
    text_of,
)
from tests.records import adult, household_data, record


def test_has_issues_reaches_the_phone_and_the_fix_comes_back_to_be_approved(client, app, phone, db):
    village = phone["villages"][0]["id"]
    item = record(village, data=household_data(members=[adult("Lê Thị Mai", 1910)]))
    assert push(client, phone, item)[0]["status"] == "applied"
    neighbour = other_phone(client, db, [village])
    staff(client, app)
    since = max(c["seq"] for c in pull(client, phone))

    sent = post(
        client,
        f"/records/{item['id']}/review",
        review_state="has_issues",
        rev=item["rev"],
        comment="Năm sinh 1910 có đúng không?",
    )
    assert sent.status_code == 302
    reviews = [c for c in pull(client, phone, since) if c["kind"] == "review"]
    assert [
        (c["id"], c["data"]["review_state"], c["data"]["comment"], c["data"]["rev"])
        for c in reviews
    ] == [(item["id"], "has_issues", "Năm sinh 1910 có đúng không?", item["rev"])]
    assert reviews[0]["data"]["by"] == "Quản trị xã"
    assert not [c for c in pull(client, neighbour) if c["kind"] == "review"]

    fixed = {
        **item,
        "rev": str(uuid.uuid4()),
        "base_rev": item["rev"],
        "data": household_data(members=[adult("Lê Thị Mai", 1960)]),
    }
    assert push(client, phone, fixed)[0]["status"] == "applied"
    page = text_of(client.get(f"/records/{item['id']}"))
    assert 'id="review-state">Đã sửa, chờ duyệt lại<' in page  # to look at again
    changed = page.split(f'id="rev-{fixed["rev"]}"')[1].split("</details>")[0]
    assert 'data-path="members[0].birth_year"' in changed
    assert '<td class="old">1910</td>' in changed and '<td class="new">1960</td>' in changed
    assert 'data-path="members[0].age"' in changed  # the phone recalculated the age
    assert escape("Năm sinh 1910 có đúng không?") in page

    assert (
        post(
            client,
            f"/records/{item['id']}/review",
            review_state="approved",
            rev=fixed["rev"],
            comment="",
        ).status_code
        == 302
    )
    last = [c for c in pull(client, phone, since) if c["kind"] == "review"][-1]["data"]
    assert (last["review_state"], last["rev"]) == ("approved", fixed["rev"])
    state = db.execute("SELECT review_state FROM records WHERE id = ?", [item["id"]]).fetchone()
    assert state[0] == "approved"
    assert audit_actions(db).count("review") == 2


def test_a_decision_on_a_revision_already_replaced_is_refused(client, app, phone, db):
    village = phone["villages"][0]["id"]
    item = record(village)
    push(client, phone, item)
    staff(client, app)
    newer = {**item, "rev": str(uuid.uuid4()), "base_rev": item["rev"]}
    push(client, phone, newer)
    stale = post(client, f"/records/{item['id']}/review", review_state="approved", rev=item["rev"])
    assert stale.status_code == 409
    assert "tải lại trang" in problem(stale)
    assert db.execute("SELECT count(*) FROM reviews").fetchone()[0] == 0


def test_has_issues_needs_a_comment_and_an_unknown_state_is_refused(client, app, phone, db):
    item = record(phone["villages"][0]["id"])
    push(client, phone, item)
    staff(client, app)
    bare = post(
        client,
        f"/records/{item['id']}/review",
        review_state="has_issues",
        rev=item["rev"],
        comment="  ",
    )
    # Back on the record's page, the form as it was sent, the reason beside the comment.
    assert bare.status_code == 422 and "nhận xét" in form_error(bare, "comment-error")
    odd = post(
        client,
        f"/records/{item['id']}/review?lang=en",
        review_state="edited",
        rev=item["rev"],
        comment="x",
    )
    assert odd.status_code == 422 and form_error(odd, "state-error") == "Not a valid state."
    assert db.execute("SELECT review_state FROM records").fetchone()[0] == "received"


def form_error(response, error_id: str) -> str:
    match = re.search(f'id="{error_id}" role="alert">([^<]*)<', text_of(response))
    assert match, text_of(response)[:500]
    return match.group(1)


def test_review_needs_the_csrf_token_and_a_reviewer(client, app, phone, db):
    item = record(phone["villages"][0]["id"])
    push(client, phone, item)
    anonymous = client.post(
        f"/records/{item['id']}/review", data={"review_state": "approved", "rev": item["rev"]}
    )
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    staff(client, app)
    forged = client.post(
        f"/records/{item['id']}/review",
        data={"review_state": "approved", "rev": item["rev"], "csrf_token": "forged"},
    )
    assert forged.status_code == 400
    assert db.execute("SELECT review_state FROM records").fetchone()[0] == "received"
