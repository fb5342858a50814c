"""``gocua``: every operator task, from setting the server up to enrolling phones."""

from __future__ import annotations

import io
import sys
from typing import Any

import click
import qrcode

from server import settings
from server.cli.common import data_dir as _data_dir
from server.cli.common import open_db as _db
from server.domain import accounts
from server.domain.accounts import ROLES, add_user
from server.domain.db import write_transaction
from server.domain.devices import create_enrollment_code, enrollment_url
from server.domain.seed import DEMO_VOLUNTEER, load_default_form, seed_demo


def _public_url(host: str, port: int) -> str:
    configured = settings.load().public_url
    if configured:
        return configured
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::") else host
    return f"http://{shown}:{port}"


def _qr_text(content: str) -> str:
    qr = qrcode.QRCode(border=1)
    qr.add_data(content)
    out = io.StringIO()
    qr.print_ascii(out=out, invert=True)
    return out.getvalue()


@click.group()
def main() -> None:
    """Gõ Cửa: household digital-skills survey server and tools."""


_DEMO = click.option(
    "--demo",
    is_flag=True,
    help="Also create the demo commune (Xã Minh Họa, code 99999) with its admin"
    " and a volunteer, to try the product; not for a real commune.",
)


@main.command()
@_DEMO
def init(demo: bool) -> None:
    """Create or upgrade the database and load the default survey (and the demo commune)."""
    _init(echo=True, demo=demo)


def _init(echo: bool, demo: bool) -> dict[str, Any] | None:
    db = _db()
    added = load_default_form(db)
    admin = seed_demo(db) if demo else None
    if echo:
        click.echo(f"Database: {_data_dir() / 'gocua.db'}")
        if added:
            click.echo("Loaded the default survey.")
    if admin:
        click.echo("")
        click.echo("Tài khoản quản trị / Admin login (shown only once, write it down):")
        click.echo(f"  username: {admin['username']}")
        click.echo(f"  password: {admin['password']}")
        click.echo("  (đổi ở lần đăng nhập đầu / to be changed at the first login;")
        click.echo("   forgotten? gocua user reset-password admin)")
    elif not accounts.has_staff(db):
        click.echo("")
        click.echo(
            "Chưa có tài khoản / No account yet. A commune: gocua commune add CODE --name"
            " NAME --province CODE --province-name NAME --admin USERNAME;"
            " a province: gocua user add-province-admin USERNAME --name NAME"
            " --province CODE."
        )
    # `serve` forks its workers next: no connection may be carried across a fork.
    db.close()
    return admin


@main.command()
@click.option(
    "--host", default=lambda: settings.load().host, show_default="GOCUA_HOST or 127.0.0.1"
)
@click.option(
    "--port", type=int, default=lambda: settings.load().port, show_default="GOCUA_PORT or 8000"
)
@click.option(
    "--threads",
    type=click.IntRange(1, 256),
    default=None,
    show_default="9 × GOCUA_SYNC_SLOTS + 4 (8 with no bound)",
    help="Threads of each process.",
)
@_DEMO
def serve(host: str, port: int, threads: int | None, demo: bool) -> None:
    """Set up if needed, then serve the staff site, the collector and the API."""
    import waitress

    from server import StartRefused, create_app
    from server.cli.workers import listening_sockets, serve_forked
    from server.web import admission
    from server.web.admission import threads_for

    current = settings.load()
    options = proxy_options(current)
    threads = threads or threads_for(current.sync_slots)
    if not 1 <= current.workers <= settings.MAX_WORKERS:
        raise click.ClickException(
            f"GOCUA_WORKERS must be from 1 to {settings.MAX_WORKERS}, not {current.workers}"
        )
    if not 0 <= current.sync_slots <= MAX_SYNC_SLOTS:
        raise click.ClickException(
            f"GOCUA_SYNC_SLOTS must be from 0 (no bound) to {MAX_SYNC_SLOTS},"
            f" not {current.sync_slots}"
        )
    _init(echo=False, demo=demo)
    base = _public_url(host, port)
    click.echo("")
    click.echo(f"Trang cán bộ / Staff site:     {base}/")
    click.echo(f"Ứng dụng thu thập / Collector: {base}/app/")
    # No enrollment code here: one printed at every start would sit in the service's log, valid
    # for a day. Codes come from the admin pages, or from `gocua enroll` when asked.
    if demo:
        click.echo("")
        click.echo(
            f"Đăng ký điện thoại / Enroll a phone: gocua enroll {DEMO_VOLUNTEER}"
            " (or the admin pages: Quản trị → Tình nguyện viên)"
        )
    click.echo("")
    sys.stdout.flush()
    # waitress reads the proxy's X-Forwarded-* itself, so the app must not read them again
    # (ProxyFix, which create_app() adds for PROXY_HOPS, is for the app served any other way).
    try:
        app = create_app({"PROXY_HOPS": 0})
    except StartRefused as refused:
        raise click.ClickException(str(refused)) from None
    served = {
        "threads": threads,
        "ident": "gocua",
        # Waitress's 100 left half of 200 phones at dusk unanswered, their connections not
        # even accepted; the sync bound, not the connection count, now says when it is full.
        "connection_limit": CONNECTION_LIMIT,
        "max_request_body_size": largest_body(),
        **options,
    }
    if current.workers == 1:
        waitress.serve(app, host=host, port=port, **served)
        return
    try:
        socks = listening_sockets(host, port, current.workers)
    except OSError as error:
        raise click.ClickException(f"cannot listen on {host}:{port}: {error}") from None
    click.echo(f"{current.workers} worker processes on http://{host}:{port}")
    loads = admission.shared_loads(len(socks))

    def serve_one(index: int) -> None:
        admission.join_workers(app, loads, index)
        waitress.serve(app, sockets=[socks[index]], **served)

    # A worker that died holds nothing any more: its last count would stand for requests that
    # no one serves (the server would seem fuller than it is).
    serve_forked(serve_one, socks, on_end=lambda index: loads.__setitem__(index, 0))


CONNECTION_LIMIT = 1000


def largest_body() -> int:
    """waitress's bound on a request body: one byte past the most any route reads (it refuses a
    body this long or longer). waitress reads a whole body, spooled to disk, before the app can
    look at it, and by default takes up to 1 GB: a body longer than any route takes is refused
    from its Content-Length alone, before a byte of it is read."""
    from server import MAX_BODY_BYTES
    from server.domain.openrosa.service import MAX_REQUEST_BYTES
    from server.web.admin.routes_forms import MAX_UPLOAD_BYTES
    from sync.protocol import MAX_BLOB_BYTES

    return max(MAX_REQUEST_BYTES, MAX_UPLOAD_BYTES, MAX_BLOB_BYTES, MAX_BODY_BYTES) + 1


MAX_SYNC_SLOTS = 16  # threads_for(16): 148 threads a process


FORWARDED_HEADERS = {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"}


def proxy_options(current: settings.Settings) -> dict[str, Any]:
    """waitress's options for GOCUA_PROXY_HOPS reverse proxies in front, the nearest one at
    GOCUA_TRUSTED_PROXY: only a request from that address has its X-Forwarded-For (its last
    ``hops`` entries), -Proto and -Host believed. From any other peer, and always with no hops,
    waitress removes every forwarded header, so a client cannot choose its own address."""
    hops = current.proxy_hops
    if hops < 0:
        raise click.ClickException(f"GOCUA_PROXY_HOPS must be 0 or more, not {hops}")
    if not hops:
        return {"clear_untrusted_proxy_headers": True}
    return {
        "trusted_proxy": current.trusted_proxy,
        "trusted_proxy_count": hops,
        "trusted_proxy_headers": FORWARDED_HEADERS,
        "clear_untrusted_proxy_headers": True,
    }


def _enroll_code(db: Any, username: str) -> str | None:
    user_id = accounts.volunteer_id(db, username)
    if user_id is None:
        return None
    with write_transaction(db):
        return create_enrollment_code(db, user_id)


@main.command()
@click.argument("username", default=DEMO_VOLUNTEER)
@click.option("--base-url", default=None, help="The address phones open (else GOCUA_PUBLIC_URL).")
def enroll(username: str, base_url: str | None) -> None:
    """Make a one-time enrollment code for a volunteer's phone: its QR code, then its URL."""
    code = _enroll_code(_db(), username)
    if code is None:
        raise click.ClickException(f"no volunteer named '{username}'")
    base = (base_url or "").rstrip("/") or _public_url(settings.load().host, settings.load().port)
    url = enrollment_url(base, code)
    click.echo(_qr_text(url))
    click.echo(f"Code: {code} (valid 24 h, once)")
    click.echo(url)


@main.group()
def commune() -> None:
    """Communes on this server (a province admin can also add them on the staff site)."""


@commune.command("add")
@click.argument("code")
@click.option("--name", required=True, help="The commune's name, e.g. 'Xã Minh Họa'.")
@click.option("--province", "province_code", required=True, help="2-digit province code")
@click.option("--province-name", required=True)
@click.option("--admin", "username", required=True, help="The first admin's username.")
@click.option("--admin-name", "display_name", default="Quản trị xã", show_default=True)
@click.option("--village", "villages", multiple=True, help="A village (thôn); repeat for more.")
def commune_add(
    code: str,
    name: str,
    province_code: str,
    province_name: str,
    username: str,
    display_name: str,
    villages: tuple[str, ...],
) -> None:
    """Add a real commune with its first admin (the password is printed once and must be
    changed at the first login), with the same checks as the staff site's form."""
    from werkzeug.datastructures import MultiDict

    from schemas.messages import text
    from server.domain import register
    from server.domain.errors import Refused

    db = _db()
    with write_transaction(db):
        values, errors = register.check_commune_form(
            db,
            MultiDict(
                {
                    "code": code,
                    "name": name,
                    "province_name": province_name,
                    "username": username,
                    "display_name": display_name,
                }
            ),
        )
        if errors:
            raise click.ClickException(
                "; ".join(f"{field}: {text(key, 'en')}" for field, key in errors.items())
            )
        password = register.create_commune(db, province_code, values)
        for village in villages:
            try:
                register.create_village(db, code, village)
            except Refused as refused:
                raise click.ClickException(
                    f"{village}: {text(refused.code, 'en', **refused.params)}"
                ) from None
    click.echo(f"Added commune {code} '{values['name']}' with admin '{values['username']}'.")
    click.echo(f"password: {password}")


@main.group()
def user() -> None:
    """Staff accounts and volunteers."""


@user.command("add")
@click.argument("username")
@click.option("--name", "display_name", required=True)
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--commune", "commune_id", required=True, help="5-digit commune code")
@click.option("--village", "village_ids", multiple=True, help="village id (volunteers)")
@click.option("--union", "union_name", default="")
@click.option("--phone", default="")
def user_add(
    username: str,
    display_name: str,
    role: str,
    commune_id: str,
    village_ids: tuple[str, ...],
    union_name: str,
    phone: str,
) -> None:
    """Add a staff account or a volunteer, with the staff site's checks. A staff account's
    first password is printed once and must be changed at the first login."""
    db = _db()
    phone = "".join(ch for ch in phone if ch not in " .-")
    with write_transaction(db):
        _refuse_account(
            accounts.check_command_line_account(
                db, commune_id, username, display_name, role, phone, village_ids
            )
        )
        if role == "volunteer":
            add_user(
                db,
                username,
                " ".join(display_name.split()),
                role,
                commune_id,
                union_name=union_name,
                phone=phone,
                village_ids=list(village_ids),
            )
            password = None
        else:
            password = accounts.create_staff(
                db,
                commune_id,
                {
                    "username": username,
                    "display_name": " ".join(display_name.split()),
                    "role": role,
                },
            )
    click.echo(f"Added {role} '{username}'.")
    if password:
        click.echo(f"password: {password}")
        click.echo("(to be changed at the first login)")


def _refuse_account(errors: dict[str, str]) -> None:
    """A refused account, said in Vietnamese and English as the staff site says it."""
    if errors:
        from schemas.messages import text

        raise click.ClickException(
            "; ".join(
                f"{field}: {text(key, 'vi')} / {text(key, 'en')}" for field, key in errors.items()
            )
        )


@user.command("reset-password")
@click.argument("username")
def user_reset_password(username: str) -> None:
    """Give a staff account a new random password, to be changed at the next login, and print
    it. As on the admin page: every session of the account ends, a lock on the username lifts,
    and the audit log says the command line did it."""
    db = _db()
    with write_transaction(db):
        target = accounts.staff_by_username(db, username)
        if target is None:
            raise click.ClickException(f"no staff account named '{username}'")
        password = accounts.reset_password(db, target, by_user_id=None, by_username="cli")
    click.echo(f"password: {password}")


# Server-to-server replication lives in its own module (it never imports this one).
from server.cli.sync import sync as _sync_group  # noqa: E402

main.add_command(_sync_group, "sync")

# The reports' commands live beside the reports.
from server.cli.reports import reports as _reports_group  # noqa: E402

main.add_command(_reports_group, "reports")

# So do the forms' commands, beside the importer.
from server.cli.forms import form as _form_group  # noqa: E402

main.add_command(_form_group, "form")


@user.command("add-province-admin")
@click.argument("username")
@click.option("--name", "display_name", required=True)
@click.option("--province", "province_code", required=True, help="2-digit province code")
def user_add_province_admin(username: str, display_name: str, province_code: str) -> None:
    """Add a province admin, who creates the province's communes and their first admins. The
    printed password must be changed at the first login."""
    db = _db()
    with write_transaction(db):
        _refuse_account(
            accounts.check_command_line_account(db, None, username, display_name, "admin")
        )
        password = accounts.create_staff(
            db,
            None,
            {"username": username, "display_name": " ".join(display_name.split()), "role": "admin"},
            province_code=province_code,
        )
    click.echo(f"Added province admin '{username}' for province {province_code}.")
    click.echo(f"password: {password}")
    click.echo("(to be changed at the first login)")


if __name__ == "__main__":
    main()
