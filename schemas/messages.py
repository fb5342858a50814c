"""The one message catalogue of Gõ Cửa, Vietnamese and English, shared by the server and the phone.

Codes live in the code; words live in ``schemas/messages/{vi,en}.json``. A message is looked up
by key and formatted with named ``{placeholders}``.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

MESSAGES_DIR = Path(__file__).parent / "messages"
LANGUAGES = ("vi", "en")


def catalogue_files(lang: str) -> list[Path]:
    """``vi.json`` (what the phone loads too), then one ``AREA.vi.json`` per part of the
    server (``admin.vi.json``, ``review.vi.json`` ...), so that each part keeps its own words."""
    return [MESSAGES_DIR / f"{lang}.json", *sorted(MESSAGES_DIR.glob(f"*.{lang}.json"))]


@cache
def catalogue(lang: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in catalogue_files(lang):
        part = json.loads(path.read_text(encoding="utf-8"))
        clash = merged.keys() & part.keys()
        if clash:
            raise ValueError(f"{path.name} repeats keys of another catalogue: {sorted(clash)}")
        merged.update(part)
    return merged


def text(key: str, lang: str, **params: Any) -> str:
    """One language's text; an unknown key shows itself, so a gap is visible, not silent."""
    template = catalogue(lang).get(key, key)
    try:
        return template.format(**params)
    except (KeyError, IndexError, ValueError):
        return template


def message(key: str, **params: Any) -> dict[str, str]:
    """``{"vi": ..., "en": ...}`` for a key."""
    return {lang: text(key, lang, **params) for lang in LANGUAGES}
