"""A server that lost a photo a phone had sent (restored from an older copy, or a person's
erasure took it) refuses a later record naming it, ``missing_blob``; the phone had marked the
photo sent, so it sends it again and the record is stored on the same sync, never left
refused for a volunteer who cannot mend it."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.domain.db import connect, write_transaction
from tests.e2e.collector import Collector
from tests.e2e.conftest import expect, phone_context
from tests.loop_forms import EN, VI, write_workbook

pytestmark = pytest.mark.e2e
PHOTO = Path(__file__).resolve().parents[2] / "pwa" / "icons" / "icon-512.png"  # a camera file


def photo_workbook(path: Path) -> Path:
    return write_workbook(
        path,
        {
            "survey": [
                {"type": "image", "name": "anh_nha", VI: "Ảnh ngôi nhà", EN: "The house"},
                {"type": "text", "name": "ghi_chu", VI: "Ghi chú", EN: "Note"},
            ],
            "settings": [{"form_id": "anh_nha", "version": "1"}],
        },
    )


def visit_with_photo(app: Collector, note: str) -> None:
    app.start_visit("anh_nha")
    app.reveal("anh_nha").locator("input[type=file]").set_input_files(str(PHOTO))
    expect(app.question("anh_nha").locator("img.photo")).to_be_visible()
    box = app.reveal("ghi_chu").locator("input")
    box.fill(note)
    box.dispatch_event("change")
    app.wait_saved()
    app.finalize()


def test_a_photo_the_server_lost_is_sent_again_with_the_record_naming_it(
    browser, server, tmp_path: Path
):
    server.cli("form", "import", str(photo_workbook(tmp_path / "anh.xlsx")))
    page = phone_context(browser).new_page()
    app = Collector(page)
    app.enroll(server.cli("enroll").strip().splitlines()[-1])
    visit_with_photo(app, "Lần một")
    page.locator("#sync").click()
    page.locator("#record-list .pill.state-synced").wait_for()

    database = server.data_dir / "gocua.db"
    with connect(database) as db:
        (sha,) = db.execute(
            "SELECT json_extract(answers(data), '$.anh_nha') FROM records WHERE form_id = 'anh_nha'"
        ).fetchone()
        # The server loses the file, and its commune's claim on it.
        with write_transaction(db):
            db.execute("DELETE FROM blob_owners WHERE sha256 = ?", [sha])
    stored = server.data_dir / "blobs" / sha[:2] / sha
    stored.unlink()

    # The same photo in a second visit: the phone holds it, marked sent long ago.
    visit_with_photo(app, "Lần hai")
    page.locator("#sync").click()
    expect(page.locator("#record-list .pill.state-synced")).to_have_count(2)
    expect(page.locator("#record-list .pill.state-rejected")).to_have_count(0)
    with connect(database) as db:
        notes = db.execute(
            "SELECT json_extract(answers(data), '$.ghi_chu') FROM records"
            " WHERE form_id = 'anh_nha' ORDER BY 1"
        ).fetchall()
        held = db.execute("SELECT count(*) FROM blob_owners WHERE sha256 = ?", [sha]).fetchone()
    assert [n[0] for n in notes] == ["Lần hai", "Lần một"]
    assert held[0] == 1 and stored.is_file()
    page.context.close()
