"""A conflict between two phones, settled at the commune office, reaches both phones and the
province: two enrolled phones (two volunteers) push conflicting revisions of one record over
real HTTP, a reviewer settles it on the staff site, each phone pulls, and ``gocua sync push``
carries the resolution up to a province server."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from server.cli.main import main
from server.domain.accounts import add_user
from server.domain.db import write_transaction
from server.domain.records.edit import open_conflicts
from sync.client import SyncClient
from tests.sync.live import LiveServer
from tests.sync.older_province import OlderProvince
from tests.sync.phone import Phone

PASSWORD = "mat-khau-du-dai-1"
COMMUNE = "99999"


class Office:
    """A reviewer at the commune office (or the province), through the staff site's forms."""

    def __init__(self, server: LiveServer, username: str, commune: str = COMMUNE) -> None:
        with server.db() as db, write_transaction(db):
            add_user(db, username, "Cán bộ duyệt", "reviewer", commune, password=PASSWORD)
        self.base, self.http = server.base, requests.Session()
        answer = self.http.post(
            f"{self.base}/login",
            data={"username": username, "password": PASSWORD, "csrf_token": self.csrf("/login")},
            allow_redirects=False,
        )
        assert answer.status_code == 302

    def page(self, path: str) -> str:
        answer = self.http.get(f"{self.base}{path}")
        assert answer.status_code == 200, answer.text
        return answer.text

    def csrf(self, path: str) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', self.page(path)).group(1)

    def resolve(self, record_id: str, conflict_rev: str, choice: str, **picks: str) -> None:
        path = f"/records/{record_id}/conflicts/{conflict_rev}"
        html = self.page(path)
        answer = self.http.post(
            f"{self.base}{path}",
            data={
                "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', html).group(1),
                "rev": re.search(r'name="rev" value="([^"]+)"', html).group(1),
                "choice": choice,
                **{f"pick:{name}": side for name, side in picks.items()},
            },
            allow_redirects=False,
        )
        assert answer.status_code == 302, answer.text

    def decide(self, record_id: str, state: str) -> None:
        html = self.page(f"/records/{record_id}")
        answer = self.http.post(
            f"{self.base}/records/{record_id}/review",
            data={
                "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', html).group(1),
                "rev": re.search(r'name="rev" value="([^"]+)"', html).group(1),
                "review_state": state,
                "comment": "",
            },
            allow_redirects=False,
        )
        assert answer.status_code == 302, answer.text


def gocua(server: LiveServer, *args: str) -> Any:
    return CliRunner(env={"GOCUA_DATA_DIR": str(server.data_dir)}).invoke(main, list(args))


def enrolled(server: LiveServer, username: str) -> Phone:
    phone = Phone(SyncClient(server.base))
    phone.client.enroll(server.enrollment_code(username))
    phone.pull()
    return phone


def copy_to(phone: Phone, item: dict[str, Any]) -> None:
    """The record as the other phone holds it too (restored there from a backup file)."""
    phone.latest[item["id"]] = item
    phone.acked.add((item["id"], item["rev"]))


def conflict(a: Phone, b: Phone, village: str) -> tuple[dict[str, Any], str, str]:
    """Phone A sends a record; both phones edit that revision; B's edit arrives first, so A's
    is the conflict. Returns the record, B's (current) rev and A's (conflict) rev."""
    first = a.new(village)
    a.push()
    copy_to(b, first)
    current = b.edit(first["id"], outcome="refused")
    b.push()
    loser = a.edit(first["id"], outcome="empty_house")
    a.push()
    assert (loser["id"], loser["rev"]) in a.acked
    return first, current["rev"], loser["rev"]


def revisions(db: Any, record_id: str) -> dict[str, tuple[Any, ...]]:
    return {
        r["rev"]: (r["status"], r["resolution"], r["resolved_at"])
        for r in db.execute(
            "SELECT rev, status, resolution, resolved_at FROM revisions WHERE record_id = ?",
            [record_id],
        )
    }


@pytest.fixture
def servers(tmp_path: Path) -> Any:
    province = LiveServer(tmp_path / "province", seed=False).start()
    commune = LiveServer(tmp_path / "commune").start()
    yield commune, province
    commune.stop()
    province.stop()


def test_every_resolution_reaches_both_phones_and_the_province(servers: Any) -> None:
    commune, province = servers
    a = enrolled(commune, "tnv.demo")
    village = next(iter(a.villages))
    with commune.db() as db, write_transaction(db):
        add_user(
            db, "tnv.khac", "Tình nguyện viên khác", "volunteer", COMMUNE, village_ids=[village]
        )
    b = enrolled(commune, "tnv.khac")

    kept, kept_current, kept_conflict = conflict(a, b, village)
    took, took_current, took_conflict = conflict(a, b, village)
    mixed, _mixed_current, mixed_conflict = conflict(a, b, village)
    office = Office(commune, "canbo.xa")
    office.resolve(kept["id"], kept_conflict, "current")
    office.resolve(took["id"], took_conflict, "other")
    office.resolve(mixed["id"], mixed_conflict, "merge", outcome="other")
    with commune.db() as db:
        took_new = db.execute("SELECT rev FROM records WHERE id = ?", [took["id"]]).fetchone()[0]
    assert took_new not in (took_current, took_conflict)  # the office's revision of A's answers
    # The settled conflict revision has one label: how it was settled, not also "to resolve".
    page = office.page(f"/records/{kept['id']}")
    assert page.count("đã xử lý: giữ bản hiện hành") == 1 and "xung đột, chờ xử lý" not in page

    for phone in (a, b):
        phone.pull()
        # Both phones hear of each resolution: which revision is current now, its answers,
        # and which conflict revision was settled how.
        assert phone.reviews[kept["id"]]["rev"] == kept_current
        assert phone.reviews[kept["id"]]["resolved"] == {
            "rev": kept_conflict,
            "resolution": "kept_current",
        }
        assert phone.reviews[kept["id"]]["data"]["outcome"] == "refused"
        assert phone.reviews[took["id"]]["rev"] == took_new
        assert phone.reviews[took["id"]]["resolved"] == {
            "rev": took_conflict,
            "resolution": "took_conflict",
        }
        assert phone.reviews[took["id"]]["data"]["outcome"] == "empty_house"
        assert phone.reviews[mixed["id"]]["resolved"] == {
            "rev": mixed_conflict,
            "resolution": "merged",
        }
        assert phone.reviews[mixed["id"]]["data"]["outcome"] == "empty_house"

    # A later decision is about the kept revision, which the losing phone now holds too.
    office.decide(kept["id"], "approved")
    a.pull()
    assert a.reviews[kept["id"]]["rev"] == kept_current
    assert a.reviews[kept["id"]]["review_state"] == "approved"

    issued = gocua(province, "sync", "token", COMMUNE, "--label", "Xã Minh Họa")
    token = issued.output.strip().splitlines()[-1]
    pushed = gocua(commune, "sync", "push", "--upstream", province.base, "--token", token)
    assert pushed.exit_code == 0, pushed.output
    assert "3 conflict resolutions" in pushed.output and "3 xung đột đã xử lý" in pushed.output

    with commune.db() as here, province.db() as there:
        for record in (kept, took, mixed):
            assert revisions(there, record["id"]) == revisions(here, record["id"])
            assert open_conflicts(there, record["id"]) == []
        assert revisions(there, kept["id"])[kept_conflict][:2] == ("conflict", "kept_current")
        assert revisions(there, took["id"])[took_conflict][:2] == ("conflict", "took_conflict")
        assert revisions(there, mixed["id"])[mixed_conflict][:2] == ("conflict", "merged")
        states = "SELECT id, rev, review_state FROM records ORDER BY id"
        assert [tuple(r) for r in there.execute(states)] == [tuple(r) for r in here.execute(states)]


def test_a_conflict_replicated_to_the_province_is_settled_at_the_commune_only(
    servers: Any,
) -> None:
    commune, province = servers
    a = enrolled(commune, "tnv.demo")
    village = next(iter(a.villages))
    b = enrolled(commune, "tnv.demo")  # the same volunteer's second phone
    record, _current, loser = conflict(a, b, village)
    issued = gocua(province, "sync", "token", COMMUNE)
    upstream = ("--upstream", province.base, "--token", issued.output.strip().splitlines()[-1])
    assert gocua(commune, "sync", "push", *upstream).exit_code == 0

    reader = Office(province, "canbo.tinh")
    page = reader.page(f"/records/{record['id']}")  # the staff site speaks Vietnamese first
    # Open at the commune: shown, but to be settled there -- no form to settle it here.
    assert "xung đột, chờ xã xử lý" in page and "Xem (xã xử lý)" in page
    assert "xung đột, chờ xử lý" not in page and ">Xử lý <code>" not in page
    view = reader.page(f"/records/{record['id']}/conflicts/{loser}")
    assert 'id="replicated"' in view and 'name="choice"' not in view
    assert "Máy chủ của xã gửi phiên bản này lên" in view
    token = re.search(r'name="csrf_token" value="([^"]+)"', view).group(1)
    reader.http.post(
        f"{province.base}/records/{record['id']}/conflicts/{loser}",
        data={"csrf_token": token, "rev": _current, "choice": "other"},
    )
    with province.db() as there:
        assert revisions(there, record["id"])[loser][1:] == (None, None)  # still open
        before = there.execute("SELECT rev FROM records WHERE id = ?", [record["id"]]).fetchone()
        assert before[0] == _current

    Office(commune, "canbo.xa").resolve(record["id"], loser, "current")
    assert gocua(commune, "sync", "push", *upstream).exit_code == 0
    page = reader.page(f"/records/{record['id']}")
    assert 'id="conflicts"' not in page
    # One label: settled (and where), not also "to resolve".
    assert page.count("đã xử lý: giữ bản hiện hành (tại xã)") == 1
    assert "xung đột, chờ" not in page
    # Both phones of the volunteer hear of it once.
    for phone in (a, b):
        phone.pull()
        assert phone.reviews[record["id"]]["resolved"]["rev"] == loser


def test_an_older_province_takes_the_records_and_the_resolutions_wait_for_its_upgrade(
    servers: Any,
) -> None:
    commune, province = servers
    a = enrolled(commune, "tnv.demo")
    b = enrolled(commune, "tnv.demo")
    record, _current, loser = conflict(a, b, next(iter(a.villages)))
    Office(commune, "canbo.xa").resolve(record["id"], loser, "current")
    older = OlderProvince(province.base).start()
    try:
        token = gocua(province, "sync", "token", COMMUNE).output.strip().splitlines()[-1]
        upstream = ("--upstream", older.base, "--token", token)
        for _run in range(2):
            pushed = gocua(commune, "sync", "push", *upstream)
            # The records are not held back by a key the province does not know yet.
            assert pushed.exit_code == 0, pushed.output
            assert "does not take conflict resolutions yet (an older version): 1 wait" in (
                pushed.output
            )
            with commune.db() as here, province.db() as there:
                assert set(revisions(there, record["id"])) == set(revisions(here, record["id"]))
                assert revisions(there, record["id"])[loser][1] is None
        assert older.refused == 2

        older.upgraded = True
        pushed = gocua(commune, "sync", "push", *upstream)
        assert pushed.exit_code == 0 and "does not take" not in pushed.output
        with commune.db() as here, province.db() as there:
            assert revisions(there, record["id"]) == revisions(here, record["id"])
            assert here.execute("SELECT count(*) FROM upstream_rejects").fetchone()[0] == 0
        again = gocua(commune, "sync", "push", *upstream)
        assert "Nothing new to send" in again.output
    finally:
        older.stop()
