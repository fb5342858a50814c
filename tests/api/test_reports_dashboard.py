"""The reports over HTTP: the hand-made households of tests/unit/test_indicators.py pushed by a
phone, then read back from the JSON API, the dashboard, the province overview, as each role."""

from __future__ import annotations

import json
import random
import re
import threading
import time
import uuid
from typing import Any

import pytest

from schemas import indicators as indicator_files
from server.domain.accounts import add_user
from server.domain.db import connect, now_iso, write_transaction
from server.domain.register import add_commune, add_household, add_village
from server.domain.reports import background, facts, service
from server.domain.reports.facts import rebuild, refresh_dirty
from tests.records import household_data, record
from tests.unit.test_indicators import EXPECTED, A, B, C, D

PASSWORD = "mat-khau-du-dai-123"


def login_as(
    client: Any,
    db: Any,
    role: str,
    commune_id: str | None = "99999",
    province_code: str | None = None,
) -> dict[str, Any]:
    username = f"{role}.{uuid.uuid4().hex[:6]}"
    with write_transaction(db):
        user = add_user(
            db,
            username,
            f"Cán bộ {role}",
            role,
            commune_id,
            password=PASSWORD,
            province_code=province_code,
        )
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return user


def store(
    db: Any,
    village_id: str,
    household_id: str | None,
    data: dict[str, Any],
    visit_date: str = "2026-11-20",
    state: str = "received",
    user_id: int | None = None,
) -> str:
    """A record put straight into the table, as a server edit or a rights deletion leaves one
    (B has answers missing, which a phone could not send)."""
    rid, now = str(uuid.uuid4()), now_iso()
    with write_transaction(db):
        db["records"].insert(
            {
                "id": rid,
                "rev": str(uuid.uuid4()),
                "commune_id": "99999",
                "village_id": village_id,
                "household_id": household_id,
                "form_id": "ho_gia_dinh_cds",
                "form_version": "2026.11.1",
                "data": json.dumps(data, ensure_ascii=False),
                "meta": json.dumps({"visit_date": visit_date}),
                "device_id": None,
                "user_id": user_id,
                "review_state": state,
                "received_at": now,
                "updated_at": now,
            }
        )
    return rid


def push(client: Any, phone: dict[str, Any], *items: dict[str, Any]) -> None:
    response = client.post(
        "/api/v1/sync/push", json={"items": list(items)}, headers=phone["headers"]
    )
    assert [r["status"] for r in response.get_json()["results"]] == ["applied"] * len(items)


@pytest.fixture
def sweep(client: Any, db: Any, phone: dict[str, Any]) -> dict[str, Any]:
    """Village V: two listed households (A and C visit them), a third listed for B, and D met
    on the lane (it joins the register): 4 listed, 4 visited, 2 surveyed, 7 people. The
    commune's other village has its 2 listed households unvisited: 6 listed in the commune."""
    village = phone["villages"][0]["id"]
    listed = [
        r[0]
        for r in db.execute(
            "SELECT id FROM households WHERE village_id = ? ORDER BY code", [village]
        )
    ]
    assert len(listed) == 2
    with write_transaction(db):
        third = add_household(db, village, "Quàng Thị B Một")["id"]
    items = {
        "A": record(village, listed[0], data=A),
        "C": record(village, listed[1], data=C),
        "D": record(village, str(uuid.uuid4()), data=D),
    }
    push(client, phone, *items.values())
    ids = {k: v["id"] for k, v in items.items()}
    ids["B"] = store(db, village, third, B)
    return {
        "village": village,
        "other_village": phone["villages"][1]["id"],
        "ids": ids,
        "households": [*listed, third],
    }


def fresh_body(client: Any, db: Any, url: str = "/reports/api/indicators") -> dict[str, Any]:
    """The JSON answer at ``url`` once every change has been counted: a report never counts,
    it says what waits and starts the count in the background, which this waits for."""
    deadline = time.monotonic() + 60
    while True:
        body = client.get(url).get_json()
        fresh = body["freshness"]
        if not fresh["pending"] and not fresh["recount"]:
            return body
        assert time.monotonic() < deadline, fresh
        background.wait(db, timeout=deadline - time.monotonic())


def indicators(body: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {i["id"]: (i["numerator"], i["denominator"]) for i in body["indicators"]}


def test_the_api_gives_the_hand_worked_answers(client, db, sweep):
    login_as(client, db, "reviewer")
    body = fresh_body(client, db, "/reports/api/indicators")
    assert body["coverage"] == {
        "listed": 6,
        "visited": 4,
        "surveyed": 2,
        "persons": 7,
        "percent": 66.7,
    }
    assert indicators(body) == EXPECTED
    shares = {i["id"]: i for i in body["indicators"]}
    assert shares["smartphone_adults"]["percent"] == 66.7  # 2 of 3
    assert shares["smartphone_adults"]["target"]["percent"] == 80
    assert "411" in shares["smartphone_adults"]["target"]["source"]
    assert shares["smartphone_adults"]["met"] is False
    assert shares["digital_signature"]["met"] is True  # 1 of 2 = 50% against 50%
    village = next(v for v in body["villages"] if v["id"] == sweep["village"])
    assert village["coverage"] == {
        "listed": 4,
        "visited": 4,
        "surveyed": 2,
        "persons": 7,
        "percent": 100.0,
    }
    assert {
        k: (v["numerator"], v["denominator"]) for k, v in village["indicators"].items()
    } == EXPECTED


def test_approved_records_only(client, db, sweep):
    login_as(client, db, "admin")
    with write_transaction(db):  # a review decision, as the review pages store it
        db.execute("UPDATE records SET review_state = 'approved' WHERE id = ?", [sweep["ids"]["A"]])
    body = fresh_body(client, db, "/reports/api/indicators?approved=1")
    assert body["scope"] == "approved"
    assert body["coverage"] == {
        "listed": 6,
        "visited": 1,
        "surveyed": 1,
        "persons": 5,
        "percent": 16.7,
    }
    counted = indicators(body)
    # Household A alone: A1 is the only adult asked about phones; A1, A2, A3 about VNeID.
    assert counted["smartphone_adults"] == (1, 1)
    assert counted["vneid_any"] == (2, 3)
    assert counted["payment_account"] == (1, 2)
    assert counted["bdhvs"] == (1, 1)
    assert indicators(fresh_body(client, db, "/reports/api/indicators")) == EXPECTED


def test_rejected_records_do_not_count(client, db, sweep):
    login_as(client, db, "admin")
    with write_transaction(db):
        db.execute("UPDATE records SET review_state = 'rejected' WHERE id = ?", [sweep["ids"]["B"]])
    body = fresh_body(client, db, "/reports/api/indicators")
    assert body["coverage"]["surveyed"] == 1 and body["coverage"]["persons"] == 5
    assert body["coverage"]["visited"] == 3
    assert indicators(body)["fibre_households"] == (1, 1)


def test_a_record_changed_while_its_count_is_worked_out_counts_as_it_is_now(
    client, db, sweep, monkeypatch
):
    """A count works the records' indicators out before it takes the write lock; one that a
    reviewer rejects meanwhile is counted rejected (as in ``test_rejected_records_do_not_count``),
    not as the row the count first read."""
    login_as(client, db, "admin")
    fresh_body(client, db)
    with write_transaction(db):  # B's record to be counted again
        db.execute("UPDATE records SET review_state = 'received' WHERE id = ?", [sweep["ids"]["B"]])
    worked_out = facts._worked_out

    def then_rejected(count_db: Any, ids: list[str]) -> Any:
        ahead = worked_out(count_db, ids)
        assert sweep["ids"]["B"] in ahead  # worked out as it was: received
        with write_transaction(db):
            db.execute(
                "UPDATE records SET review_state = 'rejected' WHERE id = ?", [sweep["ids"]["B"]]
            )
        return ahead

    monkeypatch.setattr(facts, "_worked_out", then_rejected)
    refresh_dirty(db)
    monkeypatch.undo()
    body = fresh_body(client, db)
    assert (body["coverage"]["surveyed"], body["coverage"]["persons"]) == (1, 5)
    totals = db.execute("SELECT * FROM report_totals ORDER BY 1, 2, 3, 4, 5").fetchall()
    rebuild(db)  # the kept sums are a full recount's
    assert db.execute("SELECT * FROM report_totals ORDER BY 1, 2, 3, 4, 5").fetchall() == totals


def test_a_count_works_out_no_record_under_the_lock_when_another_counts_meanwhile(
    client, db, phone, sweep, monkeypatch
):
    """Two worker processes count at once, each when a page it serves finds records waiting.
    One that finds its records counted by the other when it takes the lock counts none of
    them again, and none it has not worked out: a record queued since waits for its next
    round, worked out before the lock like the others. The sums stay a full recount's."""
    login_as(client, db, "admin")
    fresh_body(client, db)
    with write_transaction(db):
        db.execute(
            "UPDATE records SET review_state = 'approved' WHERE id IN (?, ?)",
            [sweep["ids"]["A"], sweep["ids"]["B"]],
        )
    worked_out, refresh = facts._worked_out, facts._refresh
    under_lock: list[str] = []
    others = []

    def meanwhile(count_db: Any, ids: list[str]) -> Any:
        ahead = worked_out(count_db, ids)
        if not others:  # the other process counts the whole queue, then a phone pushes
            others.append(worked_out)
            monkeypatch.setattr(facts, "_worked_out", worked_out)
            refresh_dirty(db)
            monkeypatch.setattr(facts, "_worked_out", meanwhile)
            push(client, phone, record(sweep["village"], sweep["households"][1], data=A))
        return ahead

    def watched(refresh_db: Any, ids: list[str], ahead: Any = None) -> None:
        under_lock.extend(i for i in ids if i not in (ahead or {}))
        refresh(refresh_db, ids, ahead)

    monkeypatch.setattr(facts, "_worked_out", meanwhile)
    monkeypatch.setattr(facts, "_refresh", watched)
    refresh_dirty(db)
    monkeypatch.undo()
    assert others and under_lock == []
    assert db.execute("SELECT count(*) FROM report_dirty").fetchone()[0] == 0
    totals = db.execute("SELECT * FROM report_totals ORDER BY 1, 2, 3, 4, 5").fetchall()
    rebuild(db)
    assert db.execute("SELECT * FROM report_totals ORDER BY 1, 2, 3, 4, 5").fetchall() == totals


def test_a_household_counts_once_by_its_latest_survey(client, db, phone, sweep):
    login_as(client, db, "admin")
    later = record(
        sweep["village"],
        sweep["households"][0],
        data=household_data(members=None, internet="mobile_only"),
        meta={"started_at": "2026-12-05T01:00:00Z", "visit_date": "2026-12-05"},
        # The smallest id: "latest" must mean the visit date, not the id.
        id="00000000-0000-4000-8000-000000000001",
    )
    later["data"]["members"] = later["data"]["members"][:1]  # one adult now lives there
    later["data"]["residents"] = 1
    push(client, phone, later)
    body = fresh_body(client, db, "/reports/api/indicators")
    assert body["coverage"] == {
        "listed": 6,
        "visited": 4,
        "surveyed": 2,
        "persons": 3,
        "percent": 66.7,
    }
    counted = indicators(body)
    assert counted["fibre_households"] == (0, 2)  # A's fibre gave way to 4G only
    assert counted["smartphone_adults"] == (2, 3)  # the new adult, B1 and B2
    months = {m["month"]: m for m in body["months"]}
    assert (months["2026-11"]["visited"], months["2026-11"]["surveyed"]) == (3, 1)
    assert (months["2026-12"]["visited"], months["2026-12"]["surveyed"]) == (1, 1)
    assert months["2026-11"]["coverage"] == 50.0 and months["2026-12"]["coverage"] == 66.7


def test_kept_counts_equal_a_full_recount_after_changes(client, db, phone, sweep):
    ids = sweep["ids"]
    with write_transaction(db):
        db.execute(
            "UPDATE records SET review_state = 'approved' WHERE id IN (?, ?)", [ids["A"], ids["B"]]
        )
        db.execute(
            "UPDATE records SET data = ? WHERE id = ?", [json.dumps(household_data()), ids["D"]]
        )
        db.execute(
            "UPDATE records SET village_id = ? WHERE id = ?", [sweep["other_village"], ids["C"]]
        )
    push(
        client,
        phone,
        record(sweep["village"], sweep["households"][1], meta={"visit_date": "2026-12-01"}),
    )
    with write_transaction(db):
        db.execute("DELETE FROM revisions WHERE record_id = ?", [ids["A"]])
        db.execute("DELETE FROM records WHERE id = ?", [ids["A"]])
    login_as(client, db, "admin")
    kept = fresh_body(client, db, "/reports/api/indicators")
    totals = db.execute("SELECT * FROM report_totals ORDER BY 1, 2, 3, 4, 5").fetchall()
    assert rebuild(db) > 0
    assert db.execute("SELECT * FROM report_totals ORDER BY 1, 2, 3, 4, 5").fetchall() == totals
    again = fresh_body(client, db, "/reports/api/indicators")
    assert {**again, "freshness": None} == {**kept, "freshness": None}
    assert kept["coverage"]["surveyed"] == 3  # B, D (now surveyed) and the December visit


def test_a_village_and_what_is_outside_the_commune(client, db, sweep):
    login_as(client, db, "admin")
    one = fresh_body(client, db, f"/reports/api/indicators?village={sweep['village']}")
    assert one["village"]["id"] == sweep["village"] and indicators(one) == EXPECTED
    assert one["coverage"]["listed"] == 4 and one["coverage"]["percent"] == 100.0
    other = fresh_body(client, db, f"/reports/api/indicators?village={sweep['other_village']}")
    assert other["coverage"]["visited"] == 0
    assert all(v == (0, 0) for v in indicators(other).values())
    with write_transaction(db):
        add_commune(db, "99998", "Xã Bên Cạnh", "99", "Tỉnh Minh Họa")
        elsewhere = add_village(db, "99998", "Thôn Khác")["id"]
    for url in (
        f"/reports/api/indicators?village={elsewhere}",
        "/reports/api/indicators?village=nope",
        "/reports/api/indicators?commune=99998",
    ):
        response = client.get(url)
        assert response.status_code == 404 and response.get_json()["code"] == "not_found"
    assert client.get(f"/reports/?village={elsewhere}").status_code == 404


def test_the_dashboard_page_shows_figures_targets_volunteers_and_prints(client, db, sweep):
    login_as(client, db, "reviewer")
    fresh_body(client, db)
    page = client.get("/reports/").get_data(as_text=True)
    for ident, (num, den) in EXPECTED.items():
        assert re.search(
            rf'id="indicator-{ident}" data-numerator="{num}" '
            rf'data-denominator="{den}"',
            page,
        ), ident
    assert "66,7%" in page and "80,0%" in page  # a share and its target, Vietnamese style
    assert "QĐ 411/QĐ-TTg" in page
    assert "Tình nguyện viên mẫu" in page  # the demo volunteer's progress
    assert "<svg" in page and "11/2026" in page
    english = client.get("/reports/?lang=en").get_data(as_text=True)
    assert "Adults with their own smartphone" in english and "66.7%" in english
    printed = client.get("/reports/print").get_data(as_text=True)
    assert "BÁO CÁO KẾT QUẢ KHẢO SÁT CÔNG DÂN SỐ" in printed and "66,7%" in printed


def test_a_viewer_sees_indicators_but_no_personal_data(client, db, sweep):
    login_as(client, db, "viewer")
    fresh_body(client, db)
    page = client.get("/reports/").get_data(as_text=True)
    assert client.get("/reports/").status_code == 200 and "66,7%" in page
    assert "Tình nguyện viên mẫu" not in page
    assert client.get("/reports/api/indicators").status_code == 200
    assert client.get("/reports/indicators.csv").status_code == 200
    assert client.get("/reports/dictionary.csv").status_code == 200
    for url in (
        "/reports/export.xlsx",
        "/reports/export.xlsx?pseudo=1",
        "/reports/export/households.csv",
        "/reports/export/members.csv?pseudo=1",
    ):
        assert client.get(url).status_code == 403, url


def test_the_province_overview(client, db, sweep):
    with write_transaction(db):
        add_commune(db, "99998", "Xã Bên Cạnh", "99", "Tỉnh Minh Họa")
        add_commune(db, "01001", "Phường Khác Tỉnh", "01", "Thành phố Khác")
        add_household(db, add_village(db, "99998", "Thôn Mới")["id"], "Hộ chưa thăm")
    login_as(client, db, "admin", commune_id=None, province_code="99")
    body = fresh_body(client, db, "/reports/api/province")
    assert [c["name"] for c in body["communes"]] == ["Xã Bên Cạnh", "Xã Minh Họa"]
    by_id = {c["id"]: c for c in body["communes"]}
    assert by_id["99999"]["coverage"]["surveyed"] == 2
    assert by_id["99998"]["coverage"] == {
        "listed": 1,
        "visited": 0,
        "surveyed": 0,
        "persons": 0,
        "percent": 0.0,
    }
    assert body["coverage"]["listed"] == 7
    assert {
        i["id"]: (i["numerator"], i["denominator"]) for g in body["groups"] for i in g["indicators"]
    } == EXPECTED
    page = client.get("/reports/province").get_data(as_text=True)
    assert "Xã Bên Cạnh" in page and "Phường Khác Tỉnh" not in page
    commune = client.get("/reports/?commune=99999").get_data(as_text=True)
    assert "66,7%" in commune and "Tình nguyện viên mẫu" not in commune
    assert client.get("/reports/?commune=01001").status_code == 404
    assert client.get("/reports/export.xlsx?commune=99999").status_code == 403


def test_commune_staff_cannot_open_the_province_overview(client, db, sweep):
    login_as(client, db, "admin")
    assert client.get("/reports/province").status_code == 403
    assert client.get("/reports/api/province").status_code == 403
    assert client.get("/reports/?commune=99998").status_code == 404


def test_reports_need_a_login(client):
    response = client.get("/reports/api/indicators")
    assert response.status_code == 401 and response.get_json()["code"] == "unauthorized"
    for url in ("/reports/", "/reports/export.xlsx", "/reports/dictionary.csv"):
        page = client.get(url)
        assert page.status_code == 302 and "/login" in page.headers["Location"]


def test_every_change_to_a_record_is_queued_for_the_counts(db, sweep):
    names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert {"records_report_insert", "records_report_update", "records_report_delete"} <= names
    db.execute("DELETE FROM report_dirty")
    with write_transaction(db):
        db.execute("UPDATE records SET review_state = 'approved' WHERE id = ?", [sweep["ids"]["C"]])
    assert [r[0] for r in db.execute("SELECT record_id FROM report_dirty")] == [sweep["ids"]["C"]]


def test_kept_counts_follow_random_changes(db, sweep):
    """Records of a few households come, change state, village, date and answers, and go, in a
    seeded random order; after each step the kept sums equal a recount from nothing."""
    rng = random.Random(20261120)
    villages = [sweep["village"], sweep["other_village"]]
    households = [*sweep["households"], None]
    answers = [A, B, C, D, household_data()]
    volunteer = db.execute("SELECT id FROM users WHERE username = 'tnv.demo'").fetchone()[0]
    live = list(sweep["ids"].values())
    for step in range(40):
        action = rng.choice(["add", "state", "move", "edit", "date", "delete"])
        if action == "add" or not live:
            day = f"2026-{rng.choice([10, 11, 12])}-0{step % 9 + 1}"
            live.append(
                store(
                    db,
                    rng.choice(villages),
                    rng.choice(households),
                    rng.choice(answers),
                    day,
                    rng.choice(["received", "approved", "rejected", "has_issues"]),
                    rng.choice([None, volunteer]),
                )
            )
            continue
        target = rng.choice(live)
        with write_transaction(db):
            if action == "state":
                db.execute(
                    "UPDATE records SET review_state = ? WHERE id = ?",
                    [rng.choice(["received", "approved", "rejected"]), target],
                )
            elif action == "move":
                db.execute(
                    "UPDATE records SET village_id = ?, household_id = ? WHERE id = ?",
                    [rng.choice(villages), rng.choice(households), target],
                )
            elif action == "edit":
                db.execute(
                    "UPDATE records SET data = ? WHERE id = ?",
                    [json.dumps(rng.choice(answers)), target],
                )
            elif action == "date":
                db.execute(
                    "UPDATE records SET meta = ? WHERE id = ?",
                    [json.dumps({"visit_date": f"2026-0{rng.randint(1, 9)}-15"}), target],
                )
            else:
                db.execute("DELETE FROM revisions WHERE record_id = ?", [target])
                db.execute("DELETE FROM records WHERE id = ?", [target])
                live.remove(target)
        if step % 5 == 4:
            refresh_dirty(db)
            kept = [
                db.execute(f"SELECT * FROM {t} ORDER BY 1, 2, 3, 4, 5, 6").fetchall() for t in SUMS
            ]
            for village in (None, *villages):
                assert service.states(db, "99999", village) == hand_states(db, village), step
                for approved in (False, True):
                    assert service.volunteers(db, "99999", village, approved) == hand_volunteers(
                        db, village, approved
                    ), step
            rebuild(db)
            again = [
                db.execute(f"SELECT * FROM {t} ORDER BY 1, 2, 3, 4, 5, 6").fetchall() for t in SUMS
            ]
            assert again == kept, f"step {step}"


SUMS = ("report_totals", "report_volunteers")


def hand_states(db: Any, village: str | None) -> dict[str, int]:
    """Records by review state, counted from the records themselves."""
    rows = db.execute(
        "SELECT review_state, count(*) FROM records WHERE commune_id = '99999'"
        " AND (? IS NULL OR village_id = ?) GROUP BY 1",
        [village, village],
    )
    return dict(rows.fetchall())


def hand_volunteers(db: Any, village: str | None, approved: bool) -> list[dict[str, Any]]:
    """Each volunteer's progress counted record by record from the kept facts, as the page
    counted it before the sums were kept."""
    where = "f.state = 'approved'" if approved else "f.state != 'rejected'"
    rows = db.execute(
        "SELECT f.user_id, coalesce(u.display_name, '') AS name,"
        " coalesce(u.union_name, '') AS union_name, count(*) AS visits,"
        " sum(f.surveyed) AS surveyed, sum(f.persons * f.surveyed) AS persons,"
        " sum(f.state = 'approved') AS approved, sum(f.state = 'has_issues') AS has_issues,"
        " max(f.visit_date) AS last_visit FROM report_facts f LEFT JOIN users u ON u.id = f.user_id"
        f" WHERE f.commune_id = '99999' AND (? IS NULL OR f.village_id = ?) AND {where}"
        " GROUP BY f.user_id ORDER BY count(*) DESC, 2",
        [village, village],
    )
    out = [dict(r) for r in rows]
    most = max((r["visits"] for r in out), default=0)
    for row in out:
        row["bar"] = service.percent(row["visits"], most) or 0
    return out


def _indicator_files(folder: Any) -> None:
    """The indicator files read from ``folder`` from now on, as after an upgrade."""
    indicator_files.INDICATORS_DIR = folder
    indicator_files._read_files.cache_clear()
    indicator_files.load_sets.cache_clear()


def test_a_changed_indicator_is_recounted_without_a_page_waiting(client, db, sweep, tmp_path):
    login_as(client, db, "admin")
    assert indicators(fresh_body(client, db)) == EXPECTED
    # The files change under a running process only in this test (an upgrade restarts it): the
    # count that made EXPECTED may still be ending, and must not see the switch half made.
    assert background.wait(db, timeout=60)
    real = indicator_files.INDICATORS_DIR
    for source in real.glob("*.json"):
        text = source.read_text(encoding="utf-8")
        (tmp_path / source.name).write_text(
            text.replace(
                '"numerator": "${phone_access} = \'own_smartphone\'"', '"numerator": "true()"'
            ),
            encoding="utf-8",
        )
    try:
        _indicator_files(tmp_path)
        first = client.get("/reports/api/indicators").get_json()
        # The page answered at once with the sums it had, saying they are being recounted.
        assert first["freshness"]["recount"] is True and indicators(first) == EXPECTED
        # By hand: every adult asked about phones now counts as having one.
        changed = indicators(fresh_body(client, db))
        assert changed == {**EXPECTED, "smartphone_adults": (3, 3)}
    finally:
        _indicator_files(real)
    assert indicators(fresh_body(client, db)) == EXPECTED


def test_the_reports_commands(app, db, sweep, monkeypatch):
    from click.testing import CliRunner

    from server.cli.main import main

    monkeypatch.setenv("GOCUA_DATA_DIR", app.config["DATA_DIR"])
    runner = CliRunner()
    checked = runner.invoke(main, ["reports", "check"])
    assert (
        checked.exit_code == 0 and "ho_gia_dinh_cds 2026.11.1: OK, 15 indicators" in checked.output
    )
    refreshed = runner.invoke(main, ["reports", "refresh"])
    assert refreshed.exit_code == 0 and refreshed.output.startswith("4 records counted")
    again = runner.invoke(main, ["reports", "refresh"])
    assert again.output.startswith("0 records counted")
    assert runner.invoke(main, ["reports", "refresh", "--all"]).output.startswith("4 records")


def test_a_merged_village_counts_under_its_survivor(client, db, sweep):
    login_as(client, db, "admin")
    source, target = sweep["village"], sweep["other_village"]
    with write_transaction(db):  # what the register's merge does: records keep their village
        db.execute("UPDATE villages SET active = 0, merged_into = ? WHERE id = ?", [target, source])
        db.execute("UPDATE households SET village_id = ? WHERE village_id = ?", [target, source])
        db.execute(
            "UPDATE households SET removed_at = '2026-11-21T00:00:00Z' WHERE id = ?",
            [sweep["households"][2]],
        )  # B's house taken off the register
    body = fresh_body(client, db, "/reports/api/indicators")
    rows = {v["id"]: v for v in body["villages"]}
    assert source not in rows  # the demo commune's third village stays beside the survivor
    assert rows[target]["coverage"] == {
        "listed": 5,
        "visited": 4,
        "surveyed": 2,
        "persons": 7,
        "percent": 80.0,
    }
    one = fresh_body(client, db, f"/reports/api/indicators?village={target}")
    assert indicators(one) == EXPECTED and one["states"] == {"received": 4}
    assert client.get(f"/reports/api/indicators?village={source}").status_code == 404
    rows = client.get(f"/reports/export/households.csv?village={target}").data.decode()
    assert all(rid in rows for rid in sweep["ids"].values())


def test_a_page_never_counts_and_says_how_fresh_its_figures_are(client, db, phone, sweep):
    login_as(client, db, "reviewer")
    assert fresh_body(client, db)["coverage"]["surveyed"] == 2
    with write_transaction(db):  # the queue last empty at 04:15 in Việt Nam, 30/11
        db.execute(
            "UPDATE report_state SET value = '2026-11-29T21:15:00Z' WHERE key = 'counted_at'"
        )
    later = record(
        sweep["village"], sweep["households"][1], data=A, meta={"visit_date": "2026-12-01"}
    )
    push(client, phone, later)
    page = client.get("/reports/").get_data(as_text=True)
    # The figures as they were: C's household (not surveyed) not yet surveyed by the new visit.
    assert re.search(r'data-figure="persons">7<', page), "counted on view"
    assert 'data-pending="1"' in page
    assert "Số liệu tính lúc 30/11/2026 04:15." in page
    assert "1 phiếu mới nhận đang được tính thêm" in page
    body = fresh_body(client, db)
    # By hand: A's 5 people and B's 2, and now the 5 of C's household surveyed again.
    assert (body["coverage"]["surveyed"], body["coverage"]["persons"]) == (3, 12)
    assert body["freshness"]["counted_at"] > "2026-11-29T21:15:00Z"
    page = client.get("/reports/").get_data(as_text=True)
    assert 'data-pending="0"' in page and "đang được tính" not in page
    # Nothing waits: the figures are true of the moment the page was made.
    english = client.get("/reports/?lang=en").get_data(as_text=True)
    assert re.search(r"Figures as of \d\d/\d\d/\d{4} \d\d:\d\d\.", english)


def test_what_waits_and_when_it_was_counted_are_read_at_one_moment(
    client, db, app, phone, sweep, monkeypatch
):
    """A count committing while a page reads how fresh its figures are must not give the
    time before it beside the empty queue after it (CI saw that: every record counted, the
    figures "as of" the hour before)."""
    login_as(client, db, "reviewer")
    fresh_body(client, db)
    with write_transaction(db):
        db.execute(
            "UPDATE report_state SET value = '2026-11-29T21:15:00Z' WHERE key = 'counted_at'"
        )
    push(client, phone, record(sweep["village"], sweep["households"][1], data=A))
    other = connect(app.config["DATABASE"])
    execute, counted = db.execute, []

    def then_counted(sql: str, params: Any = None) -> Any:
        rows = (execute(sql) if params is None else execute(sql, params)).fetchall()
        if "counted_at" in sql and not counted:
            counted.append(refresh_dirty(other))  # the background count, committing now
        return _Rows(rows)

    monkeypatch.setattr(db, "execute", then_counted)
    fresh = facts.freshness(db)
    monkeypatch.undo()
    other.close()
    assert counted == [1]
    assert fresh["pending"] == 1 or fresh["counted_at"] > "2026-11-29T21:15:00Z", fresh


class _Rows:
    """A cursor's face for rows already read."""

    def __init__(self, rows: list[Any]) -> None:
        self.rows = rows

    def fetchone(self) -> Any:
        return self.rows[0] if self.rows else None


def test_a_count_ending_while_a_page_reads_never_passes_for_counted(
    client, db, phone, sweep, monkeypatch
):
    """The sums and the queue are read by separate statements. A count that ends between them
    must show as still waiting, never as sums without the record that the answer calls
    counted (the sums read before the count, the queue read empty after it)."""
    login_as(client, db, "reviewer")
    assert fresh_body(client, db)["coverage"]["surveyed"] == 2
    push(client, phone, record(sweep["village"], sweep["households"][1], data=A))
    read_register = service.listed_by_village

    def count_then_read(page_db: Any, commune_id: str) -> dict[str, int]:
        refresh_dirty(db)  # the background count, ending between the page's reads
        return read_register(page_db, commune_id)

    monkeypatch.setattr(service, "listed_by_village", count_then_read)
    body = client.get("/reports/api/indicators").get_json()
    surveyed, waiting = body["coverage"]["surveyed"], body["freshness"]["pending"]
    assert (surveyed, waiting) in {(2, 1), (3, 0)}, "the figures and what they say of themselves"


def test_a_worker_counts_only_once_no_other_process_counts(client, db, app, phone, sweep):
    """Two worker processes counting the queue at once worked every record of it out each
    (the ids are ordered by time, so both took its first records): a count waits while
    another process holds the counting lock beside the database, then counts what is left."""
    login_as(client, db, "reviewer")
    fresh_body(client, db)
    push(client, phone, record(sweep["village"], sweep["households"][1], data=A))
    path = app.config["DATABASE"]
    queued = db.execute("SELECT count(*) FROM report_dirty").fetchone()[0]
    assert queued == 1
    # Held by this test as another worker process holds it while it counts (an flock is
    # the open file's, so a second open of the file conflicts in one process too).
    with background._one_process_at_a_time(str(path)):
        background.count_soon(db)
        assert not background.wait(db, timeout=1.0), "counted while another process counts"
        assert db.execute("SELECT count(*) FROM report_dirty").fetchone()[0] == queued
    assert background.wait(db, timeout=60)
    assert db.execute("SELECT count(*) FROM report_dirty").fetchone()[0] == 0
    assert fresh_body(client, db)["coverage"]["surveyed"] == 3


def test_the_count_gives_way_while_a_phone_syncs_then_counts(
    client, db, app, phone, sweep, monkeypatch
):
    """At dusk the background count took a core's share from the phones pushing: before each
    batch it now waits while any phone syncs (a sync slot held in any worker), and counts once
    they are done; the dashboard says meanwhile what waits."""
    login_as(client, db, "reviewer")
    fresh_body(client, db)
    push(client, phone, record(sweep["village"], sweep["households"][1], data=A))
    monkeypatch.setattr(background, "GIVE_WAY_SECONDS", 600.0)  # no bound in this test
    phones_syncing = background._busy
    assert phones_syncing is not None and not phones_syncing()
    looked = threading.Event()

    def watched() -> bool:
        syncing = phones_syncing()
        if syncing:
            looked.set()
        return syncing

    monkeypatch.setattr(background, "_busy", watched)
    gate = app.extensions["gocua_admission"]
    other = gate.enter()  # another phone's batch in hand
    try:
        background.count_soon(db)
        assert looked.wait(timeout=60), "the count never asked whether phones sync"
        assert db.execute("SELECT count(*) FROM report_dirty").fetchone()[0] == 1
        body = client.get("/reports/api/indicators").get_json()
        assert body["freshness"]["pending"] == 1
    finally:
        gate.leave(other)
    assert background.wait(db, timeout=60)
    assert db.execute("SELECT count(*) FROM report_dirty").fetchone()[0] == 0
    assert fresh_body(client, db)["coverage"]["surveyed"] == 3


def test_the_count_waits_for_the_phones_no_longer_than_its_bound(
    client, db, app, phone, sweep, monkeypatch
):
    """A server syncing without a pause still counts: each batch waits at most
    GIVE_WAY_SECONDS for the phones."""
    login_as(client, db, "reviewer")
    fresh_body(client, db)
    push(client, phone, record(sweep["village"], sweep["households"][1], data=A))
    monkeypatch.setattr(background, "GIVE_WAY_SECONDS", 0.2)
    gate = app.extensions["gocua_admission"]
    other = gate.enter()
    try:
        background.count_soon(db)
        assert background.wait(db, timeout=60), "the count waited for the phones unbounded"
        assert db.execute("SELECT count(*) FROM report_dirty").fetchone()[0] == 0
    finally:
        gate.leave(other)
    assert fresh_body(client, db)["coverage"]["surveyed"] == 3
