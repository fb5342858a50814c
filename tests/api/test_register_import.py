"""Households from CSV or XLSX: a preview with row-by-row errors before anything is written,
then the valid rows added once, each reaching the phones."""

from __future__ import annotations

import io
import re

import openpyxl
from openpyxl import Workbook

from tests.api.test_review_helpers import (
    CSRF,
    last_seq,
    post,
    problem,
    pull,
    staff,
    text_of,
)
from tests.hostile_files import MB, SHEET, bomb, far_row_sheet, honest_xlsx, many_parts, rezip


def upload(client, name: str, content: bytes):
    return client.post(
        "/households/import",
        data={"csrf_token": CSRF, "file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def households(db):
    return db.execute("SELECT count(*) FROM households").fetchone()[0]


def rows_of(page: str) -> dict[int, str]:
    return {
        int(m.group(1)): m.group(2)
        for m in re.finditer(r'<tr data-line="(\d+)" class="(ok|bad)">', page)
    }


CSV = (
    "Thôn,Tên chủ hộ,Địa chỉ\n"
    "Thôn Đông,Hoàng Văn Em,Số 3 ngõ 5\n"
    "Thôn Không Có,Vũ Thị Gấm,Số 9\n"
    "thôn tây,,Cuối làng\n"
    "Thôn Tây,Đặng Văn Hùng,\n"
    "Thôn Tây,Đặng Văn Hùng,\n"
    'Thôn Đông,Nguyễn Văn An,"Số 12, ngõ 3"\n'
)


def test_a_csv_with_bad_rows_is_previewed_and_nothing_is_written_until_confirmed(
    client, app, phone, db
):
    staff(client, app)
    before, since = households(db), last_seq(db)
    read = upload(client, "ho.csv", CSV.encode("utf-8-sig"))
    assert read.status_code == 302
    page = text_of(client.get(read.headers["Location"]))
    assert rows_of(page) == {2: "ok", 3: "bad", 4: "bad", 5: "ok", 6: "bad", 7: "bad"}
    assert "Không có thôn &#34;Thôn Không Có&#34; trong xã." in page
    assert "Thiếu tên chủ hộ." in page
    assert "Trùng với dòng 5." in page
    assert "Hộ này đã có trong danh sách." in page  # the demo's Nguyễn Văn An
    assert households(db) == before and last_seq(db) == since

    apply_path = read.headers["Location"]
    assert post(client, apply_path).status_code == 302
    assert households(db) == before + 2
    added = {c["data"]["head_name"] for c in pull(client, phone, since) if c["kind"] == "household"}
    assert added == {"Hoàng Văn Em", "Đặng Văn Hùng"}
    twice = post(client, apply_path)
    assert twice.status_code == 409 and "đã được nhập" in problem(twice)
    assert households(db) == before + 2


def test_an_xlsx_file_is_read_the_same_way(client, app, db):
    book = Workbook()
    sheet = book.active
    sheet.append(["village", "head_name", "address"])
    sheet.append(["Thôn Bắc Sơn", "Lò Văn Pá", 17])
    sheet.append(["Thôn Bắc Sơn", None, "Bản trên"])
    raw = io.BytesIO()
    book.save(raw)
    staff(client, app)
    read = upload(client, "ho.xlsx", raw.getvalue())
    page = text_of(client.get(read.headers["Location"]))
    assert rows_of(page) == {2: "ok", 3: "bad"}
    assert ">17<" in page  # a house number typed as a number
    post(client, read.headers["Location"])
    assert (
        db.execute("SELECT address FROM households WHERE head_name = 'Lò Văn Pá'").fetchone()[0]
        == "17"
    )


def test_files_that_cannot_be_read_are_refused_with_the_reason(client, app, db):
    staff(client, app)
    before = db.execute("SELECT count(*) FROM household_imports").fetchone()[0]
    cases = [
        ("ho.csv", b"", "Tệp trống."),
        ("ho.csv", b"ten,so\nAn,1\n", "Thiếu cột: village, head_name."),
        ("ho.xlsx", b"PK\x03\x04 not really a zip", "Không đọc được tệp"),
        ("ho.xlsx", b"plain text", "Không đọc được tệp"),
        ("ho.csv", b"\x00\x01\x02\xff\xfe" * 20, "Không đọc được tệp"),
    ]
    for name, content, words in cases:
        answer = upload(client, name, content)
        assert answer.status_code == 400, (name, content)
        assert words in problem(answer)
    assert db.execute("SELECT count(*) FROM household_imports").fetchone()[0] == before
    missing = client.post("/households/import", data={"csrf_token": CSRF})
    assert missing.status_code == 400


def test_a_zip_bomb_is_refused_from_its_directory_before_openpyxl_opens_it(
    client, app, db, monkeypatch
):
    """A few hundred kilobytes that unpack past the limits: refused with the reason, read no
    further than the zip's directory."""
    honest = honest_xlsx([["village", "head_name"], ["Thôn Đông", "Hoàng Văn Em"]])
    cases = [
        (bomb(honest, 26 * MB), "vượt quá 25 MB"),  # one part past 25 MB
        (bomb(honest, 3 * MB), "nén chặt bất thường"),  # ~1000:1, a spreadsheet is ~10:1
        (many_parts(honest, 501), "quá nhiều thành phần (hơn 500)"),
    ]
    assert all(len(raw) < 300_000 for raw, _ in cases)

    def opened(*args, **kwargs):
        raise AssertionError("openpyxl opened a refused file")

    staff(client, app)
    before = db.execute("SELECT count(*) FROM household_imports").fetchone()[0]
    with monkeypatch.context() as patch:
        patch.setattr(openpyxl, "load_workbook", opened)
        for raw, words in cases:
            answer = upload(client, "ho.xlsx", raw)
            assert answer.status_code == 400 and words in problem(answer), words
        client.get("/lang/en")
        english = upload(client, "ho.xlsx", cases[0][0])
        assert "would be more than 25 MB" in problem(english)
    assert db.execute("SELECT count(*) FROM household_imports").fetchone()[0] == before
    assert upload(client, "ho.xlsx", honest).status_code == 302  # the same file, unpadded


def test_reading_stops_at_the_line_limit_however_the_file_reaches_it(client, app, db):
    """A sheet whose one row is numbered 1,048,576 (openpyxl yields every empty row before
    it), a CSV of blank lines, a CSV line of 100 KB: each refused, none read to its end."""
    honest = honest_xlsx([["village", "head_name"]])
    far = rezip(
        honest,
        replace={
            SHEET: far_row_sheet(["village", "head_name"], ["Thôn Đông", "Hoàng Văn Em"], 1048576)
        },
    )
    blank_lines = ("village,head_name\n" + "\n" * 60_000 + "Thôn Đông,Hoàng Văn Em\n").encode()
    long_line = ("village,head_name\nThôn Đông," + "A" * 100_000 + "\n").encode()
    staff(client, app)
    for name, raw, words in [
        ("ho.xlsx", far, "quá dòng 50000"),
        ("ho.csv", blank_lines, "quá dòng 50000"),
        ("ho.csv", long_line, "Không đọc được tệp"),
    ]:
        answer = upload(client, name, raw)
        assert answer.status_code == 400 and words in problem(answer), name
