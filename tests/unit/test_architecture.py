"""The rules of the project's shape that import-linter cannot see: where settings are read, and
that the README lists every one of them."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODE = [p for folder in ("server", "schemas", "sync") for p in (ROOT / folder).rglob("*.py")]


def _readme_settings() -> set[str]:
    return set(re.findall(r"^\| `(GOCUA_[A-Z_]+)` \|", (ROOT / "README.md").read_text(), re.M))


def test_every_setting_the_code_names_is_in_the_readme():
    named = {name for path in CODE for name in re.findall(r"\bGOCUA_[A-Z_]+\b", path.read_text())}
    assert named, "the scan found no settings: it is looking in the wrong place"
    assert "GOCUA_DATA_DIR" in named
    missing = named - _readme_settings()
    assert not missing, f"read by the code, not listed in the README's settings: {sorted(missing)}"


def test_the_readme_lists_no_setting_the_code_does_not_read():
    named = {name for path in CODE for name in re.findall(r"\bGOCUA_[A-Z_]+\b", path.read_text())}
    assert not _readme_settings() - named


def test_the_environment_is_read_in_the_settings_module_alone():
    readers = sorted(
        str(p.relative_to(ROOT))
        for p in CODE
        if re.search(r"os\.environ\b|os\.getenv\b|getenv\(", p.read_text())
    )
    assert readers == ["server/settings.py"]


def test_sql_is_written_in_the_domain_alone():
    """The web and the CLI call the domain; a SELECT or an UPDATE in them is a rule written
    twice, waiting to drift."""
    sql = re.compile(r"\b(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM)\b|\bdb\[\"\w+\"\]")
    above = [p for folder in ("server/web", "server/cli") for p in (ROOT / folder).rglob("*.py")]
    assert above, "the scan found no modules: it is looking in the wrong place"
    writers = sorted(
        f"{p.relative_to(ROOT)}:{n}"
        for p in above
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if sql.search(line)
    )
    assert not writers, writers
