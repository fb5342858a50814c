"""The staff site: log in, the received records by village, one record with its form's labels."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, session, url_for

from server.audit import audit
from server.db import get_db, write_transaction
from server.review import service
from server.staff import check_csrf, check_login, current_user, login_required, t, ui_lang

bp = Blueprint("review", __name__)


@bp.app_context_processor
def _template_helpers() -> dict[str, Any]:
    from server.staff import csrf_token

    return {"t": t, "lang": ui_lang(), "user": current_user(), "csrf_token": csrf_token}


@bp.get("/lang/<code>")
def set_language(code: str) -> Any:
    if code in ("vi", "en"):
        session["lang"] = code
    target = request.args.get("next", "/")
    return redirect(target if target.startswith("/") and not target.startswith("//") else "/")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    if request.method == "POST":
        check_csrf()
        username = request.form.get("username", "").strip()
        user = check_login(username, request.form.get("password", ""))
        db = get_db()
        with write_transaction(db):
            audit(db, "login" if user else "login_failed", user_id=user["id"] if user else None,
                  username=username)
        if user:
            lang = session.get("lang")
            session.clear()
            session["user_id"] = user["id"]
            if lang:
                session["lang"] = lang
            target = request.args.get("next", "")
            safe = target.startswith("/") and not target.startswith("//")
            return redirect(target if safe else url_for("review.records"))
        error = t("login.failed")
    return render_template("review/login.html", error=error), 401 if error else 200


@bp.post("/logout")
def logout() -> Any:
    check_csrf()
    session.pop("user_id", None)
    return redirect(url_for("review.login"))


@bp.get("/")
@login_required("admin", "reviewer")
def records() -> Any:
    user = current_user()
    assert user is not None
    db = get_db()
    village_id = request.args.get("village") or None
    villages = service.villages(db, user["commune_id"])
    if village_id and village_id not in {v["id"] for v in villages}:
        abort(404)
    page = request.args.get("page", 1, type=int) or 1
    rows = service.list_records(db, user["commune_id"], village_id, page)
    return render_template("review/records.html", villages=villages, village_id=village_id,
                           records=rows, page=page, page_size=service.PAGE_SIZE)


@bp.get("/records/<record_id>")
@login_required("admin", "reviewer")
def record(record_id: str) -> Any:
    user = current_user()
    assert user is not None
    db = get_db()
    found = service.get_record(db, user["commune_id"], record_id)
    if found is None:
        abort(404)
    with write_transaction(db):
        audit(db, "view_record", user_id=user["id"], username=user["username"],
              target=record_id)
    lang = ui_lang()
    sections = service.sections(found["form"], found["data"], lang) if found["form"] else []
    return render_template("review/record.html", record=found, sections=sections)
