"""A form's records as a read-only OData v4 service, shaped like ODK Central's.

The entity sets are the export's tables (``reports/exports.py: tables``): ``Submissions`` for the
households and ``Submissions.<repeat>`` (``Submissions.<outer>.<inner>`` when nested) for each
repeat, whose rows carry ``__Submissions-id`` (and the enclosing repeat row's id) to link them,
as Central does. Rows are the export's rows, so a pseudonymised feed is the pseudonymised export:
the same hidden questions and keyed record and volunteer keys, one rule in one place.

Pages follow the records' arrival order (the ``records_list`` index) and are found by a cursor,
never by counting rows from the start: ``$skiptoken`` says where the last page stopped as the
arrival second and how many rows of that second were already given, so a viewer's cursor
carries no record id.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from xml.sax.saxutils import quoteattr

import sqlite_utils

from schemas.form import Form, Node
from server.domain.reports import exports

DEFAULT_TOP = 1000  # rows a page holds when the client names no $top
MAX_TOP = 10000
MAX_SKIP = 100000
MAX_FILTER = 500  # characters of $filter
MAX_TERMS = 40  # comparisons in one $filter
MAX_SELECT = 300  # properties named in $select
MAX_QUERY_VALUE = 2000  # characters of any one query option
NAMESPACE = "org.gocua.user"
ROOT = "Submissions"

# The question's type as an OData type; any other type is text, as ODK writes it.
_EDM = {
    "integer": "Edm.Int64",
    "decimal": "Edm.Decimal",
    "range": "Edm.Decimal",
    "date": "Edm.Date",
    "dateTime": "Edm.DateTimeOffset",
}

# The export's columns about the record, as the members of Central's ``__system``.
_SYSTEM = {
    "household_id": ("householdId", "Edm.String"),
    "household_code": ("householdCode", "Edm.String"),
    "village": ("village", "Edm.String"),
    "volunteer": ("submitterName", "Edm.String"),
    "volunteer_key": ("submitterId", "Edm.String"),
    "visit_date": ("visitDate", "Edm.String"),
    "review_state": ("reviewState", "Edm.String"),
    "form_version": ("formVersion", "Edm.String"),
    "received_at": ("submissionDate", "Edm.DateTimeOffset"),
}
_KEYS = ("record_id", "record_key")


class ODataError(Exception):
    """A request the service refuses: an HTTP status, an OData error code, and the catalogue
    key (with its parameters) of the message people read."""

    def __init__(self, status: int, code: str, key: str, **params: Any) -> None:
        super().__init__(code)
        self.status, self.code, self.key, self.params = status, code, key, params


@dataclass
class EntitySet:
    name: str  # in the URL: Submissions, Submissions.members
    type_name: str  # an OData identifier: Submissions, Submissions_members
    table: exports.Table
    # The OData property name (property_names), its Edm type and the question it holds.
    columns: list[tuple[str, str, Node | None]] = field(default_factory=list)
    links: list[str] = field(default_factory=list)  # the parents' id properties, outermost first


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_NOT_IDENTIFIER = re.compile(r"[^A-Za-z0-9_]")


def property_names(names: list[str], taken: set[str]) -> list[str]:
    """Each answer key as an OData property name (a SimpleIdentifier: a letter or _, then
    letters, digits and _, at most 128). A name that is one already stays itself; a key by
    group path (``mother/age``, a name used in several groups) or with XLSForm's ``.`` or
    ``-`` has those made ``_`` (``mother_age``), and ``_2``, ``_3``… in form order when that
    is taken (by another question, or by ``taken``: ``__id``, ``__system``, the links). Names
    that stay themselves are placed first, so a new question elsewhere in the form never
    renames them."""
    out = list(names)
    kept = {n for n in names if _IDENTIFIER.fullmatch(n) and n not in taken}
    claimed = set(taken) | kept
    for index, name in enumerate(names):
        if name in kept:
            continue
        base = _NOT_IDENTIFIER.sub("_", name)
        base = (base if re.match(r"[A-Za-z_]", base) else f"_{base}")[:120]
        candidate, number = base, 1
        while candidate in claimed:
            number += 1
            candidate = f"{base}_{number}"
        claimed.add(candidate)
        out[index] = candidate
    return out


def entity_sets(form: Form, pseudonymised: bool) -> list[EntitySet]:
    out = []
    for table in exports.tables(form, pseudonymised):
        path = [ROOT, *table.chain]
        found = EntitySet(".".join(path), "_".join(path), table)
        found.links = ["__" + "-".join(path[: i + 1]) + "-id" for i in range(len(path) - 1)]
        names = property_names([c.name for c in table.columns], {"__id", "__system", *found.links})
        found.columns = [
            (name, _EDM.get(c.type, "Edm.String"), c)
            for name, c in zip(names, table.columns, strict=True)
        ]
        out.append(found)
    return out


def find_set(sets: list[EntitySet], name: str) -> EntitySet:
    found = next((s for s in sets if s.name == name), None)
    if found is None:
        raise ODataError(404, "not_found", "odata.error_no_set", name=name[:80])
    return found


def system_members(pseudonymised: bool) -> list[tuple[str, str]]:
    meta = exports._META_PSEUDO if pseudonymised else exports._META
    return [_SYSTEM[k] for k in meta if k in _SYSTEM]


def service_document(base: str, sets: list[EntitySet]) -> dict[str, Any]:
    return {
        "@odata.context": f"{base}/$metadata",
        "value": [{"name": s.name, "kind": "EntitySet", "url": s.name} for s in sets],
    }


_V2_EDM = {"Edm.Date": "Edm.DateTime"}  # OData v2 has no date without a time


def metadata_xml(sets: list[EntitySet], pseudonymised: bool, v2: bool = False) -> str:
    """The EDMX document: one entity type per set, keyed by ``__id``; the record's own facts
    in the complex type ``SubmissionMetadata`` (``__system``). ``v2``: the same model in
    OData v2's namespaces and types, for clients that speak only v2."""

    def edm(kind: str) -> str:
        return _V2_EDM.get(kind, kind) if v2 else kind

    if v2:
        head = [
            '<edmx:Edmx xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx" Version="1.0">',
            '<edmx:DataServices xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/'
            'metadata" m:DataServiceVersion="2.0">',
            '<Schema xmlns="http://schemas.microsoft.com/ado/2008/09/edm"'
            f' Namespace="{NAMESPACE}">',
        ]
    else:
        head = [
            '<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">',
            "<edmx:DataServices>",
            f'<Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="{NAMESPACE}">',
        ]
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        *head,
        '<ComplexType Name="SubmissionMetadata">',
    ]
    lines += [
        f'<Property Name="{name}" Type="{edm(kind)}"/>'
        for name, kind in system_members(pseudonymised)
    ]
    lines.append("</ComplexType>")
    for s in sets:
        lines += [
            f"<EntityType Name={quoteattr(s.type_name)}>",
            '<Key><PropertyRef Name="__id"/></Key>',
            '<Property Name="__id" Type="Edm.String" Nullable="false"/>',
        ]
        if not s.table.chain:
            lines.append(f'<Property Name="__system" Type="{NAMESPACE}.SubmissionMetadata"/>')
        lines += [f'<Property Name={quoteattr(link)} Type="Edm.String"/>' for link in s.links]
        lines += [f'<Property Name={quoteattr(n)} Type="{edm(k)}"/>' for n, k, _ in s.columns]
        lines.append("</EntityType>")
    default = ' m:IsDefaultEntityContainer="true"' if v2 else ""
    lines.append(f'<EntityContainer Name="SubmissionService"{default}>')
    for s in sets:
        kind = quoteattr(f"{NAMESPACE}.{s.type_name}")
        lines.append(f"<EntitySet Name={quoteattr(s.name)} EntityType={kind}/>")
    lines += ["</EntityContainer>", "</Schema>", "</edmx:DataServices>", "</edmx:Edmx>"]
    return "\n".join(lines) + "\n"


def _v2_value(kind: str, value: Any) -> Any:
    """A v4 JSON value as OData v2's JSON writes it: 64-bit integers and decimals as strings,
    dates and times as ``/Date(milliseconds)/``."""
    if value is None:
        return None
    if kind in ("Edm.Int64", "Edm.Decimal"):
        return str(value)
    if kind in ("Edm.Date", "Edm.DateTimeOffset"):
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        millis = int(moment.timestamp() * 1000)
        return f"/Date({millis}+0000)/" if kind == "Edm.DateTimeOffset" else f"/Date({millis})/"
    return value


def as_v2(body: dict[str, Any], entity_set: EntitySet, pseudonymised: bool) -> dict[str, Any]:
    """A page in OData v2's JSON (``{"d": {"results", "__count", "__next"}}``)."""
    kinds = {name: kind for name, kind, _ in entity_set.columns}
    system = dict(system_members(pseudonymised))
    results = []
    for entity in body["value"]:
        row = {"__metadata": {"type": f"{NAMESPACE}.{entity_set.type_name}"}}
        for name, value in entity.items():
            if name == "__system":
                value = {k: _v2_value(system.get(k, ""), v) for k, v in value.items()}
            row[name] = _v2_value(kinds.get(name, ""), value)
        results.append(row)
    out: dict[str, Any] = {"results": results}
    if "@odata.count" in body:
        out["__count"] = str(body["@odata.count"])
    if "@odata.nextLink" in body:
        out["__next"] = body["@odata.nextLink"]
    return {"d": out}


# ---- $filter: comparisons of two fields, joined by and/or, in parentheses at will ----------

_FIELDS = {"__system/submissionDate": "r.received_at", "__system/reviewState": "r.review_state"}
_OPS = {"eq": "=", "ne": "!=", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_TOKEN = re.compile(
    r"\s*(?:(?P<open>\()|(?P<close>\))|(?P<string>'(?:[^']|'')*')"
    r"|(?P<time>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?)"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_/]*))"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out, at = [], 0
    while at < len(text):
        if text[at:].strip() == "":
            break
        match = _TOKEN.match(text, at)
        if match is None or match.end() == at:
            raise ODataError(400, "bad_filter", "odata.error_filter_at", at=at + 1)
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        at = match.end()
    return out


def _instant(literal: str) -> str:
    """A date or time literal as the stored UTC form (``2026-11-30T04:15:00Z``)."""
    try:
        if len(literal) == 10:
            moment = datetime.fromisoformat(literal).replace(tzinfo=UTC)
        else:
            moment = datetime.fromisoformat(literal.replace("Z", "+00:00"))
        # A time at either end of the calendar has no UTC time in it.
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, OverflowError) as error:
        raise ODataError(400, "bad_filter", "odata.error_filter_value", value=literal) from error


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens, self.at, self.terms = tokens, 0, 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.at] if self.at < len(self.tokens) else ("end", "")

    def take(self) -> tuple[str, str]:
        token = self.peek()
        self.at += 1
        return token

    def expression(self, depth: int = 0) -> tuple[str, list[Any]]:
        if depth > 10:
            raise ODataError(400, "bad_filter", "odata.error_filter_long")
        sql, params = self.conjunction(depth)
        while self.peek() == ("word", "or"):
            self.take()
            right, more = self.conjunction(depth)
            sql, params = f"({sql} OR {right})", params + more
        return sql, params

    def conjunction(self, depth: int) -> tuple[str, list[Any]]:
        sql, params = self.primary(depth)
        while self.peek() == ("word", "and"):
            self.take()
            right, more = self.primary(depth)
            sql, params = f"({sql} AND {right})", params + more
        return sql, params

    def primary(self, depth: int) -> tuple[str, list[Any]]:
        kind, value = self.take()
        if kind == "open":
            sql, params = self.expression(depth + 1)
            if self.take()[0] != "close":
                raise ODataError(400, "bad_filter", "odata.error_filter_syntax")
            return sql, params
        if kind != "word" or value not in _FIELDS:
            raise ODataError(400, "bad_filter", "odata.error_filter_field", name=value[:60])
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise ODataError(400, "bad_filter", "odata.error_filter_long")
        op_kind, op = self.take()
        if op_kind != "word" or op not in _OPS:
            raise ODataError(400, "bad_filter", "odata.error_filter_syntax")
        literal_kind, literal = self.take()
        column = _FIELDS[value]
        if literal_kind == "word" and literal == "null":
            if op not in ("eq", "ne"):
                raise ODataError(400, "bad_filter", "odata.error_filter_syntax")
            return f"{column} IS {'NOT ' if op == 'ne' else ''}NULL", []
        if column == "r.received_at" and literal_kind == "time":
            return f"{column} {_OPS[op]} ?", [_instant(literal)]
        if column == "r.review_state" and literal_kind == "string":
            return f"{column} {_OPS[op]} ?", [literal[1:-1].replace("''", "'")]
        raise ODataError(400, "bad_filter", "odata.error_filter_value", value=literal[:60])


def parse_filter(text: str) -> tuple[str, list[Any]]:
    """``$filter`` over the submission date and the review state as SQL over ``r`` with its
    parameters; anything else is an ODataError (400)."""
    if len(text) > MAX_FILTER:
        raise ODataError(400, "bad_filter", "odata.error_filter_long")
    parser = _Parser(_tokens(text))
    sql, params = parser.expression()
    if parser.peek()[0] != "end":
        raise ODataError(400, "bad_filter", "odata.error_filter_syntax")
    return sql, params


# ---- the query options and one page ----------------------------------------------------------


@dataclass
class Query:
    top: int = DEFAULT_TOP
    skip: int = 0
    count: bool = False
    select: list[str] | None = None
    where: tuple[str, list[Any]] | None = None
    after: tuple[str, int] | None = None  # arrival second, rows of it already given
    newest_first: bool = False  # $orderby=__system/submissionDate desc
    raw: dict[str, str] = field(default_factory=dict)  # the options a next page repeats


_OPTIONS = {"$top", "$skip", "$count", "$filter", "$select", "$skiptoken", "$format", "$orderby"}
_V2_OPTIONS = (_OPTIONS - {"$count"}) | {"$inlinecount"}
# The one order pages can be found in by a cursor: the records' arrival (an index's order).
_ORDERS = {
    "__system/submissionDate": False,
    "__system/submissionDate asc": False,
    "__system/submissionDate desc": True,
}


def _number(args: Any, name: str, most: int) -> int | None:
    raw = args.get(name)
    if raw is None:
        return None
    if not re.fullmatch(r"[0-9]{1,9}", raw) or int(raw) > most:
        raise ODataError(400, "bad_option", "odata.error_number", option=name, most=most)
    return int(raw)


def parse_query(args: Any, entity_set: EntitySet, v2: bool = False) -> Query:
    """The request's query options, each checked and bounded (an ODataError when not); ``v2``:
    as an OData v2 client sends them (``$inlinecount=allpages`` for ``$count=true``)."""
    known = _V2_OPTIONS if v2 else _OPTIONS
    for name in args:
        if len(args.get(name, "")) > MAX_QUERY_VALUE:
            raise ODataError(400, "bad_option", "odata.error_long", option=name[:40])
        if name.startswith("$") and name not in known:
            raise ODataError(400, "bad_option", "odata.error_unsupported", option=name[:40])
    fmt = args.get("$format")
    if fmt is not None and fmt.split(";")[0] != "json":
        raise ODataError(400, "bad_option", "odata.error_unsupported", option="$format")
    query = Query()
    top = _number(args, "$top", MAX_TOP)
    query.top = DEFAULT_TOP if top is None else top
    query.skip = _number(args, "$skip", MAX_SKIP) or 0
    count = args.get("$inlinecount" if v2 else "$count")
    if count not in ((None, "allpages", "none") if v2 else (None, "true", "false")):
        raise ODataError(400, "bad_option", "odata.error_count")
    query.count = count in ("true", "allpages")
    if args.get("$filter"):
        # A repeat's rows have no date or state of their own: their submission's count.
        query.where = parse_filter(args["$filter"])
    if args.get("$select"):
        names = [n.strip() for n in args["$select"].split(",")]
        known = {"__id", *entity_set.links, *(n for n, _, _ in entity_set.columns)}
        if not entity_set.table.chain:
            known.add("__system")
        if len(names) > MAX_SELECT:
            raise ODataError(400, "bad_option", "odata.error_long", option="$select")
        unknown = next((n for n in names if n not in known), None)
        if unknown is not None:
            raise ODataError(400, "bad_select", "odata.error_select", name=unknown[:60])
        query.select = names
    if args.get("$orderby") is not None:
        order = " ".join(args["$orderby"].split())
        if order not in _ORDERS:
            raise ODataError(400, "bad_option", "odata.error_orderby")
        query.newest_first = _ORDERS[order]
    if args.get("$skiptoken"):
        query.after = read_cursor(args["$skiptoken"])
    query.raw = {
        k: args[k]
        for k in ("$filter", "$select", "$count", "$inlinecount", "$orderby")
        if args.get(k) not in (None, "")
    }
    if top is not None:
        query.raw["$top"] = str(top)
    return query


_CURSOR = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)~([0-9]{1,9})")


def _cursor(received_at: str, given: int) -> str:
    return base64.urlsafe_b64encode(f"{received_at}~{given}".encode()).decode().rstrip("=")


def read_cursor(token: str) -> tuple[str, int]:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
    except (ValueError, UnicodeDecodeError) as error:
        raise ODataError(400, "bad_option", "odata.error_skiptoken") from error
    match = _CURSOR.fullmatch(text)
    if match is None:
        raise ODataError(400, "bad_option", "odata.error_skiptoken")
    return match.group(1), int(match.group(2))


def _typed(edm: str, value: Any) -> Any:
    """A cell as the JSON its OData type wants (stored answers were checked against the form,
    so a number parses; what does not is given as null rather than as a wrong type)."""
    if value is None:
        return None
    try:
        if edm == "Edm.Int64":
            return int(value)
        if edm == "Edm.Decimal":
            number = float(value)
            return int(number) if number.is_integer() and abs(number) < 2**53 else number
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, str) else str(value)


def entity(entity_set: EntitySet, header: list[str], cells: list[Any]) -> dict[str, Any]:
    """One export row as an OData entity."""
    named = dict(zip(header, cells, strict=True))
    key = named.get("record_id", named.get("record_key"))
    out: dict[str, Any] = {}
    if not entity_set.table.chain:
        out["__id"] = key
        out["__system"] = {
            _SYSTEM[k][0]: named[k] for k in header if k in _SYSTEM and k not in _KEYS
        }
    else:
        indexes = [str(named[f"{r}_index"]) for r in entity_set.table.chain]
        out["__id"] = "/".join([str(key), *indexes])
        for depth, link in enumerate(entity_set.links):
            out[link] = "/".join([str(key), *indexes[:depth]])
    for name, edm, node in entity_set.columns:
        out[name] = _typed(edm, named[node.name if node is not None else name])
    return out


def _rows(
    db: sqlite_utils.Database,
    form: Form,
    entity_set: EntitySet,
    options: exports.ExportOptions,
    query: Query,
) -> Iterator[tuple[str, list[Any]]]:
    """(arrival second, row) after the cursor, in order, read lazily from the records."""
    where: list[str] = []
    params: list[Any] = []
    if query.where:
        where.append(query.where[0])
        params += query.where[1]
    if query.after:
        where.append("r.received_at <= ?" if query.newest_first else "r.received_at >= ?")
        params.append(query.after[0])
    condition = (" AND ".join(where) or "1", params)
    passed = 0
    for record in exports.records(db, form, options, condition, query.newest_first):
        for row in exports.rows(form, entity_set.table, record, options):
            if query.after and record["received_at"] == query.after[0] and passed < query.after[1]:
                passed += 1
                continue
            yield record["received_at"], row


def page_rows(
    db: sqlite_utils.Database,
    form: Form,
    entity_set: EntitySet,
    options: exports.ExportOptions,
    query: Query,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page's entities, and the cursor (``$skiptoken``) of the next page when rows remain."""
    header = exports.header(form, entity_set.table, options)
    value: list[dict[str, Any]] = []
    # Where the rows read so far end: a second, and how many rows of it were read.
    second, given = query.after if query.after else ("", 0)
    for passed, (received_at, row) in enumerate(_rows(db, form, entity_set, options, query)):
        if len(value) == query.top:
            # The rows $skip passed are behind the cursor: the next page skips none.
            return value, _cursor(second, given)
        if passed >= query.skip:
            value.append(entity(entity_set, header, row))
        given = given + 1 if received_at == second else 1
        second = received_at
    return value, None


def page(
    db: sqlite_utils.Database,
    form: Form,
    entity_set: EntitySet,
    options: exports.ExportOptions,
    query: Query,
    base: str,
) -> dict[str, Any]:
    """One page of an entity set as the OData JSON body, with ``@odata.nextLink`` when rows
    remain after it."""
    body: dict[str, Any] = {"@odata.context": f"{base}/$metadata#{entity_set.name}"}
    if query.count:
        everything = Query(where=query.where, newest_first=query.newest_first)
        body["@odata.count"] = sum(1 for _ in _rows(db, form, entity_set, options, everything))
    value, cursor = page_rows(db, form, entity_set, options, query)
    if cursor is not None:
        following = {**query.raw, "$skiptoken": cursor}
        body["@odata.nextLink"] = f"{base}/{entity_set.name}?{urlencode(following)}"
    if query.select is not None:
        value = [{k: e[k] for k in query.select if k in e} for e in value]
    body["value"] = value
    return body
