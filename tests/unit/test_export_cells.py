"""A spreadsheet cell holds at most 32,767 characters: a longer answer is cut visibly in XLSX,
kept whole in CSV."""

from __future__ import annotations

import io

from openpyxl import Workbook, load_workbook

from server.domain.reports.cells import XLSX_CUT, csv_row, xlsx_row

LINE = ";".join(f"21.{i:07d} 105.{i:07d} 1234.567 12.345" for i in range(1_000))  # a long walk


def test_an_answer_longer_than_a_cell_is_cut_saying_so_and_kept_whole_in_csv() -> None:
    assert len(LINE) > 32_767
    formula = "=" + "y" * 40_000
    book = Workbook(write_only=True)
    sheet = book.create_sheet("s")
    sheet.append(xlsx_row(sheet, [LINE, formula, "ngắn"]))
    out = io.BytesIO()
    book.save(out)
    cells = next(load_workbook(io.BytesIO(out.getvalue()))["s"].iter_rows())
    line, long_formula, short = (c.value for c in cells)
    assert len(line) == 32_767 and line.endswith(XLSX_CUT)
    assert LINE.startswith(line.removesuffix(XLSX_CUT))
    assert len(long_formula) == 32_767 and long_formula.endswith(XLSX_CUT)
    assert cells[1].data_type == "s"  # still text, never a formula
    assert short == "ngắn"
    assert csv_row([LINE, formula]) == [LINE, "'" + formula]
