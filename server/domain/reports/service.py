"""What the reports show: coverage and indicators for a commune, a village or the province,
by month and by volunteer. Plain functions over the sums ``facts`` keeps (``report_totals``,
``report_volunteers``) and the register's ``register_counts``: a page reads a few thousand
rows at most, whatever the number of records, and never counts a record itself. What is not
counted yet is counted in the background; each answer says how fresh its figures are
(``freshness``)."""

from __future__ import annotations

import io
from collections import defaultdict
from typing import Any

import sqlite_utils

from schemas.indicators import Indicator, all_groups, all_indicators, percent
from server.domain import register
from server.domain.reports import background
from server.domain.reports.cells import CsvWriter
from server.domain.reports.facts import STATES, VOLUNTEER_KEYS, freshness

Totals = dict[str, int]


def scope_name(approved: bool) -> str:
    return "approved" if approved else "all"


def commune(db: sqlite_utils.Database, commune_id: str) -> dict[str, Any] | None:
    row = db.execute(
        "SELECT id, name, province_code, province_name FROM communes WHERE id = ?", [commune_id]
    ).fetchone()
    return dict(row) if row else None


def _in(column: str, values: list[str]) -> str:
    return f"{column} IN ({','.join('?' * len(values))})"


def dashboard(
    db: sqlite_utils.Database,
    commune_id: str,
    village_id: str | None,
    approved: bool,
    lang: str,
    with_volunteers: bool,
) -> dict[str, Any]:
    """Everything the dashboard, the printable report and the JSON API show."""
    scope = scope_name(approved)
    # Read before the sums: a count that ends between the two reads then shows as still
    # waiting, never as sums that miss what the answer calls counted.
    fresh = freshness(db)
    survivors = register.survivors(db, commune_id)
    where, params = "scope = ? AND commune_id = ?", [scope, commune_id]
    if village_id:
        ids = register.village_ids_under(db, village_id)
        where += " AND " + _in("village_id", ids)
        params += ids
    by_village: dict[str, Totals] = defaultdict(lambda: defaultdict(int))
    by_month: dict[str, Totals] = defaultdict(lambda: defaultdict(int))
    total: Totals = defaultdict(int)
    for r in db.execute(
        "SELECT village_id, month, key, sum(value) AS value FROM report_totals"
        f" WHERE {where} GROUP BY village_id, month, key",
        params,
    ):
        key, value = r["key"], r["value"]
        by_village[survivors.get(r["village_id"], r["village_id"])][key] += value
        by_month[r["month"]][key] += value
        total[key] += value
    listed = listed_by_village(db, commune_id)
    if village_id:
        listed = {village_id: listed.get(village_id, 0)}
    listed_total = sum(listed.values())
    rows = [
        {
            **v,
            "coverage": coverage(by_village.get(v["id"], {}), listed.get(v["id"], 0)),
            "indicators": {i.id: _share(by_village.get(v["id"], {}), i) for i in all_indicators()},
        }
        for v in register.current_villages(db, commune_id)
        if (not village_id or v["id"] == village_id) and (v["active"] or v["id"] in by_village)
    ]
    result: dict[str, Any] = {
        "scope": scope,
        "coverage": coverage(total, listed_total),
        "groups": indicator_groups(total, lang),
        "villages": rows,
        "months": trend(by_month, listed_total),
        "states": states(db, commune_id, village_id),
        "freshness": fresh,
    }
    if with_volunteers:
        result["volunteers"] = volunteers(db, commune_id, village_id, approved)
    _count_what_waits(db, fresh)
    return result


def _count_what_waits(db: sqlite_utils.Database, fresh: dict[str, Any]) -> None:
    """Start the background count of what ``fresh`` says waits, once the sums are read: the
    answer's sums are then those of the moment its freshness was read, or later."""
    if fresh["pending"] or fresh["recount"]:
        background.count_soon(db)


def listed_by_village(db: sqlite_utils.Database, commune_id: str) -> dict[str, int]:
    """Households on the register (not taken off it), per village: kept counts, a province
    database has hundreds of thousands of households."""
    return dict(
        db.execute(
            "SELECT c.village_id, c.listed FROM villages v"
            " JOIN register_counts c ON c.village_id = v.id WHERE v.commune_id = ?",
            [commune_id],
        ).fetchall()
    )


def coverage(totals: Totals, listed: int) -> dict[str, Any]:
    visited = totals.get("visited", 0)
    return {
        "listed": listed,
        "visited": visited,
        "surveyed": totals.get("surveyed", 0),
        "persons": totals.get("persons", 0),
        "percent": percent(visited, listed),
    }


def _share(totals: Totals, indicator: Indicator) -> dict[str, Any]:
    num = totals.get(f"n:{indicator.id}", 0)
    den = totals.get(f"d:{indicator.id}", 0)
    return {"numerator": num, "denominator": den, "percent": percent(num, den)}


def indicator_row(totals: Totals, indicator: Indicator, lang: str) -> dict[str, Any]:
    share = _share(totals, indicator)
    target = indicator.target
    met = None
    if target.percent is not None and share["percent"] is not None:
        met = share["percent"] >= target.percent
    return {
        "id": indicator.id,
        "label": indicator.text(lang),
        "unit": indicator.unit,
        "group": indicator.group,
        **share,
        "target": {
            "percent": target.percent,
            "year": target.year,
            "source": target.source,
            "note": target.note.get(lang, ""),
        },
        "met": met,
    }


def indicator_groups(totals: Totals, lang: str) -> list[dict[str, Any]]:
    """The indicators as the page shows them: in the groups their files declare."""
    groups = [
        {
            "id": str(g["id"]),
            "label": g["label"].get(lang) or g["label"].get("vi"),
            "indicators": [],
        }
        for g in all_groups()
    ]
    by_id = {g["id"]: g for g in groups}
    for indicator in all_indicators():
        group = by_id.get(indicator.group)
        if group is None:
            group = by_id.setdefault(
                indicator.group, {"id": indicator.group, "label": "", "indicators": []}
            )
            groups.append(group)
        group["indicators"].append(indicator_row(totals, indicator, lang))
    return [g for g in groups if g["indicators"]]


def trend(by_month: dict[str, Totals], listed: int) -> list[dict[str, Any]]:
    """Month by month: households visited and surveyed that month, and the running coverage
    and indicator shares up to the end of each month."""
    out = []
    running: Totals = defaultdict(int)
    for month in sorted(by_month):
        for key, value in by_month[month].items():
            running[key] += value
        out.append(
            {
                "month": month,
                "visited": by_month[month].get("visited", 0),
                "surveyed": by_month[month].get("surveyed", 0),
                "persons": by_month[month].get("persons", 0),
                "coverage": percent(running.get("visited", 0), listed),
                "indicators": {i.id: _share(running, i)["percent"] for i in all_indicators()},
            }
        )
    return out


def states(db: sqlite_utils.Database, commune_id: str, village_id: str | None) -> dict[str, int]:
    """Records by review state: how much of what is counted has been approved."""
    where, params = "scope = ? AND commune_id = ?", [STATES, commune_id]
    if village_id:
        ids = register.village_ids_under(db, village_id)
        where += " AND " + _in("village_id", ids)
        params += ids
    return dict(
        db.execute(
            f"SELECT key, sum(value) FROM report_totals WHERE {where} GROUP BY key", params
        ).fetchall()
    )


def volunteers(
    db: sqlite_utils.Database, commune_id: str, village_id: str | None, approved: bool
) -> list[dict[str, Any]]:
    """Progress per volunteer: visits made, households surveyed, people, review states."""
    where, params = "t.scope = ? AND t.commune_id = ?", [scope_name(approved), commune_id]
    if village_id:
        ids = register.village_ids_under(db, village_id)
        where += " AND " + _in("t.village_id", ids)
        params += ids
    sums = ", ".join(
        f"sum(CASE t.key WHEN '{key}' THEN t.value ELSE 0 END) AS {key}" for key in VOLUNTEER_KEYS
    )
    rows = [
        {**dict(r), "user_id": r["user_id"] or None}
        for r in db.execute(
            "SELECT t.user_id, coalesce(u.display_name, '') AS name,"
            f" coalesce(u.union_name, '') AS union_name, {sums},"
            " max(CASE t.key WHEN 'visits' THEN t.day END) AS last_visit"
            f" FROM report_volunteers t LEFT JOIN users u ON u.id = t.user_id WHERE {where}"
            " GROUP BY t.user_id ORDER BY visits DESC, 2",
            params,
        )
    ]
    most = max((r["visits"] for r in rows), default=0)
    for row in rows:
        row["bar"] = percent(row["visits"], most) or 0
    return rows


def province(
    db: sqlite_utils.Database, province_code: str, approved: bool, lang: str
) -> dict[str, Any]:
    """Every commune of a province, each with its coverage and indicators, and the sum."""
    fresh = freshness(db)  # before the sums, as in ``dashboard``
    per_commune: dict[str, Totals] = defaultdict(lambda: defaultdict(int))
    total: Totals = defaultdict(int)
    for r in db.execute(
        "SELECT t.commune_id, t.key, sum(t.value) AS value FROM report_totals t"
        " JOIN communes c ON c.id = t.commune_id WHERE t.scope = ? AND c.province_code = ?"
        " GROUP BY t.commune_id, t.key",
        [scope_name(approved), province_code],
    ):
        per_commune[r["commune_id"]][r["key"]] += r["value"]
        total[r["key"]] += r["value"]
    listed = dict(
        db.execute(
            "SELECT v.commune_id, sum(r.listed) FROM communes c JOIN villages v"
            " ON v.commune_id = c.id JOIN register_counts r ON r.village_id = v.id"
            " WHERE c.province_code = ? GROUP BY v.commune_id",
            [province_code],
        ).fetchall()
    )
    indicators = all_indicators()
    rows = db.execute(
        "SELECT id, name, province_name FROM communes WHERE province_code = ? ORDER BY name",
        [province_code],
    ).fetchall()
    communes = [
        {
            "id": c["id"],
            "name": c["name"],
            "coverage": coverage(per_commune.get(c["id"], {}), listed.get(c["id"], 0)),
            "indicators": {i.id: _share(per_commune.get(c["id"], {}), i) for i in indicators},
        }
        for c in rows
    ]
    result = {
        "province": {"code": province_code, "name": rows[0]["province_name"] if rows else ""},
        "scope": scope_name(approved),
        "communes": communes,
        "coverage": coverage(total, sum(listed.values())),
        "groups": indicator_groups(total, lang),
        "freshness": fresh,
    }
    _count_what_waits(db, fresh)
    return result


def api_body(
    commune_row: dict[str, Any], village: dict[str, Any] | None, report: dict[str, Any]
) -> dict[str, Any]:
    """The JSON API's answer: the same figures as the page, without names of people."""
    return {
        "commune": {"id": commune_row["id"], "name": commune_row["name"]},
        "village": {"id": village["id"], "name": village["name"]} if village else None,
        "scope": report["scope"],
        "coverage": report["coverage"],
        "indicators": [i for g in report["groups"] for i in g["indicators"]],
        "villages": [
            {
                "id": v["id"],
                "name": v["name"],
                "coverage": v["coverage"],
                "indicators": v["indicators"],
            }
            for v in report["villages"]
        ],
        "months": report["months"],
        "states": report["states"],
        "freshness": report["freshness"],
    }


def indicators_csv(commune_row: dict[str, Any], report: dict[str, Any], lang: str) -> str:
    """The figures a commune reports upward, as CSV: the commune (or village) first, then each
    village, each indicator with its numerator, denominator, share and target."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = CsvWriter(out)
    writer.writerow(
        [
            "area",
            "area_id",
            "scope",
            "indicator",
            "label",
            "unit",
            "numerator",
            "denominator",
            "percent",
            "target_percent",
            "target_year",
            "target_source",
        ]
    )
    scope = report["scope"]
    areas = [
        (
            commune_row["name"],
            commune_row["id"],
            report["coverage"],
            {i["id"]: i for g in report["groups"] for i in g["indicators"]},
        )
    ]
    areas += [(v["name"], v["id"], v["coverage"], v["indicators"]) for v in report["villages"]]
    for name, ident, cover, shares in areas:
        for key in ("listed", "visited", "surveyed", "persons"):
            writer.writerow(
                [
                    name,
                    ident,
                    scope,
                    f"households_{key}" if key != "persons" else "persons_covered",
                    "",
                    "",
                    cover[key],
                    "",
                    "",
                    "",
                    "",
                    "",
                ]
            )
        writer.writerow(
            [
                name,
                ident,
                scope,
                "coverage",
                "",
                "household",
                cover["visited"],
                cover["listed"],
                cover["percent"],
                "",
                "",
                "",
            ]
        )
        for indicator in all_indicators():
            share = shares[indicator.id]
            target = indicator.target
            writer.writerow(
                [
                    name,
                    ident,
                    scope,
                    indicator.id,
                    indicator.text(lang),
                    indicator.unit,
                    share["numerator"],
                    share["denominator"],
                    share["percent"],
                    target.percent,
                    target.year,
                    target.source,
                ]
            )
    return out.getvalue()
