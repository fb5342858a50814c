"""The admin's printable A4 sheets: enrollment cards for a team, household QR labels for a
village (on the admin blueprint)."""

from __future__ import annotations

from typing import Any

from flask import abort, render_template, request

from server import staff
from server.admin import qr, service
from server.admin.routes import _audit, _me, _private, bp
from server.cli import enrollment_url
from server.db import get_db, write_transaction
from server.staff import check_csrf, login_required


@bp.get("/admin/print")
@login_required("admin")
def print_menu() -> Any:
    return render_template("admin/print.html",
                           villages=service.villages(get_db(), _me()["commune_id"]))


def _village_or_404(village_id: str | None) -> dict[str, Any] | None:
    if not village_id:
        return None
    found = [v for v in service.villages(get_db(), _me()["commune_id"]) if v["id"] == village_id]
    if not found:
        abort(404)
    return found[0]


@bp.post("/admin/print/cards")
@login_required("admin")
def print_cards() -> Any:
    check_csrf()
    db = get_db()
    village = _village_or_404(request.form.get("village") or None)
    base = staff.public_base_url()
    cards = []
    with write_transaction(db):
        for person in service.team(db, _me()["commune_id"], village["id"] if village else None):
            code = service.new_code(db, person["id"])
            _audit("enrollment_code", f"user:{person['username']}", "card")
            cards.append({**person, "code": code, "svg": qr.svg(enrollment_url(base, code))})
    return _private(render_template("admin/cards.html", cards=cards, village=village,
                                    commune=service.commune(db, _me()["commune_id"])))


@bp.get("/admin/print/labels")
@login_required("admin")
def print_labels() -> Any:
    village = _village_or_404(request.args.get("village", ""))
    if village is None:
        abort(404)
    db = get_db()
    rows = [{**row, "svg": qr.svg(row["code"])} for row in service.labels(db, village["id"])]
    with write_transaction(db):
        _audit("print_labels", f"village:{village['id']}", str(len(rows)))
    return render_template("admin/labels.html", labels=rows, village=village,
                           commune=service.commune(db, _me()["commune_id"]))
