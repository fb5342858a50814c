"""The admin pages: staff accounts, volunteers and their phones, communes for a province admin
and the audit log (routes.py); printable sheets (routes_sheets.py)."""

from flask import Blueprint, Response

bp = Blueprint("admin", __name__)


def private_page(body: str, status: int = 200) -> Response:
    """A page holding a secret (a first password, an enrollment code): never cached."""
    response = Response(body, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response
