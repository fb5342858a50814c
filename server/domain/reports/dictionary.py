"""The data dictionary of a form: what each column of an export means, in both languages.

Questions (with the table they land in, type, labels, rules), the choice lists, and the form's
indicators with their expressions and targets. No personal data: any staff role may take it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import IO, Any

from openpyxl import Workbook

from schemas.form import Form
from schemas.indicators import indicator_set
from server.domain.reports.cells import CsvWriter, xlsx_row
from server.domain.reports.exports import hidden_fields

QUESTION_COLUMNS = (
    "table",
    "name",
    "type",
    "list_name",
    "label_vi",
    "label_en",
    "required",
    "relevant",
    "constraint",
    "calculation",
    "pseudonymised_export",
)
CHOICE_COLUMNS = ("list_name", "name", "label_vi", "label_en")
INDICATOR_COLUMNS = (
    "id",
    "label_vi",
    "label_en",
    "unit",
    "scope",
    "denominator",
    "numerator",
    "target_percent",
    "target_year",
    "target_source",
)


def question_rows(form: Form) -> Iterator[list[Any]]:
    hidden = hidden_fields(form)
    for node in form.walk():
        if node.kind == "group" or node.type == "note":
            continue
        table = (
            node.name
            if node.kind == "repeat"
            else (node.repeats[-1] if node.repeats else "households")
        )
        kind = f"{node.type} {node.list_name}" if node.list_name else node.type
        yield [
            table,
            node.name,
            kind,
            node.list_name or "",
            form.label(node, "vi"),
            form.label(node, "en"),
            node.get("required"),
            node.get("relevant"),
            node.get("constraint"),
            node.get("calculation"),
            "" if node.kind == "repeat" else ("no" if node.name in hidden else "yes"),
        ]


def choice_rows(form: Form) -> Iterator[list[Any]]:
    for list_name, choices in form.choices.items():
        for choice in choices:
            yield [
                list_name,
                choice["name"],
                form.text(choice, "label", "vi"),
                form.text(choice, "label", "en"),
            ]


def indicator_rows(form: Form) -> Iterator[list[Any]]:
    found = indicator_set(form.form_id)
    for indicator in found.indicators if found else ():
        target = indicator.target
        yield [
            indicator.id,
            indicator.label.get("vi", ""),
            indicator.label.get("en", ""),
            indicator.unit,
            indicator.scope or "households",
            indicator.denominator,
            indicator.numerator,
            target.percent,
            target.year,
            target.source,
        ]


def write_xlsx(form: Form, out: IO[bytes]) -> None:
    book = Workbook(write_only=True)
    for title, columns, rows in (
        ("questions", QUESTION_COLUMNS, question_rows(form)),
        ("choices", CHOICE_COLUMNS, choice_rows(form)),
        ("indicators", INDICATOR_COLUMNS, indicator_rows(form)),
    ):
        sheet = book.create_sheet(title=title)
        sheet.append(xlsx_row(sheet, columns))
        for row in rows:
            sheet.append(xlsx_row(sheet, row))
    book.save(out)


def csv_text(form: Form) -> str:
    """The questions as CSV, each select question's choices written ``code=label`` beside it."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = CsvWriter(out)
    writer.writerow([*QUESTION_COLUMNS, "choices"])
    for row in question_rows(form):
        list_name = row[3]
        choices = (
            " | ".join(
                f"{c['name']}={form.text(c, 'label', 'vi')}"
                for c in form.choices.get(list_name, [])
            )
            if list_name
            else ""
        )
        writer.writerow([*row, choices])
    return out.getvalue()
