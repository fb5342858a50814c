"""Two workbooks built with openpyxl for XLSForm's loops and its names used in several groups:
what the import, the phone, the server, the record page and the exports are tested with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openpyxl import Workbook

VI, EN = "label::Tiếng Việt (vi)", "label::English (en)"
CROPS = [("rice", "Lúa", "Rice"), ("maize", "Ngô", "Maize"), ("cassava", "Sắn", "Cassava")]


def write_workbook(path: Path, sheets: dict[str, list[dict[str, Any]]]) -> Path:
    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        headers = list(dict.fromkeys(key for row in rows for key in row))
        sheet.append(headers)
        for row in rows:
            sheet.append([row.get(header) for header in headers])
    book.save(path)
    return path


def loop_workbook(path: Path) -> Path:
    """A loop over three crops (and a 'none' choice pyxform leaves out), no version: as people
    write them for ODK."""
    survey = [
        {"type": "text", "name": "farmer", VI: "Tên nông dân", EN: "Farmer's name"},
        {"type": "begin loop over crops", "name": "harvest", VI: "Thu hoạch", EN: "Harvest"},
        {
            "type": "integer",
            "name": "kg",
            VI: "Số kg %(label)s đã thu",
            EN: "Kilograms of %(label)s harvested",
            "required": "yes",
            "constraint": ". >= 0",
        },
        {
            "type": "select_one yn",
            "name": "sold",
            VI: "Có bán %(label)s không?",
            EN: "Sold any %(label)s?",
            "relevant": ". != '' or true()",
        },
        {"type": "end loop"},
    ]
    choices = [{"list_name": "crops", "name": n, VI: vi, EN: en} for n, vi, en in CROPS]
    choices.append({"list_name": "crops", "name": "none", VI: "Không", EN: "None"})
    choices += [
        {"list_name": "yn", "name": "yes", VI: "Có", EN: "Yes"},
        {"list_name": "yn", "name": "no", VI: "Không", EN: "No"},
    ]
    return write_workbook(
        path,
        {
            "survey": survey,
            "choices": choices,
            "settings": [{"form_id": "harvest_loop", "form_title": "Thu hoạch"}],
        },
    )


def twice_workbook(path: Path) -> Path:
    """The name `age` (and `note`) in two groups; `job` once."""
    survey = [
        {"type": "begin group", "name": "mother", VI: "Mẹ", EN: "Mother"},
        {
            "type": "integer",
            "name": "age",
            VI: "Tuổi của mẹ",
            EN: "Mother's age",
            "required": "yes",
        },
        {"type": "text", "name": "note", VI: "Ghi chú về mẹ", EN: "About the mother"},
        {"type": "text", "name": "job", VI: "Nghề nghiệp", EN: "Job"},
        {"type": "end group"},
        {"type": "begin group", "name": "father", VI: "Bố", EN: "Father"},
        {
            "type": "integer",
            "name": "age",
            VI: "Tuổi của bố",
            EN: "Father's age",
            "constraint": ". < 120",
        },
        {"type": "text", "name": "note", VI: "Ghi chú về bố", EN: "About the father"},
        {"type": "end group"},
    ]
    return write_workbook(
        path,
        {
            "survey": survey,
            "choices": [{"list_name": "unused", "name": "x", VI: "x", EN: "x"}],
            "settings": [{"form_id": "two_parents", "version": "1"}],
        },
    )


def other_twice_workbook(path: Path) -> Path:
    """`select_one owner or_other` named `owner` in a group and in a repeat: each gets its own
    `owner_other` beside it, as pyxform writes them."""
    select = {"type": "select_one owner or_other", "name": "owner", "required": "yes"}
    survey = [
        {"type": "begin group", "name": "home", VI: "Nhà", EN: "Home"},
        {**select, VI: "Chủ nhà", EN: "Owner of the house"},
        {"type": "end group"},
        {"type": "begin repeat", "name": "plots", VI: "Thửa đất", EN: "Plots"},
        {**select, VI: "Chủ đất", EN: "Owner of the plot"},
        {"type": "end repeat"},
    ]
    owners = [("self", "Hộ này", "This household"), ("state", "Nhà nước", "The state")]
    return write_workbook(
        path,
        {
            "survey": survey,
            "choices": [{"list_name": "owner", "name": n, VI: vi, EN: en} for n, vi, en in owners],
            "settings": [{"form_id": "owners", "version": "1"}],
        },
    )


OSM_FILE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<osm version="0.6" generator="OpenMapKit 1.2">\n'
    '  <way id="-1" action="modify">\n'
    '    <nd ref="-2"/><nd ref="-3"/><nd ref="-4"/><nd ref="-2"/>\n'
    '    <tag k="building" v="house"/><tag k="building:levels" v="2"/>\n'
    "  </way>\n"
    "</osm>\n"
)


def osm_workbook(path: Path) -> Path:
    """A house drawn with OpenMapKit (`osm building_tags`) and the owner asked in two groups
    with `or_other`: the odd questions an ODK form brings."""
    owner = {"type": "select_one owner or_other", "name": "owner", "required": "yes"}
    survey = [
        {"type": "text", "name": "head", VI: "Chủ hộ", EN: "Head of household"},
        {"type": "osm building_tags", "name": "house", VI: "Vẽ ngôi nhà", EN: "Draw the house"},
        {"type": "begin group", "name": "home", VI: "Nhà", EN: "Home"},
        {**owner, VI: "Chủ nhà", EN: "Owner of the house"},
        {"type": "end group"},
        {"type": "begin group", "name": "land", VI: "Đất", EN: "Land"},
        {**owner, VI: "Chủ đất", EN: "Owner of the land"},
        {"type": "end group"},
    ]
    owners = [("self", "Hộ này", "This household"), ("state", "Nhà nước", "The state")]
    tags = [("building", "Loại nhà", "Building"), ("building:levels", "Số tầng", "Levels")]
    return write_workbook(
        path,
        {
            "survey": survey,
            "choices": [{"list_name": "owner", "name": n, VI: vi, EN: en} for n, vi, en in owners],
            "settings": [{"form_id": "odd_questions", "version": "1"}],
            "osm": [
                {"list_name": "building_tags", "name": n, VI: vi, EN: en} for n, vi, en in tags
            ],
        },
    )
