"""The Forms page in Chromium as a commune admin uses it, and the phone that gets the forms:
upload a workbook (built here with openpyxl), read the check, try the form in the phone-sized
preview (the collector's own renderer; nothing stored), publish it; the phone lists both forms,
a draft keeps its version when a new one comes, a form no longer given is not offered."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from server.domain.db import connect
from tests.e2e.collector import LOADED_WIDTH, Collector
from tests.e2e.conftest import expect
from tests.e2e.test_accessibility import assert_accessible, axe_violations
from tests.server_process import ServerProcess
from tests.workbooks import EN, FOLLOWUP_ID, VI, followup_rows, workbook

pytestmark = pytest.mark.e2e


def stored(server: ServerProcess, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with connect(server.data_dir / "gocua.db") as db:
        return [tuple(r) for r in db.execute(sql, params)]


def until(page: Any, condition: Callable[[], Any], what: str, seconds: float = 20) -> Any:
    """Wait for ``condition`` (something the server holds) to come true, or fail naming it."""
    deadline = time.monotonic() + seconds
    while not (found := condition()):
        assert time.monotonic() < deadline, f"never came true: {what}"
        page.wait_for_timeout(100)
    return found


@pytest.fixture
def desk(browser: Any, server: ServerProcess) -> Iterator[Any]:
    """The commune admin at the office's desktop, logged in."""
    password = server.add_staff(
        "add", "qt.xa", "--name", "Chị Quản Trị", "--role", "admin", "--commune", "99999"
    )
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{server.base}/login")
    page.fill("input[name=username]", "qt.xa")
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.base}/")
    yield page
    context.close()


def upload(desk: Any, server: ServerProcess, path: Path, *attachments: Path) -> None:
    """The workbook (and the files it names) checked on the Forms page, until it answers."""
    desk.goto(f"{server.base}/admin/forms")
    desk.set_input_files("#form-upload input[name=file]", str(path))
    if attachments:
        desk.set_input_files("#form-upload input[name=attachments]", [str(a) for a in attachments])
    desk.click("#form-upload button[type=submit]")
    desk.locator("#check-ok, #check-refused").first.wait_for()


def held(server: ServerProcess, key: str) -> bool:
    return any(
        key in (row[0] or "") for row in stored(server, "SELECT reported_forms FROM devices")
    )


def test_an_admin_checks_previews_and_publishes_a_form_the_phone_then_offers(
    server: ServerProcess, desk: Any, phone_page: Any, tmp_path: Path
) -> None:
    path = tmp_path / "tham_lai.xlsx"
    path.write_bytes(workbook(extra_settings={"style": "theme-grid"}))
    upload(desk, server, path)
    expect(desk.locator("#check-ok")).to_contain_text("Thăm lại hộ")
    expect(desk.locator("#check-warnings")).to_contain_text("Trang tính 'settings', dòng 2")

    # The preview: the collector's own renderer in a 360 px frame, parts and repeats included.
    frame = desk.frame_locator("#form-preview")
    frame.locator("#preview[data-ready='1']").wait_for()
    preview = frame.locator('[data-path="gap_ho"]')
    expect(preview).to_contain_text("Gặp được hộ?")
    preview.locator('input[value="co"]').check()
    photo = tmp_path / "nha.png"
    Image.new("RGB", (40, 30), "green").save(photo)
    frame.locator('[data-path="anh"] input[type=file]').set_input_files(str(photo))
    frame.locator('[data-path="ghi_chu"] input, [data-path="ghi_chu"] textarea').first.fill("thử")
    expect(frame.locator('[data-path="anh"] .photo-note')).to_have_text(
        "Khi xem trước không chụp ảnh: không lưu gì cả."
    )
    databases = desk.evaluate("async () => (await indexedDB.databases()).map((d) => d.name)")
    assert "gocua" not in databases  # the preview kept neither the photo nor anything else
    frame.locator("#next").click()
    frame.locator('[data-add="nguoi_giup"]').click()
    expect(frame.locator('[data-path="nguoi_giup[0].ten"]')).to_contain_text("Tên người được giúp")
    width = desk.locator("#form-preview").evaluate("f => f.clientWidth")
    assert width == 360
    assert_accessible("the form's check", axe_violations(desk))
    assert stored(server, "SELECT count(*) FROM forms WHERE form_id = ?", FOLLOWUP_ID) == [(0,)]

    desk.click("#publish")
    expect(desk.locator("#published")).to_contain_text("Đã phát hành phiên bản")
    ((first,),) = stored(server, "SELECT version FROM forms WHERE form_id = ?", FOLLOWUP_ID)
    assert stored(server, "SELECT count(*) FROM records") == [(0,)]  # the preview sent nothing

    # The phone syncs on opening: two forms now, so the volunteer picks one.
    app = Collector(phone_page)
    app.enroll(server.cli("enroll").strip().splitlines()[-1])
    until(phone_page, lambda: held(server, f"{FOLLOWUP_ID}@{first}"), "the phone holds v1")
    app.households().first.click()
    chooser = phone_page.locator("#choose-form")
    expect(chooser.locator("button[data-form]")).to_have_count(2)
    chooser.locator(f'[data-form="{FOLLOWUP_ID}"]').click()
    phone_page.locator("#finalize").wait_for()
    expect(app.question("ghi_chu")).to_contain_text("Ghi chú lần thăm")
    app.choose("gap_ho", "co")
    app.type("ghi_chu", "Lần đầu")
    app.wait_saved()
    phone_page.locator("#back").click()

    # A new version: the phone gets it at its next sync; the open draft keeps its own.
    path.write_bytes(workbook(followup_rows("Ghi chú lần thăm (mới)")))
    upload(desk, server, path)
    desk.click("#publish")
    expect(desk.locator("#published")).to_be_visible()
    second = str(int(first) + 1)
    phone_page.locator("#sync").click()
    until(phone_page, lambda: held(server, f"{FOLLOWUP_ID}@{second}"), "the phone holds v2")
    desk.goto(f"{server.base}/admin/forms/{FOLLOWUP_ID}")
    expect(desk.locator("#form-phones .held")).to_have_text(second)
    expect(desk.locator(f'#form-versions tr[data-version="{second}"] .phones')).to_have_text("1")
    assert_accessible("a form's page", axe_violations(desk))

    app.record_rows().first.click()
    phone_page.locator("#finalize").wait_for()
    expect(app.question("ghi_chu")).to_contain_text("Ghi chú lần thăm")
    expect(app.question("ghi_chu")).not_to_contain_text("(mới)")
    assert app.value("ghi_chu") == "Lần đầu"
    app.add("nguoi_giup")
    app.type("nguoi_giup[0].ten", "Lò Thị Mai")
    app.choose("nguoi_giup[0].viec", "vneid")
    app.finalize()
    phone_page.locator("#sync:not([disabled])").click()
    ((version, data),) = until(
        phone_page,
        lambda: stored(
            server,
            "SELECT form_version, answers(data) FROM records WHERE form_id = ?",
            FOLLOWUP_ID,
        ),
        "the draft reaches the server",
    )
    assert version == first
    assert json.loads(data)["nguoi_giup"] == [{"ten": "Lò Thị Mai", "viec": "vneid"}]

    # A new visit with the form takes the new version.
    app.households().nth(1).click()
    chooser.locator(f'[data-form="{FOLLOWUP_ID}"]').click()
    phone_page.locator("#finalize").wait_for()
    expect(app.question("ghi_chu")).to_contain_text("Ghi chú lần thăm (mới)")
    phone_page.locator("#back").click()

    # The admin stops giving the form: the phone no longer offers it for a new visit.
    desk.goto(f"{server.base}/admin/forms/{FOLLOWUP_ID}")
    desk.click('#form-state button[data-state="off"]')
    expect(desk.locator("#form-state .state")).to_have_text("Không giao cho tình nguyện viên")
    changes = lambda: stored(  # noqa: E731
        server, "SELECT seq FROM changes WHERE kind = 'form_state' ORDER BY seq DESC LIMIT 1"
    )
    seq = until(phone_page, changes, "the state is in the feed")[0][0]
    phone_page.locator("#sync:not([disabled])").click()
    app.wait_stored("kv", "since", f"(v) => v !== undefined && v.value >= {seq}")
    app.households().first.click()  # its visit is sent: a new one begins
    phone_page.locator("#finalize").wait_for()
    expect(phone_page.locator("#choose-form")).to_have_count(0)
    expect(app.question("outcome")).to_be_attached()  # straight into the household survey


def test_choices_from_an_attached_file_show_in_the_preview(
    server: ServerProcess, desk: Any, tmp_path: Path
) -> None:
    from tests.api.test_admin_form_files import FILE_ID, HO, SURVEY, THON

    book = tmp_path / f"{FILE_ID}.xlsx"
    book.write_bytes(workbook(SURVEY, form_id=FILE_ID))
    (tmp_path / "thon.csv").write_text(THON, encoding="utf-8")
    (tmp_path / "ho.csv").write_text(HO, encoding="utf-8")
    upload(desk, server, book, tmp_path / "thon.csv", tmp_path / "ho.csv")
    expect(desk.locator('#check-attachments tr[data-file="ho.csv"]')).to_contain_text("3")
    frame = desk.frame_locator("#form-preview")
    frame.locator("#preview[data-ready='1']").wait_for()
    village = frame.locator('[data-path="thon"]')
    expect(village).to_contain_text("Thôn Đông")
    village.locator('input[value="dong"]').check()
    households = frame.locator('[data-path="ho"] label.choice:visible')
    expect(households).to_have_text(["Hộ Lò Văn A", "Hộ Lò Thị B"])  # the file's own filter
    assert_accessible("the check with attached files", axe_violations(desk))


def test_pulldata_reads_the_attached_csv_in_the_preview(
    server: ServerProcess, desk: Any, tmp_path: Path
) -> None:
    from tests.api.test_admin_form_files import FILE_ID, LOOKUP, PULL_SURVEY

    people = ("Hộ có ${so_nguoi} người", "The household has ${so_nguoi} people")
    survey = [*PULL_SURVEY, ("note", "so_nguoi_ghi", *people, None, None, None)]
    book = tmp_path / f"{FILE_ID}.xlsx"
    book.write_bytes(workbook(survey, form_id=FILE_ID))
    (tmp_path / "ho.csv").write_text(LOOKUP, encoding="utf-8")
    upload(desk, server, book, tmp_path / "ho.csv")
    expect(desk.locator('#check-attachments tr[data-file="ho.csv"]')).to_contain_text(
        "2 dòng cho pulldata()"
    )
    frame = desk.frame_locator("#form-preview")
    frame.locator("#preview[data-ready='1']").wait_for()
    note = frame.locator('[data-path="so_nguoi_ghi"]')
    frame.locator('[data-path="ho"] input[value="h2"]').check()
    expect(note).to_contain_text("Hộ có 2 người")
    frame.locator('[data-path="ho"] input[value="h1"]').check()
    expect(note).to_contain_text("Hộ có 4 người")


def test_a_long_list_from_a_file_is_searched_not_drawn_whole(
    server: ServerProcess, desk: Any, tmp_path: Path
) -> None:
    from tests.api.test_admin_form_files import EN, FILE_ID, THON, VI

    rows = "".join(f"h{i},Hộ Đỗ Văn {i},{'dong' if i % 2 else 'tay'}\n" for i in range(1, 3001))
    survey = [
        ("type", "name", VI, EN, "required", "choice_filter"),
        ("select_one_from_file thon.csv", "thon", "Thôn nào?", "Which village?", "yes", None),
        (
            "select_one_from_file ho.csv",
            "ho",
            "Hộ nào?",
            "Which household?",
            None,
            "thon = ${thon}",
        ),
        ("select_multiple_from_file ho.csv", "ban", "Hộ hàng xóm", "Neighbours", None, None),
    ]
    book = tmp_path / f"{FILE_ID}.xlsx"
    book.write_bytes(workbook(survey, form_id=FILE_ID))
    (tmp_path / "thon.csv").write_text(THON, encoding="utf-8")
    (tmp_path / "ho.csv").write_text("name,label,thon\n" + rows, encoding="utf-8")
    upload(desk, server, book, tmp_path / "thon.csv", tmp_path / "ho.csv")
    frame = desk.frame_locator("#form-preview")
    frame.locator("#preview[data-ready='1']").wait_for()
    household = frame.locator('[data-path="ho"]')
    choices = household.locator("label.choice")
    expect(household.locator("input[type=search]")).to_have_attribute(
        "placeholder", "Tìm trong 3000 lựa chọn"
    )
    expect(choices).to_have_count(0)  # the filter offers none before a village is chosen
    frame.locator('[data-path="thon"] input[value="dong"]').check()
    expect(choices).to_have_count(20)  # drawn: the first 20 of 1,500, not all of them
    expect(household).to_contain_text("Còn 1480 lựa chọn khớp")
    household.locator("input[type=search]").fill("do van 299")  # tone marks and case folded
    expect(choices).to_have_text(
        [
            "Hộ Đỗ Văn 299",
            "Hộ Đỗ Văn 2991",
            "Hộ Đỗ Văn 2993",
            "Hộ Đỗ Văn 2995",
            "Hộ Đỗ Văn 2997",
            "Hộ Đỗ Văn 2999",
        ]
    )
    household.locator('input[value="h2993"]').check()
    household.locator("input[type=search]").fill("")
    expect(choices.first).to_have_text("Hộ Đỗ Văn 2993")  # the answer stays in sight
    expect(household.locator("input:checked")).to_have_value("h2993")
    frame.locator('[data-path="thon"] input[value="tay"]').check()
    expect(household.locator("input:checked")).to_have_count(0)  # not of this village: dropped
    expect(choices.first).to_have_text("Hộ Đỗ Văn 2")
    neighbours = frame.locator('[data-path="ban"]')
    neighbours.locator("input[type=search]").fill("văn 1000")
    neighbours.locator('input[value="h1000"]').check()
    neighbours.locator("input[type=search]").fill("văn 7")
    neighbours.locator('input[value="h7"]').check()
    expect(neighbours.locator("input:checked")).to_have_count(2)
    assert_accessible("a long list searched", axe_violations(desk))


def test_the_preview_shows_label_pictures_and_a_tap_opens_the_big_one(
    server: ServerProcess, desk: Any, tmp_path: Path
) -> None:
    survey = [
        ("type", "name", VI, EN, "image", "big-image"),
        (
            "select_one co_khong",
            "gap_ho",
            "Gặp được hộ?",
            "Met the household?",
            "nho.png",
            "lon.png",
        ),
    ]
    book = tmp_path / "anh_nhan.xlsx"
    book.write_bytes(workbook(survey, form_id="anh_nhan"))
    for name, size in (("nho.png", (20, 10)), ("lon.png", (200, 100))):
        Image.new("RGB", size, "orange").save(tmp_path / name)
    upload(desk, server, book, tmp_path / "nho.png", tmp_path / "lon.png")
    frame = desk.frame_locator("#form-preview")
    frame.locator("#preview[data-ready='1']").wait_for()
    small = frame.locator('[data-path="gap_ho"] img[data-media="nho.png"]')
    expect(small).to_be_visible()
    assert small.evaluate(LOADED_WIDTH) == 20
    frame.locator('[data-path="gap_ho"] button.media-zoom').click()
    big = frame.locator('dialog.media-big img[data-media="lon.png"]')
    expect(big).to_be_visible()
    assert big.evaluate(LOADED_WIDTH) == 200
    frame.locator("dialog.media-big button").click()
    expect(frame.locator("dialog.media-big")).to_have_count(0)
