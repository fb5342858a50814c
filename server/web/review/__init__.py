"""The commune office's pages: submissions, one record with its review, edits and conflicts
(routes.py), the register and follow-ups (routes_register.py), people's rights and backups
(routes_rights.py)."""

from flask import Blueprint

bp = Blueprint("review", __name__)
