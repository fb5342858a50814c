"""Staff sessions, a second commune and QR decoding for the admin, auth and access tests."""

from __future__ import annotations

import io
import re
from typing import Any

import zxingcpp
from PIL import Image, ImageDraw
from werkzeug.security import generate_password_hash

from server.domain.accounts import add_user
from server.domain.db import write_transaction
from server.domain.devices import create_enrollment_code
from server.domain.register import add_commune, add_household, add_village

PASSWORD = "mat-khau-thu-nghiem"  # staff made by these helpers log in with it


def csrf(client: Any, url: str = "/login") -> str:
    """The CSRF token of the session, as a form on ``url`` carries it."""
    page = client.get(url).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def login(client: Any, username: str, password: str = PASSWORD, **environ: Any) -> Any:
    token = csrf(client)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        environ_base=environ,
    )


# scrypt at a lower cost than production's: these tests are about who may log in, not about the
# hash's cost (test_passwords_are_stored_as_scrypt_hashes checks what add_user stores).
FAST_HASH = generate_password_hash(PASSWORD, method="scrypt:1024:8:1")


def staff(
    db: Any,
    username: str,
    role: str,
    commune_id: str | None = "99999",
    province_code: str | None = None,
) -> int:
    with write_transaction(db):
        user = add_user(
            db, username, username.title(), role, commune_id, province_code=province_code
        )
        db.execute("UPDATE users SET password_hash = ? WHERE id = ?", [FAST_HASH, user["id"]])
    return user["id"]


def logged_in(app: Any, username: str, password: str = PASSWORD) -> Any:
    client = app.test_client()
    response = login(client, username, password)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def token(client: Any) -> str:
    """The session's CSRF token: from the password page (every staff member has it), or the
    login page when nobody is logged in."""
    page = client.get("/account/password")
    text = (
        page.get_data(as_text=True)
        if page.status_code == 200
        else client.get("/login").get_data(as_text=True)
    )
    return re.search(r'name="csrf_token" value="([^"]+)"', text).group(1)


def post(client: Any, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """A form POST carrying the session's CSRF token."""
    return client.post(url, data={"csrf_token": token(client), **(data or {})}, **kwargs)


def second_commune(db: Any) -> dict[str, Any]:
    """Another commune in another province, with names no page of the first may ever show."""
    with write_transaction(db):
        add_commune(db, "88888", "Xã Bí Mật Zeta", "88", "Tỉnh Khác Zeta")
        village = add_village(db, "88888", "Thôn Cách Ly Zeta")
        household = add_household(db, village["id"], "Hộ Cách Ly Zeta", "Số 9 Zeta")
        volunteer = add_user(
            db,
            "tnv.zeta",
            "Người Zeta",
            "volunteer",
            "88888",
            union_name="Hội Phụ nữ",
            phone="0988888888",
            village_ids=[village["id"]],
        )
        admin = add_user(db, "admin.zeta", "Quản Trị Zeta", "admin", "88888")
        db.execute("UPDATE users SET password_hash = ? WHERE id = ?", [FAST_HASH, admin["id"]])
        code = create_enrollment_code(db, volunteer["id"])
    return {
        "village": village,
        "household": household,
        "volunteer": volunteer,
        "admin": admin,
        "code": code,
    }


def user_id(db: Any, username: str) -> int:
    return db.execute("SELECT id FROM users WHERE username = ?", [username]).fetchone()[0]


def audit_rows(db: Any, action: str) -> list[tuple[Any, ...]]:
    """(username, target, detail, ip) of each entry of this action, oldest first."""
    return [
        (r["username"], r["target"], r["detail"], r["ip"])
        for r in db.execute(
            "SELECT username, target, detail, ip FROM audit_log WHERE action = ? ORDER BY id",
            [action],
        )
    ]


def read_qr_codes(image: Image.Image) -> list[Any]:
    """The QR codes a camera's QR scanner finds in an image. Only QR codes: a reader of every
    format found a Codabar or a stacked DataBar in the modules of about one QR code in 200
    (a payload with a random token made the tests fail now and then)."""
    return list(zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode))


def decode_png(data: bytes) -> str:
    """What a phone's camera reads from a QR code PNG."""
    found = read_qr_codes(Image.open(io.BytesIO(data)))
    assert len(found) == 1, f"{len(found)} codes in the image"
    return found[0].text


def decode_svg(svg: str, scale: int = 8) -> str:
    """Draw the SVG's module runs (``M x y h n v1 h-n z``) as pixels and read them back, the
    way a camera reads the printed label."""
    size = int(re.search(r'viewBox="0 0 (\d+) \d+"', svg).group(1))
    image = Image.new("L", (size * scale, size * scale), 255)
    draw = ImageDraw.Draw(image)
    for x, y, width in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\d+z", svg):
        x0, y0 = int(x) * scale, int(y) * scale
        draw.rectangle([x0, y0, x0 + int(width) * scale - 1, y0 + scale - 1], fill=0)
    found = read_qr_codes(image)
    assert len(found) == 1, f"{len(found)} codes in the drawing"
    return found[0].text
