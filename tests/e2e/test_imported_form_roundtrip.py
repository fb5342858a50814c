"""A form imported from a workbook, as a commune brings one from ODK, filled on the phone and
synced: choices from an attached CSV file, a range slider, the metadata the phone fills itself
(start, deviceid, today) and a repeat, each answer stored on the server as the phone gave it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.conftest import expect, screenshot
from tests.e2e.test_accessibility import assert_accessible, axe_violations
from tests.e2e.visits import enrolled, stored
from tests.loop_forms import EN, VI, write_workbook

pytestmark = pytest.mark.e2e

HO_CSV = "name,label\nh1,Hộ ông Lò\nh2,Hộ bà Vì\n"


def roundtrip_workbook(path: Path) -> Path:
    return write_workbook(
        path,
        {
            "survey": [
                {"type": "start", "name": "bat_dau"},
                {"type": "deviceid", "name": "may"},
                {"type": "today", "name": "ngay"},
                {"type": "select_one_from_file ho.csv", "name": "ho", VI: "Hộ", EN: "Household"},
                {
                    "type": "range",
                    "name": "hai_long",
                    VI: "Mức hài lòng",
                    EN: "Satisfaction",
                    "parameters": "start=0 end=5 step=0.5",
                    "required": "yes",
                },
                {"type": "begin_repeat", "name": "nguoi", VI: "Người", EN: "People"},
                {"type": "text", "name": "ten", VI: "Tên", EN: "Name", "required": "yes"},
                {"type": "end_repeat"},
            ],
            "settings": [{"form_id": "nhap_khau", "version": "1"}],
        },
    )


def test_an_imported_form_with_a_file_a_range_metadata_and_a_repeat_reaches_the_server(
    browser, server, tmp_path: Path
):
    (tmp_path / "ho.csv").write_text(HO_CSV, encoding="utf-8")
    server.cli(
        "form",
        "import",
        str(roundtrip_workbook(tmp_path / "nhap.xlsx")),
        "--attach",
        str(tmp_path / "ho.csv"),
    )
    app = enrolled(browser, server)
    page = app.page
    app.start_visit("nhap_khau")
    app.choose("ho", "h2")

    question = app.reveal("hai_long")
    slider = question.locator("input[type=range]")
    # A slider always stands somewhere: until she moves it, that is no answer, and it says so.
    expect(question.locator(".range-box")).to_have_class(re.compile(r"\bunanswered\b"))
    expect(slider).to_have_attribute("aria-valuetext", re.compile("Chưa trả lời"))
    expect(question.locator(".range-ends")).to_contain_text("0")
    expect(question.locator(".range-ends")).to_contain_text("5")
    expect(question.locator(".range-clear")).to_be_hidden()
    slider.focus()
    for _ in range(7):
        slider.press("ArrowRight")
    expect(question.locator("output")).to_have_text("3.5")
    expect(slider).to_have_attribute("aria-valuetext", "3.5")
    screenshot(page, "range-question")
    assert_accessible("a range question", axe_violations(page))
    # Cleared, it is unanswered again; a tap on the thumb where it stands (start) answers.
    question.locator(".range-clear").click()
    expect(question.locator(".range-box")).to_have_class(re.compile(r"\bunanswered\b"))
    expect(question.locator(".range-clear")).to_be_hidden()
    box = slider.bounding_box()
    slider.click(position={"x": 1, "y": box["height"] / 2})
    expect(question.locator("output")).to_have_text("0")
    expect(question.locator(".range-box")).not_to_have_class(re.compile(r"\bunanswered\b"))
    slider.press("End")
    expect(question.locator("output")).to_have_text("5")

    app.add("nguoi")
    app.type("nguoi[0].ten", "Lò Văn Minh")
    app.add("nguoi")
    app.type("nguoi[1].ten", "Vì Thị Mai")
    app.send()
    page.context.close()

    record = stored(server, "nhap_khau")
    data, device_id = record["data"], record["device_id"]
    assert data["ho"] == "h2"
    assert data["hai_long"] == 5 and isinstance(data["hai_long"], int | float)
    assert data["nguoi"] == [{"ten": "Lò Văn Minh"}, {"ten": "Vì Thị Mai"}]
    assert data["may"] == device_id
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", data["ngay"])
    assert data["bat_dau"].startswith(data["ngay"][:4])
    assert set(data) == {"bat_dau", "may", "ngay", "ho", "hai_long", "nguoi"}
