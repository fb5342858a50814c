"""A person's rights: found by name across records and the register, exported as JSON, and
erased — the record keeps its shape, no revision or feed entry keeps the name, the audit log
says who and why."""

from __future__ import annotations

import io
import json
import re
import uuid
from pathlib import Path

from server.domain import answers, migrations
from server.domain.audit import audit
from server.domain.db import write_transaction
from server.domain.records.rights import ERASED
from tests.api.test_review_helpers import CSRF, audit_actions, post, problem, push, staff, text_of
from tests.records import adult, child, household_data, record

NAME = "Phạm Văn Đức"


def visit(phone):
    data = household_data(
        head_name=NAME,
        respondent_name=NAME,
        phone="0912345678",
        notes="Anh Đức hẹn tối",
        members=[adult(NAME, 1975, sex="male"), child("Phạm Thị Én", 2015)],
    )
    first = record(phone["villages"][0]["id"], str(uuid.uuid4()), data=data)
    second = {
        **first,
        "rev": str(uuid.uuid4()),
        "base_rev": first["rev"],
        "data": {**data, "address": "Số 4, xóm Chùa"},
    }
    return first, second


def keys_of(page: str) -> list[str]:
    return re.findall(r'<tr data-key="([^"]+)">', page)


def test_a_person_is_found_without_accents_exported_and_erased_everywhere(client, app, phone, db):
    first, second = visit(phone)
    push(client, phone, first)
    push(client, phone, second)
    staff(client, app)
    post(client, f"/records/{first['id']}/review", review_state="approved", rev=second["rev"])

    found = keys_of(text_of(client.get("/people?q=pham van duc")))
    household = first["household_id"]
    assert sorted(found) == sorted(
        [
            f"head:{first['id']}:",
            f"respondent:{first['id']}:",
            f"member:{first['id']}:0",
            f"register:{household}:",
        ]
    )
    assert keys_of(text_of(client.get("/people?q=thị én"))) == [f"member:{first['id']}:1"]

    exported = client.post(
        "/people/export", data={"csrf_token": CSRF, "key": found, "reason": "Yêu cầu ngày 2/12"}
    )
    assert exported.status_code == 200
    assert exported.headers["Content-Disposition"].startswith("attachment;")
    body = json.loads(exported.get_data())
    assert body["format"] == "gocua-person-export"
    member = next(i for i in body["items"] if i.get("role") == "member")
    assert [r["answers"]["member"]["member_name"] for r in member["revisions"]] == [NAME, NAME]
    head = next(i for i in body["items"] if i.get("role") == "head")
    assert [r["answers"]["address"] for r in head["revisions"]] == [
        "Số 12, ngõ 3",
        "Số 4, xóm Chùa",
    ]
    assert "members" not in head["revisions"][0]["answers"]  # other people's rows stay home
    assert "Phạm Thị Én" not in exported.get_data(as_text=True)
    assert any(i["kind"] == "household_register" for i in body["items"])

    refused = client.post("/people/erase", data={"csrf_token": CSRF, "key": found})
    assert refused.status_code == 400 and "lý do" in problem(refused)
    erased = client.post(
        "/people/erase",
        data={"csrf_token": CSRF, "key": found, "reason": "Đơn yêu cầu xóa ngày 2/12"},
    )
    assert erased.status_code == 200 and 'id="erased"' in text_of(erased)

    current = json.loads(db.execute("SELECT answers(data) FROM records").fetchone()[0])
    assert current["head_name"] == current["respondent_name"] == ERASED
    assert current["members"][0]["member_name"] == ERASED
    assert current["members"][1]["member_name"] == "Phạm Thị Én"
    assert "phone" not in current and "notes" not in current
    assert current["members"][0]["birth_year"] == 1975  # the statistics stay
    assert current["residents"] == 2 and len(current["members"]) == 2
    everything = "\n".join(
        [r[0] for r in db.execute("SELECT answers(data) FROM revisions")]
        + [r[0] for r in db.execute("SELECT payload FROM changes")]
        + ["|".join(map(str, r)) for r in db.execute("SELECT * FROM households")]
        + ["|".join(map(str, r)) for r in db.execute("SELECT * FROM audit_log")]
    )
    for gone in (NAME, "0912345678", "Anh Đức hẹn tối", "xóm Chùa"):
        assert gone not in everything
    statuses = [r[0] for r in db.execute("SELECT status FROM revisions ORDER BY rowid")]
    assert statuses == ["superseded", "superseded", "current"]
    log = db.execute(
        "SELECT username, detail, target FROM audit_log WHERE action = 'person_erase'"
    ).fetchall()
    assert [(r["username"], r["detail"]) for r in log] == [("admin", "Đơn yêu cầu xóa ngày 2/12")]
    assert first["id"] in log[0]["target"] and household in log[0]["target"]
    assert {"person_search", "person_export", "person_erase"} <= set(audit_actions(db))
    assert keys_of(text_of(client.get("/people?q=pham van duc"))) == []
    assert client.get(f"/records/{first['id']}").status_code == 200


def test_a_selection_outside_the_commune_or_made_up_is_refused(client, app, phone, db):
    staff(client, app)
    (household,) = db.execute("SELECT id FROM households LIMIT 1").fetchone()
    made_up = ["member:00000000-0000-4000-8000-000000000000:0", "nobody:x:", "head:"]
    for key in [*made_up, f"register:{household}:²"]:  # Unicode calls ² a digit; int() does not
        answer = client.post("/people/export", data={"csrf_token": CSRF, "key": key})
        assert answer.status_code == 400
    assert (
        client.post("/people/erase", data={"csrf_token": CSRF, "reason": "kiểm tra"}).status_code
        == 400
    )
    short = client.get("/people?q=a")
    assert short.status_code == 400


def erase_everywhere(client, query: str = "pham van duc") -> None:
    found = keys_of(text_of(client.get(f"/people?q={query}")))
    assert found
    erased = client.post(
        "/people/erase",
        data={"csrf_token": CSRF, "key": found, "reason": "Đơn yêu cầu xóa ngày 2/12"},
    )
    assert erased.status_code == 200


def test_an_import_preview_that_named_the_person_does_not_keep_them(client, app, phone, db):
    staff(client, app)
    csv = f"Thôn,Tên chủ hộ,Địa chỉ\nThôn Đông,{NAME},Số 4 xóm Chùa\nThôn Tây,Lê Thị Hoa,Số 8\n"
    read = client.post(
        "/households/import",
        data={"csrf_token": CSRF, "file": (io.BytesIO(csv.encode("utf-8")), "ho.csv")},
        content_type="multipart/form-data",
    )
    preview = read.headers["Location"]
    assert NAME in text_of(client.get(preview))
    push(client, phone, visit(phone)[0])

    erase_everywhere(client)
    page = client.get(preview)
    assert page.status_code == 404 or NAME not in text_of(page)
    assert "xóm Chùa" not in text_of(page)
    stored = "\n".join(r[0] for r in db.execute("SELECT rows FROM household_imports"))
    assert NAME not in stored and "xóm Chùa" not in stored


def test_after_an_erasure_the_database_files_hold_no_trace_of_the_name(client, app, phone, db):
    first, second = visit(phone)
    push(client, phone, first)
    push(client, phone, second)
    staff(client, app)
    post(client, f"/records/{first['id']}/review", review_state="approved", rev=second["rev"])
    folder = Path(app.config["DATABASE"]).parent
    raw = NAME.encode("utf-8")
    assert raw in (folder / "gocua.db-wal").read_bytes()  # before: the WAL holds it

    erase_everywhere(client)
    for name in ("gocua.db", "gocua.db-wal"):
        path = folder / name
        content = path.read_bytes() if path.exists() else b""
        assert raw not in content, name
        assert b"0912345678" not in content, name


def stored(db, rev: str) -> dict:
    """The answers the server keeps of revision ``rev``."""
    text = db.execute("SELECT answers(data) FROM revisions WHERE rev = ?", [rev]).fetchone()[0]
    return json.loads(text)


def current(db, record_id: str) -> tuple[str, dict]:
    """The record's current revision and its answers."""
    rev, text = db.execute(
        "SELECT rev, answers(data) FROM records WHERE id = ?", [record_id]
    ).fetchone()
    return rev, json.loads(text)


def late_edit(first, **changes):
    """An edit the phone made of ``first`` and had not sent when the office erased."""
    return {**first, "rev": str(uuid.uuid4()), "base_rev": first["rev"], **changes}


def test_an_edit_the_phone_held_through_the_erasure_does_not_bring_the_person_back(
    client, app, phone, db
):
    first, _ = visit(phone)
    push(client, phone, first)
    staff(client, app)
    erase_everywhere(client)
    # Offline all along: the volunteer corrected the address, and the roster's order changed.
    data = first["data"]
    edit = late_edit(
        first,
        data={**data, "address": "Số 4, xóm Chùa mới", "members": data["members"][::-1]},
    )
    assert [r["status"] for r in push(client, phone, edit)] == ["conflict"]

    kept = json.loads(
        db.execute(
            "SELECT answers(data) FROM revisions WHERE rev = ? AND status = 'conflict'",
            [edit["rev"]],
        ).fetchone()[0]
    )
    # Kept for the office, the erasure applied again: the child's name and the rest stay.
    assert kept["head_name"] == kept["respondent_name"] == kept["address"] == ERASED
    assert [m["member_name"] for m in kept["members"]] == ["Phạm Thị Én", ERASED]
    assert "phone" not in kept and "notes" not in kept
    assert kept["members"][1]["birth_year"] == 1975 and kept["internet"] == "fibre"
    everything = "\n".join(
        [r[0] for r in db.execute("SELECT answers(data) FROM revisions")]
        + [r[0] for r in db.execute("SELECT payload FROM changes")]
    )
    for gone in (NAME, "0912345678", "Anh Đức hẹn tối", "xóm Chùa"):
        assert gone not in everything
    # The office still sees the conflict, to settle it.
    assert f'data-conflict="{edit["rev"]}"' in text_of(client.get(f"/records/{first['id']}"))

    # An edit of that edit (a crafted client's, Collect's): its sender still holds the names.
    chained = late_edit(edit, data={**edit["data"], "internet": "mobile_only"})
    twice = late_edit(chained, data=chained["data"])
    assert [r["status"] for r in push(client, phone, chained, twice)] == ["conflict"] * 2
    for rev in (chained["rev"], twice["rev"]):
        assert NAME not in json.dumps(stored(db, rev), ensure_ascii=False)

    # Based on a revision the server never had: it cannot be known to postdate the erasure.
    stray = late_edit(first, base_rev=str(uuid.uuid4()))
    assert [r["status"] for r in push(client, phone, stray)] == ["conflict"]
    assert NAME not in json.dumps(stored(db, stray["rev"]), ensure_ascii=False)

    # Edits based on the erased version are the volunteer's as they come, a conflict too.
    after, again = edited_twice(client, phone, db, first, respondent_name="Lê Thị Lan")
    for rev in (after["rev"], again["rev"]):
        assert stored(db, rev)["respondent_name"] == "Lê Thị Lan"


def test_an_erased_member_is_found_by_name_in_the_late_edit_and_no_one_else_is_touched(
    client, app, phone, db
):
    first, _ = visit(phone)
    push(client, phone, first)
    staff(client, app)
    member = f"member:{first['id']}:1"
    assert member in keys_of(text_of(client.get("/people?q=thi en")))
    erased = client.post(
        "/people/erase",
        data={"csrf_token": CSRF, "key": [member], "reason": "Đơn của mẹ em Én"},
    )
    assert erased.status_code == 200
    data = first["data"]
    newborn = child("Phạm Văn Tí", 2026)
    edit = late_edit(first, data={**data, "members": [data["members"][1], *data["members"][:1]]})
    assert [r["status"] for r in push(client, phone, edit)] == ["conflict"]
    kept = stored(db, edit["rev"])
    assert [m["member_name"] for m in kept["members"]] == [ERASED, NAME]
    assert kept["head_name"] == NAME and kept["phone"] == "0912345678"  # not the one erased

    # An edit made after the phone took the erased version in is the volunteer's, as it is.
    erased_rev, scrubbed = current(db, first["id"])
    after = late_edit(
        first,
        base_rev=erased_rev,
        data={**scrubbed, "members": [*scrubbed["members"], newborn], "residents": 3},
    )
    assert [r["status"] for r in push(client, phone, after)] == ["applied"]
    _, now = current(db, first["id"])
    assert [m["member_name"] for m in now["members"]] == [NAME, ERASED, "Phạm Văn Tí"]
    # Based on the erased version though no longer the current one: a conflict, as it came.
    again = late_edit(first, base_rev=erased_rev, data={**after["data"], "residents": 3})
    assert [r["status"] for r in push(client, phone, again)] == ["conflict"]
    kept = stored(db, again["rev"])
    assert [m["member_name"] for m in kept["members"]] == [NAME, ERASED, "Phạm Văn Tí"]


def test_erasures_made_before_the_upgrade_are_read_back_from_their_marks(client, app, phone, db):
    first, second = visit(phone)
    push(client, phone, first)
    push(client, phone, second)
    staff(client, app)
    member = f"member:{first['id']}:1"
    erased = client.post(
        "/people/erase", data={"csrf_token": CSRF, "key": [member], "reason": "Đơn yêu cầu xóa"}
    )
    assert erased.status_code == 200
    # Another record, named by a log line with odd ids, its roster not a list of objects.
    odd = record(phone["villages"][0]["id"], str(uuid.uuid4()))
    push(client, phone, odd)
    # As a server erased before it kept its erasures.
    with write_transaction(db):
        db.execute(
            "UPDATE records SET data = ? WHERE id = ?",
            [answers.pack({"members": [3, [1]], "head_name": "Lê Văn Tám"}), odd["id"]],
        )
        audit(
            db,
            "person_erase",
            user_id=None,
            username="admin",
            target=f'{odd["id"]},collect:a"b\\,x',
        )
        db.execute("DROP TABLE record_erasures")
        db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm018_record_erasures'")
    assert migrations.apply(db) == ["m018_record_erasures"]
    ((named, roles, revs),) = db.execute(
        "SELECT record_id, roles, revs FROM record_erasures"
    ).fetchall()
    assert named == first["id"]
    assert json.loads(roles) == ["member"]
    assert sorted(json.loads(revs)) == sorted([first["rev"], second["rev"]])

    late = late_edit(second, data={**second["data"], "internet": "mobile_only"})
    assert [r["status"] for r in push(client, phone, late)] == ["conflict"]
    kept = stored(db, late["rev"])
    assert [m["member_name"] for m in kept["members"]] == [NAME, ERASED]


def test_an_erasure_that_found_nothing_left_leaves_edits_of_the_erased_version_alone(
    client, app, phone, db
):
    first, _ = visit(phone)
    push(client, phone, first)
    staff(client, app)
    head = f"head:{first['id']}:"
    for reason in ("Đơn yêu cầu xóa", "Đơn gửi lần hai"):  # the second finds nothing to erase
        erased = client.post(
            "/people/erase", data={"csrf_token": CSRF, "key": [head], "reason": reason}
        )
        assert erased.status_code == 200
    assert db.execute("SELECT count(*) FROM record_erasures").fetchone()[0] == 2
    # The household has a new head since; the phone took the erased version in, then edited.
    _, again = edited_twice(client, phone, db, first, head_name="Lê Văn Tám")
    assert stored(db, again["rev"])["head_name"] == "Lê Văn Tám"


def edited_twice(client, phone, db, first, **answers):
    """Two edits the phone made of the record's erased (current) version with ``answers``:
    the first stored as current, the second (another answer changed too) a conflict."""
    erased_rev, scrubbed = current(db, first["id"])
    answered = {**scrubbed, **answers}
    after = late_edit(first, base_rev=erased_rev, data=answered)
    again = late_edit(first, base_rev=erased_rev, data={**answered, "internet": "mobile_only"})
    assert [r["status"] for r in push(client, phone, after, again)] == ["applied", "conflict"]
    return after, again
