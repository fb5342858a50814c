"""An ODK Collect phone for a volunteer: made by the admin, shown once as the settings QR code
Collect scans (its token inside the server address), revoked like any phone. Where an Enketo is
configured (``GOCUA_ENKETO_URL``), the same page shows each form's Enketo web form for that
token, as a link and a QR code: a phone without Collect opens it in its browser."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, render_template, url_for

from server.domain import accounts, register
from server.domain import devices as phones
from server.domain.db import write_transaction
from server.domain.openrosa import enketo
from server.domain.openrosa.service import form_list, settings_payload
from server.web import staff
from server.web.admin import bp, private_page, qr
from server.web.db import get_db
from server.web.staff import audited, check_csrf, login_required, me


@bp.post("/admin/volunteers/<int:user_id>/collect")
@login_required("admin")
def add_collect_phone(user_id: int) -> Any:
    check_csrf()
    db, commune_id = get_db(), me()["commune_id"]
    person = accounts.volunteer(db, commune_id, user_id)
    if person is None or not person["active"]:
        abort(404)
    with write_transaction(db):
        device_id, token = phones.add_collect_device(db, user_id)
        audited("collect_phone_added", f"user:{person['username']}", f"device:{device_id}")
    commune = register.commune(db, commune_id) or {"name": commune_id}
    server_url = staff.public_base_url() + url_for("openrosa.form_list", token=token).removesuffix(
        "/formList"
    )
    payload = settings_payload(server_url, f"Gõ Cửa · {commune['name']}", person["display_name"])
    # Shown once: only the token's hash is kept, as for every phone.
    return private_page(
        render_template(
            "admin/collect.html",
            person=person,
            server_url=server_url,
            qr_svg=qr.svg(payload, border=4, label=staff.t("admin.collect_qr_alt")),
            enketo=_enketo_forms(db, commune_id, server_url),
            enketo_configured=bool(current_app.config.get("ENKETO_URL")),
        )
    )


def _enketo_forms(db: Any, commune_id: str, server_url: str) -> list[dict[str, Any]]:
    """Each form Collect lists for the phone, with its Enketo web form's address and QR code
    (or none, when Enketo did not give one: the page says so, the Collect QR still stands)."""
    base, key = current_app.config.get("ENKETO_URL"), current_app.config.get("ENKETO_API_KEY")
    if not base:
        return []
    out = []
    for listed in form_list(db, commune_id):
        found: dict[str, Any] = {"form_id": listed["form_id"], "title": listed["title"]}
        try:
            found["url"] = enketo.survey_url(base, key or "", server_url, listed["form_id"])
        except enketo.EnketoError as error:
            current_app.logger.warning("Enketo gave no web form: %s", error)
            found["url"] = None
        else:
            label = staff.t("admin.enketo_qr_alt", form=listed["title"])
            found["qr_svg"] = qr.svg(found["url"], border=4, label=label)
        out.append(found)
    return out
