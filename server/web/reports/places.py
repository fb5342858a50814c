"""/reports/map and /reports/gallery: the records' GPS points on a map (Leaflet from npm, the
tiles a setting) and their photos, with the submissions list's filters and the form.

Admins and reviewers only: a point is where a household lives and a photo is personal data,
and no pseudonymised form of either would still be a map or a gallery, so a viewer (who reads
exports pseudonymised) gets neither. Every points page and gallery page, and every photo opened
whole, is audited with its filter and how many it showed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import flask
from flask import abort, current_app, jsonify, render_template, request, url_for

from server.domain import forms, register, thumbnails
from server.domain.blobs import blob_path
from server.domain.records import places
from server.domain.records import query as records
from server.web.assets import NODE_MODULES, vendor_ready
from server.web.db import get_db
from server.web.errors import ApiError
from server.web.reports.routes import PERSONAL, bp
from server.web.site import zone
from server.web.staff import audited, login_required, me, ui_lang

MAX_ARG = 100  # characters of any one filter value read


def _scope(api: bool) -> tuple[places.Scope, tuple[str, str] | None]:
    """The filters of the query string within the staff member's commune, and the cursor. A
    village, volunteer or form that is not the commune's is 404 (as on the submissions list);
    a malformed date, state, or cursor is 400 for the JSON endpoint and the pages alike."""
    user, db = me(), get_db()
    args = {k: v[:MAX_ARG] for k, v in request.args.items()}
    filters = records.Filters.from_args(args, zone())

    def refuse(status: int) -> Any:
        if api:
            raise ApiError(status, "bad_request" if status == 400 else "not_found")
        abort(status)

    if filters.problems or (args.get("state") and not filters.state):
        refuse(400)
    if args.get("after") and filters.after is None:
        refuse(400)
    villages = {v["id"] for v in register.villages(db, user["commune_id"])}
    if filters.village and filters.village not in villages:
        refuse(404)
    if args.get("volunteer", "").strip() and filters.volunteer not in {
        v["id"] for v in records.volunteers(db, user["commune_id"])
    }:
        refuse(404)
    form_id = args.get("form", "").strip()
    if form_id and form_id not in _form_ids(db, user["commune_id"]):
        refuse(404)
    return places.Scope(user["commune_id"], filters, form_id), filters.after


def _form_ids(db: Any, commune_id: str) -> set[str]:
    return {f["form_id"] for f in forms.commune_forms(db, commune_id)}


def _detail(scope: places.Scope, shown: int, **more: Any) -> str:
    f = scope.filters
    return json.dumps(
        {**f.query(), "form": scope.form_id, "shown": shown, **more},
        ensure_ascii=False,
        sort_keys=True,
    )


def _page_args(scope: places.Scope) -> dict[str, Any]:
    db, user = get_db(), me()
    return {
        "filters": scope.filters,
        "form_id": scope.form_id,
        "villages": register.villages(db, user["commune_id"]),
        "volunteers": records.volunteers(db, user["commune_id"]),
        "forms": forms.commune_forms(db, user["commune_id"]),
        "states": records.REVIEW_STATES,
        "query": _query(scope),
    }


def _query(scope: places.Scope) -> dict[str, Any]:
    """The filters as a query string's values (for links), the cursor left out."""
    query = scope.filters.query()
    if scope.form_id:
        query["form"] = scope.form_id
    return query


def _attribution(tiles: str) -> str:
    host = urlsplit(tiles).hostname or ""
    return "© OpenStreetMap" if host.endswith("openstreetmap.org") else host


@bp.get("/map")
@login_required(*PERSONAL)
def map_page() -> Any:
    scope, _ = _scope(api=False)
    tiles = current_app.config.get("MAP_TILES") or ""
    root = Path(current_app.config.get("NODE_MODULES") or NODE_MODULES)
    return render_template(
        "reports/map.html",
        **_page_args(scope),
        tiles=tiles,
        attribution=_attribution(tiles) if tiles else "",
        vendor=vendor_ready(root),
        points_url=url_for("reports.map_points", **_query(scope)),
        max_records=places.MAX_POINT_RECORDS,
    )


@bp.get("/map/points")
@login_required(*PERSONAL, api=True)
def map_points() -> Any:
    """One page of points: ``{records: [{id, household, code, name, village, received_at,
    points: [[lat, lon, key]]}], next, links}``; ``limit`` records read at most (1 to 5,000)."""
    scope, after = _scope(api=True)
    raw = request.args.get("limit", "")
    if raw:
        if not raw.isascii() or not raw.isdigit() or len(raw) > 5:
            raise ApiError(400, "bad_request")
        limit = int(raw)
        if not 1 <= limit <= places.MAX_POINT_RECORDS:
            raise ApiError(400, "bad_request")
    else:
        limit = places.DEFAULT_POINT_RECORDS
    rows, cursor = places.map_points(get_db(), scope, after, limit)
    audited(
        "view_map",
        target=me()["commune_id"],
        detail=_detail(scope, sum(len(r["points"]) for r in rows), after=bool(after)),
    )
    # The links once, with ID standing for a record's (or household's) id: 10,000 records
    # would otherwise carry a million bytes of the same two addresses.
    links = {
        "record": url_for("review.record", record_id="ID"),
        "household": url_for("review.household", household_id="ID"),
    }
    return jsonify({"records": rows, "next": cursor, "links": links})


@bp.get("/gallery")
@login_required(*PERSONAL)
def gallery() -> Any:
    scope, after = _scope(api=False)
    found, cursor = places.photos(get_db(), scope, after, ui_lang())
    audited("view_gallery", target=me()["commune_id"], detail=_detail(scope, len(found)))
    return render_template(
        "reports/gallery.html", **_page_args(scope), photos=found, cursor=cursor, first=not after
    )


def _photo_or_404(record_id: str, sha256: str) -> None:
    # The gallery shows photos: a recording the record names is the record page's to send.
    if records.named_file(get_db(), me()["commune_id"], record_id, sha256) != "image":
        abort(404)


@bp.get("/photos/<record_id>/<sha256>/thumb")
@login_required(*PERSONAL)
def photo_thumb(record_id: str, sha256: str) -> Any:
    """A gallery's small copy (the gallery page that shows it is audited)."""
    _photo_or_404(record_id, sha256)
    path = thumbnails.thumbnail(current_app.config["DATA_DIR"], sha256)
    if path is None:
        abort(404)
    # Streamed from disk: the app's own files' cache (gzip, kept in memory) is no place for
    # a commune's JPEGs, which gzip does not shrink and which would push the app's out.
    return flask.send_file(path, mimetype="image/jpeg", etag=sha256, conditional=True)


@bp.get("/photos/<record_id>/<sha256>")
@login_required(*PERSONAL)
def photo(record_id: str, sha256: str) -> Any:
    """The photo whole, as the phone sent it (audited)."""
    _photo_or_404(record_id, sha256)
    data_dir = current_app.config["DATA_DIR"]
    kind = thumbnails.photo_type(data_dir, sha256)
    if kind is None:
        abort(404)
    audited("view_photo", target=record_id, detail=sha256)
    return flask.send_file(
        blob_path(data_dir, sha256), mimetype=kind, etag=sha256, conditional=True, max_age=3600
    )
