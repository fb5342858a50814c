"""The admin's printable A4 sheets: enrollment cards for a team, household QR labels for a
village (on the admin blueprint)."""

from __future__ import annotations

from typing import Any

from flask import abort, render_template, request

from server.domain import accounts, devices, register
from server.domain.db import write_transaction
from server.domain.devices import enrollment_url
from server.web import staff
from server.web.admin import bp, private_page, qr
from server.web.db import get_db
from server.web.staff import audited, check_csrf, login_required, me, t


@bp.get("/admin/print")
@login_required("admin")
def print_menu() -> Any:
    return render_template(
        "admin/print.html", villages=register.assignable_villages(get_db(), me()["commune_id"])
    )


def _village_or_404(village_id: str | None) -> dict[str, Any] | None:
    if not village_id:
        return None
    found = [
        v
        for v in register.assignable_villages(get_db(), me()["commune_id"])
        if v["id"] == village_id
    ]
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
        for person in accounts.team(db, me()["commune_id"], village["id"] if village else None):
            code = devices.new_code(db, person["id"])
            audited("enrollment_code", f"user:{person['username']}", "card")
            label = t("admin.qr_card", name=person["display_name"])
            url = enrollment_url(base, code)
            cards.append({**person, "code": code, "svg": qr.svg(url, label=label)})
    return private_page(
        render_template(
            "admin/cards.html",
            cards=cards,
            village=village,
            commune=register.commune(db, me()["commune_id"]),
        )
    )


@bp.get("/admin/print/labels")
@login_required("admin")
def print_labels() -> Any:
    village = _village_or_404(request.args.get("village", ""))
    if village is None:
        abort(404)
    db = get_db()
    rows = [
        {**row, "svg": qr.svg(row["code"], label=t("admin.qr_label", code=row["code"]))}
        for row in register.labels(db, village["id"])
    ]
    with write_transaction(db):
        audited("print_labels", f"village:{village['id']}", str(len(rows)))
    return render_template(
        "admin/labels.html",
        labels=rows,
        village=village,
        commune=register.commune(db, me()["commune_id"]),
    )
