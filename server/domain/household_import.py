"""Households imported from a CSV or XLSX file: read, checked row by row, shown, then written.

Reading writes nothing but the checked rows, kept for the admin to look at (``preview``);
only ``apply`` adds households, the valid rows only, in one transaction, each one to the pull
feed. A file is applied at most once.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

import sqlite_utils

from schemas.household_names import HOUSEHOLD_NAMES
from schemas.text import fold
from schemas.ziplimits import MB, REGISTER, ZipRefused, check_zip
from server.domain.db import now_iso
from server.domain.errors import Refused
from server.domain.register import add_household, clean_name, survivors

# What a file may hold. Reading stops at the first data row past MAX_ROWS (check_rows refuses
# the file), so a sheet or CSV is never read further than that; an XLSX is checked as a zip
# first (schemas/ziplimits.py: REGISTER), a CSV by its bytes. Empty rows cost little but are
# not free: a sheet or CSV reaching past MAX_LINES, counting them, is refused.
MAX_ROWS = 5000
MAX_LINES = 50_000
MAX_COLUMNS = 50  # cells further right are not read
MAX_CSV_BYTES = 8 * MB  # as the web's upload limit (MAX_CONTENT_LENGTH)
MAX_LINE_CHARS = 65536  # a CSV line this long is no household
# Column titles as people write them, folded (no accents, lower case, underscores). The head's
# and the address's are the names the phone's questions take them by (schemas/household_names.json).
COLUMNS = {
    "village": {"village", "village_name", "thon", "ten_thon", "thon_to_dan_pho", "thon_ban"},
    **{field: set(names) for field, names in HOUSEHOLD_NAMES.items()},
}


def read_table(filename: str, raw: bytes) -> list[list[str]]:
    """The file's rows as text cells; XLSX by its content (a zip), else CSV."""
    if not raw.strip():
        raise Refused("review.import_empty")
    if raw[:4] == b"PK\x03\x04":
        return _read_xlsx(raw)
    if filename.lower().endswith((".xlsx", ".xls")):
        raise Refused("review.import_bad_file")
    return _read_csv(raw)


def _first_rows(rows: Iterable[list[str]]) -> list[list[str]]:
    """The rows up to the first data row past MAX_ROWS (enough for check_rows to refuse),
    never reading further, nor past line MAX_LINES (empty lines count)."""
    table: list[list[str]] = []
    for number, row in enumerate(rows, start=1):
        if number > MAX_LINES:
            raise Refused("review.import_too_many_lines", max=MAX_LINES)
        if any(cell.strip() for cell in row):
            table.append(row[:MAX_COLUMNS])
            if len(table) > MAX_ROWS + 1:  # the header and one row too many
                break
    return table


def _read_xlsx(raw: bytes) -> list[list[str]]:
    import zipfile

    from openpyxl import load_workbook

    try:
        check_zip(raw, REGISTER)
    except ZipRefused as refused:
        raise Refused(f"review.import_{refused.reason}", max=refused.limit) from None
    try:
        book = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, SyntaxError):
        raise Refused("review.import_bad_file") from None
    try:
        sheet = book.worksheets[0]
        # Read-only: one row at a time. max_col: a sheet's declared size (<dimension>) may
        # claim 16,384 columns, and openpyxl pads every row to it.
        return _first_rows(
            [_cell(v) for v in row]
            for row in sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True)
        )
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, SyntaxError):
        raise Refused("review.import_bad_file") from None
    finally:
        book.close()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a house number typed as a number comes back as 12.0
    return str(value)


def _read_csv(raw: bytes) -> list[list[str]]:
    if len(raw) > MAX_CSV_BYTES:
        raise Refused("review.import_too_big", max=MAX_CSV_BYTES // MB)
    for encoding in ("utf-8-sig", "cp1258"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise Refused("review.import_bad_file")
    if "\x00" in text or max(map(len, text.split("\n"))) > MAX_LINE_CHARS:
        raise Refused("review.import_bad_file")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        return _first_rows(csv.reader(io.StringIO(text), dialect))
    except csv.Error:  # a field past csv's own limit (128 KiB), a quote left open
        raise Refused("review.import_bad_file") from None


def check_rows(
    db: sqlite_utils.Database, commune_id: str, table: list[list[str]]
) -> list[dict[str, Any]]:
    """Each data row with its village, names and the reasons it cannot be imported."""
    table = [row for row in table if any(cell.strip() for cell in row)]
    if not table:
        raise Refused("review.import_empty")
    header = [fold(h).replace(" ", "_") for h in table[0]]
    where = {}
    for key, names in COLUMNS.items():
        found = [i for i, h in enumerate(header) if h in names]
        if found:
            where[key] = found[0]
    missing = [k for k in ("village", "head_name") if k not in where]
    if missing:
        raise Refused("review.import_missing_columns", columns=", ".join(missing))
    if len(table) - 1 > MAX_ROWS:
        raise Refused("review.import_too_many", max=MAX_ROWS)
    villages = _villages(db, commune_id)
    existing = {
        (r["village_id"], fold(r["head_name"]), fold(r["address"]))
        for r in db.execute(
            "SELECT village_id, head_name, address FROM households WHERE commune_id = ?"
            " AND removed_at IS NULL",
            [commune_id],
        )
    }
    seen: dict[tuple[str, str, str], int] = {}
    rows = []
    for line, cells in enumerate(table[1:], start=2):

        def cell(key: str, cells: list[str] = cells) -> str:
            index = where.get(key)
            return clean_name(cells[index]) if index is not None and index < len(cells) else ""

        row = {
            "line": line,
            "village_text": cell("village"),
            "head_name": cell("head_name"),
            "address": cell("address"),
            "village_id": None,
            "village": "",
            "errors": [],
        }
        _check_row(row, villages, existing, seen)
        rows.append(row)
    return rows


def _villages(db: sqlite_utils.Database, commune_id: str) -> dict[str, dict[str, Any]]:
    """Every name a register file may give a village of the commune (folded), and each id, to
    the village that takes its households now: itself, or the village it was merged into
    (``register.survivors``, merges of merges followed). A current name wins over a merged
    village's, and both over a former name (``village_names``: what it was called before a
    rename), so that one name never reaches two villages."""
    now = survivors(db, commune_id)
    rows = db.execute(
        "SELECT v.id, v.name, v.merged_into FROM villages v WHERE v.commune_id = ?"
        " ORDER BY v.merged_into IS NOT NULL",
        [commune_id],
    ).fetchall()
    by_id = {r["id"]: dict(r) for r in rows}
    former = db.execute(
        "SELECT n.village_id, n.name FROM village_names n JOIN villages v ON v.id = n.village_id"
        " WHERE v.commune_id = ? AND n.valid_to IS NOT NULL ORDER BY n.id DESC",
        [commune_id],
    ).fetchall()
    out: dict[str, dict[str, Any]] = {}
    named = [(r["id"], r["name"]) for r in rows] + [(r[0], r[1]) for r in former]
    for village_id, name in named:
        survivor = by_id[now.get(village_id, village_id)]
        entry = {"id": survivor["id"], "name": survivor["name"], "given": name}
        out.setdefault(village_id, entry)
        out.setdefault(fold(name), entry)
    return out


def _check_row(
    row: dict[str, Any],
    villages: dict[str, dict[str, Any]],
    existing: set[tuple[str, str, str]],
    seen: dict[tuple[str, str, str], int],
) -> None:
    errors: list[dict[str, Any]] = row["errors"]
    village = villages.get(row["village_text"]) or villages.get(fold(row["village_text"]))
    if not row["village_text"]:
        errors.append({"code": "review.import_no_village_given"})
    elif village is None:
        errors.append({"code": "review.import_unknown_village", "name": row["village_text"]})
    else:
        row["village_id"], row["village"] = village["id"], village["name"]
        if fold(village["given"]) != fold(village["name"]):
            # A former name (merged into another village, or renamed): the households go to
            # the village it is now, and the preview says so.
            row["notes"] = [
                {
                    "code": "review.import_village_now",
                    "name": village["given"],
                    "survivor": village["name"],
                }
            ]
    if not row["head_name"]:
        errors.append({"code": "review.import_no_head"})
    elif len(row["head_name"]) > 200 or len(row["address"]) > 300:
        errors.append({"code": "review.import_too_long"})
    if row["village_id"] and row["head_name"]:
        key = (row["village_id"], fold(row["head_name"]), fold(row["address"]))
        if key in existing:
            errors.append({"code": "review.import_exists"})
        elif key in seen:
            errors.append({"code": "review.import_repeated", "line": seen[key]})
        else:
            seen[key] = row["line"]


def preview(
    db: sqlite_utils.Database,
    commune_id: str,
    staff: dict[str, Any],
    filename: str,
    table: list[list[str]],
) -> int:
    """Check a file's rows (``read_table``: read before the write transaction, which need not
    wait on the reading); keep the checked rows; returns the import's id."""
    rows = check_rows(db, commune_id, table)
    return int(
        db["household_imports"]
        .insert(
            {
                "commune_id": commune_id,
                "user_id": staff["id"],
                "filename": filename[:200],
                "rows": json.dumps(rows, ensure_ascii=False),
                "created_at": now_iso(),
                "applied_at": None,
            }
        )
        .last_pk
    )


def get_import(db: sqlite_utils.Database, commune_id: str, import_id: int) -> dict[str, Any] | None:
    row = db.execute(
        "SELECT id, filename, rows, created_at, applied_at FROM household_imports"
        " WHERE id = ? AND commune_id = ?",
        [import_id, commune_id],
    ).fetchone()
    if row is None:
        return None
    rows = json.loads(row["rows"])
    return {
        **dict(row),
        "rows": rows,
        "valid": sum(1 for r in rows if not r["errors"]),
        "invalid": sum(1 for r in rows if r["errors"]),
    }


def apply(db: sqlite_utils.Database, commune_id: str, import_id: int) -> int:
    """Add the valid rows of a checked file (inside the caller's transaction); returns how
    many. The register is checked again: it may have changed since the preview."""
    found = get_import(db, commune_id, import_id)
    if found is None:
        raise Refused("review.import_not_found", status=404)
    if found["applied_at"]:
        raise Refused("review.import_already", status=409)
    rows = [r for r in found["rows"] if not r["errors"]]
    if not rows:
        raise Refused("review.import_nothing")
    table = [["village", "head_name", "address"]]
    table += [[r["village_id"], r["head_name"], r["address"]] for r in rows]
    again = check_rows(db, commune_id, table)
    if any(r["errors"] for r in again):
        raise Refused("review.import_changed", status=409)
    for row in again:
        add_household(db, row["village_id"], row["head_name"], row["address"])
    db.execute("UPDATE household_imports SET applied_at = ? WHERE id = ?", [now_iso(), import_id])
    return len(again)


def forget(db: sqlite_utils.Database, commune_id: str, names: set[str]) -> list[int]:
    """Drop the stored previews of this commune that list a head named one of ``names``
    (folded): a person's data erased must not stay in a preview (inside the caller's
    transaction). Returns the ids dropped."""
    if not names:
        return []
    dropped = []
    for import_id, rows in db.execute(
        "SELECT id, rows FROM household_imports WHERE commune_id = ?", [commune_id]
    ).fetchall():
        if any(fold(str(r.get("head_name") or "")) in names for r in json.loads(rows)):
            dropped.append(import_id)
    for import_id in dropped:
        db.execute("DELETE FROM household_imports WHERE id = ?", [import_id])
    return dropped
