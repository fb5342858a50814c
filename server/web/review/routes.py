"""The submissions list, one record, its review, edit and conflicts.

Thin: the views read the request, call the records domain (query, store, edit) and render."""

from __future__ import annotations

from typing import Any

from flask import (
    abort,
    current_app,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)

from server.domain import blobs, forms, register
from server.domain.audit import audit
from server.domain.db import write_transaction
from server.domain.errors import Refused
from server.domain.records import edit
from server.domain.records import query as service
from server.domain.records import store as decisions
from server.domain.records.diff import diff
from server.web.db import get_db
from server.web.review import bp
from server.web.site import zone
from server.web.staff import PERSONAL_DATA, audited, check_csrf, login_required, me, ui_lang


@bp.get("/")
@login_required(*PERSONAL_DATA)
def records() -> Any:
    user, db = me(), get_db()
    filters = service.Filters.from_args(request.args, zone())
    villages = register.villages(db, user["commune_id"])
    if filters.village and filters.village not in {v["id"] for v in villages}:
        abort(404)
    volunteers = service.volunteers(db, user["commune_id"])
    # A volunteer asked for who is none of the commune's (another commune's, or no id at all,
    # such as a number too big for SQLite) is 404 like a village, not an unfiltered list.
    if request.args.get("volunteer", "").strip() and filters.volunteer not in {
        v["id"] for v in volunteers
    }:
        abort(404)
    rows, cursor = service.list_records(db, user["commune_id"], filters)
    total = service.count_records(db, user["commune_id"], filters)
    return render_template(
        "review/records.html",
        villages=villages,
        filters=filters,
        records=rows,
        cursor=cursor,
        total=total,
        volunteers=volunteers,
        states=service.REVIEW_STATES,
        outcomes=service.OUTCOMES,
        count_cap=service.COUNT_CAP,
        # With several forms in the commune, each row says which form its visit used.
        form_titles=_form_titles(db, user["commune_id"]),
    )


def _form_titles(db: Any, commune_id: str) -> dict[str, str]:
    titles = {f["form_id"]: str(f["title"]) for f in forms.commune_forms(db, commune_id)}
    return titles if len(titles) > 1 else {}


def _record_or_404(record_id: str) -> dict[str, Any]:
    found = service.get_record(get_db(), me()["commune_id"], record_id)
    if found is None:
        abort(404)
    return found


@bp.get("/records/<record_id>")
@login_required(*PERSONAL_DATA)
def record(record_id: str) -> Any:
    return _record_page(_record_or_404(record_id))


def _record_page(found: dict[str, Any], decision: dict[str, str] | None = None) -> Any:
    """One record's page; ``decision``: a decision sent back to be completed (its state,
    comment and problem), shown in the form as it was typed."""
    db, lang, record_id = get_db(), ui_lang(), found["id"]
    form = found["form"]
    revisions = service.revisions(db, record_id)
    by_rev = {r["rev"]: r for r in revisions}
    for r in revisions:
        base = by_rev.get(r["base_rev"] or "")
        r["changes"] = diff(form, base["data"], r["data"], lang) if base else None
    audited("view_record", target=record_id)
    return render_template(
        "review/record.html",
        record=found,
        revisions=revisions,
        sections=service.sections(form, found["data"], lang) if form else [],
        reviews=service.reviews(db, record_id),
        visit=service.visit_facts(found),
        conflicts=edit.open_conflicts(db, record_id),
        decisions=decisions.DECISIONS,
        decision=decision or {"state": found["review_state"], "comment": "", "problem": ""},
    )


@bp.get("/records/<record_id>/files/<sha256>")
@login_required(*PERSONAL_DATA)
def record_file(record_id: str, sha256: str) -> Any:
    """A photo, recording, film or document the record's current answers name (the one rule
    the gallery follows too: ``named_file``); any other file is not found."""
    kind = service.named_file(get_db(), me()["commune_id"], record_id, sha256)
    path = blobs.blob_path(current_app.config["DATA_DIR"], sha256)
    if kind is None or not path.is_file():
        abort(404)
    audited("view_record", target=record_id, detail=f"file {sha256}")
    mimetype = blobs.served_type(path, kind)
    return send_file(path, mimetype=mimetype, etag=sha256, conditional=True, max_age=3600)


# A decision refused for what the reviewer typed goes back to the form, with the text kept.
_DECISION_PROBLEMS = frozenset(
    {"review.error_comment_needed", "review.error_comment_long", "review.error_state"}
)


@bp.post("/records/<record_id>/review")
@login_required(*PERSONAL_DATA)
def review(record_id: str) -> Any:
    check_csrf()
    db, user = get_db(), me()
    state = request.form.get("review_state", "")
    comment = request.form.get("comment", "")
    with write_transaction(db):
        found = _record_or_404(record_id)
        try:
            decisions.decide(db, user, found, state, comment, request.form.get("rev", ""))
        except Refused as refused:
            if refused.code not in _DECISION_PROBLEMS:
                raise
            sent_back = {"state": state, "comment": comment, "problem": refused.code}
            return _record_page(found, sent_back), 422
        audit(
            db,
            "review",
            user_id=user["id"],
            username=user["username"],
            target=record_id,
            detail=state,
        )
    return redirect(url_for("review.record", record_id=record_id) + "#review")


@bp.route("/records/<record_id>/edit", methods=["GET", "POST"])
@login_required(*PERSONAL_DATA)
def edit_record(record_id: str) -> Any:
    db, user, lang = get_db(), me(), ui_lang()
    found = _record_or_404(record_id)
    if found["form"] is None:
        raise Refused("review.error_no_form", status=409)
    if request.method == "GET":
        audited("view_record", target=record_id, detail="edit")
        return render_template(
            "review/edit.html",
            record=found,
            errors={},
            comment="",
            view=edit.edit_view(found["form"], found["data"], lang),
            datalists=edit.edit_datalists(found["form"], lang),
        )
    check_csrf()
    if request.form.get("rev") != found["rev"]:
        raise Refused("review.error_stale", status=409)
    data, errors = edit.read_form(found["form"], found["data"], request.form)
    data = edit.settled(found, data)
    errors = errors or edit.check(found, data)
    comment = request.form.get("comment", "")
    if errors:
        return render_template(
            "review/edit.html",
            record=found,
            errors=errors,
            comment=comment,
            view=edit.edit_view(found["form"], data, lang),
            datalists=edit.edit_datalists(found["form"], lang),
        ), 422
    with write_transaction(db):
        fresh = _record_or_404(record_id)
        if fresh["rev"] != found["rev"]:
            raise Refused("review.error_stale", status=409)
        changes = diff(found["form"], found["data"], data, lang)
        rev = edit.save_edit(db, user, found, data, comment)
        audit(
            db,
            "edit_record",
            user_id=user["id"],
            username=user["username"],
            target=record_id,
            detail=f"rev {rev}; {len(changes)} answers changed",
        )
    return redirect(url_for("review.record", record_id=record_id, _anchor=f"rev-{rev}"))


@bp.route("/records/<record_id>/conflicts/<rev>", methods=["GET", "POST"])
@login_required(*PERSONAL_DATA)
def conflict(record_id: str, rev: str) -> Any:
    db, user, lang = get_db(), me(), ui_lang()
    found = _record_or_404(record_id)
    other = next(
        (
            r
            for r in service.revisions(db, record_id)
            if r["rev"] == rev and r["status"] == "conflict"
        ),
        None,
    )
    if other is None or found["form"] is None:
        abort(404)
    rows = edit.compare(found["form"], found["data"], other["data"], lang)
    if request.method == "GET" or other["resolved_at"] or other["replicated"]:
        audited("view_record", target=record_id, detail=f"conflict {rev}")
        return render_template(
            "review/conflict.html", record=found, other=other, rows=rows, errors={}
        )
    check_csrf()
    if request.form.get("rev") != found["rev"]:
        raise Refused("review.error_stale", status=409)
    choice = request.form.get("choice", "merge")
    # One side for every answer, or (merge) each answer's own pick.
    whole = choice if choice in ("current", "other") else None
    picks = {r["name"]: whole or request.form.get(f"pick:{r['name']}", "current") for r in rows}
    data = edit.merged(found["form"], found["data"], other["data"], picks)
    # Keeping the current version keeps that very revision: settling it again could add a
    # calculation it lacks and make a new revision nobody chose.
    data = found["data"] if choice == "current" else edit.settled(found, data)
    errors = edit.check(found, data) if data != found["data"] else {}
    if errors:
        return render_template(
            "review/conflict.html", record=found, other=other, rows=rows, errors=errors, picks=picks
        ), 422
    resolution = {"current": "kept_current", "other": "took_conflict"}.get(choice, "merged")
    with write_transaction(db):
        fresh = _record_or_404(record_id)
        if fresh["rev"] != found["rev"]:
            raise Refused("review.error_stale", status=409)
        new_rev = edit.resolve(db, user, found, rev, data, resolution)
        audit(
            db,
            "resolve_conflict",
            user_id=user["id"],
            username=user["username"],
            target=record_id,
            detail=f"{rev}: {resolution}; new rev {new_rev or '-'}",
        )
    return redirect(url_for("review.record", record_id=record_id))
