"""/reports/table: a form's submissions as a table on the staff site, the form's questions as
columns (labels in the page's language), filtered by review state and days received, a column
picker, sorted by any column (a heading is a link that sorts by it, again the other way), pages
by cursor, and the current view as CSV in the same order.

Rows come from the OData feed's domain (``domain/odata.py`` over ``reports/exports.py``): a
viewer's table is the pseudonymised export, as the viewer's feed is. Sorted by arrival, pages
are the feed's own (an index's order); sorted by another column, ``domain/table_sort.py``.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from flask import Response, abort, current_app, render_template, request, url_for

from schemas.form import Form
from schemas.media import FILE_ANSWER_TYPES
from schemas.messages import text
from server.domain import clock, odata
from server.domain import table_sort as sorting
from server.domain.db import connect
from server.domain.reports import exports
from server.domain.reports.cells import CsvWriter
from server.web.db import get_db
from server.web.reports.routes import bp
from server.web.site import zone
from server.web.staff import audited, login_required, me, public_base_url, ui_lang

PAGE = 50
MAX_COLUMNS = 60
DEFAULT_COLUMNS = 8
STATES = sorting.STATES
RECEIVED = "__system/submissionDate"
MAX_CURSOR = sorting.MAX_CURSOR
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _day(name: str) -> str:
    value = request.args.get(name, "").strip()
    if not _DAY.fullmatch(value):
        return ""
    try:
        # The day must have a start and an end in UTC: 0001-01-01 and 9999-12-31 do not.
        clock.day_start_utc(value, zone())
        clock.day_end_utc(value, zone())
    except (ValueError, OverflowError):
        return ""
    return value


def _view() -> dict[str, Any]:
    """The form, its columns, the chosen ones and the filter, from the query string (unknown
    values dropped), within the staff member's commune."""
    db, user = get_db(), me()
    form = exports.latest_form(db, user["commune_id"], request.args.get("form", "")[:100] or None)
    if form is None:
        abort(404)
    options = exports.ExportOptions(
        commune_id=user["commune_id"],
        pseudonymised=user["role"] == "viewer",
        secret=current_app.config["SECRET_KEY"],
        zone=zone(),
        # A file answer links to the record's file (behind the login, audited there); a
        # viewer's table has no file columns, so no link either.
        file_url=public_base_url()
        + url_for("review.record_file", record_id="RECORD", sha256="SHA256")
        .replace("RECORD", "{record}")
        .replace("SHA256", "{sha256}"),
    )
    root = odata.entity_sets(form, options.pseudonymised)[0]
    names = [name for name, _, _ in root.columns]
    chosen = [c for c in request.args.getlist("col")[:MAX_COLUMNS] if c in names]
    state = request.args.get("state", "")
    state = state if state in STATES else ""
    day_from, day_to = _day("from"), _day("to")
    terms = []
    if state:
        terms.append(f"__system/reviewState eq '{state}'")
    if day_from:
        terms.append(f"__system/submissionDate ge {clock.day_start_utc(day_from, zone())}")
    if day_to:
        terms.append(f"__system/submissionDate lt {clock.day_end_utc(day_to, zone())}")
    sort = request.args.get("sort", "")[:200]
    descending = request.args.get("order") == "desc"
    if sort == "newest":  # the links of before every column sorted
        sort, descending = RECEIVED, True
    if not sorting.sortable(sort, root, options.pseudonymised):
        sort = RECEIVED
    query = odata.Query(top=PAGE, newest_first=descending)
    if terms:
        query.where = odata.parse_filter(" and ".join(terms))
    return {
        "db": db,
        "form": form,
        "options": options,
        "root": root,
        "nodes": {name: node for name, _, node in root.columns},
        "columns": chosen or names[:DEFAULT_COLUMNS],
        "state": state,
        "day_from": day_from,
        "day_to": day_to,
        "query": query,
        "sort": sorting.Sort(sort, descending),
    }


def _page(
    db: Any, view: dict[str, Any], after: str, top: int
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the view after the cursor ``after`` (an ODataError when it is not one)."""
    sort, query = view["sort"], view["query"]
    if sort.column == RECEIVED:
        query.top, query.after = top, odata.read_cursor(after) if after else None
        return odata.page_rows(db, view["form"], view["root"], view["options"], query)
    return sorting.page_rows(
        db,
        view["form"],
        view["root"],
        view["options"],
        query.where,
        sort,
        sorting.read_cursor(after) if after else None,
        top,
    )


def _headings(view: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    """Every column's heading: its label, the link that sorts by it (the other way when the
    table is sorted by it already), and its aria-sort."""
    form, sort = view["form"], view["sort"]
    kept = [(k, v) for k in ("form", "state", "from", "to", "col") for v in request.args.getlist(k)]
    columns = [(f"__system/{key}", label) for key, label in _meta(view, lang)]
    columns += [(c, form.label(view["nodes"][c], lang)) for c in view["columns"]]
    out = []
    for name, label in columns:
        current = name == sort.column
        descending = current and not sort.descending
        link = [*kept, ("sort", name)] + ([("order", "desc")] if descending else [])
        out.append(
            {
                "name": name,
                "label": label,
                "href": urlencode(link),
                "aria": ("descending" if sort.descending else "ascending") if current else "",
                "next": "table.sort_descending" if descending else "table.sort_ascending",
            }
        )
    return out


@dataclass(frozen=True)
class Link:
    """A file answer's cell: the page shows ``text`` as a link to ``href``; the CSV, which no
    one clicks through, the address itself."""

    text: str
    href: str

    def __str__(self) -> str:
        return self.href


def _cell(form: Form, node: Any, value: Any, lang: str) -> str | Link:
    """An answer as people read it: a choice's label in the page's language, a file as a link
    to it named by its kind (its address is the export's: ``ExportOptions.file_url``)."""
    if value is None or value == "":
        return ""
    if node is not None and node.type in FILE_ANSWER_TYPES:
        return Link(text(f"table.file_{node.type}", lang), str(value))
    if node is not None and node.type == "select_one":
        return form.choice_label(node.list_name or "", str(value), lang)
    if node is not None and node.type == "select_multiple":
        return "; ".join(
            form.choice_label(node.list_name or "", v, lang) for v in str(value).split()
        )
    return str(value)


def _meta(view: dict[str, Any], lang: str) -> list[tuple[str, str]]:
    """The record's own columns: (``__system`` member, its heading)."""
    keys = [("submissionDate", "received_local"), ("village", "village")]
    keys.append(("reviewState", "review_state"))
    if not view["options"].pseudonymised:
        keys.append(("submitterName", "volunteer"))
    return [(key, text(f"reports.col.{column}", lang)) for key, column in keys]


def _line(view: dict[str, Any], entity: dict[str, Any], lang: str) -> list[str | Link]:
    system = entity["__system"]
    cells: list[str | Link] = []
    for key, _ in _meta(view, lang):
        value = system.get(key)
        if key == "submissionDate":
            value = clock.local_time(value, view["options"].zone, lang)
        elif key == "reviewState":
            value = text(f"state.{value}", lang)
        cells.append("" if value is None else str(value))
    form, nodes = view["form"], view["nodes"]
    return cells + [_cell(form, nodes.get(c), entity.get(c), lang) for c in view["columns"]]


@bp.get("/table")
@login_required("admin", "reviewer", "viewer")
def table() -> Any:
    view = _view()
    try:
        entities, cursor = _page(view["db"], view, request.args.get("after", "")[:MAX_CURSOR], PAGE)
    except odata.ODataError:
        abort(400)
    lang = ui_lang()
    form = view["form"]
    return render_template(
        "reports/table.html",
        form=form,
        headings=_headings(view, lang),
        every=[(name, form.label(node, lang)) for name, node in view["nodes"].items()],
        chosen=set(view["columns"]),
        lines=[_line(view, e, lang) for e in entities],
        cursor=cursor,
        state=view["state"],
        states=STATES,
        day_from=view["day_from"],
        day_to=view["day_to"],
        pseudonymised=view["options"].pseudonymised,
        sort=view["sort"],
        args=[
            (k, v)
            for k in ("form", "state", "from", "to", "col", "sort", "order")
            for v in request.args.getlist(k)
        ],
    )


@bp.get("/table.csv")
@login_required("admin", "reviewer", "viewer")
def table_csv() -> Any:
    view = _view()
    lang = ui_lang()
    audited(
        "export_records",
        target=me()["commune_id"],
        detail=json.dumps(
            {
                "format": "table_csv",
                "form": view["form"].form_id,
                "columns": view["columns"],
                "state": view["state"],
                "from": view["day_from"],
                "to": view["day_to"],
                "pseudonymised": view["options"].pseudonymised,
                "sort": view["sort"].column,
                "descending": view["sort"].descending,
            },
            ensure_ascii=False,
            sort_keys=True,
        ),
    )
    form = view["form"]
    heading = [label for _, label in _meta(view, lang)] + [
        form.label(view["nodes"][c], lang) for c in view["columns"]
    ]
    body = _csv(current_app.config["DATABASE"], view, heading, lang)
    name = f"gocua-{me()['commune_id']}-{form.form_id}-table-{date.today().isoformat()}.csv"
    return Response(
        body,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f"attachment; filename={name}",
            "Cache-Control": "no-store",
        },
    )


def _csv(path: str, view: dict[str, Any], heading: list[str], lang: str) -> Iterator[bytes]:
    """Every row of the view, page after page by the cursor, through a connection of its own
    (the request's is given back before the body is sent)."""
    db = connect(path)
    try:
        buffer = io.StringIO()
        writer = CsvWriter(buffer)
        buffer.write("\ufeff")
        writer.writerow(heading)
        cursor: str | None = ""
        while cursor is not None:
            entities, cursor = _page(db, view, cursor, odata.MAX_TOP)
            for entity in entities:
                writer.writerow([str(cell) for cell in _line(view, entity, lang)])
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    finally:
        db.close()
