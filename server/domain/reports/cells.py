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


def xlsx_row(sheet: Any, row: Iterable[Any]) -> list[Any]:
    return [neutral(v, sheet) for v in row]
