"""XLSForm workbooks built with openpyxl for the Forms page's tests: a follow-up visit form with
a repeat, as a commune might run beside the household survey."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook

FOLLOWUP_ID = "tham_lai"
VI, EN = "label::Tiếng Việt (vi)", "label::English (en)"


def followup_rows(question: str = "Ghi chú lần thăm") -> list[tuple[Any, ...]]:
    return [
        ("type", "name", VI, EN, "required"),
        ("today", "ngay", None, None, None),
        ("select_one co_khong", "gap_ho", "Gặp được hộ?", "Met the household?", "yes"),
        ("text", "ghi_chu", question, "Visit notes", None),
        ("image", "anh", "Ảnh nhà", "Photo of the house", None),
        ("begin_repeat", "nguoi_giup", "Người được giúp", "People helped", None),
        ("text", "ten", "Tên người được giúp", "Name of the person helped", "yes"),
        ("select_one viec", "viec", "Đã giúp việc gì?", "What was done?", "yes"),
        ("end_repeat", None, None, None, None),
    ]


def workbook(
    survey: list[tuple[Any, ...]] | None = None,
    *,
    version: str | None = None,
    form_id: str = FOLLOWUP_ID,
    title: str = "Thăm lại hộ",
    extra_settings: dict[str, str] | None = None,
) -> bytes:
    """The follow-up form as .xlsx bytes; ``version`` None leaves the settings without one."""
    book = Workbook()
    sheet = book.active
    sheet.title = "survey"
    for row in survey or followup_rows():
        sheet.append(row)
    choices = book.create_sheet("choices")
    for row in [
        ("list_name", "name", VI, EN),
        ("co_khong", "co", "Có", "Yes"),
        ("co_khong", "khong", "Không", "No"),
        ("viec", "vneid", "Kích hoạt VNeID", "Activated VNeID"),
        ("viec", "ngan_hang", "Cài ứng dụng ngân hàng", "Installed a bank app"),
    ]:
        choices.append(row)
    settings = {"form_id": form_id, "form_title": title, "default_language": "Tiếng Việt (vi)"}
    if version:
        settings["version"] = version
    settings.update(extra_settings or {})
    sheet = book.create_sheet("settings")
    sheet.append(list(settings))
    sheet.append(list(settings.values()))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
