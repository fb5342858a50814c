"""A form's id and version are parts of web addresses (the phone's media, ODK Collect's form,
manifest and files, OData): one a path cannot carry is refused at the check, naming the
setting in both languages; anything else is quoted wherever an address is made."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.test_form_extras import read, refused

SURVEY = [["type", "name", "label"], ["text", "q", "Q"]]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("form_id", "xa/thon"),
        ("form_id", "https://example.org/forms/ho"),
        ("form_id", ".."),
        ("version", "2026/11/30"),
        ("version", "."),
    ],
)
def test_an_id_or_version_no_path_can_carry_is_refused_naming_the_setting(
    tmp_path: Path, column: str, value: str
) -> None:
    settings = {"form_id": "ho", "version": "1", column: value}
    error = refused(tmp_path, SURVEY, settings=[list(settings), list(settings.values())])
    assert (error.sheet, error.row, error.feature) == ("settings", 2, column)
    assert f"{column} '{value}'" in error.en and f"{column} '{value}'" in error.vi
    assert "web address" in error.en and "địa chỉ web" in error.vi


def test_what_an_address_quotes_is_a_form_id_as_any_other(tmp_path: Path) -> None:
    for value in ("Spec test", "thăm hộ #1? 50% & more", "v1.2", "a..b", "x\\y"):
        settings = [["form_id", "version"], [value, value]]
        assert read(tmp_path, SURVEY, settings=settings) == []
