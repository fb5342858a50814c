"""The office edits a record whose questions choose from a file of 10,000 households: the page
offers each long list as a search box over one <datalist>, not 10,000 radio buttons, keeps
the answers given, and stores what staff pick."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from server.domain import answers as stored_answers
from server.domain.db import connect
from tests.e2e.conftest import expect, screenshot
from tests.e2e.visits import staff_page
from tests.loop_forms import EN, VI, write_workbook
from tests.records import record

pytestmark = pytest.mark.e2e
ROWS = 10_000


def households_csv(path: Path) -> Path:
    lines = ["name,label"] + [f"hh{n:05d},Hộ số {n}" for n in range(ROWS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def long_list_workbook(path: Path) -> Path:
    survey = [
        {"type": "text", "name": "visitor", VI: "Người thăm", EN: "Visitor"},
        {"type": "select_one_from_file households.csv", "name": "hh", VI: "Hộ", EN: "Household"},
        {
            "type": "select_multiple_from_file households.csv",
            "name": "neighbours",
            VI: "Hộ hàng xóm",
            EN: "Neighbours",
        },
        {"type": "select_one roof or_other", "name": "roof", VI: "Mái nhà", EN: "Roof"},
    ]
    return write_workbook(
        path,
        {
            "survey": survey,
            "choices": [{"list_name": "roof", "name": "tile", VI: "Ngói", EN: "Tile"}],
            "settings": [{"form_id": "long_lists", "version": "1"}],
        },
    )


def push(server: Any, item: dict[str, Any]) -> dict[str, Any]:
    code = server.cli("enroll").strip().splitlines()[-1].split("#enroll=")[1]
    body = requests.post(f"{server.base}/api/v1/enroll", json={"code": code}, timeout=30).json()
    item["village_id"] = body["villages"][0]["id"]
    answer = requests.post(
        f"{server.base}/api/v1/sync/push",
        json={"items": [item]},
        headers={"Authorization": f"Bearer {body['token']}"},
        timeout=60,
    )
    assert answer.json()["results"][0]["status"] == "applied", answer.text
    return item


def test_a_long_list_is_searched_on_the_edit_page_and_the_answer_kept(
    browser, server, tmp_path: Path
):
    server.cli(
        "form",
        "import",
        str(long_list_workbook(tmp_path / "long.xlsx")),
        "--attach",
        str(households_csv(tmp_path / "households.csv")),
    )
    item = record("", data={"visitor": "Lan", "hh": "hh09999", "neighbours": ["hh00001"]})
    item.update(form_id="long_lists", form_version="1")
    item["data"]["roof"] = "other"
    item["data"]["roof_other"] = "Tôn"
    push(server, item)

    desk = staff_page(browser, server)
    desk.goto(f"{server.base}/records/{item['id']}/edit")

    hh = desk.locator('[data-path="hh"]')
    search = hh.locator('input[name="q:hh"]')
    # The answer given stays, with its label; nothing of the 10,000 is laid out as a control.
    expect(search).to_have_value("hh09999")
    expect(hh.locator(".chosen")).to_contain_text("Hộ số 9999")
    assert desk.locator("input[type=radio], input[type=checkbox]").count() == 1
    assert desk.locator("select option").count() == 3  # the short list: empty, tile, other
    lists = desk.locator("datalist")
    expect(lists).to_have_count(1)  # both questions search the one file's list
    assert lists.locator("option").count() == ROWS
    assert search.get_attribute("list") == lists.get_attribute("id")
    # An or_other answer of a short list is kept too: 'other' is offered.
    expect(desk.locator('select[name="q:roof"]')).to_have_value("other")

    screenshot(desk, "edit-long-list")
    search.fill("hh00042")
    neighbours = desk.locator('[data-path="neighbours"]')
    expect(neighbours.locator('input[type=checkbox][value="hh00001"]')).to_be_checked()
    neighbours.locator('input[type=search][name="q:neighbours"]').fill("hh00007")
    desk.click("#save-edit")
    expect(desk.locator("#review-state")).to_have_text("Đã chỉnh sửa")

    with connect(server.data_dir / "gocua.db") as db:
        (raw,) = db.execute("SELECT data FROM records WHERE id = ?", [item["id"]]).fetchone()
    assert stored_answers.load(raw) == {
        "visitor": "Lan",
        "hh": "hh00042",
        "neighbours": ["hh00001", "hh00007"],
        "roof": "other",
        "roof_other": "Tôn",
    }

    # A name that is in no row is shown back as typed, with the check's words, not stored.
    desk.goto(f"{server.base}/records/{item['id']}/edit")
    desk.locator('input[name="q:hh"]').fill("hh99999")
    desk.click("#save-edit")
    expect(desk.locator('[data-path="hh"] .field-error')).to_be_visible()
    expect(desk.locator('input[name="q:hh"]')).to_have_value("hh99999")
