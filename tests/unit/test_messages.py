"""One catalogue, two languages: the same keys, the same placeholders, every used key present."""

from __future__ import annotations

import re
import string
from pathlib import Path

from schemas.messages import catalogue, catalogue_files

ROOT = Path(__file__).resolve().parents[2]


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_each_area_has_both_languages():
    vi = [p.name.removesuffix("vi.json") for p in catalogue_files("vi")]
    en = [p.name.removesuffix("en.json") for p in catalogue_files("en")]
    assert vi == en and all(p.exists() for p in catalogue_files("vi") + catalogue_files("en"))


def test_vietnamese_and_english_have_the_same_keys_and_placeholders():
    vi, en = catalogue("vi"), catalogue("en")
    assert sorted(vi) == sorted(en)
    for key in vi:
        assert placeholders(vi[key]) == placeholders(en[key]), key
        assert vi[key].strip() and en[key].strip(), key


def test_every_key_the_code_asks_for_exists():
    used: set[str] = set()
    for path in [
        *ROOT.glob("pwa/js/*.js"),
        *ROOT.glob("server/templates/**/*.html"),
        *ROOT.glob("server/**/*.py"),
    ]:
        used |= set(re.findall(r"\bt\(\s*['\"]([a-z_]+\.[a-z_.]+)['\"]", path.read_text()))
    for path in ROOT.glob("server/**/*.py"):
        source = path.read_text()
        used |= {f"error.{c}" for c in re.findall(r'ApiError\(\s*\d+,\s*"([a-z_]+)"', source)}
        used |= {f"field.{c}" for c in re.findall(r'_error\(\s*"([a-z_]+)"', source)}
    for source in [
        (ROOT / "schemas/validate.py").read_text(),
        (ROOT / "sync/protocol.py").read_text(),
    ]:
        used |= {
            f"field.{c}"
            for c in re.findall(
                r'"(not_[a-z_]+|wrong_type|repeat_count|'
                r"unknown_field|repeated_choice|no_answer_"
                r'expected|bad_length|out_of_range)"',
                source,
            )
        }
    used |= {f"error.enroll_{r}" for r in ("unknown", "used", "expired")}
    used |= {f"app.state_{s}" for s in ("draft", "finalized", "synced", "rejected", "conflict")}
    used |= {f"app.server_{s}" for s in ("checking", "offline", "reachable", "unreachable")}
    used |= {"app.waiting_one", "app.waiting_count"}
    missing = sorted(k for k in used if k not in catalogue("vi"))
    assert used and missing == []
