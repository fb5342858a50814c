"""The office's edit form offers a long choice list as a search over one <datalist>, from the
same length on as the phone searches it."""

from __future__ import annotations

import re
from pathlib import Path

from schemas.form import Form
from server.domain.records.edit import LONG_LIST, edit_datalists, edit_view

ROOT = Path(__file__).resolve().parents[2]


def test_the_office_searches_a_list_from_the_length_the_phone_does() -> None:
    render = (ROOT / "pwa/js/render.js").read_text(encoding="utf-8")
    assert re.search(r"export const LONG_LIST = (\d+);", render).group(1) == str(LONG_LIST)


def form_with(rows: int) -> Form:
    return Form(
        {
            "settings": {"form_id": "f", "version": "1"},
            "survey": [
                {"type": "select_one hh", "name": "a", "label": "A"},
                {"type": "begin_repeat", "name": "r", "label": "R"},
                {"type": "select_multiple hh", "name": "b", "label": "B"},
                {"type": "end_repeat"},
                {"type": "select_one roof or_other", "name": "roof", "label": "Roof"},
            ],
            "choices": [
                *({"list_name": "hh", "name": f"h{n}", "label": f"Hộ {n}"} for n in range(rows)),
                {"list_name": "roof", "name": "tile", "label": "Tile"},
            ],
        }
    )


def fields(form: Form, data: dict) -> dict[str, dict]:
    out = {}
    for section in edit_view(form, data, "vi"):
        for f in section["fields"] + [f for i in section["instances"] for f in i["fields"]]:
            out[f["path"]] = f
    return out


def test_a_list_at_the_threshold_is_drawn_one_past_it_is_searched() -> None:
    data = {"a": "h3", "r": [{"b": ["h1", "gone"]}], "roof": "other", "roof_other": "Tôn"}
    drawn = fields(form_with(LONG_LIST), data)
    assert "long" not in drawn["a"] and len(drawn["a"]["choices"]) == LONG_LIST
    assert edit_datalists(form_with(LONG_LIST), "vi") == {}

    searched = fields(form_with(LONG_LIST + 1), data)
    assert searched["a"]["long"] == searched["r[0].b"]["long"] == "choices-hh"
    assert searched["a"]["choices"] == []
    assert searched["a"]["chosen"] == [("h3", "Hộ 3")]
    # An answer no longer in the list is kept, shown by its name.
    assert searched["r[0].b"]["chosen"] == [("h1", "Hộ 1"), ("gone", "")]
    lists = edit_datalists(form_with(LONG_LIST + 1), "vi")
    assert list(lists) == ["choices-hh"] and len(lists["choices-hh"]) == LONG_LIST + 1


def test_an_or_other_answer_is_offered_on_the_edit_form() -> None:
    roof = fields(form_with(3), {"roof": "other"})["roof"]
    assert roof["choices"] == [("tile", "Tile"), ("other", "Khác")]
