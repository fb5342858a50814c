"""/reports: the dashboard, the printable report, the province overview, exports and the JSON API.

Who sees what: admin and reviewer everything of their commune; viewer the indicators only (no
exports of records, no volunteers' names). The province role (an admin of no commune) sees the
province overview and any commune's dashboard in its province (``?commune=``), indicators only.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from datetime import date
from typing import IO, Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    render_template,
    request,
    send_file,
    url_for,
)

from schemas.indicators import all_indicators
from server.domain import forms as form_versions
from server.domain import register
from server.domain.db import connect
from server.domain.reports import dictionary, exports, service
from server.web.db import get_db
from server.web.errors import ApiError
from server.web.reports import charts
from server.web.site import zone
from server.web.staff import audited, current_user, login_required, public_base_url, t, ui_lang

bp = Blueprint("reports", __name__, url_prefix="/reports")
STAFF = ("admin", "reviewer", "viewer", "province")
PERSONAL = ("admin", "reviewer")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.app_template_filter("num")
def _num(value: Any) -> str:
    if value is None:
        return "—"
    text = f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"
    return text.translate(str.maketrans(",.", ".,")) if ui_lang() == "vi" else text


@bp.app_template_filter("pct")
def _pct(value: float | None) -> str:
    return "—" if value is None else f"{_num(float(value))}%"


def _where(api: bool = False) -> dict[str, Any]:
    """The commune and village asked for, within the caller's scope (404 outside it)."""
    user = current_user()
    assert user is not None
    db = get_db()
    commune_id = user["commune_id"] or request.args.get("commune", "")
    if user["commune_id"] and request.args.get("commune", commune_id) != commune_id:
        commune_id = ""
    commune = service.commune(db, commune_id) if commune_id else None
    if commune and not user["commune_id"] and commune["province_code"] != user.get("province_code"):
        commune = None  # another province's commune: as if it did not exist
    village_id = request.args.get("village") or None
    villages = register.current_villages(db, commune_id) if commune else []
    village = next((v for v in villages if v["id"] == village_id), None)
    if commune is None or (village_id and village is None):
        if api:
            raise ApiError(404, "not_found")
        abort(404)
    return {
        "user": user,
        "db": db,
        "commune": commune,
        "villages": villages,
        "village": village,
        "village_id": village_id,
        "approved": request.args.get("approved") == "1",
    }


def _report(where: dict[str, Any]) -> dict[str, Any]:
    report = service.dashboard(
        where["db"],
        where["commune"]["id"],
        where["village_id"],
        where["approved"],
        ui_lang(),
        with_volunteers=where["user"]["role"] in PERSONAL,
    )
    commune = None if where["user"]["commune_id"] else where["commune"]["id"]
    for row in report["villages"]:
        row["url"] = url_for(
            "reports.dashboard",
            commune=commune,
            village=row["id"],
            approved="1" if where["approved"] else None,
        )
    return report


@bp.get("/")
@login_required(*STAFF)
def dashboard() -> Any:
    where = _where()
    report = _report(where)
    return render_template(
        "reports/dashboard.html",
        **where,
        report=report,
        chart=charts.trend_chart(report["months"]),
        charts=charts,
        indicators=all_indicators(),
    )


@bp.get("/print")
@login_required(*STAFF)
def printable() -> Any:
    where = _where()
    report = _report(where)
    return render_template(
        "reports/print.html",
        **where,
        report=report,
        chart=charts.trend_chart(report["months"]),
        charts=charts,
        indicators=all_indicators(),
        today=date.today().isoformat(),
    )


@bp.get("/province")
@login_required(*STAFF)
def province() -> Any:
    user = current_user()
    assert user is not None
    if user["role"] != "province":
        abort(403)
    approved = request.args.get("approved") == "1"
    report = service.province(get_db(), user["province_code"], approved, ui_lang())
    for row in report["communes"]:
        row["url"] = url_for(
            "reports.dashboard", commune=row["id"], approved="1" if approved else None
        )
    return render_template(
        "reports/province.html",
        report=report,
        approved=approved,
        charts=charts,
        indicators=all_indicators(),
    )


@bp.get("/api/indicators")
@login_required(*STAFF, api=True)
def api_indicators() -> Any:
    where = _where(api=True)
    report = service.dashboard(
        where["db"],
        where["commune"]["id"],
        where["village_id"],
        where["approved"],
        ui_lang(),
        with_volunteers=False,
    )
    return jsonify(service.api_body(where["commune"], where["village"], report))


@bp.get("/api/province")
@login_required(*STAFF, api=True)
def api_province() -> Any:
    user = current_user()
    assert user is not None
    if user["role"] != "province":
        raise ApiError(403, "forbidden")
    report = service.province(
        get_db(), user["province_code"], request.args.get("approved") == "1", ui_lang()
    )
    return jsonify(report)


@bp.get("/exports")
@login_required(*STAFF)
def exports_page() -> Any:
    where = _where()
    form = exports.latest_form(where["db"], where["commune"]["id"], request.args.get("form"))
    parts = [
        {
            "name": table.name,
            "label": form.label(form.nodes[table.name], ui_lang())
            if table.chain
            else t("reports.table_households"),
        }
        for table in (exports.tables(form, False) if form else [])
    ]
    return render_template(
        "reports/exports.html",
        **where,
        form=form,
        # Every form of the commune has its own tables and dictionary: the staff picks one.
        forms=form_versions.commune_forms(where["db"], where["commune"]["id"]),
        tables=parts,
        may_export=where["user"]["role"] in PERSONAL,
    )


def _audit(where: dict[str, Any], action: str, **detail: Any) -> None:
    audited(
        action,
        target=where["village_id"] or where["commune"]["id"],
        detail=json.dumps(detail, ensure_ascii=False, sort_keys=True),
    )


def _options(where: dict[str, Any]) -> exports.ExportOptions:
    lang = request.args.get("lang") or ui_lang()
    return exports.ExportOptions(
        commune_id=where["commune"]["id"],
        village_id=where["village_id"],
        approved=where["approved"],
        labels=request.args.get("labels") == "1",
        pseudonymised=request.args.get("pseudo") == "1",
        lang=lang if lang in ("vi", "en") else "vi",
        secret=current_app.config["SECRET_KEY"],
        zone=zone(),
        # Opened from the spreadsheet, behind the staff login and its audit, as the page's.
        file_url=public_base_url()
        + url_for("review.record_file", record_id="RECORD", sha256="SHA256")
        .replace("RECORD", "{record}")
        .replace("SHA256", "{sha256}"),
    )


def _filename(where: dict[str, Any], stem: str, suffix: str) -> str:
    parts = ["gocua", where["commune"]["id"], stem, date.today().isoformat()]
    return "-".join(parts) + suffix


def _export_form(where: dict[str, Any]) -> Any:
    form = exports.latest_form(where["db"], where["commune"]["id"], request.args.get("form"))
    if form is None:
        abort(404)
    return form


@bp.get("/export.xlsx")
@login_required(*PERSONAL)
def export_xlsx() -> Any:
    where = _where()
    form = _export_form(where)
    options = _options(where)
    _audit(
        where,
        "export_records",
        format="xlsx",
        form=form.form_id,
        approved=options.approved,
        labels=options.labels,
        pseudonymised=options.pseudonymised,
    )
    stem = "records-pseudonymised" if options.pseudonymised else "records"
    return _send_workbook(
        lambda out: exports.write_xlsx(where["db"], form, options, out),
        _filename(where, stem, ".xlsx"),
    )


def _send_workbook(write: Callable[[IO[bytes]], Any], name: str) -> Response:
    """A workbook built in a temporary file (openpyxl's write-only mode keeps memory flat),
    then streamed; send_file closes the file when the response ends, which deletes it."""
    out = tempfile.TemporaryFile()  # noqa: SIM115 - closed by send_file, not here
    try:
        write(out)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return send_file(out, mimetype=XLSX, as_attachment=True, download_name=name, max_age=0)


@bp.get("/export/<path:table>.csv")  # a repeat keyed by its path: a/visits
@login_required(*PERSONAL)
def export_csv(table: str) -> Any:
    where = _where()
    form = _export_form(where)
    options = _options(where)
    found = next((t for t in exports.tables(form, options.pseudonymised) if t.name == table), None)
    if found is None:
        abort(404)
    _audit(
        where,
        "export_records",
        format="csv",
        form=form.form_id,
        table=table,
        approved=options.approved,
        labels=options.labels,
        pseudonymised=options.pseudonymised,
    )
    stem = f"{table}-pseudonymised" if options.pseudonymised else table
    body = _stream_csv(current_app.config["DATABASE"], form, found, options)
    return Response(
        body,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f"attachment; filename={_filename(where, stem, '.csv')}",
            "Cache-Control": "no-store",
        },
    )


def _stream_csv(
    path: str, form: Any, table: exports.Table, options: exports.ExportOptions
) -> Iterator[bytes]:
    # The request's connection is closed when the view returns, before the body is sent:
    # the stream reads through its own.
    db = connect(path)
    try:
        yield from exports.csv_chunks(db, form, table, options)
    finally:
        db.close()


@bp.get("/dictionary.<fmt>")
@login_required(*STAFF)
def data_dictionary(fmt: str) -> Any:
    where = _where()
    form = _export_form(where)
    if fmt not in ("xlsx", "csv"):
        abort(404)
    _audit(where, "export_dictionary", format=fmt, form=form.form_id, version=form.version)
    name = f"gocua-{form.form_id}-{form.version}-dictionary.{fmt}"
    if fmt == "csv":
        return Response(
            dictionary.csv_text(form).encode("utf-8"),
            mimetype="text/csv",
            headers={"Content-Disposition": f"attachment; filename={name}"},
        )
    return _send_workbook(lambda out: dictionary.write_xlsx(form, out), name)


@bp.get("/indicators.csv")
@login_required(*STAFF)
def indicators_csv() -> Any:
    where = _where()
    report = service.dashboard(
        where["db"],
        where["commune"]["id"],
        where["village_id"],
        where["approved"],
        ui_lang(),
        with_volunteers=False,
    )
    _audit(where, "export_indicators", format="csv", approved=where["approved"])
    body = service.indicators_csv(where["commune"], report, ui_lang())
    return Response(
        body.encode("utf-8"),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f"attachment; filename={_filename(where, 'indicators', '.csv')}"
        },
    )
