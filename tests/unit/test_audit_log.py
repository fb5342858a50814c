"""XLSForm's audit question: a form with one imports, with a warning saying what the phone logs
and its bound; the parameters a browser cannot honour are refused naming sheet, row and feature
in both languages; the log is a file answer of the record, bounded as the phone bounds it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from schemas.form import Form
from schemas.media import ANSWER_MAX_BYTES, MAX_AUDIT_EVENTS, MAX_AUDIT_LOG_BYTES
from schemas.validate import RecordChecker
from schemas.xlsform import read_xlsform
from tests.unit.test_form_extras import read, refused
from tests.unit.test_xlsform import workbook

ROOT = Path(__file__).resolve().parents[2]


def audited(parameters: str) -> list[list[str]]:
    return [
        ["type", "name", "label", "parameters"],
        ["text", "head", "Head", ""],
        ["audit", "audit", "", parameters],
    ]


@pytest.mark.parametrize("parameters", ["", "track-changes=true", "track-changes=false"])
def test_a_form_with_an_audit_imports_with_a_warning_of_what_is_logged(
    tmp_path: Path, parameters: str
) -> None:
    warnings = read(tmp_path, audited(parameters))
    (warning,) = [w for w in warnings if w.feature == "type 'audit'"]
    assert (warning.sheet, warning.row) == ("survey", 3)
    assert "5,000 events" in warning.message_en and "5.000 sự kiện" in warning.message_vi
    assert "log full" in warning.message_en and "log full" in warning.message_vi
    form = Form(read_xlsform(workbook(tmp_path, audited(parameters))))
    assert form.nodes["audit"].type == "audit"


@pytest.mark.parametrize(
    ("parameters", "feature", "en", "vi"),
    [
        (
            "location-priority=balanced location-min-interval=60 location-max-age=120",
            "parameter 'location-priority'",
            "add a geopoint question",
            "thêm câu hỏi geopoint",
        ),
        ("identify-user=true", "parameter 'identify-user'", "username", "username"),
        (
            "track-changes=true track-changes-reasons=on-form-edit",
            "parameter 'track-changes-reasons'",
            "does not ask why",
            "không hỏi lý do",
        ),
    ],
)
def test_what_a_browser_cannot_log_is_refused_with_a_way_round(
    tmp_path: Path, parameters: str, feature: str, en: str, vi: str
) -> None:
    error = refused(tmp_path, audited(parameters))
    assert (error.sheet, error.row, error.feature) == ("survey", 3, feature)
    assert en in error.en and vi in error.vi


def test_the_log_is_a_file_answer_never_required() -> None:
    definition = {
        "settings": {"form_id": "a", "version": "1"},
        "survey": [
            {"type": "text", "name": "head", "label": "Head"},
            {"type": "audit", "name": "audit", "parameters": "track-changes=true"},
        ],
        "choices": [],
    }
    checker = RecordChecker(Form(definition))
    assert checker.check({"head": "Lan"}) == {}
    assert checker.check({"head": "Lan", "audit": "a" * 64}) == {}
    errors = checker.check({"audit": "audit.csv"})
    assert [e["code"] for e in errors["audit"]] == ["not_blob"]


def test_the_phone_bounds_the_log_as_the_server_does() -> None:
    source = (ROOT / "pwa" / "js" / "audit.js").read_text("utf-8")
    found = re.search(r"export const MAX_AUDIT_EVENTS = (\d+);", source)
    assert found, "pwa/js/audit.js names MAX_AUDIT_EVENTS"
    assert int(found.group(1)) == MAX_AUDIT_EVENTS
    size = re.search(r"export const MAX_AUDIT_BYTES = (\d+);", source)
    assert size, "pwa/js/audit.js names MAX_AUDIT_BYTES"
    assert int(size.group(1)) == MAX_AUDIT_LOG_BYTES
    # The phone's log always fits the server's bound on the file, which Collect's may reach.
    assert ANSWER_MAX_BYTES["audit"] >= MAX_AUDIT_LOG_BYTES


def test_an_audit_in_a_repeat_is_refused(tmp_path: Path) -> None:
    survey = [
        ["type", "name", "label"],
        ["begin_repeat", "members", "Members"],
        ["text", "name", "Name"],
        ["audit", "audit", ""],
        ["end_repeat", "", ""],
    ]
    error = refused(tmp_path, survey)
    assert (error.sheet, error.row, error.feature) == ("survey", 4, "type 'audit'")
    assert "out of the repeat" in error.en and "ra ngoài nhóm lặp" in error.vi
