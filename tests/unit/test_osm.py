"""osm questions (OpenMapKit's): imported with their tags, answered with an .osm file's text,
checked by the same rule on the server and the phone."""

from __future__ import annotations

from typing import Any

from schemas.form import Form
from schemas.formcheck import Problem
from schemas.validate import MAX_OSM_LENGTH, RecordChecker
from schemas.xlsform import read_xlsform
from tests.loop_forms import OSM_FILE
from tests.phone_rules import error_codes, phone_check
from tests.unit.test_xlsform import SHARED_XLSFORMS


def test_the_shared_workbook_with_an_osm_question_imports_as_it_is() -> None:
    warnings: list[Problem] = []
    definition = read_xlsform(SHARED_XLSFORMS / "case_insensitivity.xlsx", warnings=warnings)
    assert definition["survey"][2] == {
        "type": "osm c1",
        "name": "q3",
        "label::EN": "Where exactly?",
    }
    assert definition["osm"] == [
        {"list_name": "c1", "name": "n1-o", "label": "l1-o"},
        {"list_name": "c1", "name": "n2-o", "label": "l2-o"},
    ]
    form = Form({**definition, "settings": {**definition["settings"], "version": "1"}})
    assert [t["name"] for t in form.osm_tags(form.nodes["q3"])] == ["n1-o", "n2-o"]
    # The check says how the question is collected, in both languages.
    (said,) = [w for w in warnings if w.feature == "type 'osm c1'"]
    assert (said.sheet, said.row) == ("survey", 4)
    assert ".osm" in said.message_en and "OpenMapKit" in said.message_en
    assert ".osm" in said.message_vi and "trình duyệt" in said.message_vi


def _wrapped(inner: str) -> str:
    return f"<osm>{inner}</osm>"


# An answer, and the one error code both checkers give it (None: accepted).
ANSWERS: list[tuple[str, Any, str | None]] = [
    ("an OpenMapKit file", OSM_FILE, None),
    ("an empty osm element", '<osm version="0.6"/>', None),
    ("a comment before the element", "<!-- OMK -->\n<osm></osm>", None),
    ("at the bound, past a text's", _wrapped("a" * (MAX_OSM_LENGTH - 11)), None),
    ("at the bound in code points", _wrapped("\U0001f3e0" * (MAX_OSM_LENGTH - 11)), None),
    ("past the bound", _wrapped("a" * (MAX_OSM_LENGTH - 10)), "not_osm"),
    (
        "a DTD that would expand entities",
        '<?xml version="1.0"?><!DOCTYPE osm [<!ENTITY a "aaaa">]><osm>&a;</osm>',
        "not_osm",
    ),
    ("another XML document", "<gpx></gpx>", "not_osm"),
    ("a byte order mark before it", "\ufeff<osm></osm>", "not_osm"),
    ("a space XML does not know", "<osm></osm>\u00a0", "not_osm"),
    ("XML's white space around it", "\r\n\t <osm\n\tversion='0.6'/> \n", None),
    ("an element named osm and more", "<osmosis></osmosis>", "not_osm"),
    ("cut short", "<osm><node id='1'>", "not_osm"),
    ("a file name, as ODK Collect names its files", "1712345.osm", "not_osm"),
    ("a number", 5, "not_osm"),
]
DEFINITION = {
    "settings": {"form_id": "osm", "version": "1"},
    "survey": [{"type": "osm tags", "name": "house", "label": "House"}],
    "osm": [{"list_name": "tags", "name": "building", "label": "Building"}],
}


def test_the_server_and_the_phone_judge_an_osm_answer_alike() -> None:
    checker = RecordChecker(Form(DEFINITION))
    checked = phone_check(DEFINITION, [{"data": {"house": a}} for _, a, _ in ANSWERS])
    for (what, answer, code), phone in zip(ANSWERS, checked, strict=True):
        expected = {"house": [code]} if code else {}
        assert error_codes(checker.check({"house": answer})) == expected, what
        assert error_codes(phone["errors"]) == expected, what


def test_an_osm_answer_is_refused_in_both_languages() -> None:
    (error,) = RecordChecker(Form(DEFINITION)).check({"house": "<gpx/>"})["house"]
    assert ".osm" in error["vi"] and ".osm" in error["en"] and error["vi"] != error["en"]
