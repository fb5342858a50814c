"""/odata: the read-only OData feed of a form's records (routes.py) and the staff page where a
staff member makes and revokes the API tokens that programs read it with (tokens.py)."""

from flask import Blueprint

bp = Blueprint("odata", __name__, url_prefix="/odata")
