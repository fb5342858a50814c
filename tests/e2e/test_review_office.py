"""The commune office in headless Chromium against a real ``gocua serve``: review → the phone
pulls the comment → the corrected revision → approved; a staff edit and its diff; a CSV
import with a bad row; two villages merged; a person's data exported and erased.

The phone's side speaks the sync protocol over HTTP (the collector's own screens are tested
in test_collector.py); the staff's side is the browser."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from server.domain.db import connect
from tests.e2e.conftest import expect, screenshot
from tests.records import adult, child, household_data, record
from tests.server_process import ServerProcess

pytestmark = pytest.mark.e2e


class Phone:
    """An enrolled phone of the demo volunteer, speaking the sync protocol."""

    def __init__(self, server: ServerProcess) -> None:
        code = server.cli("enroll").strip().splitlines()[-1].split("#enroll=")[1]
        self.base = server.base
        body = requests.post(f"{self.base}/api/v1/enroll", json={"code": code}, timeout=30).json()
        self.villages = {v["name"]: v["id"] for v in body["villages"]}
        self.headers = {"Authorization": f"Bearer {body['token']}"}
        self.since = 0

    def push(self, *items: dict[str, Any]) -> list[str]:
        answer = requests.post(
            f"{self.base}/api/v1/sync/push",
            json={"items": list(items)},
            headers=self.headers,
            timeout=30,
        )
        answer.raise_for_status()
        return [r["status"] for r in answer.json()["results"]]

    def pull(self) -> list[dict[str, Any]]:
        changes: list[dict[str, Any]] = []
        while True:
            page = requests.get(
                f"{self.base}/api/v1/sync/pull",
                params={"since": self.since, "limit": 500},
                headers=self.headers,
                timeout=30,
            ).json()
            changes += page["changes"]
            self.since = page["next_since"]
            if not page["has_more"]:
                return changes


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("office") / "server").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def phone(office: ServerProcess) -> Phone:
    return Phone(office)


@pytest.fixture(scope="module")
def password(office: ServerProcess) -> str:
    return office.add_staff(
        "add", "canbo.xa", "--name", "Chị Thu Cán Bộ", "--role", "admin", "--commune", "99999"
    )


@pytest.fixture
def desk(browser: Any, office: ServerProcess, password: str) -> Iterator[Any]:
    """The commune office's desktop browser, logged in."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="vi-VN", accept_downloads=True
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{office.base}/login")
    page.fill("input[name=username]", "canbo.xa")
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{office.base}/")
    page.base = office.base
    yield page
    context.close()


def stored(server: ServerProcess, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with connect(server.data_dir / "gocua.db") as db:
        return [tuple(r) for r in db.execute(sql, params)]  # as tuples, to compare


def open_record(page: Any, record_id: str) -> None:
    page.goto(f"{page.base}/records/{record_id}")
    page.locator("#review").wait_for()


def decide(page: Any, state: str, comment: str = "") -> None:
    page.check(f"input[name=review_state][value={state}]")
    page.fill("textarea[name=comment]", comment)
    page.click("#save-review")
    page.locator("#review").wait_for()


def test_review_comment_reaches_the_phone_and_the_fix_is_approved(desk, office, phone):
    village = phone.villages["Thôn Đông"]
    item = record(
        village, data=household_data(members=[adult("Hà Thị Lụa", 1910), child("Hà Văn Tí", 2016)])
    )
    assert phone.push(item) == ["applied"]
    phone.pull()

    desk.goto(f"{desk.base}/?village={village}")
    desk.locator(f'tr[data-record="{item["id"]}"] a').click()
    decide(desk, "has_issues", "Năm sinh của bà Lụa là 1910?")
    expect(desk.locator("#review-state")).to_have_text("Cần sửa")
    expect(desk.locator(".comments .comment")).to_have_text("Năm sinh của bà Lụa là 1910?")
    screenshot(desk, "review-has-issues")

    reviews = [c["data"] for c in phone.pull() if c["kind"] == "review"]
    assert [(r["record_id"], r["review_state"], r["comment"]) for r in reviews] == [
        (item["id"], "has_issues", "Năm sinh của bà Lụa là 1910?")
    ]

    fixed = {
        **item,
        "rev": str(uuid.uuid4()),
        "base_rev": item["rev"],
        "data": household_data(members=[adult("Hà Thị Lụa", 1951), child("Hà Văn Tí", 2016)]),
    }
    assert phone.push(fixed) == ["applied"]
    open_record(desk, item["id"])
    expect(desk.locator("#review-state")).to_have_text("Đã sửa, chờ duyệt lại")
    change = desk.locator(f'#rev-{fixed["rev"]} tr[data-path="members[0].birth_year"]')
    expect(change.locator(".old")).to_have_text("1910")
    expect(change.locator(".new")).to_have_text("1951")
    decide(desk, "approved")
    expect(desk.locator("#review-state")).to_have_text("Đã duyệt")
    screenshot(desk, "review-approved")
    last = [c["data"] for c in phone.pull() if c["kind"] == "review"][-1]
    assert (last["review_state"], last["rev"]) == ("approved", fixed["rev"])


def test_a_staff_edit_and_its_diff(desk, office, phone):
    item = record(
        phone.villages["Thôn Tây"], data=household_data(head_name="Nguyen Van Binh", residents=2)
    )
    assert phone.push(item) == ["applied"]
    open_record(desk, item["id"])
    desk.click("#edit-link")
    desk.fill('input[name="q:head_name"]', "Nguyễn Văn Bình")
    desk.fill('input[name="q:residents"]', "0")
    desk.click("#save-edit")
    expect(desk.locator("#edit-errors")).to_be_visible()  # residents: 1..30, nothing saved
    expect(desk.locator('[data-path="residents"] .field-error')).to_be_visible()
    desk.fill('input[name="q:residents"]', "2")
    desk.fill("textarea[name=comment]", "Thêm dấu cho tên chủ hộ")
    desk.click("#save-edit")
    row = desk.locator('.revision-current tr[data-path="head_name"]')
    expect(row.locator(".old")).to_have_text("Nguyen Van Binh")
    expect(row.locator(".new")).to_have_text("Nguyễn Văn Bình")
    expect(desk.locator("#review-state")).to_have_text("Đã chỉnh sửa")
    screenshot(desk, "review-staff-edit")
    assert stored(
        office,
        "SELECT status, device_id IS NULL FROM revisions WHERE record_id = ? ORDER BY rowid",
        item["id"],
    ) == [("superseded", 0), ("current", 1)]
    edited = [c["data"] for c in phone.pull() if c["kind"] == "review"]
    assert edited[-1]["review_state"] == "edited"


def test_a_csv_import_with_a_bad_row(desk, office, tmp_path: Path):
    csv = tmp_path / "ho-bac-son.csv"
    csv.write_text(
        "thon,chu_ho,dia_chi\nThôn Bắc Sơn,Lò Thị Xuân,Bản trên\n"
        "Thôn Không Tên,Lò Văn Hạ,Bản dưới\nThôn Bắc Sơn,Lò Văn Thu,Bản giữa\n",
        encoding="utf-8",
    )
    desk.goto(f"{desk.base}/households/import")
    desk.set_input_files("input[type=file]", str(csv))
    desk.click("#import-form button[type=submit]")
    bad = desk.locator('tr[data-line="3"]')
    expect(bad).to_have_class("bad")
    expect(bad.locator(".row-error")).to_have_text('Không có thôn "Thôn Không Tên" trong xã.')
    screenshot(desk, "import-preview")
    assert stored(office, "SELECT count(*) FROM households WHERE head_name LIKE 'Lò %'") == [(0,)]
    desk.click("#import-apply")
    expect(desk.locator("#import-done")).to_be_visible()
    assert sorted(
        stored(office, "SELECT head_name FROM households WHERE head_name LIKE 'Lò %'")
    ) == [("Lò Thị Xuân",), ("Lò Văn Thu",)]


def test_two_villages_merged(desk, office):
    desk.goto(f"{desk.base}/villages")
    for name in ("Xóm Trại", "Xóm Đồng"):
        desk.fill("#add-village input[name=name]", name)
        desk.click("#add-village button")
        expect(desk.locator("tr[data-village]", has_text=name)).to_be_visible()
    source = stored(office, "SELECT id FROM villages WHERE name = 'Xóm Trại'")[0][0]
    target = stored(office, "SELECT id FROM villages WHERE name = 'Xóm Đồng'")[0][0]
    desk.select_option("#merge-villages select[name=source]", source)
    desk.select_option("#merge-villages select[name=target]", target)
    desk.click("#merge-villages button")
    expect(desk.locator(f'tr[data-village="{source}"]')).to_contain_text("đã gộp vào Xóm Đồng")
    expect(desk.locator(f'tr[data-village="{target}"]')).to_contain_text("gồm cả Xóm Trại")
    screenshot(desk, "villages-merged")
    assert stored(office, "SELECT merged_into, active FROM villages WHERE id = ?", source) == [
        (target, 0)
    ]


def test_a_persons_data_exported_and_erased(desk, office, phone, tmp_path: Path):
    name = "Mùa A Chứ"
    item = record(
        phone.villages["Thôn Tây"],
        str(uuid.uuid4()),
        data=household_data(
            head_name=name, respondent_name=name, members=[adult(name, 1970, sex="male")]
        ),
    )
    assert phone.push(item) == ["applied"]
    desk.goto(f"{desk.base}/people?q=mua a chu")
    boxes = desk.locator("#person-form input[name=key]")
    expect(boxes).to_have_count(4)  # head, respondent, member, the register's head
    for index in range(4):
        boxes.nth(index).check()
    with desk.expect_download() as waiting:
        desk.click("#person-export")
    path = tmp_path / "export.json"
    waiting.value.save_as(path)
    exported = json.loads(path.read_text(encoding="utf-8"))
    assert exported["format"] == "gocua-person-export"
    assert name in path.read_text(encoding="utf-8")

    desk.fill("#person-form input[name=reason]", "Đơn đề nghị xóa của ông Chứ")
    desk.once("dialog", lambda dialog: dialog.accept())
    desk.click("#person-erase")
    expect(desk.locator("#erased")).to_be_visible()
    screenshot(desk, "person-erased")
    desk.goto(f"{desk.base}/people?q=mua a chu")
    expect(desk.locator(".empty")).to_be_visible()
    data = stored(office, "SELECT answers(data) FROM revisions WHERE record_id = ?", item["id"])
    assert len(data) == 2 and all(name not in d for (d,) in data)
    assert stored(office, "SELECT detail FROM audit_log WHERE action = 'person_erase'") == [
        ("Đơn đề nghị xóa của ông Chứ",)
    ]
