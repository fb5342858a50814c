"""The staff site's app-wide wiring, named by ``create_app()``: signed sessions that notice
tampering, the reverse proxy's client address, the audit log's address for each request, the
templates' helpers, error pages for people, and the pages every staff member shares (log in,
log out, language, own password)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter
from werkzeug.security import safe_join

from schemas.messages import text
from server.domain import accounts, clock
from server.domain.audit import audit, client_address, password_was_reset, reset_notices
from server.domain.db import write_transaction
from server.domain.errors import Refused
from server.web.assets import NODE_MODULES, PWA_DIR, STATIC_DIR, send_file, vendor_file
from server.web.db import get_db
from server.web.errors import http_error_response
from server.web.staff import change_password as change_own_password
from server.web.staff import (
    check_csrf,
    check_login,
    csrf_token,
    current_user,
    home_url,
    login_required,
    me,
    t,
    this_page,
    ui_lang,
)

bp = Blueprint("site", __name__)


class _Sessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, noting a cookie whose signature does not verify (a
    tampered or foreign cookie) so the guard can say so and audit it."""

    def open_session(self, app: Flask, request: Any) -> Any:
        value = request.cookies.get(self.get_cookie_name(app))
        if not value and app.secret_key:
            # No cookie (every phone's and ODK Collect's request): an empty session, without
            # building the signing serializer, which cost a twentieth of a submission's CPU.
            return self.session_class()
        serializer = self.get_signing_serializer(app)
        if serializer is None or not value:
            return super().open_session(app, request)
        try:
            data = serializer.loads(
                value, max_age=int(app.permanent_session_lifetime.total_seconds())
            )
        except BadSignature:
            request.environ["gocua.bad_session"] = True
            return self.session_class()
        return self.session_class(data)


SQLITE_MAX_INT = 2**63 - 1


class _RowId(IntegerConverter):
    """``<int:...>`` in every route: an id SQLite can hold, else no route matches (404).
    Werkzeug's own takes any run of digits, Unicode ones too, and a number past SQLite's 64-bit
    integers made the query raise OverflowError (a 500)."""

    regex = r"[0-9]{1,19}"

    def __init__(
        self,
        map: Any,
        fixed_digits: int = 0,
        min: int | None = None,
        max: int | None = SQLITE_MAX_INT,
        signed: bool = False,
    ) -> None:
        super().__init__(map, fixed_digits, min, max, signed)


def _before_request() -> None:
    g.address_token = client_address.set(request.remote_addr or "")


def _teardown_request(_error: BaseException | None) -> None:
    # A thread serves many requests (and tests run commands in-process): the address must not
    # outlive its request.
    token = g.pop("address_token", None)
    if token is not None:
        client_address.reset(token)


def _after_request(response: Response) -> Response:
    user = g.pop("logged_in", None)
    if user and session.get("user_id") == user["id"]:
        session["epoch"] = user["session_epoch"]  # the session belongs to this password
        if response.status_code == 302 and response.location == url_for("review.records"):
            response.location = home_url(user)  # no page asked for: the role's own start
    _security_headers(response)
    pending = g.pop("deferred_audit", [])
    if pending:
        db = get_db()
        with write_transaction(db):
            for action, fields in pending:
                audit(db, action, **fields)
    return response


# The collector's files (the service worker keeps copies and pwa.py sets their caching) and the
# staff site's stylesheet: no personal data, and caching them is the point.
_STATIC_PREFIXES = ("/app/", "/static/", "/favicon.ico")


def _security_headers(response: Response) -> None:
    """Every response: no MIME sniffing, no full address in the Referer (a record's address
    to a map site). Everything but static files: not framed (clickjacking a reviewer's
    decision) and never stored by a browser or proxy, since the pages, exports and API answers
    hold households' personal data and a shared office computer's cache would keep them."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.path == "/app" or request.path.startswith(_STATIC_PREFIXES):
        return
    response.headers["X-Frame-Options"] = "DENY"
    policy = response.headers.get("Content-Security-Policy")
    response.headers["Content-Security-Policy"] = (
        f"{policy}; frame-ancestors 'none'" if policy else "frame-ancestors 'none'"
    )
    response.headers["Cache-Control"] = "no-store"


def _template_helpers() -> dict[str, Any]:
    return {
        "t": t,
        "lang": ui_lang(),
        "user": current_user(),
        "csrf_token": csrf_token,
        "home_url": home_url,
        "login_notices": _login_notices,
        "this_page": this_page,
    }


def local_time(iso: str | None) -> str:
    """The ``local_time`` filter: a stored UTC time as the server's zone reads it
    (clock.local_time), on every staff page that shows one."""
    return clock.local_time(iso, zone(), ui_lang())


def zone() -> ZoneInfo:
    """The server's zone (``GOCUA_TIMEZONE``): what staff pages show and date filters count in."""
    configured = current_app.config["TIMEZONE"]
    return configured if isinstance(configured, ZoneInfo) else ZoneInfo(str(configured))


def _login_notices() -> dict[str, Any] | None:
    """What the login found to tell (audit.reset_notices), shown once: on the first page
    rendered after it, the password page too."""
    return session.pop("notices", None) if current_user() else None


def _refused(error: Refused) -> Any:
    return render_template(
        "review/problem.html", message=t(error.code, **error.params), back=request.referrer
    ), error.status


# The statuses with a page for people, and the catalogue key (error.CODE) of each.
_PAGE_CODES = {
    400: "bad_request",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",  # an upload past MAX_CONTENT_LENGTH (a form, a register file)
}


def _error_page(error: HTTPException) -> Any:
    status = error.code or 500
    if request.path.startswith("/api/"):
        return http_error_response(error)
    key = g.get("error_key") or f"error.{_PAGE_CODES.get(status, 'http_error')}"
    other = "en" if ui_lang() == "vi" else "vi"
    page = render_template(
        "admin/error.html",
        key=key,
        status=status,
        other_text=text(key, other, status=status),
        other_lang=other,
        home=home_url(current_user()),
    )
    return page, status


def install(app: Flask, proxy_hops: int) -> None:
    """Everything app-wide on the staff side; ``proxy_hops`` reverse proxies in front are
    trusted for the client's address (login limits and the audit log)."""
    app.session_interface = _Sessions()
    app.url_map.converters["int"] = _RowId  # before the blueprints' rules are added
    app.before_request(_before_request)
    app.after_request(_after_request)
    app.teardown_request(_teardown_request)
    app.context_processor(_template_helpers)
    app.add_template_filter(local_time, "local_time")
    app.register_error_handler(Refused, _refused)
    for status in _PAGE_CODES:
        app.register_error_handler(status, _error_page)
    if proxy_hops:
        app.wsgi_app = ProxyFix(
            app.wsgi_app,
            x_for=proxy_hops,  # type: ignore[method-assign]
            x_proto=proxy_hops,
            x_host=proxy_hops,
        )
    # Endpoint "static", as Flask's own would be: templates ask url_for('static', ...).
    app.add_url_rule("/static/<path:filename>", "static", _static_file)
    app.add_url_rule("/static/vendor/<package>/<path:filename>", "vendor", _vendor_file)
    app.register_blueprint(bp)


def _static_file(filename: str) -> Response:
    """The staff site's stylesheet (and whatever else server/static/ holds), compressed for
    a browser that takes gzip, as the collector's files are."""
    path = safe_join(str(STATIC_DIR), filename)
    if path is None or not Path(path).is_file():
        abort(404)
    return send_file(Path(path))


def _vendor_file(package: str, filename: str) -> Response:
    """The map's libraries (Leaflet and its clustering plugin) from npm's node_modules."""
    root = Path(current_app.config.get("NODE_MODULES") or NODE_MODULES)
    path = vendor_file(root, package, filename)
    if path is None:
        abort(404)
    return send_file(path)


@bp.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask every site for it: the collector's own icon (PNG, which every browser
    takes as a favicon), so the tab shows Gõ Cửa and the log no 404."""
    folder = Path(current_app.config.get("PWA_DIR") or PWA_DIR)
    path = folder / "icons" / "icon-192.png"
    if not path.is_file():
        abort(404)
    return send_file(path)


def safe_target(target: str | None, home: str) -> str:
    """``target`` when it is a path on this site, else ``home``: the one check of every
    redirect to an address the request names (``?next=``).

    Browsers drop tabs and newlines from a Location and read a backslash as a slash, so
    ``/%09/evil.example`` or ``/%5C/evil.example`` would leave the site (``//evil.example``),
    and a CR/LF breaks the header itself. Hence: one leading slash, no backslash, no control
    character, checked once more after percent-decoding (``next`` arrives decoded once
    already) so that a doubly encoded one cannot slip through either."""
    if not target:
        return home
    for form in (target, unquote(target)):
        if (
            not form.startswith("/")
            or form.startswith("//")
            or "\\" in form
            or any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in form)
        ):
            return home
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else home


@bp.get("/lang/<code>")
def set_language(code: str) -> Any:
    if code in ("vi", "en"):
        session["lang"] = code
    return redirect(safe_target(request.args.get("next"), "/"))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        # Before anything else, the CSRF check's audit entry too: an overlong field is refused
        # with nothing of it stored or hashed (the audit log is append-only).
        if len(username) > accounts.MAX_USERNAME or len(password) > accounts.MAX_PASSWORD:
            g.error_key = "admin.login_too_long"
            abort(400)
        check_csrf()
        user = check_login(username, password)
        db = get_db()
        with write_transaction(db):
            audit(
                db,
                "login" if user else "login_failed",
                user_id=user["id"] if user else None,
                username=username,
            )
        if user:
            lang = session.get("lang")
            session.clear()
            session["user_id"] = user["id"]
            if lang:
                session["lang"] = lang
            notices = reset_notices(db, user)
            if notices:
                session["notices"] = notices
            # No page asked for: _after_request sends the role to its own start page.
            return redirect(safe_target(request.args.get("next"), url_for("review.records")))
        error = t("login.failed")
    return render_template("review/login.html", error=error), 401 if error else 200


@bp.post("/logout")
def logout() -> Any:
    check_csrf()
    user = current_user()
    if user is not None:
        # Server-side, not only the cookie dropped: a copy of it (a shared office computer, a
        # proxy's log) must not outlive the logout. Sessions are signed cookies with no row of
        # their own, so this ends every session of the account, on every computer: what a
        # commune wants when someone forgot to log out in the village hall (README).
        db = get_db()
        with write_transaction(db):
            accounts.end_sessions(db, user["id"])
            audit(db, "logout", user_id=user["id"], username=user["username"])
    session.pop("user_id", None)
    session.pop("epoch", None)
    return redirect(url_for("site.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required()
def password() -> Any:
    problem = None
    if request.method == "POST":
        check_csrf()
        form = request.form
        problem = change_own_password(
            me(), form.get("current", ""), form.get("new", ""), form.get("confirm", "")
        )
        if problem is None:
            return render_template("admin/message.html", key="admin.password_done", ok=True)
    user = me()
    return render_template(
        "admin/password.html",
        problem=problem,
        min_length=accounts.MIN_PASSWORD,
        was_reset=bool(user["must_change_password"]) and password_was_reset(get_db(), user),
    ), 422 if problem else 200
