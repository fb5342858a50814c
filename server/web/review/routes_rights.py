"""Staff pages for a person's rights (find, export, erase) and for a phone's backup file."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, current_app, render_template, request

from server.domain import personal_data
from server.domain.audit import audit
from server.domain.db import purge_erased, write_transaction
from server.domain.errors import Refused
from server.domain.records import backup
from server.web.db import get_db
from server.web.review import bp
from server.web.staff import PERSONAL_DATA, audited, check_csrf, login_required, me, ui_lang

ADMIN = ("admin",)


@bp.get("/people")
@login_required(*ADMIN)
def people() -> Any:
    query = request.args.get("q", "").strip()
    found = None
    if query:
        found = personal_data.find(get_db(), me()["commune_id"], query)
        # The name itself stays out of the append-only log: only what was shown.
        audited(
            "person_search",
            detail=f"{len(found)} places",
            target=",".join(sorted({f["target"] for f in found}))[:2000],
        )
    return render_template("review/people.html", query=query, found=found, done=None)


def _selected() -> list[dict[str, Any]]:
    return personal_data.parse_keys(me()["commune_id"], get_db(), request.form.getlist("key"))


@bp.post("/people/export")
@login_required(*ADMIN)
def people_export() -> Any:
    check_csrf()
    db, user = get_db(), me()
    selected = _selected()
    body = personal_data.export(db, user["commune_id"], selected)
    with write_transaction(db):
        audit(
            db,
            "person_export",
            user_id=user["id"],
            username=user["username"],
            target=",".join(s["target"] for s in selected)[:2000],
            detail=request.form.get("reason", "").strip()[:500],
        )
    name = f"gocua-person-{body['exported_at'][:10]}.json"
    return Response(
        json.dumps(body, ensure_ascii=False, indent=1),
        mimetype="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@bp.post("/people/erase")
@login_required(*ADMIN)
def people_erase() -> Any:
    check_csrf()
    db, user = get_db(), me()
    reason = request.form.get("reason", "").strip()
    if len(reason) < 5:
        raise Refused("review.people_reason_needed")
    selected = _selected()
    with write_transaction(db):
        erased = personal_data.erase(db, user, user["commune_id"], selected)
        audit(
            db,
            "person_erase",
            user_id=user["id"],
            username=user["username"],
            target=",".join(erased.touched)[:2000],
            detail=reason[:500],
        )
    # Only once the erasure has committed: a rolled-back one must find its files still there.
    # A sweep that fails leaves them queued (None): the names leave the WAL file all the same.
    files = personal_data.sweep(db, current_app.config["DATA_DIR"], user["commune_id"], user)
    purge_erased(db)
    return render_template(
        "review/people.html", query="", found=None, done=len(erased.touched), files=files
    )


@bp.route("/backups", methods=["GET", "POST"])
@login_required(*PERSONAL_DATA)
def backups() -> Any:
    if request.method == "GET":
        return render_template("review/backup.html", results=None)
    check_csrf()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise Refused("review.import_no_file")
    db, user = get_db(), me()
    content = backup.read(upload.read())
    device, results = backup.import_backup(
        db, user["commune_id"], content, current_app.config["DATA_DIR"]
    )
    counts = backup.summary(results)
    with write_transaction(db):
        audit(
            db,
            "import_backup",
            user_id=user["id"],
            username=user["username"],
            target=device["username"],
            detail=", ".join(f"{k} {v}" for k, v in counts.items()),
        )
    return render_template(
        "review/backup.html", results=results, counts=counts, device=device, lang_code=ui_lang()
    )
