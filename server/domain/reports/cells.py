"""Every cell written to a spreadsheet file (CSV or XLSX) goes through ``neutral``: text that a
spreadsheet would run as a formula stays text. Answers, labels from the form, village names,
column headers and the data dictionary alike -- any of them can come from someone outside.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any

from openpyxl.cell import WriteOnlyCell

# What a spreadsheet may take for the start of a formula (OWASP's list for CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Excel's most characters in a cell. A longer answer (a line of 1,000 GPS points, an .osm file)
# would be cut silently by whatever reads the file; it is cut here instead, saying so, and the
# CSV export keeps it whole.
XLSX_CELL_MAX = 32_767
XLSX_CUT = " … [còn nữa trong tệp CSV / continued in the CSV export]"


def neutral(value: Any, sheet: Any = None) -> Any:
    """``value`` as a cell that is shown, never run. For CSV (no ``sheet``), text starting
    like a formula gets an apostrophe in front. For an XLSX ``sheet`` it becomes a text cell
    (openpyxl would store ``=...`` as a formula) marked quote-prefixed, as Excel marks text
    typed after an apostrophe, so that editing the cell does not make it a formula either."""
    if not isinstance(value, str) or not value.startswith(FORMULA_START):
        return value
    if sheet is None:
        return "'" + value
    cell = WriteOnlyCell(sheet, value)
    cell.data_type = "s"
    cell.quotePrefix = True
    return cell


def csv_row(row: Iterable[Any]) -> list[Any]:
    return [neutral(v) for v in row]


class CsvWriter:
    """``csv.writer`` whose every row goes through ``neutral``."""

    def __init__(self, out: Any) -> None:
        self._writer = csv.writer(out)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow(csv_row(row))


def fitted(value: Any) -> Any:
    """``value`` within an XLSX cell: a text too long for one ends in ``XLSX_CUT``."""
    if isinstance(value, str) and len(value) > XLSX_CELL_MAX:
        return value[: XLSX_CELL_MAX - len(XLSX_CUT)] + XLSX_CUT
    return value


def xlsx_row(sheet: Any, row: Iterable[Any]) -> list[Any]:
    return [neutral(fitted(v), sheet) for v in row]
