"""Everyone's own password, and the error pages people see (the API keeps its JSON body)."""

from __future__ import annotations

from typing import Any

from flask import g, render_template, request
from werkzeug.exceptions import HTTPException

from schemas.messages import text
from server import staff
from server.admin.routes import _me, bp
from server.errors import error_response
from server.staff import check_csrf, current_user, login_required, ui_lang


@bp.route("/account/password", methods=["GET", "POST"])
@login_required()
def password() -> Any:
    problem = None
    if request.method == "POST":
        check_csrf()
        form = request.form
        problem = staff.change_password(_me(), form.get("current", ""), form.get("new", ""),
                                        form.get("confirm", ""))
        if problem is None:
            return render_template("admin/message.html", key="admin.password_done",
                                   ok=True)
    return render_template("admin/password.html", problem=problem,
                           min_length=staff.MIN_PASSWORD), 422 if problem else 200


# -- error pages for people (the API keeps its JSON body) ---------------------------------------

_API_CODES = {400: "bad_request", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}


def _error_page(error: HTTPException) -> Any:
    status = error.code or 500
    if request.path.startswith("/api/"):
        return error_response(status, _API_CODES.get(status, "http_error"), status=status)
    key = g.get("error_key") or f"error.{_API_CODES.get(status, 'http_error')}"
    other = "en" if ui_lang() == "vi" else "vi"
    page = render_template("admin/error.html", key=key, status=status,
                           other_text=text(key, other, status=status), other_lang=other,
                           home=staff.home_url(current_user()))
    return page, status


for _status in _API_CODES:
    bp.app_errorhandler(_status)(_error_page)
