"""Records taken away: CSV and XLSX, one table for households and one per repeat, linked by keys.

Rows are read from a cursor and written as they come (openpyxl in write-only mode, CSV as a
generator), so memory stays flat however many households a commune has. The pseudonymised
variant leaves out names, phone numbers, addresses, places and free text, and replaces record
and volunteer ids with keyed hashes: the commune, which holds the key, can link a row back to
its record; whoever receives the file cannot.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any
from zoneinfo import ZoneInfo

import sqlite_utils
from openpyxl import Workbook

from schemas.expressions import ExpressionError, references
from schemas.form import Form, Node
from schemas.geo import GEO_TYPES
from schemas.indicators import indicator_set
from schemas.media import FILE_ANSWER_TYPES
from schemas.messages import text
from server.domain import answers, clock, register
from server.domain.forms import get_form, newest_version
from server.domain.reports.cells import CsvWriter, xlsx_row

# Question types that hold free text, places (an .osm file draws one; a line or shape is a
# walk to the house or its land), pictures, recordings or files: never in a pseudonymised export.
PERSONAL_TYPES = (
    {"text", "geopoint", "start-geopoint", "background-geopoint", "osm", "barcode"}
    | GEO_TYPES
    | FILE_ANSWER_TYPES
)
_META = (
    "record_id",
    "household_id",
    "household_code",
    "village",
    "volunteer",
    "visit_date",
    "review_state",
    "form_version",
    "received_at",
    "received_local",
)
_META_PSEUDO = (
    "record_key",
    "village",
    "volunteer_key",
    "visit_date",
    "review_state",
    "form_version",
    "received_at",
    "received_local",
)


@dataclass
class ExportOptions:
    commune_id: str
    village_id: str | None = None
    approved: bool = False
    labels: bool = False
    pseudonymised: bool = False
    lang: str = "vi"
    secret: str = ""
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))  # of received_local
    # The address of a record's file, ``{record}`` and ``{sha256}`` filled in: a file answer's
    # cell links to it (the record page's own, behind the staff login); empty: the hash alone.
    file_url: str = ""


@dataclass
class Table:
    """One sheet: the top level (``repeat`` "") or one repeat, with its key columns."""

    name: str
    chain: tuple[str, ...]
    columns: list[Node] = field(default_factory=list)


def latest_form(db: sqlite_utils.Database, commune_id: str, form_id: str | None) -> Form | None:
    """The form to export: the one asked for, else the one with most records in the commune;
    its newest version gives the columns (older versions fill the columns they share)."""
    if not form_id:
        row = db.execute(
            "SELECT form_id FROM records WHERE commune_id = ? GROUP BY form_id"
            " ORDER BY count(*) DESC LIMIT 1",
            [commune_id],
        ).fetchone()
        form_id = row[0] if row else None
    newest = newest_version(db, commune_id, form_id)  # never another commune's own version
    found = get_form(db, *newest) if newest else None
    return found[0] if found else None


def hidden_fields(form: Form) -> set[str]:
    """Questions a pseudonymised export leaves out, and calculations made from them."""
    found = indicator_set(form.form_id)
    listed = set(found.identifying) if found else set()
    hidden = {
        n.name
        for n in form.nodes.values()
        if n.kind == "field" and (n.type in PERSONAL_TYPES or n.name in listed)
    }
    for node in form.nodes.values():  # in form order: a calculation reads earlier answers
        if node.type == "calculate" and _reads(node.get("calculation")) & hidden:
            hidden.add(node.name)
    return hidden


def _reads(expr: str) -> set[str]:
    try:
        return references(expr) if expr else set()
    except ExpressionError:
        return set()


def tables(form: Form, pseudonymised: bool) -> list[Table]:
    hidden = hidden_fields(form) if pseudonymised else set()
    out = [Table("households", ())]
    by_chain = {(): out[0]}
    for node in form.walk():
        if node.kind == "repeat":
            chain = (*node.repeats, node.name)
            by_chain[chain] = Table(node.name, chain)
            out.append(by_chain[chain])
        elif node.kind == "field" and node.type != "note" and node.name not in hidden:
            by_chain[node.repeats].columns.append(node)
    return out


def header(form: Form, table: Table, options: ExportOptions) -> list[str]:
    keys = [
        "record_key" if options.pseudonymised else "record_id",
        *(f"{r}_index" for r in table.chain),
    ]
    if not table.chain:
        keys = list(_META_PSEUDO if options.pseudonymised else _META)
    if options.labels:
        names = [
            text(f"reports.col.{k}", options.lang)
            if not k.endswith("_index")
            else text("reports.col.index", options.lang, table=k[:-6])
            for k in keys
        ]
        return names + [form.label(c, options.lang) for c in table.columns]
    return keys + [c.name for c in table.columns]


def records(
    db: sqlite_utils.Database,
    form: Form,
    options: ExportOptions,
    condition: tuple[str, list[Any]] | None = None,
    newest_first: bool = False,
) -> Iterator[dict]:
    """The records to export, one at a time from the cursor, in village then arrival order;
    with a ``condition`` (SQL over ``r``, and its parameters: the OData feed's filter and page
    cursor), in arrival order (``newest_first``: reversed), the ``records_list`` index's."""
    where, params = scope(db, form, options)
    order = "r.commune_id, r.village_id, r.received_at, r.id"
    if condition is not None:
        where, params = f"{where} AND ({condition[0]})", [*params, *condition[1]]
        order = (
            "r.commune_id DESC, r.received_at DESC, r.id DESC"
            if newest_first
            else "r.commune_id, r.received_at, r.id"
        )
    cursor = db.conn.execute(
        "SELECT r.id AS record_id, r.household_id, h.code AS household_code, v.name AS village,"
        " r.user_id, u.display_name AS volunteer, r.meta, r.review_state, r.form_version,"
        " r.received_at, r.data FROM records r"
        " JOIN villages v ON v.id = r.village_id LEFT JOIN households h ON h.id = r.household_id"
        f" LEFT JOIN users u ON u.id = r.user_id WHERE {where} ORDER BY {order}",
        params,
    )
    for row in cursor:
        record = dict(row)
        meta = json.loads(record.pop("meta"))
        record["visit_date"] = str(meta.get("visit_date") or meta.get("started_at") or "")[:10]
        record["data"] = answers.load(record["data"])
        yield record


def scope(db: sqlite_utils.Database, form: Form, options: ExportOptions) -> tuple[str, list[Any]]:
    """The records an export holds, as SQL over ``r`` and its parameters: the commune's of
    the form, in the village asked for, approved ones or all but the rejected."""
    where, params = "r.commune_id = ? AND r.form_id = ?", [options.commune_id, form.form_id]
    if options.village_id:
        ids = register.village_ids_under(db, options.village_id)
        where += f" AND r.village_id IN ({','.join('?' * len(ids))})"
        params += ids
    where += (
        " AND r.review_state = 'approved'"
        if options.approved
        else " AND r.review_state != 'rejected'"
    )
    return where, params


def pseudonym(secret: str, kind: str, value: Any) -> str:
    digest = hmac.new(secret.encode(), f"{kind}:{value}".encode(), hashlib.sha256)
    return digest.hexdigest()[:16]


def _local(received_at: str, options: ExportOptions) -> str:
    """The UTC ``received_at`` in the server's zone, sortable: ``2026-11-30 04:15``."""
    moment = clock.to_local(received_at, options.zone)
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


def _meta_values(record: dict[str, Any], options: ExportOptions) -> list[Any]:
    state = record["review_state"]
    if options.labels:
        state = text(f"state.{state}", options.lang)
    if options.pseudonymised:
        volunteer = (
            pseudonym(options.secret, "user", record["user_id"])
            if record["user_id"] is not None
            else None
        )
        return [
            pseudonym(options.secret, "record", record["record_id"]),
            record["village"],
            volunteer,
            record["visit_date"],
            state,
            record["form_version"],
            record["received_at"],
            _local(record["received_at"], options),
        ]
    return [
        record["record_id"],
        record["household_id"],
        record["household_code"],
        record["village"],
        record["volunteer"],
        record["visit_date"],
        state,
        record["form_version"],
        record["received_at"],
        _local(record["received_at"], options),
    ]


def value(form: Form, node: Node, answer: Any, options: ExportOptions, record_id: str = "") -> Any:
    """An answer as a cell: choice codes (select_multiple space-separated, as XLSForm stores
    them) or choice labels, a file as the address it opens at; empty when not asked."""
    if answer is None or answer == "" or answer == []:
        return None
    if node.type in FILE_ANSWER_TYPES and options.file_url and record_id:
        return options.file_url.format(record=record_id, sha256=answer)
    if node.type in ("select_multiple", "rank") and isinstance(answer, list):
        # A rank's codes in its order, as ODK writes it (schemas/rank.py).
        if options.labels:
            return "; ".join(
                form.choice_label(node.list_name or "", str(a), options.lang) for a in answer
            )
        return " ".join(str(a) for a in answer)
    if node.type == "select_one" and options.labels:
        return form.choice_label(node.list_name or "", str(answer), options.lang)
    if isinstance(answer, dict | list):
        return json.dumps(answer, ensure_ascii=False)
    return answer


def rows(
    form: Form, table: Table, record: dict[str, Any], options: ExportOptions
) -> Iterator[list[Any]]:
    """The rows one record gives a table: one for households, one per repeat instance."""
    key = (
        pseudonym(options.secret, "record", record["record_id"])
        if options.pseudonymised
        else record["record_id"]
    )
    if not table.chain:
        yield _meta_values(record, options) + [
            value(form, c, record["data"].get(c.name), options, record["record_id"])
            for c in table.columns
        ]
        return
    for indexes, instance in _instances(record["data"], table.chain):
        yield [key, *indexes] + [
            value(form, c, instance.get(c.name), options, record["record_id"])
            for c in table.columns
        ]


def _instances(scope: Any, chain: tuple[str, ...]) -> Iterator[tuple[list[int], dict]]:
    items = scope.get(chain[0]) if isinstance(scope, dict) else None
    for index, instance in enumerate(items if isinstance(items, list) else [], start=1):
        if not isinstance(instance, dict):
            continue
        if len(chain) == 1:
            yield [index], instance
        else:
            for inner, found in _instances(instance, chain[1:]):
                yield [index, *inner], found


def csv_chunks(
    db: sqlite_utils.Database, form: Form, table: Table, options: ExportOptions
) -> Iterator[bytes]:
    """One table as CSV (UTF-8 with a BOM, so that Excel reads Vietnamese right), in chunks."""
    buffer = io.StringIO()
    writer = CsvWriter(buffer)
    buffer.write("\ufeff")
    writer.writerow(header(form, table, options))
    for record in records(db, form, options):
        for row in rows(form, table, record, options):
            writer.writerow(row)
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def write_xlsx(
    db: sqlite_utils.Database, form: Form, options: ExportOptions, out: IO[bytes]
) -> int:
    """Every table as a sheet of one workbook, written row by row; returns the record count."""
    book = Workbook(write_only=True)
    parts = tables(form, options.pseudonymised)
    # A repeat keyed by its path (a/visits) names a sheet too: Excel refuses '/' in a title.
    sheets = [book.create_sheet(title=t.name.replace("/", "-")[:31]) for t in parts]
    for table, sheet in zip(parts, sheets, strict=True):
        sheet.append(xlsx_row(sheet, header(form, table, options)))
    count = 0
    for record in records(db, form, options):
        count += 1
        for table, sheet in zip(parts, sheets, strict=True):
            for row in rows(form, table, record, options):
                sheet.append(xlsx_row(sheet, row))
    book.save(out)
    return count
