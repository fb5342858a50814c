"""/odata/tokens: a staff member's own API tokens, made (shown once) and revoked."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, redirect, render_template, request, url_for

from server.domain import api_tokens
from server.domain.db import write_transaction
from server.domain.reports import exports
from server.web.db import get_db
from server.web.odata import bp
from server.web.staff import check_csrf, login_required, me, public_base_url

ROLES = api_tokens.ROLES


def _page(token: str | None = None, error: str | None = None, status: int = 200) -> Response:
    db = get_db()
    user = me()
    form = exports.latest_form(db, user["commune_id"], None)
    body = render_template(
        "odata/tokens.html",
        tokens=api_tokens.listed(db, user["id"]),
        token=token,
        error=error,
        name=request.form.get("name", "") if error else "",
        feed=f"{public_base_url()}/odata/{form.form_id}.svc" if form else None,
        max_name=api_tokens.MAX_NAME,
    )
    response = Response(body, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"  # the page may hold a token, once
    return response


@bp.get("/tokens")
@login_required(*ROLES)
def tokens() -> Any:
    return _page()


@bp.post("/tokens")
@login_required(*ROLES)
def create_token() -> Any:
    check_csrf()
    name = request.form.get("name", "").strip()
    if not name or len(name) > api_tokens.MAX_NAME:
        return _page(error="odata.token_name_needed", status=422)
    db = get_db()
    with write_transaction(db):
        token = api_tokens.create(db, me(), name)
    if token is None:
        return _page(error="odata.token_too_many", status=422)
    return _page(token=token)


@bp.post("/tokens/<int:token_id>/revoke")
@login_required(*ROLES)
def revoke_token(token_id: int) -> Any:
    check_csrf()
    db = get_db()
    with write_transaction(db):
        if not api_tokens.revoke(db, me(), token_id):
            abort(404)
    return redirect(url_for("odata.tokens"), 303)
