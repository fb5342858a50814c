"""Staff pages of the household register and the follow-up lists (same blueprint as routes.py).

Changing the register (villages, households, imports) is the commune admin's; reviewers read
it and the follow-up lists.
"""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, render_template, request, url_for

from server.domain import followups as followup
from server.domain import household_import, register
from server.domain.db import write_transaction
from server.domain.errors import Refused
from server.domain.records import query as records
from server.web.db import get_db
from server.web.review import bp
from server.web.staff import PERSONAL_DATA, audited, check_csrf, login_required, me, ui_lang

ADMIN = ("admin",)


@bp.get("/villages")
@login_required(*PERSONAL_DATA)
def villages() -> Any:
    rows = register.register_villages(get_db(), me()["commune_id"])
    return render_template(
        "review/villages.html", villages=rows, active=[v for v in rows if not v["merged_into"]]
    )


@bp.post("/villages")
@login_required(*ADMIN)
def village_add() -> Any:
    check_csrf()
    db, user = get_db(), me()
    with write_transaction(db):
        row = register.create_village(db, user["commune_id"], request.form.get("name", ""))
        audited("village_add", target=row["id"], detail=row["name"])
    return redirect(url_for("review.villages"))


@bp.post("/villages/<village_id>/rename")
@login_required(*ADMIN)
def village_rename(village_id: str) -> Any:
    check_csrf()
    db, user = get_db(), me()
    with write_transaction(db):
        done = register.rename_village(
            db, user["commune_id"], village_id, request.form.get("name", "")
        )
        audited("village_rename", target=village_id, detail=f"{done['old_name']} → {done['name']}")
    return redirect(url_for("review.villages"))


@bp.post("/villages/merge")
@login_required(*ADMIN)
def village_merge() -> Any:
    check_csrf()
    db, user = get_db(), me()
    source, target = request.form.get("source", ""), request.form.get("target", "")
    with write_transaction(db):
        done = register.merge_villages(db, user["commune_id"], source, target)
        audited(
            "village_merge",
            target=source,
            detail=f"into {target}; {done['households']} households moved",
        )
    return redirect(url_for("review.villages"))


@bp.get("/households")
@login_required(*PERSONAL_DATA)
def households() -> Any:
    db, user = get_db(), me()
    villages = register.villages(db, user["commune_id"])
    village_id = request.args.get("village") or next(
        (v["id"] for v in villages if not v["merged_into"]), ""
    )
    if village_id and village_id not in {v["id"] for v in villages}:
        abort(404)
    query = request.args.get("q", "").strip()
    rows = register.households(db, user["commune_id"], village_id, query)
    if query:
        # As the people search: the words searched stay out of the append-only log.
        audited("household_search", target=village_id, detail=f"{len(rows)} households")
    return render_template(
        "review/households.html",
        villages=villages,
        village_id=village_id,
        households=rows,
        query=query,
    )


def _household_or_404(household_id: str) -> dict[str, Any]:
    found = register.get_household(get_db(), me()["commune_id"], household_id)
    if found is None:
        abort(404)
    return found


@bp.get("/households/<household_id>")
@login_required(*PERSONAL_DATA)
def household(household_id: str) -> Any:
    db = get_db()
    found = _household_or_404(household_id)
    visit = followup.latest_visit(db, household_id)
    due = followup.followup_of(visit["data"]) if visit else None
    if due and visit:
        due["topics"] = followup.topic_labels(
            db, visit["form_id"], visit["form_version"], due["topics"], ui_lang()
        )
    audited("view_household", target=household_id)
    visits = register.visits(db, household_id)
    states = records.shown_states(db, [v["id"] for v in visits])
    for v in visits:
        v["shown_state"] = states.get(v["id"], v["review_state"])
    return render_template(
        "review/household.html",
        household=found,
        visits=visits,
        followup=due,
    )


@bp.post("/households/<household_id>")
@login_required(*ADMIN)
def household_update(household_id: str) -> Any:
    check_csrf()
    db = get_db()
    with write_transaction(db):
        found = _household_or_404(household_id)
        if request.form.get("action") == "remove":
            register.remove_household(db, found)
            audited("household_remove", target=household_id)
        else:
            register.update_household(
                db, found, request.form.get("head_name", ""), request.form.get("address", "")
            )
            audited("household_update", target=household_id)
    return redirect(url_for("review.household", household_id=household_id))


@bp.route("/households/import", methods=["GET", "POST"])
@login_required(*ADMIN)
def household_import_upload() -> Any:
    if request.method == "GET":
        return render_template("review/import.html", preview=None)
    check_csrf()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise Refused("review.import_no_file")
    db, user = get_db(), me()
    table = household_import.read_table(upload.filename, upload.read())
    with write_transaction(db):
        import_id = household_import.preview(db, user["commune_id"], user, upload.filename, table)
        audited("household_import_read", target=str(import_id), detail=upload.filename[:100])
    return redirect(url_for("review.household_import_preview", import_id=import_id))


@bp.get("/households/import/<int:import_id>")
@login_required(*ADMIN)
def household_import_preview(import_id: int) -> Any:
    found = household_import.get_import(get_db(), me()["commune_id"], import_id)
    if found is None:
        abort(404)
    return render_template("review/import.html", preview=found)


@bp.post("/households/import/<int:import_id>")
@login_required(*ADMIN)
def household_import_apply(import_id: int) -> Any:
    check_csrf()
    db, user = get_db(), me()
    with write_transaction(db):
        added = household_import.apply(db, user["commune_id"], import_id)
        audited("household_import", target=str(import_id), detail=f"{added} households")
    return redirect(url_for("review.household_import_preview", import_id=import_id))


@bp.get("/followups")
@login_required(*PERSONAL_DATA)
def followups() -> Any:
    db, user = get_db(), me()
    villages = [v for v in register.villages(db, user["commune_id"]) if not v["merged_into"]]
    village_id = request.args.get("village") or (villages[0]["id"] if villages else "")
    if village_id and village_id not in {v["id"] for v in villages}:
        abort(404)
    rows = followup.village_followups(db, register.village_ids_under(db, village_id))
    for row in rows:
        row["topics"] = followup.topic_labels(
            db, row["form_id"], row["form_version"], row["topics"], ui_lang()
        )
    return render_template(
        "review/followups.html", villages=villages, village_id=village_id, followups=rows
    )
