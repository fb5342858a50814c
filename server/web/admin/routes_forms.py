"""The admin's Forms pages (on the admin blueprint): upload a workbook and read the check as
``gocua form check`` gives it, preview it with the collector's own renderer, publish it as a
version, give a form to the volunteers or not, archive it; per form, its versions, records
and which phones hold which version.

Nothing is stored before *Publish*: the checked definition travels in the page (preview and
the publish form), and publishing checks it again, since it comes back from the browser."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

from flask import abort, current_app, redirect, render_template, request, send_file, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer

from schemas.file_choices import Attachment
from schemas.xlsform import WORKBOOK_SUFFIXES
from server.domain import blobs, forms
from server.domain.db import write_transaction
from server.domain.errors import Refused
from server.domain.form_files import FormRefused, check_definition, read_form_file
from server.web.admin import bp
from server.web.db import get_db
from server.web.staff import audited, check_csrf, login_required, me

# What the file name may give the form when its settings name no form_id (as pyxform does).
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")
MAX_ATTACHMENTS = 20
MAX_UPLOAD_BYTES = 48 * 1024 * 1024
# How long a checked form's preview may read its pictures, sounds and films.
PREVIEW_MEDIA_SECONDS = 24 * 3600
MAX_TOKEN = 500  # characters of a preview file's address read


@bp.get("/admin/forms")
@login_required("admin")
def forms_page() -> Any:
    return render_template(
        "admin/forms.html", forms=forms.commune_forms(get_db(), me()["commune_id"])
    )


def _upload_path(folder: str, filename: str) -> Path:
    name = Path(filename.replace("\\", "/")).name
    stem, suffix = Path(name).stem, Path(name).suffix.lower()
    stem = _NAME_CHARS.sub("_", stem).strip("._")[:100] or "form"
    return Path(folder) / f"{stem}{suffix[:10]}"


@bp.post("/admin/forms/check")
@login_required("admin")
def check_upload() -> Any:
    """Read and check an uploaded workbook; show the result, the preview and *Publish*."""
    # The workbook and its attachments: pictures, sounds and films beside labels weigh more
    # than the app's bound for other requests.
    request.max_content_length = MAX_UPLOAD_BYTES
    check_csrf()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise Refused("forms.no_file", 422)
    attachments = _attachments()
    given: list[Attachment] = []
    with tempfile.TemporaryDirectory(prefix="gocua-form-") as folder:
        path = _upload_path(folder, upload.filename)
        upload.save(path)
        try:
            definition, warnings = read_form_file(
                path, suffixes=WORKBOOK_SUFFIXES, attachments=attachments, given=given
            )
        except FormRefused as refused:
            audited("form_checked", f"file:{path.name}", "refused")
            return render_template(
                "admin/form_check.html", filename=upload.filename, refused=refused.finding
            ), 422
    # Kept now, whole: the page carries the definition, which names each file by its hash.
    blobs.keep_form_media(current_app.config["DATA_DIR"], definition, attachments)
    audited("form_checked", f"form:{definition['settings'].get('form_id', '')}", "ok")
    return _checked_page(upload.filename, definition, warnings, given)


def _attachments() -> dict[str, bytes]:
    """The files uploaded with the workbook, by the name the form gives them (the file's own
    name, without any folder); at most MAX_ATTACHMENTS, each name once."""
    files = [f for f in request.files.getlist("attachments") if f.filename]
    if len(files) > MAX_ATTACHMENTS:
        raise Refused("forms.too_many_files", 422, limit=MAX_ATTACHMENTS)
    out: dict[str, bytes] = {}
    for file in files:
        name = Path(str(file.filename).replace("\\", "/")).name[:255]
        if name in out:
            raise Refused("forms.same_file_twice", 422, name=name)
        out[name] = file.read()
    return out


def _checked_page(
    filename: str, definition: dict[str, Any], warnings: list[Any], given: list[Attachment]
) -> Any:
    db, commune_id = get_db(), me()["commune_id"]
    settings = definition["settings"]
    form_id = str(settings.get("form_id") or "")
    known = forms.newest_version(db, commune_id, form_id)
    return render_template(
        "admin/form_check.html",
        filename=filename,
        refused=None,
        definition=definition,
        definition_json=json.dumps(definition, ensure_ascii=False, separators=(",", ":")),
        warnings=warnings,
        form_id=form_id,
        version=str(settings.get("version") or ""),
        known=known,
        attachments=given,
        preview_media={
            name: url_for("admin.preview_media", token=_media_token(commune_id, entry))
            for name, entry in (definition.get("media") or {}).items()
        },
    )


def _media_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="form-preview-media")


def _media_token(commune_id: str, entry: dict[str, Any]) -> str:
    return _media_serializer().dumps([commune_id, entry["sha256"], entry["type"]])


@bp.get("/admin/form-media/<token>")
@login_required("admin")
def preview_media(token: str) -> Any:
    """A picture, sound or film a checked form's labels show, for its preview before it is
    published (the phones read a version's files once it is). The blob store holds photos of
    households too, so the address is signed by the check page that named the file for this
    commune: no other blob can be asked for by its hash."""
    try:
        commune_id, sha256, kind = _media_serializer().loads(
            token[:MAX_TOKEN], max_age=PREVIEW_MEDIA_SECONDS
        )
    except (BadSignature, ValueError, TypeError):
        abort(404)
    path = blobs.blob_path(current_app.config["DATA_DIR"], str(sha256))
    if commune_id != me()["commune_id"] or not path.is_file():
        abort(404)
    response = send_file(path, mimetype=str(kind), etag=str(sha256), conditional=True)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


@bp.post("/admin/forms/publish")
@login_required("admin")
def publish() -> Any:
    check_csrf()
    try:
        definition, _ = check_definition(json.loads(request.form.get("definition", "")))
    except FormRefused as refused:  # a ValueError too: named first
        return render_template("admin/form_check.html", filename="", refused=refused.finding), 422
    except (ValueError, RecursionError):
        raise Refused("forms.publish_unreadable", 422) from None
    if missing := blobs.missing_form_media(current_app.config["DATA_DIR"], definition):
        raise Refused("forms.media_missing", 422, files=", ".join(missing)[:500])
    db, commune_id = get_db(), me()["commune_id"]
    try:
        with write_transaction(db):
            form, added = forms.publish_form(
                db, definition, commune_id, give=request.form.get("give") == "1"
            )
            audited(
                "form_published" if added else "form_republished",
                f"form:{form.form_id}",
                f"version={form.version}",
            )
    except forms.FormVersionExists:
        raise Refused(
            "forms.version_exists", 409, version=str(definition["settings"].get("version"))
        ) from None
    return redirect(
        url_for(
            "admin.form_page",
            form_id=form.form_id,
            published=form.version,
            same="" if added else "1",
        ),
        303,
    )


@bp.get("/admin/forms/<path:form_id>")
@login_required("admin")
def form_page(form_id: str) -> Any:
    found = forms.form_overview(get_db(), me()["commune_id"], form_id)
    if found is None:
        abort(404)
    return render_template(
        "admin/form.html",
        form=found,
        published=request.args.get("published", "")[:255],
        same=request.args.get("same") == "1",
        states=forms.FORM_STATES,
    )


@bp.post("/admin/forms/<path:form_id>/state")
@login_required("admin")
def form_state(form_id: str) -> Any:
    check_csrf()
    state = request.form.get("state", "")
    db, commune_id = get_db(), me()["commune_id"]
    if state not in forms.FORM_STATES:
        raise Refused("forms.bad_state", 422)
    if forms.newest_version(db, commune_id, form_id) is None:
        abort(404)
    with write_transaction(db):
        if forms.set_form_state(db, commune_id, form_id, state):
            audited("form_state", f"form:{form_id}", state)
    return redirect(url_for("admin.form_page", form_id=form_id), 303)
