"""Hostile XLSX files built in the test, small and quick: zip bombs (a part that unpacks far
beyond the file's size), zips of many parts, sheets that reach a far row."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable

from openpyxl import Workbook

MB = 1024 * 1024
SHEET = "xl/worksheets/sheet1.xml"
_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<worksheet xmlns='
    b'"http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)
_TAIL = b"</sheetData></worksheet>"


def honest_xlsx(rows: Iterable[list[object]]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    raw = io.BytesIO()
    book.save(raw)
    return raw.getvalue()


def _cells(number: int, values: list[str]) -> bytes:
    cells = "".join(
        f'<c r="{chr(65 + i)}{number}" t="inlineStr"><is><t>{v}</t></is></c>'
        for i, v in enumerate(values)
    )
    return f'<row r="{number}">{cells}</row>'.encode()


def rezip(
    xlsx: bytes,
    replace: dict[str, Iterable[bytes]] | None = None,
    add: dict[str, Iterable[bytes]] | None = None,
) -> bytes:
    """``xlsx`` with some members' content replaced and others added, each streamed in
    chunks (deflated as written: a bomb is never held whole)."""
    replace, add = replace or {}, add or {}
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(xlsx)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target,
    ):
        for info in source.infolist():
            if info.filename in replace:
                continue
            target.writestr(info.filename, source.read(info))
        for name, chunks in [*replace.items(), *add.items()]:
            with target.open(name, "w", force_zip64=True) as member:
                for chunk in chunks:
                    member.write(chunk)
    return out.getvalue()


def padded_sheet(header: list[str], rows: list[list[str]], padding: int) -> Iterable[bytes]:
    """A valid sheet: the rows, then ``padding`` bytes of blanks (compressed ~1000:1)."""
    yield _HEAD
    for number, values in enumerate([header, *rows], start=1):
        yield _cells(number, values)
    blank = b" " * MB
    for _ in range(padding // MB):
        yield blank
    yield b" " * (padding % MB)
    yield _TAIL


def far_row_sheet(header: list[str], last: list[str], row: int) -> Iterable[bytes]:
    """A sheet of a header and one row, written as row ``row``: openpyxl yields an empty row
    for each number between, from a file of a few hundred bytes."""
    yield _HEAD + _cells(1, header) + _cells(row, last) + _TAIL


def bomb(xlsx: bytes, unpacked: int) -> bytes:
    """``xlsx`` with its first sheet padded to ``unpacked`` bytes of valid XML."""
    return rezip(
        xlsx,
        replace={
            SHEET: padded_sheet(["village", "head_name"], [["Thôn Đông", "Hoàng Văn Em"]], unpacked)
        },
    )


def many_parts(xlsx: bytes, count: int) -> bytes:
    return rezip(xlsx, add={f"customXml/item{i}.xml": [b"<a/>"] for i in range(count)})
