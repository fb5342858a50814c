"""A form without a version gets one at import, as ODK Central gives one: from the upload hour,
only growing, and none at all when the same content is already stored."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from schemas.formcheck import check_form
from schemas.xlsform import read_xlsform
from server.domain.db import open_data_db, write_transaction
from server.domain.forms import form_versions, import_form, install_form, newest_version
from tests.unit.test_xlsform import workbook

AT = datetime(2026, 11, 29, 14, 5, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> sqlite_utils.Database:
    return open_data_db(tmp_path / "data")


def form(label: str = "Name?", version: str | None = None) -> dict[str, Any]:
    settings = {"form_id": "census"} | ({"version": version} if version else {})
    return {
        "settings": settings,
        "survey": [{"type": "text", "name": "who", "label": label}],
        "choices": [],
    }


def install(db: sqlite_utils.Database, definition: dict[str, Any], at: datetime = AT) -> Any:
    with write_transaction(db):
        loaded, added = import_form(db, definition, at)
    return loaded.version, added


def test_a_form_without_a_version_is_checked_as_any_other() -> None:
    assert check_form(form()) == []
    broken = form()
    del broken["settings"]["form_id"]
    assert [(p.sheet, p.feature) for p in check_form(broken)] == [("settings", "form_id")]


def test_the_version_is_the_upload_hour(db: sqlite_utils.Database) -> None:
    assert install(db, form()) == ("2026112914", True)
    stored = dict(form_versions(db, "census"))
    assert stored["2026112914"]["settings"] == {"form_id": "census", "version": "2026112914"}


def test_the_hour_is_utc_whatever_the_zone_of_the_clock(db: sqlite_utils.Database) -> None:
    from zoneinfo import ZoneInfo

    local = datetime(2026, 11, 30, 6, 59, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    assert install(db, form(), local) == ("2026112923", True)


def test_the_same_content_again_is_no_new_version(db: sqlite_utils.Database) -> None:
    assert install(db, form()) == ("2026112914", True)
    later = datetime(2026, 12, 3, 9, tzinfo=UTC)
    assert install(db, form(), later) == ("2026112914", False)
    assert [v for v, _ in form_versions(db, "census")] == ["2026112914"]


def test_the_same_content_as_a_named_version_takes_that_name(db: sqlite_utils.Database) -> None:
    assert install(db, form(version="2026.1")) == ("2026.1", True)
    assert install(db, form()) == ("2026.1", False)


def test_new_content_within_the_hour_gets_the_next_number(db: sqlite_utils.Database) -> None:
    assert install(db, form("A?")) == ("2026112914", True)
    assert install(db, form("B?")) == ("2026112915", True)
    # The next hour is taken already: the version still grows, one past the largest.
    assert install(db, form("C?"), datetime(2026, 11, 29, 15, 30, tzinfo=UTC))[0] == "2026112916"
    # A clock set back never makes a smaller version.
    assert install(db, form("D?"), datetime(2020, 1, 1, tzinfo=UTC))[0] == "2026112917"
    assert newest_version(db, "x", "census") == ("census", "2026112917")
    assert install(db, form("A?")) == ("2026112914", False)


def test_other_forms_versions_do_not_count(db: sqlite_utils.Database) -> None:
    other = form()
    other["settings"]["form_id"] = "other"
    assert install(db, other) == ("2026112914", True)
    assert install(db, form()) == ("2026112914", True)


def test_a_workbook_without_a_version_imports_and_imports_once(
    db: sqlite_utils.Database, tmp_path: Path
) -> None:
    path = workbook(
        tmp_path,
        [["type", "name", "label"], ["integer", "age", "Age?"]],
        settings=[["form_id", "form_title"], ["tuoi", "Tuổi"]],
    )
    definition = read_xlsform(path)
    assert "version" not in definition["settings"]
    assert install(db, definition) == ("2026112914", True)
    assert install(db, read_xlsform(path), datetime(2027, 1, 1, tzinfo=UTC)) == (
        "2026112914",
        False,
    )


def test_a_workbook_without_a_settings_sheet_takes_its_file_name(
    db: sqlite_utils.Database, tmp_path: Path
) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "survey"
    sheet.append(["type", "name", "label"])
    sheet.append(["text", "who", "Who?"])
    book.save(tmp_path / "hamlet_visit.xlsx")
    definition = read_xlsform(tmp_path / "hamlet_visit.xlsx")
    assert definition["settings"] == {"form_id": "hamlet_visit"}
    assert install(db, definition) == ("2026112914", True)


def test_only_an_operators_import_makes_a_version(db: sqlite_utils.Database) -> None:
    """A commune server's form (replication) names its own version: none is made for it."""
    from schemas.form import FormError

    with pytest.raises(FormError), write_transaction(db):
        install_form(db, form(), commune_id="12345")
    assert form_versions(db, "census") == []
