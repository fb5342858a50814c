"""OpenRosa for ODK Collect under ``/key/<token>/`` (routes.py): the token of an "ODK Collect
phone" travels in the server address, as ODK Central's app users' does, so the phone needs no
password."""

from flask import Blueprint

bp = Blueprint("openrosa", __name__)
