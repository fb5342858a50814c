"""An imported form with media, on the phone: the picture beside a choice's label is fetched
once and shown offline, a recording and a document are taken offline and kept on the phone,
a file past its question's bound is refused in words, and the sync brings each file to the
server with the record."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from server.domain import answers as stored_answers
from server.domain.blobs import blob_path
from server.domain.db import connect
from tests.e2e.collector import LOADED_WIDTH, Collector
from tests.e2e.conftest import expect, phone_context
from tests.e2e.visits import enrolled
from tests.loop_forms import write_workbook
from tests.workbooks import EN, VI

pytestmark = pytest.mark.e2e
# A real 1×1 PNG, so that the phone draws it.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c63f8cfc0f01f0005000201a5b2d1a60000000049454e44ae426082"
)
BIG_PNG = bytes.fromhex(  # and a 2×2 one, the big picture beside it
    "89504e470d0a1a0a0000000d494844520000000200000002080600000072b60d24"
    "0000001449444154789c633c2127f79f8181818189010a001f12020769b4d09c0000000049454e44ae426082"
)
WAV = (
    b"RIFF"
    + (36).to_bytes(4, "little")
    + b"WAVEfmt "
    + b"\x10\0\0\0\x01\0\x01\0"
    + (b"\x40\x1f\0\0\x80\x3e\0\0\x02\0\x10\0data\0\0\0\0")
)


def media_form(folder: Path, form_id: str = "tham_anh") -> list[Path]:
    survey = [
        {"type": "select_one nha", "name": "nha", VI: "Nhà làm bằng gì?", EN: "House made of?"},
        {"type": "audio", "name": "loi_ke", VI: "Ghi âm lời kể", EN: "Record the story"},
        {"type": "file", "name": "giay", VI: "Giấy tờ", EN: "A document"},
    ]
    choices = [
        {
            "list_name": "nha",
            "name": "gach",
            VI: "Gạch",
            EN: "Brick",
            "media::image": "gach.png",
            "media::big-image": "gach_lon.png",
        },
        {"list_name": "nha", "name": "go", VI: "Gỗ", EN: "Wood"},
    ]
    settings = [{"form_id": form_id, "version": "1", "form_title": "Thăm có ảnh"}]
    book = write_workbook(
        folder / "tham_anh.xlsx", {"survey": survey, "choices": choices, "settings": settings}
    )
    picture = folder / "gach.png"
    picture.write_bytes(PNG)
    big = folder / "gach_lon.png"
    big.write_bytes(BIG_PNG)
    return [book, picture, big]


def test_an_imported_form_with_media_filled_offline_brings_its_files_to_the_server(
    browser, server, tmp_path: Path
):
    book, picture, big = media_form(tmp_path)
    server.cli("form", "import", str(book), "--attach", str(picture), "--attach", str(big))
    page = phone_context(browser).new_page()
    app = Collector(page)
    app.enroll(server.cli("enroll").strip().splitlines()[-1])
    # The sync after enrolling keeps the form's picture on the phone.
    app.wait_stored("blobs", hashlib.sha256(PNG).hexdigest())
    page.context.set_offline(True)
    app.households().first.click()
    chooser = page.locator('#choose-form [data-form="tham_anh"]')
    expect(chooser).to_contain_text("tệp kèm theo: 1 KB")
    chooser.click()
    page.locator("#finalize").wait_for()

    picture_shown = app.question("nha").locator('img[data-media="gach.png"]')
    expect(picture_shown).to_be_visible()
    assert picture_shown.evaluate(LOADED_WIDTH) == 1
    # ODK's big-image: a tap on the picture opens the bigger one, offline too.
    app.question("nha").locator('button.media-zoom[data-big-media="gach_lon.png"]').click()
    big = page.locator('dialog.media-big img[data-media="gach_lon.png"]')
    expect(big).to_be_visible()
    assert big.evaluate(LOADED_WIDTH) == 2
    page.locator("dialog.media-big button").click()
    expect(page.locator("dialog.media-big")).to_have_count(0)
    assert app.checked("nha") == []  # the tap opened the picture, it chose nothing
    app.choose("nha", "gach")

    app.reveal("loi_ke").locator("input[type=file]").set_input_files(
        {"name": "loi_ke.wav", "mimeType": "audio/wav", "buffer": WAV}
    )
    expect(app.question("loi_ke").locator("output")).to_contain_text("Đã lưu trên máy")
    expect(app.question("loi_ke").locator("audio")).to_be_visible()

    document = app.reveal("giay").locator("input[type=file]")
    document.set_input_files(
        {"name": "to_lon.pdf", "mimeType": "application/pdf", "buffer": b"%" * 10_000_001}
    )
    expect(app.question("giay").locator("output")).to_contain_text("lớn hơn mức tối đa 10.0 MB")
    paper = b"%PDF-1.4\n" + b"giay to\n" * 1000
    document.set_input_files({"name": "giay.pdf", "mimeType": "application/pdf", "buffer": paper})
    expect(app.question("giay").locator("output")).to_contain_text("giay.pdf (8 KB)")
    app.wait_saved()
    app.finalize()

    page.context.set_offline(False)
    page.locator("#sync").click()
    page.locator("#record-list .pill.state-synced").wait_for()
    app.page.context.close()

    with connect(server.data_dir / "gocua.db") as db:
        (raw,) = db.execute("SELECT data FROM records WHERE form_id = 'tham_anh'").fetchone()
    data = stored_answers.load(raw)
    assert data["nha"] == "gach"
    assert data["loi_ke"] == hashlib.sha256(WAV).hexdigest()
    assert data["giay"] == hashlib.sha256(paper).hexdigest()
    assert blob_path(server.data_dir, data["loi_ke"]).read_bytes() == WAV
    assert blob_path(server.data_dir, data["giay"]).read_bytes() == paper


def test_a_form_id_an_address_must_quote_still_brings_its_picture_to_the_phone(
    browser, server, tmp_path: Path
):
    # A space, '#', '?', '%' and '&' each end or change a path unless the phone quotes them.
    book, *files = media_form(tmp_path, form_id="thăm hộ #1? 50% & more")
    server.cli("form", "import", str(book), *(f"--attach={f}" for f in files))
    app = enrolled(browser, server)
    app.wait_stored("blobs", hashlib.sha256(PNG).hexdigest())
    app.page.context.close()
