"""Gõ Cửa's sync server: ``create_app()`` builds it, and the list of blueprints is its shape.

Three floors (docs/architecture.md): the domain (``server.domain``, Flask-free, the only place
SQL is written), the web on top of it (``server.web``: this factory's blueprints and the
app-wide wiring in ``server.web.site``), and the command line over both (``server.cli``).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from flask import Flask

from server import settings as setting
from server.domain import db as database
from server.domain import migrations, personal_data
from server.web import admission, site
from server.web.db import close_db
from server.web.errors import register_error_handlers

# A request body most routes read; those taking more (a form's files, a photo, a Collect
# submission with its film) raise their own request's limit.
MAX_BODY_BYTES = 8 * 1024 * 1024


class StartRefused(RuntimeError):
    """The server will not start as configured; the message says what to change."""


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    # The staff site's /static/ is site.py's (compressed as the collector's files are).
    app = Flask(__name__, static_folder=None)
    settings = setting.load()
    app.config.from_mapping(
        DATA_DIR=str(settings.data_dir),
        DATABASE=str(settings.data_dir / "gocua.db"),
        PUBLIC_URL=settings.public_url,
        PWA_DIR=settings.pwa_dir,
        PROXY_HOPS=settings.proxy_hops,
        TIMEZONE=settings.timezone,
        SYNC_SLOTS=settings.sync_slots,
        ENKETO_URL=settings.enketo_url,
        ENKETO_API_KEY=settings.enketo_api_key,
        MAP_TILES=settings.map_tiles,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        # Push batches are at most 1 MB of JSON; gzip bodies are checked again after inflating.
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
    )
    if test_config:
        app.config.update(test_config)
    app.config["SECRET_KEY"] = _checked_key(
        app.config.get("SECRET_KEY"), Path(app.config["DATA_DIR"])
    )

    database.protect(Path(app.config["DATABASE"]).parent)
    with database.connect(app.config["DATABASE"]) as db:
        migrations.apply(db)
        # Files of a person's erasure that an earlier run did not get to remove.
        personal_data.sweep_pending(db, app.config["DATA_DIR"])

    register_error_handlers(app)
    admission.install(app, slots=int(app.config["SYNC_SLOTS"]))
    app.teardown_appcontext(close_db)
    site.install(app, proxy_hops=int(app.config["PROXY_HOPS"] or 0))

    # A blueprint's views live in the modules beside it; importing them adds them to it.
    from server.web import admin, odata, pwa, review
    from server.web.admin import routes as _admin_views  # noqa: F401
    from server.web.admin import routes_collect as _admin_collect  # noqa: F401
    from server.web.admin import routes_forms as _admin_forms  # noqa: F401
    from server.web.admin import routes_sheets as _admin_sheets  # noqa: F401
    from server.web.api import device
    from server.web.api import routes as api
    from server.web.odata import routes as _odata_views  # noqa: F401
    from server.web.odata import tokens as _odata_tokens  # noqa: F401
    from server.web.openrosa import routes as openrosa
    from server.web.reports import places as _places_views  # noqa: F401
    from server.web.reports import routes as reports
    from server.web.reports import table as _table_views  # noqa: F401
    from server.web.review import routes as _review_views  # noqa: F401
    from server.web.review import routes_collect as _collect_views  # noqa: F401
    from server.web.review import routes_register as _register_views  # noqa: F401
    from server.web.review import routes_rights as _rights_views  # noqa: F401

    app.register_blueprint(api.bp)
    app.register_blueprint(device.bp)
    app.register_blueprint(pwa.bp)
    app.register_blueprint(review.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(openrosa.bp)
    app.register_blueprint(odata.bp)
    return app


# The key signs staff sessions: a short one can be guessed offline from any session cookie, and
# then a forged one logs in as anyone (a 1-byte key did). The key file made below has 64.
MIN_SECRET_KEY = 32


def _checked_key(configured: str | None, data_dir: Path) -> str:
    """The configured key, else the installation's key file; refuses to start with a short one."""
    key = configured or _secret_key(data_dir)
    if len(key) < MIN_SECRET_KEY:
        name, hint = (
            ("SECRET_KEY", "")
            if configured
            else (
                f"the secret key in {data_dir / 'secret_key'}",
                " Delete the file and a new random one is made (everyone then logs in again).",
            )
        )
        raise StartRefused(
            f"Gõ Cửa will not start: {name} is {len(key)} characters long, and"
            f" at least {MIN_SECRET_KEY} characters are needed to sign staff"
            f" sessions.{hint}"
        )
    return key


def _secret_key(data_dir: Path) -> str:
    """A per-installation key kept beside the database, so sessions survive restarts."""
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
