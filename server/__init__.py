"""Gõ Cửa's sync server: ``create_app()`` builds it, and the list of blueprints is its shape."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask

from server import db as database
from server import migrations
from server.errors import register_error_handlers


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    data_dir = database.data_dir()
    app.config.from_mapping(
        DATA_DIR=str(data_dir),
        DATABASE=str(data_dir / "gocua.db"),
        # The public base URL phones reach (behind the TLS proxy); empty: the request's own.
        PUBLIC_URL=os.environ.get("GOCUA_PUBLIC_URL", "").rstrip("/"),
        # Where the collector's files are served from; empty: pwa/ of this checkout.
        PWA_DIR=os.environ.get("GOCUA_PWA_DIR", ""),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=os.environ.get("GOCUA_SECURE_COOKIES", "") == "1",
        # Push batches are at most 1 MB of JSON; gzip bodies are checked again after inflating.
        MAX_CONTENT_LENGTH=8 * 1024 * 1024,
    )
    if test_config:
        app.config.update(test_config)
    app.config["SECRET_KEY"] = app.config.get("SECRET_KEY") or _secret_key(
        Path(app.config["DATA_DIR"]))

    with database.connect(app.config["DATABASE"]) as db:
        migrations.apply(db)

    register_error_handlers(app)
    app.teardown_appcontext(database.close_db)

    from server.admin.routes import bp as admin_bp
    from server.api.device import bp as device_bp
    from server.api.routes import bp as api_bp
    from server.pwa import bp as pwa_bp
    from server.reports.routes import bp as reports_bp
    from server.review.routes import bp as review_bp

    app.register_blueprint(api_bp)
    app.register_blueprint(pwa_bp)
    app.register_blueprint(review_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(device_bp)
    app.register_blueprint(reports_bp)
    return app


def _secret_key(data_dir: Path) -> str:
    """A per-installation key kept beside the database, so sessions survive restarts."""
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
