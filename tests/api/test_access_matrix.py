"""Every role × every route: allowed, 403 or 404 as designed, and nothing of another commune (or,
for a phone, of another volunteer's villages; for a viewer, no personal data) in any answer.

Adding a route? Add its row to MATRIX: ``test_every_route_has_a_row`` fails until you do.
A row names the URL (``{placeholders}`` come from the world below), what each role gets, and
optionally ``other``: the same route on something outside the caller's scope, which must be
404 wherever ``url`` is allowed, exactly as if it did not exist.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from server import create_app
from server.domain.accounts import add_user
from server.domain.db import connect, write_transaction
from server.domain.devices import add_collect_device, create_enrollment_code
from server.domain.register import add_household
from server.domain.seed import load_default_form, seed_demo
from tests.api.admin_helpers import logged_in, second_commune, staff, token
from tests.records import household_data, record

ROLES = ("anon", "volunteer", "viewer", "reviewer", "admin", "province")
STAFF = ROLES[2:]


class Expect(dict):
    """Role → status, and the roles the route lets through (for whom ``other`` is 404)."""

    def __init__(self, statuses: dict[str, int], allowed: tuple[str, ...]) -> None:
        super().__init__(statuses)
        self.allowed = frozenset(allowed)


def page(*allowed: str, ok: int = 200, **special: int) -> Expect:
    """A staff page: nobody (and a phone, which has no session) → the login page; a staff
    role not allowed → 403. ``special``: a role let through that still gets another status."""
    out = {"anon": 302, "volunteer": 302}
    out.update({role: ok if role in allowed else 403 for role in STAFF})
    return Expect({**out, **special}, allowed)


def api(ok: int = 200) -> Expect:
    """A phone's Bearer route: 401 for everyone else (a staff session is no token)."""
    return Expect({**{role: 401 for role in ROLES}, "volunteer": ok}, ("volunteer",))


def staff_api(*allowed: str, ok: int = 200, **special: int) -> Expect:
    """A JSON route for staff sessions: 401 without one, 403 for a role not allowed."""
    out = {"anon": 401, "volunteer": 401}
    out.update({role: ok if role in allowed else 403 for role in STAFF})
    return Expect({**out, **special}, allowed)


def everyone(status: int = 200) -> Expect:
    return Expect({role: status for role in ROLES}, ROLES)


@dataclass
class Case:
    url: str
    expect: Expect
    other: str | None = None
    other_status: int = 404
    data: dict[str, Any] | Callable[[str], dict[str, Any]] | None = None
    json: Any = None
    body: bytes | None = None
    fresh: bool = False  # the request ends the session: a new one per role


REVIEWERS = ("admin", "reviewer")
INDICATORS = ("admin", "reviewer", "viewer")
BLOB = b"a photo, or as good as one"
BLOB_SHA = hashlib.sha256(BLOB).hexdigest()

MATRIX: dict[tuple[str, str], Case] = {
    # -- public: the collector, the staff site's files, health, login ------------------------
    ("GET", "/app"): Case("/app", everyone(302)),
    ("GET", "/app/"): Case("/app/", everyone()),
    ("GET", "/app/<path:name>"): Case("/app/js/app.js", everyone(), other="/app/../secret_key"),
    ("GET", "/app/sw.js"): Case("/app/sw.js", everyone()),
    ("GET", "/static/<path:filename>"): Case("/static/staff.css", everyone()),
    ("GET", "/favicon.ico"): Case("/favicon.ico", everyone()),
    ("GET", "/static/vendor/<package>/<path:filename>"): Case(
        "/static/vendor/leaflet/leaflet.js", everyone(), other="/static/vendor/eslint/package.json"
    ),
    ("GET", "/api/v1/health"): Case("/api/v1/health", everyone()),
    ("GET", "/api/v1/openapi.json"): Case("/api/v1/openapi.json", everyone()),
    ("GET", "/lang/<code>"): Case("/lang/en?next=/admin/", everyone(302)),
    ("GET", "/login"): Case("/login", everyone()),
    ("POST", "/login"): Case(
        "/login", everyone(401), data=lambda role: {"username": f"khong-co-{role}", "password": "x"}
    ),
    ("POST", "/logout"): Case("/logout", everyone(302), fresh=True),
    # -- the phone's API ---------------------------------------------------------------------
    ("POST", "/api/v1/enroll"): Case("/api/v1/enroll", everyone(400), json={"code": "ABCDEFGHJK"}),
    ("POST", "/api/v1/sync/push"): Case("/api/v1/sync/push", api(), json={"items": []}),
    ("GET", "/api/v1/sync/pull"): Case("/api/v1/sync/pull", api()),
    ("GET", "/api/v1/sync/status"): Case("/api/v1/sync/status", api()),
    ("PUT", "/api/v1/blobs/<sha256>"): Case(f"/api/v1/blobs/{BLOB_SHA}", api(201), body=BLOB),
    ("HEAD", "/api/v1/blobs/<sha256>"): Case(f"/api/v1/blobs/{BLOB_SHA}", api(200)),
    # The default survey shows no file: a phone that may use it gets 404, others no further.
    ("GET", "/api/v1/forms/<form_id>/<version>/media/<name>"): Case(
        "/api/v1/forms/ho_gia_dinh_cds/2026.11.1/media/anh.png", api(404)
    ),
    # -- ODK Collect: the phone's token is in the address, whoever else asks -------------------
    ("GET", "/collect"): Case("/collect", page(*REVIEWERS)),
    ("POST", "/collect/attach"): Case(
        "/collect/attach", page(*REVIEWERS, ok=404), data={"instance_id": "uuid:khong-co"}
    ),
    ("GET", "/key/<token>/formList"): Case("/key/{collect_a}/formList", everyone()),
    ("GET", "/key/<token>/forms/<form_id>/versions/<version>/form.xml"): Case(
        "/key/{collect_a}/forms/ho_gia_dinh_cds/versions/2026.11.1/form.xml",
        everyone(),
        other="/key/{token_a}/forms/ho_gia_dinh_cds/versions/2026.11.1/form.xml",
        other_status=403,
    ),
    ("GET", "/key/<token>/forms/<form_id>/versions/<version>/manifest"): Case(
        "/key/{collect_a}/forms/ho_gia_dinh_cds/versions/2026.11.1/manifest", everyone()
    ),
    ("GET", "/key/<token>/forms/<form_id>/versions/<version>/media/<name>"): Case(
        "/key/{collect_a}/forms/ho_gia_dinh_cds/versions/2026.11.1/media/anh.png", everyone(404)
    ),
    ("HEAD", "/key/<token>/submission"): Case("/key/{collect_a}/submission", everyone(204)),
    ("POST", "/key/<token>/submission"): Case(
        "/key/{collect_a}/submission",
        everyone(400),
        other="/key/{token_a}/submission",
        other_status=403,
    ),
    ("POST", "/api/v1/device/report"): Case(
        "/api/v1/device/report", api(), json={"unsynced": 2, "app_version": "matrix"}
    ),
    # -- the commune office: records ---------------------------------------------------------
    ("GET", "/"): Case("/", page(*REVIEWERS), other="/?village={village_b}"),
    ("GET", "/records/<record_id>"): Case(
        "/records/{record_a}", page(*REVIEWERS), other="/records/{record_b}"
    ),
    ("GET", "/records/<record_id>/files/<sha256>"): Case(
        f"/records/{{record_a}}/files/{BLOB_SHA}",
        page(*REVIEWERS, ok=404),
        other=f"/records/{{record_b}}/files/{BLOB_SHA}",
    ),
    ("POST", "/records/<record_id>/review"): Case(
        "/records/{record_a}/review",
        page(*REVIEWERS, ok=302),
        other="/records/{record_b}/review",
        data={"review_state": "has_issues", "comment": "Hỏi lại số nhân khẩu", "rev": "{rev_a}"},
    ),
    ("GET", "/records/<record_id>/edit"): Case(
        "/records/{record_a}/edit", page(*REVIEWERS), other="/records/{record_b}/edit"
    ),
    ("POST", "/records/<record_id>/edit"): Case(
        "/records/{record_a}/edit",
        page(*REVIEWERS, ok=409),
        other="/records/{record_b}/edit",
        data={"rev": "not-the-current-rev"},
    ),
    ("GET", "/records/<record_id>/conflicts/<rev>"): Case(
        "/records/{record_a}/conflicts/{conflict_a}",
        page(*REVIEWERS),
        other="/records/{record_b}/conflicts/{conflict_a}",
    ),
    ("POST", "/records/<record_id>/conflicts/<rev>"): Case(
        "/records/{record_a}/conflicts/{conflict_a}",
        page(*REVIEWERS, ok=409),
        other="/records/{record_b}/conflicts/{conflict_a}",
        data={"rev": "stale"},
    ),
    # -- the commune office: register, follow-ups, people's rights, backups -------------------
    ("GET", "/villages"): Case("/villages", page(*REVIEWERS)),
    ("POST", "/villages"): Case("/villages", page("admin", ok=302), data={"name": "Thôn Ma Trận"}),
    ("POST", "/villages/<village_id>/rename"): Case(
        "/villages/{village_a}/rename",
        page("admin", ok=400),
        other="/villages/{village_b}/rename",
        data={"name": ""},
    ),
    ("POST", "/villages/merge"): Case(
        "/villages/merge",
        page("admin", ok=400),
        data={"source": "{village_a}", "target": "{village_a}"},
    ),
    ("GET", "/households"): Case(
        "/households?village={village_a}", page(*REVIEWERS), other="/households?village={village_b}"
    ),
    ("GET", "/households/<household_id>"): Case(
        "/households/{household_a}", page(*REVIEWERS), other="/households/{household_b}"
    ),
    ("POST", "/households/<household_id>"): Case(
        "/households/{household_a}",
        page("admin", ok=302),
        other="/households/{household_b}",
        data={"head_name": "Nguyễn Văn An", "address": "Số 12, ngõ 3, cạnh cổng làng"},
    ),
    ("GET", "/households/import"): Case("/households/import", page("admin")),
    ("POST", "/households/import"): Case("/households/import", page("admin", ok=400)),
    ("GET", "/households/import/<int:import_id>"): Case(
        "/households/import/999999", page("admin", ok=404)
    ),
    ("POST", "/households/import/<int:import_id>"): Case(
        "/households/import/999999", page("admin", ok=404)
    ),
    ("GET", "/followups"): Case(
        "/followups?village={village_a}", page(*REVIEWERS), other="/followups?village={village_b}"
    ),
    ("GET", "/people"): Case("/people?q=Zeta", page("admin")),
    ("POST", "/people/export"): Case(
        "/people/export",
        page("admin"),
        other="/people/export?b",
        other_status=400,
        data={"key": "register:{household_a}", "reason": "matrix"},
    ),
    ("POST", "/people/erase"): Case("/people/erase", page("admin", ok=400), data={"reason": ""}),
    ("GET", "/backups"): Case("/backups", page(*REVIEWERS)),
    ("POST", "/backups"): Case("/backups", page(*REVIEWERS, ok=400)),
    # -- reports -----------------------------------------------------------------------------
    ("GET", "/reports/"): Case(
        "/reports/", page(*INDICATORS, province=404), other="/reports/?commune=88888"
    ),
    ("GET", "/reports/print"): Case(
        "/reports/print", page(*INDICATORS, province=404), other="/reports/print?commune=88888"
    ),
    ("GET", "/reports/province"): Case("/reports/province", page("province")),
    ("GET", "/reports/api/indicators"): Case(
        "/reports/api/indicators",
        staff_api(*INDICATORS, province=404),
        other="/reports/api/indicators?commune=88888",
    ),
    ("GET", "/reports/api/province"): Case("/reports/api/province", staff_api("province")),
    ("GET", "/reports/exports"): Case(
        "/reports/exports", page(*INDICATORS, province=404), other="/reports/exports?commune=88888"
    ),
    ("GET", "/reports/export.xlsx"): Case(
        "/reports/export.xlsx", page(*REVIEWERS), other="/reports/export.xlsx?commune=88888"
    ),
    ("GET", "/reports/export/<path:table>.csv"): Case(
        "/reports/export/households.csv",
        page(*REVIEWERS),
        other="/reports/export/households.csv?commune=88888",
    ),
    ("GET", "/reports/table"): Case("/reports/table?col=head_name&col=phone", page(*INDICATORS)),
    # -- the map and the gallery: a household's place and photos, never a viewer's ----------
    ("GET", "/reports/map"): Case(
        "/reports/map?village={village_a}",
        page(*REVIEWERS),
        other="/reports/map?village={village_b}",
    ),
    ("GET", "/reports/map/points"): Case(
        "/reports/map/points?village={village_a}",
        staff_api(*REVIEWERS),
        other="/reports/map/points?village={village_b}",
    ),
    ("GET", "/reports/gallery"): Case(
        "/reports/gallery?village={village_a}",
        page(*REVIEWERS),
        other="/reports/gallery?village={village_b}",
    ),
    # The world's records name no photo: the roles let through find none (404), as of B's.
    ("GET", "/reports/photos/<record_id>/<sha256>"): Case(
        f"/reports/photos/{{record_a}}/{BLOB_SHA}",
        page(*REVIEWERS, admin=404, reviewer=404),
        other=f"/reports/photos/{{record_b}}/{BLOB_SHA}",
    ),
    ("GET", "/reports/photos/<record_id>/<sha256>/thumb"): Case(
        f"/reports/photos/{{record_a}}/{BLOB_SHA}/thumb",
        page(*REVIEWERS, admin=404, reviewer=404),
        other=f"/reports/photos/{{record_b}}/{BLOB_SHA}/thumb",
    ),
    ("GET", "/reports/table.csv"): Case(
        "/reports/table.csv?col=head_name&col=phone", page(*INDICATORS)
    ),
    # -- the OData feed: an API token only (a staff session is none) --------------------------
    ("GET", "/odata/<form_id>.svc"): Case("/odata/ho_gia_dinh_cds.svc", everyone(401)),
    ("GET", "/odata/<form_id>.svc/"): Case("/odata/ho_gia_dinh_cds.svc/", everyone(401)),
    ("GET", "/odata/<form_id>.svc/$metadata"): Case(
        "/odata/ho_gia_dinh_cds.svc/$metadata", everyone(401)
    ),
    ("GET", "/odata/<form_id>.svc/<path:name>"): Case(
        "/odata/ho_gia_dinh_cds.svc/Submissions", everyone(401)
    ),
    ("GET", "/odata/<form_id>/submissions/<record_id>/attachments/<sha256>"): Case(
        f"/odata/ho_gia_dinh_cds/submissions/{{record_a}}/attachments/{BLOB_SHA}", everyone(401)
    ),
    ("GET", "/odata/tokens"): Case("/odata/tokens", page(*INDICATORS)),
    ("POST", "/odata/tokens"): Case("/odata/tokens", page(*INDICATORS), data={"name": "ma trận"}),
    ("POST", "/odata/tokens/<int:token_id>/revoke"): Case(
        "/odata/tokens/999999/revoke", page(*INDICATORS, ok=404)
    ),
    ("GET", "/reports/dictionary.<fmt>"): Case(
        "/reports/dictionary.csv", page(*INDICATORS, province=404)
    ),
    ("GET", "/reports/indicators.csv"): Case(
        "/reports/indicators.csv",
        page(*INDICATORS, province=404),
        other="/reports/indicators.csv?commune=88888",
    ),
    # -- admin: people, phones, sheets, communes, audit, passwords ---------------------------
    ("GET", "/admin/"): Case("/admin/", page("admin", "province", province=302)),
    ("GET", "/admin/staff"): Case("/admin/staff", page("admin")),
    ("POST", "/admin/staff"): Case(
        "/admin/staff",
        page("admin"),
        data={"username": "matrix.new", "display_name": "Ma Trận", "role": "viewer"},
    ),
    ("POST", "/admin/users/<int:user_id>/reset-password"): Case(
        "/admin/users/{spare_user}/reset-password",
        page("admin", "province", province=404),
        other="/admin/users/{admin_b}/reset-password",
    ),
    ("POST", "/admin/users/<int:user_id>/active"): Case(
        "/admin/users/{spare_user}/active",
        page("admin", "province", ok=303, province=404),
        other="/admin/users/{admin_b}/active",
        data={"active": "0"},
    ),
    ("GET", "/admin/volunteers"): Case("/admin/volunteers", page("admin")),
    ("POST", "/admin/volunteers"): Case(
        "/admin/volunteers",
        page("admin", ok=303),
        data={
            "display_name": "Người Ma Trận",
            "union": "doan",
            "phone": "0911111111",
            "villages": "{village_a}",
        },
    ),
    ("GET", "/admin/volunteers/<int:user_id>"): Case(
        "/admin/volunteers/{volunteer_a}", page("admin"), other="/admin/volunteers/{volunteer_b}"
    ),
    ("POST", "/admin/volunteers/<int:user_id>"): Case(
        "/admin/volunteers/{volunteer_omega}",
        page("admin", ok=303),
        other="/admin/volunteers/{volunteer_b}",
        data={
            "display_name": "Người Omega",
            "union": "phunu",
            "phone": "0922222222",
            "villages": "{village_bacson}",
        },
    ),
    ("POST", "/admin/volunteers/<int:user_id>/enroll"): Case(
        "/admin/volunteers/{volunteer_a}/enroll",
        page("admin", ok=303),
        other="/admin/volunteers/{volunteer_b}/enroll",
    ),
    ("POST", "/admin/volunteers/<int:user_id>/collect"): Case(
        "/admin/volunteers/{volunteer_a}/collect",
        page("admin"),
        other="/admin/volunteers/{volunteer_b}/collect",
    ),
    ("GET", "/admin/volunteers/<int:user_id>/enroll/<code>"): Case(
        "/admin/volunteers/{volunteer_a}/enroll/{code_a}",
        page("admin"),
        other="/admin/volunteers/{volunteer_b}/enroll/{code_b}",
    ),
    ("GET", "/admin/volunteers/<int:user_id>/enroll/<code>/qr.png"): Case(
        "/admin/volunteers/{volunteer_a}/enroll/{code_a}/qr.png",
        page("admin"),
        other="/admin/volunteers/{volunteer_a}/enroll/{code_b}/qr.png",
    ),
    ("GET", "/admin/volunteers/<int:user_id>/enroll/<code>/qr.svg"): Case(
        "/admin/volunteers/{volunteer_a}/enroll/{code_a}/qr.svg",
        page("admin"),
        other="/admin/volunteers/{volunteer_b}/enroll/{code_b}/qr.svg",
    ),
    ("GET", "/admin/devices"): Case("/admin/devices", page("admin")),
    ("POST", "/admin/devices/<device_id>/revoke"): Case(
        "/admin/devices/{device_spare}/revoke",
        page("admin", ok=303),
        other="/admin/devices/{device_b}/revoke",
    ),
    ("GET", "/admin/forms"): Case("/admin/forms", page("admin")),
    ("GET", "/admin/forms/<path:form_id>"): Case(
        "/admin/forms/ho_gia_dinh_cds", page("admin"), other="/admin/forms/no_such_form"
    ),
    ("POST", "/admin/forms/<path:form_id>/state"): Case(
        "/admin/forms/ho_gia_dinh_cds/state",
        page("admin", ok=303),
        other="/admin/forms/no_such_form/state",
        data={"state": "active"},
    ),
    # A checked form's preview file: only at an address its check page signed (test_form_media).
    ("GET", "/admin/form-media/<token>"): Case(
        "/admin/form-media/not-signed", page("admin", ok=404)
    ),
    # No file, no definition: the admin is told so (422); nothing else may even get that far.
    ("POST", "/admin/forms/check"): Case("/admin/forms/check", page("admin", ok=422)),
    ("POST", "/admin/forms/publish"): Case(
        "/admin/forms/publish", page("admin", ok=422), data={"definition": ""}
    ),
    ("GET", "/admin/print"): Case("/admin/print", page("admin")),
    ("POST", "/admin/print/cards"): Case(
        "/admin/print/cards",
        page("admin"),
        other="/admin/print/cards?v=b",
        data=lambda role: {"village": "{village_a}"},
    ),
    ("GET", "/admin/print/labels"): Case(
        "/admin/print/labels?village={village_a}",
        page("admin"),
        other="/admin/print/labels?village={village_b}",
    ),
    ("GET", "/admin/communes"): Case("/admin/communes", page("province")),
    ("POST", "/admin/communes"): Case(
        "/admin/communes",
        page("province"),
        data={
            "code": "77777",
            "name": "Xã Ma Trận",
            "province_name": "Tỉnh Minh Họa",
            "username": "admin.matran",
            "display_name": "Quản Trị Ma Trận",
        },
    ),
    ("GET", "/admin/audit"): Case("/admin/audit", page("admin", "province")),
    ("GET", "/account/password"): Case("/account/password", page(*STAFF)),
    ("POST", "/account/password"): Case(
        "/account/password",
        page(*STAFF, ok=422),
        data={"current": "sai", "new": "mot-mat-khau-moi", "confirm": "mot-mat-khau-moi"},
    ),
}
# The print-cards form names its team in the body, not the URL: its "other" posts village B.
# So does a selection for the person-data export (a household of another commune reads like
# one that does not exist: 400 "bad selection" either way).
_OTHER_DATA = {
    ("POST", "/admin/print/cards"): {"village": "{village_b}"},
    ("POST", "/people/export"): {"key": "register:{household_b}", "reason": "m"},
}


def rule_keys(app: Any) -> set[tuple[str, str]]:
    keys = set()
    for rule in app.url_map.iter_rules():
        methods = set(rule.methods or ()) - {"OPTIONS"}
        if "GET" in methods:
            methods.discard("HEAD")  # Flask answers HEAD for every GET
        keys |= {(method, rule.rule) for method in methods}
    return keys


# -- the world: two communes, two volunteers in the first, a phone each ------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("matrix")
    app = create_app(
        {
            "DATA_DIR": str(tmp),
            "DATABASE": str(tmp / "gocua.db"),
            "TESTING": True,
            "SECRET_KEY": "matrix-secret-key-of-the-access-tests",
            "LOGIN_LIMIT_USER": 100,
            "LOGIN_LIMIT_IP": 100,
        }
    )
    db = connect(app.config["DATABASE"])
    load_default_form(db)
    seed_demo(db)
    ids = _people(db)
    phones = app.test_client()
    ids.update(_phones_and_records(db, phones))
    clients = {"anon": app.test_client(), "volunteer": _phone_client(app, ids["token_a"])}
    for role, username in (
        ("viewer", "xem.a"),
        ("reviewer", "duyet.a"),
        ("admin", "qt.a"),
        ("province", "tinh.99"),
    ):
        clients[role] = logged_in(app, username)
    markers = _markers(db, ids)
    yield {"app": app, "db": db, "ids": ids, "clients": clients, "markers": markers}
    db.close()


def _people(db: Any) -> dict[str, Any]:
    villages = dict(db.execute("SELECT name, id FROM villages WHERE commune_id = '99999'"))
    for username, role in (
        ("xem.a", "viewer"),
        ("duyet.a", "reviewer"),
        ("qt.a", "admin"),
        ("phu.a", "reviewer"),
    ):
        staff(db, username, role)
    staff(db, "tinh.99", "admin", commune_id=None, province_code="99")
    other = second_commune(db)
    with write_transaction(db):
        omega = add_user(
            db,
            "tnv.omega",
            "Người Omega",
            "volunteer",
            "99999",
            village_ids=[villages["Thôn Bắc Sơn"]],
        )
        household_omega = add_household(db, villages["Thôn Bắc Sơn"], "Hộ Riêng Omega")
        code_a = create_enrollment_code(db, _id(db, "tnv.demo"))
        code_b = create_enrollment_code(db, other["volunteer"]["id"])
    household_a = db.execute(
        "SELECT id FROM households WHERE village_id = ? ORDER BY created_at LIMIT 1",
        [villages["Thôn Đông"]],
    ).fetchone()[0]
    return {
        "village_a": villages["Thôn Đông"],
        "village_bacson": villages["Thôn Bắc Sơn"],
        "village_b": other["village"]["id"],
        "household_a": household_a,
        "household_b": other["household"]["id"],
        "household_omega": household_omega["id"],
        "volunteer_a": _id(db, "tnv.demo"),
        "volunteer_omega": omega["id"],
        "volunteer_b": other["volunteer"]["id"],
        "admin_b": other["admin"]["id"],
        "spare_user": _id(db, "phu.a"),
        "code_a": code_a,
        "code_b": code_b,
    }


def _id(db: Any, username: str) -> int:
    return db.execute("SELECT id FROM users WHERE username = ?", [username]).fetchone()[0]


def _phones_and_records(db: Any, client: Any) -> dict[str, Any]:
    def enroll(code: str) -> dict[str, Any]:
        body = client.post("/api/v1/enroll", json={"code": code}).get_json()
        body["headers"] = {"Authorization": f"Bearer {body['token']}"}
        return body

    def push(phone: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
        results = client.post(
            "/api/v1/sync/push", json={"items": [item]}, headers=phone["headers"]
        ).get_json()["results"]
        assert results[0]["status"] in ("applied", "conflict"), results
        return item

    ids = {}
    demo = enroll(_code(db, "tnv.demo"))
    omega, spare = (enroll(code) for code in _codes(db, "tnv.omega"))
    zeta = enroll(_code(db, "tnv.zeta"))
    villages = {v["name"]: v["id"] for v in demo["villages"]}
    a = push(demo, record(villages["Thôn Đông"], data=household_data(head_name="Nguyễn Thị Hoa")))
    conflict = push(demo, {**a, "rev": str(uuid.uuid4()), "base_rev": str(uuid.uuid4())})
    o = push(
        omega, record(omega["villages"][0]["id"], data=household_data(head_name="Hộ Riêng Omega"))
    )
    b = push(
        zeta, record(zeta["villages"][0]["id"], data=household_data(head_name="Hộ Cách Ly Zeta"))
    )
    with write_transaction(db):
        _, collect_a = add_collect_device(db, _id(db, "tnv.demo"))
    ids.update(
        collect_a=collect_a,
        token_a=demo["token"],
        record_a=a["id"],
        rev_a=a["rev"],
        conflict_a=conflict["rev"],
        record_omega=o["id"],
        record_b=b["id"],
        device_spare=spare["device_id"],
        device_b=zeta["device_id"],
    )
    return ids


def _code(db: Any, username: str) -> str:
    return _codes(db, username)[0]


def _codes(db: Any, username: str) -> list[str]:
    with write_transaction(db):
        return [
            create_enrollment_code(db, _id(db, username))
            for _ in range(2 if username == "tnv.omega" else 1)
        ]


def _phone_client(app: Any, device_token: str) -> Any:
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {device_token}"
    return client


def _markers(db: Any, ids: dict[str, Any]) -> dict[str, list[str]]:
    """Strings a role must never receive."""

    def household(key: str) -> str:
        return db.execute("SELECT code FROM households WHERE id = ?", [ids[key]]).fetchone()[0]

    other_commune = [
        "Zeta",
        ids["record_b"],
        household("household_b"),
        ids["device_b"],
        ids["code_b"],
        ids["village_b"],
    ]
    other_village = ["Omega", ids["record_omega"], household("household_omega")]
    personal = ["Omega", "Nguyễn Thị Hoa", "Nguyễn Văn An", "0988888888"]
    return {
        "anon": other_commune + other_village + personal,
        "volunteer": other_commune + other_village,
        "viewer": other_commune + personal,
        "reviewer": other_commune,
        "admin": other_commune,
        "province": other_commune + personal,
    }


# -- running a row ----------------------------------------------------------------------------


def _fill(value: Any, ids: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


def _text(response: Any) -> str:
    """Everything a person or program could read in the answer: gzip and XLSX unpacked, JSON
    with its escapes undone."""
    data = response.get_data()
    if response.headers.get("Content-Encoding") == "gzip":
        data = gzip.decompress(data)
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as book:
            data = b"".join(book.read(name) for name in book.namelist())
    text = data.decode("utf-8", "replace")
    if response.is_json and data:
        text += json.dumps(json.loads(data), ensure_ascii=False)
    return text


def _request(world: dict[str, Any], role: str, method: str, url: str, case: Case, data: Any) -> Any:
    client = world["clients"][role]
    username = {
        "viewer": "xem.a",
        "reviewer": "duyet.a",
        "admin": "qt.a",
        "province": "tinh.99",
    }.get(role)
    if case.fresh and username:
        client = logged_in(world["app"], username)
    kwargs: dict[str, Any] = {}
    if case.json is not None:
        kwargs["json"] = case.json
    elif case.body is not None:
        kwargs["data"] = case.body
    elif method == "POST":
        fields = data(role) if callable(data) else dict(data or {})
        kwargs["data"] = {**_fill(fields, world["ids"]), "csrf_token": token(client)}
    response = client.open(url, method=method, **kwargs)
    if case.fresh and username:
        # A logout ends every session of the account, the world's own client's too.
        world["clients"][role] = logged_in(world["app"], username)
    return response


@pytest.mark.parametrize("key", list(MATRIX), ids=[f"{m} {r}" for m, r in MATRIX])
def test_each_role_on_each_route(world: dict[str, Any], key: tuple[str, str]) -> None:
    method, _ = key
    case = MATRIX[key]
    ids = world["ids"]
    wrong, leaks = [], []
    runs = [(case.url, case.expect, case.data)]
    if case.other:
        other_expect = {
            role: case.other_status if role in case.expect.allowed else status
            for role, status in case.expect.items()
        }
        runs.append((case.other, other_expect, _OTHER_DATA.get(key, case.data)))
    for url, expect, data in runs:
        url = _fill(url, ids)
        for role in ROLES:
            response = _request(world, role, method, url, case, data)
            if response.status_code != expect[role]:
                wrong.append(
                    f"{role} {method} {url}: {response.status_code}, expected {expect[role]}"
                )
            text = _text(response)
            asked = url + json.dumps(
                _fill(data(role) if callable(data) else data, ids), ensure_ascii=False
            )  # what we sent may come back
            leaks += [
                f"{role} {method} {url}: {marker!r}"
                for marker in world["markers"][role]
                if marker in text and marker not in asked
            ]
    assert not wrong, "\n".join(wrong)
    assert not leaks, "data out of scope in the answer:\n" + "\n".join(leaks)


def test_every_route_has_a_row(world: dict[str, Any]) -> None:
    routes = rule_keys(world["app"])
    missing = sorted(routes - MATRIX.keys())
    stale = sorted(MATRIX.keys() - routes)
    assert not missing, f"routes with no row in MATRIX (add one): {missing}"
    assert not stale, f"rows for routes that no longer exist: {stale}"
