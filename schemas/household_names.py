"""The names a household's head and address go by: the register import's column titles and
the phone's prefilled questions (schemas/household_names.json, the one list both read)."""

from __future__ import annotations

import json
from pathlib import Path

_FILE = json.loads((Path(__file__).with_name("household_names.json")).read_text("utf-8"))
HOUSEHOLD_NAMES: dict[str, tuple[str, ...]] = {
    field: tuple(_FILE[field]) for field in ("head_name", "address")
}
