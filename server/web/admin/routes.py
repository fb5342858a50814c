"""The admin pages: staff accounts, volunteers and their phones, printable sheets, communes for
a province admin, the audit log, and everyone's own password. Thin: the work is in service.py."""

from __future__ import annotations

from typing import Any

from flask import (
    Response,
    abort,
    redirect,
    render_template,
    request,
    url_for,
)

from server.domain import accounts, register
from server.domain import audit as journal
from server.domain import devices as phones
from server.domain.db import write_transaction
from server.domain.devices import enrollment_url, revoke_device
from server.web import staff
from server.web.admin import bp, private_page, qr
from server.web.db import get_db
from server.web.staff import audited, check_csrf, login_required, me, t

MAX_AUDIT_PAGE = 1_000_000  # 50 million rows: far past any commune's log


@bp.get("/admin/")
@login_required("admin", "province")
def index() -> Any:
    user = me()
    if user["role"] == "province":
        return redirect(url_for("admin.communes"))
    db = get_db()
    return render_template(
        "admin/index.html",
        commune=register.commune(db, user["commune_id"]),
        counts=register.overview(db, user["commune_id"]),
    )


# -- staff accounts ---------------------------------------------------------------------------


def _staff_page(
    values: dict[str, Any] | None = None, errors: dict[str, str] | None = None, status: int = 200
) -> Any:
    users = accounts.staff_list(get_db(), me()["commune_id"])
    return render_template(
        "admin/staff.html", users=users, values=values or {}, errors=errors or {}
    ), status


@bp.get("/admin/staff")
@login_required("admin")
def staff_accounts() -> Any:
    return _staff_page()


@bp.post("/admin/staff")
@login_required("admin")
def add_staff() -> Any:
    check_csrf()
    db = get_db()
    values, errors = accounts.check_staff_form(db, request.form)
    if errors:
        return _staff_page(values, errors, 422)
    with write_transaction(db):
        password = accounts.create_staff(db, me()["commune_id"], values)
        audited("user_created", f"user:{values['username']}", values["role"])
    return private_page(
        render_template(
            "admin/password_shown.html",
            username=values["username"],
            password=password,
            back=url_for("admin.staff_accounts"),
        )
    )


@bp.post("/admin/users/<int:user_id>/reset-password")
@login_required("admin", "province")
def reset_password(user_id: int) -> Any:
    check_csrf()
    db = get_db()
    target = accounts.user_in_scope(db, me(), user_id)
    if target is None:
        abort(404)
    if target["id"] == me()["id"]:
        return render_template("admin/message.html", key="admin.error_self"), 422
    with write_transaction(db):
        password = accounts.reset_password(
            db, target, by_user_id=me()["id"], by_username=me()["username"]
        )
    back = url_for("admin.communes" if me()["role"] == "province" else "admin.staff_accounts")
    return private_page(
        render_template(
            "admin/password_shown.html", username=target["username"], password=password, back=back
        )
    )


@bp.post("/admin/users/<int:user_id>/active")
@login_required("admin", "province")
def set_active(user_id: int) -> Any:
    check_csrf()
    db = get_db()
    target = accounts.user_in_scope(db, me(), user_id)
    if target is None:
        abort(404)
    if target["id"] == me()["id"]:
        return render_template("admin/message.html", key="admin.error_self"), 422
    active = request.form.get("active") == "1"
    with write_transaction(db):
        accounts.set_active(db, user_id, active)
        audited("user_activated" if active else "user_deactivated", f"user:{target['username']}")
    return redirect(
        request.form.get("next") if _safe(request.form.get("next")) else url_for("admin.index"), 303
    )


def _safe(target: str | None) -> bool:
    return bool(target) and target.startswith("/admin/") and "//" not in target


# -- volunteers -------------------------------------------------------------------------------


def _volunteers_page(
    values: dict[str, Any] | None = None, errors: dict[str, str] | None = None, status: int = 200
) -> Any:
    db = get_db()
    commune_id = me()["commune_id"]
    people = accounts.volunteers(db, commune_id)
    with write_transaction(db):
        audited("view_people", "volunteers", str(len(people)))
    return render_template(
        "admin/volunteers.html",
        people=people,
        villages=register.assignable_villages(db, commune_id),
        values=values or {},
        errors=errors or {},
        unions=accounts.UNIONS,
        union_label=lambda name: accounts.union_label(name, t),
    ), status


@bp.get("/admin/volunteers")
@login_required("admin")
def volunteers() -> Any:
    return _volunteers_page()


@bp.post("/admin/volunteers")
@login_required("admin")
def add_volunteer() -> Any:
    check_csrf()
    db = get_db()
    values, errors = accounts.check_volunteer_form(
        request.form, register.assignable_villages(db, me()["commune_id"])
    )
    if errors:
        return _volunteers_page(values, errors, 422)
    with write_transaction(db):
        person = accounts.create_volunteer(db, me()["commune_id"], values)
        audited("volunteer_created", f"user:{person['username']}")
    return redirect(url_for("admin.volunteer", user_id=person["id"]), 303)


def _volunteer_or_404(user_id: int) -> dict[str, Any]:
    db, commune_id = get_db(), me()["commune_id"]
    person = accounts.volunteer(db, commune_id, user_id)
    if person is None:
        abort(404)
    person["devices"] = phones.devices(db, commune_id, user_id=user_id)
    return person


def _volunteer_page(
    person: dict[str, Any],
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Any:
    db = get_db()
    with write_transaction(db):
        audited("view_person", f"user:{person['username']}")
    return render_template(
        "admin/volunteer.html",
        person=person,
        values=values or person,
        errors=errors or {},
        unions=accounts.UNIONS,
        villages=register.assignable_villages(db, me()["commune_id"]),
        union_label=lambda name: accounts.union_label(name, t),
    ), status


@bp.get("/admin/volunteers/<int:user_id>")
@login_required("admin")
def volunteer(user_id: int) -> Any:
    return _volunteer_page(_volunteer_or_404(user_id))


@bp.post("/admin/volunteers/<int:user_id>")
@login_required("admin")
def edit_volunteer(user_id: int) -> Any:
    check_csrf()
    person = _volunteer_or_404(user_id)
    db = get_db()
    values, errors = accounts.check_volunteer_form(
        request.form, register.assignable_villages(db, me()["commune_id"])
    )
    if errors:
        return _volunteer_page(person, {**person, **values}, errors, 422)
    from server.domain.followups import send_household

    with write_transaction(db):
        for village_id in accounts.update_volunteer(db, user_id, values):
            for household_id in register.household_ids(db, village_id):
                send_household(db, household_id, user_id=user_id)
        audited(
            "volunteer_edited",
            f"user:{person['username']}",
            "villages=" + ",".join(values["village_ids"]),
        )
    return redirect(url_for("admin.volunteer", user_id=user_id), 303)


@bp.post("/admin/volunteers/<int:user_id>/enroll")
@login_required("admin")
def new_code(user_id: int) -> Any:
    check_csrf()
    person = _volunteer_or_404(user_id)
    if not person["active"]:
        abort(404)
    db = get_db()
    with write_transaction(db):
        code = phones.new_code(db, user_id)
        audited("enrollment_code", f"user:{person['username']}")
    return redirect(url_for("admin.enroll_page", user_id=user_id, code=code), 303)


def _code_or_404(user_id: int, code: str, valid_only: bool) -> tuple[dict, dict]:
    person = _volunteer_or_404(user_id)
    state = phones.code_state(get_db(), user_id, code)
    if state is None or (valid_only and state["state"] != "valid"):
        abort(404)
    return person, state


@bp.get("/admin/volunteers/<int:user_id>/enroll/<code>")
@login_required("admin")
def enroll_page(user_id: int, code: str) -> Any:
    person, state = _code_or_404(user_id, code, valid_only=False)
    url = enrollment_url(staff.public_base_url(), code)
    return private_page(
        render_template("admin/enroll.html", person=person, code=code, url=url, state=state)
    )


@bp.get("/admin/volunteers/<int:user_id>/enroll/<code>/qr.png")
@login_required("admin")
def enroll_png(user_id: int, code: str) -> Any:
    _code_or_404(user_id, code, valid_only=True)
    body = qr.png(enrollment_url(staff.public_base_url(), code))
    response = Response(body, mimetype="image/png")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/admin/volunteers/<int:user_id>/enroll/<code>/qr.svg")
@login_required("admin")
def enroll_svg(user_id: int, code: str) -> Any:
    _code_or_404(user_id, code, valid_only=True)
    body = qr.svg(enrollment_url(staff.public_base_url(), code), border=4)
    response = Response(body, mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "no-store"
    return response


# -- phones -----------------------------------------------------------------------------------


@bp.get("/admin/devices")
@login_required("admin")
def devices() -> Any:
    return render_template(
        "admin/devices.html", devices=phones.devices(get_db(), me()["commune_id"])
    )


@bp.post("/admin/devices/<device_id>/revoke")
@login_required("admin")
def revoke(device_id: str) -> Any:
    check_csrf()
    db = get_db()
    device = phones.device_in_scope(db, me()["commune_id"], device_id)
    if device is None:
        abort(404)
    with write_transaction(db):
        if revoke_device(db, device_id):
            audited("device_revoked", f"device:{device_id}", f"user:{device['username']}")
    target = request.form.get("next")
    return redirect(target if _safe(target) else url_for("admin.devices"), 303)


# -- communes (province admins) ---------------------------------------------------------------


def _communes_page(
    values: dict[str, Any] | None = None, errors: dict[str, str] | None = None, status: int = 200
) -> Any:
    db = get_db()
    code = me()["province_code"]
    defaults = {"province_name": register.province_name(db, code)}
    return render_template(
        "admin/communes.html",
        communes=register.communes(db, code),
        admins=accounts.province_admins(db, code),
        values=values or defaults,
        errors=errors or {},
    ), status


@bp.get("/admin/communes")
@login_required("province")
def communes() -> Any:
    return _communes_page()


@bp.post("/admin/communes")
@login_required("province")
def add_commune() -> Any:
    check_csrf()
    db = get_db()
    values, errors = register.check_commune_form(db, request.form)
    if errors:
        return _communes_page(values, errors, 422)
    with write_transaction(db):
        password = register.create_commune(db, me()["province_code"], values)
        audited("commune_created", f"commune:{values['code']}", values["name"])
        audited("user_created", f"user:{values['username']}", "admin")
    return private_page(
        render_template(
            "admin/password_shown.html",
            username=values["username"],
            password=password,
            back=url_for("admin.communes"),
        )
    )


# -- the audit log and one's own password -----------------------------------------------------


@bp.get("/admin/audit")
@login_required("admin", "province")
def audit_log() -> Any:
    # Clamped: a page number past the log's end shows an empty page, and OFFSET stays within
    # SQLite's integers (a huge ?page= was an OverflowError).
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_AUDIT_PAGE)
    rows = journal.audit_page(get_db(), me(), page)
    return render_template(
        "admin/audit.html",
        rows=rows,
        page=page,
        page_size=journal.PAGE_SIZE,
        action_label=_action_label,
        detail_text=_detail_text,
    )


def _detail_text(row: dict[str, Any]) -> str:
    """A row's detail as people read it: a decision's state in words, not its code."""
    if row["action"] == "review" and row["detail"]:
        key = f"state.{row['detail']}"
        label = t(key)
        return row["detail"] if label == key else label
    return row["detail"]


def _action_label(action: str) -> str:
    key = f"admin.action_{action}"
    label = t(key)
    return action if label == key else label
