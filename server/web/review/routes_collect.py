"""ODK Collect submissions that are not records yet, for the office: those naming no household
(attached here to one, by its code), those the check refused, those still waiting for files."""

from __future__ import annotations

from typing import Any

from flask import current_app, redirect, render_template, request, url_for

from server.domain.db import write_transaction
from server.domain.openrosa import service
from server.web.db import get_db
from server.web.review import bp
from server.web.staff import PERSONAL_DATA, audited, check_csrf, login_required, me

# A household code is seven characters; anything far longer is no code.
MAX_CODE = 40


def _page(problem: dict[str, Any] | None = None, status: int = 200) -> Any:
    db = get_db()
    items = service.waiting(db, me()["commune_id"])
    with write_transaction(db):
        audited("view_collect_waiting", "openrosa", f"{len(items)}")
    return render_template("review/collect.html", items=items, problem=problem or {}), status


@bp.get("/collect")
@login_required(*PERSONAL_DATA)
def collect_waiting() -> Any:
    return _page()


@bp.post("/collect/attach")
@login_required(*PERSONAL_DATA)
def collect_attach() -> Any:
    check_csrf()
    instance_id = request.form.get("instance_id", "")[:200]
    code = request.form.get("household_code", "").strip()[:MAX_CODE]
    db = get_db()
    user = me()
    outcome = service.attach(
        db, user["commune_id"], instance_id, code, current_app.config["DATA_DIR"], user
    )
    if outcome is None:
        return _page({"instance_id": instance_id, "key": "openrosa.not_found"}, 404)
    if outcome.record_id is None:
        problem = {
            "instance_id": instance_id,
            "key": f"openrosa.{outcome.key}",
            "params": outcome.params,
            "errors": outcome.errors,
            "code": code,
        }
        return _page(problem, 422)
    return redirect(url_for("review.record", record_id=outcome.record_id), 303)
