"""The OData v4 feed: ``/odata/<form_id>.svc`` (service document), ``.../$metadata`` and
``.../<entity set>``. A program shows a staff member's API token (``Authorization: Bearer``, or
as the password of Basic authentication, which Excel and Power BI send); every read is audited.
Refusals are OData error bodies in the language the client asks for, never a 5xx."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from flask import Response, current_app, request, send_file, url_for

from schemas.messages import text
from server.domain import api_tokens, blobs, odata
from server.domain.audit import audit
from server.domain.db import write_transaction
from server.domain.records.query import named_file
from server.domain.reports import exports
from server.web.db import get_db
from server.web.odata import bp
from server.web.site import zone
from server.web.staff import PERSONAL_DATA, public_base_url

MAX_FORM_ID = 100
JSON = "application/json;odata.metadata=minimal"


def _lang() -> str:
    best = request.accept_languages.best_match(["vi", "en"])
    return best or "vi"


@bp.errorhandler(odata.ODataError)
def _refused(error: odata.ODataError) -> Response:
    lang = _lang()
    body = {
        "error": {
            "code": error.code,
            "message": text(error.key, lang, **error.params),
            "details": [{"code": error.code, "message": text(error.key, "en", **error.params)}]
            if lang != "en"
            else [],
        }
    }
    response = _json(body, error.status)
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="Go Cua OData", charset="UTF-8"'
    return response


def _v2() -> bool:
    """Whether the client speaks OData v2 only: it names a v1-v3 ``MaxDataServiceVersion``
    and no v4 ``OData-MaxVersion`` (pyodata, older Power Query connectors)."""
    if request.headers.get("OData-MaxVersion") or request.headers.get("OData-Version"):
        return False
    named = request.headers.get("MaxDataServiceVersion") or ""
    return named[:2] in ("1.", "2.", "3.")


def _json(body: Any, status: int = 200) -> Response:
    response = Response(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")), status, mimetype=None
    )
    if _v2():
        response.headers["Content-Type"] = "application/json;charset=utf-8"
        response.headers["DataServiceVersion"] = "2.0"
    else:
        response.headers["Content-Type"] = JSON
        response.headers["OData-Version"] = "4.0"
    response.headers["Cache-Control"] = "no-store"
    return response


def _token() -> str:
    header = request.headers.get("Authorization", "")
    if len(header) > 400:
        return ""
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[2]
    return ""


def _open(form_id: str, what: str) -> tuple[Any, dict[str, Any], Any, exports.ExportOptions]:
    """The token's staff member and the form asked for, the read audited; refusals raised."""
    db = get_db()
    user = api_tokens.token_user(db, _token())
    if user is None:
        raise odata.ODataError(401, "unauthorized", "odata.error_token")
    with write_transaction(db):
        api_tokens.mark_used(db, user["token_id"])
        audit(
            db,
            "odata_read",
            user_id=user["id"],
            username=user["username"],
            target=f"form:{form_id[:MAX_FORM_ID]}",
            detail=json.dumps(
                {
                    "set": what[:100],
                    "query": request.query_string.decode("latin-1")[:500],
                    "token": user["token_id"],
                },
                ensure_ascii=False,
                sort_keys=True,
            ),
        )
    too_long = len(form_id) > MAX_FORM_ID
    form = None if too_long else exports.latest_form(db, user["commune_id"], form_id)
    if form is None:
        raise odata.ODataError(404, "not_found", "odata.error_no_form", form=form_id[:MAX_FORM_ID])
    options = exports.ExportOptions(
        commune_id=user["commune_id"],
        pseudonymised=user["role"] == "viewer",  # a viewer's feed is the pseudonymised export
        secret=current_app.config["SECRET_KEY"],
        zone=zone(),
        # A file answer is the address of its attachment, as ODK Central's feed leads to
        # .../submissions/ID/attachments/NAME, read with the same token. A pseudonymised
        # feed has no file columns (they are personal data), hence no address either.
        file_url=public_base_url()
        + url_for("odata.attachment", form_id=form_id, record_id="RECORD", sha256="SHA256")
        .replace("RECORD", "{record}")
        .replace("SHA256", "{sha256}"),
    )
    return db, user, form, options


def _base(form_id: str) -> str:
    return f"{public_base_url()}/odata/{form_id}.svc"


@bp.get("/<form_id>.svc")
@bp.get("/<form_id>.svc/")
def service(form_id: str) -> Response:
    _db, _user, form, options = _open(form_id, "")
    sets = odata.entity_sets(form, options.pseudonymised)
    if _v2():
        return _json({"d": {"EntitySets": [s.name for s in sets]}})
    return _json(odata.service_document(_base(form_id), sets))


@bp.get("/<form_id>.svc/$metadata")
def metadata(form_id: str) -> Response:
    _db, _user, form, options = _open(form_id, "$metadata")
    sets = odata.entity_sets(form, options.pseudonymised)
    body = odata.metadata_xml(sets, options.pseudonymised, v2=_v2())
    response = Response(body, mimetype="application/xml")
    response.headers["DataServiceVersion" if _v2() else "OData-Version"] = "2.0" if _v2() else "4.0"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<form_id>.svc/<path:name>")
def entities(form_id: str, name: str) -> Response:
    db, _user, form, options = _open(form_id, name)
    found = odata.find_set(odata.entity_sets(form, options.pseudonymised), name)
    query = odata.parse_query(request.args, found, v2=_v2())
    body = odata.page(db, form, found, options, query, _base(form_id))
    return _json(odata.as_v2(body, found, options.pseudonymised) if _v2() else body)


@bp.get("/<form_id>/submissions/<record_id>/attachments/<sha256>")
def attachment(form_id: str, record_id: str, sha256: str) -> Response:
    """A photo, recording, film or document a record's answer names, for the token of a staff
    member who may read records (never a viewer's: their feed names no file), audited as the
    staff site's ``/records/ID/files/SHA`` is."""
    db = get_db()
    user = api_tokens.token_user(db, _token())
    if user is None:
        raise odata.ODataError(401, "unauthorized", "odata.error_token")
    kind = None
    if user["role"] in PERSONAL_DATA and len(record_id) <= 100 and len(sha256) == 64:
        kind = named_file(db, user["commune_id"], record_id, sha256, form_id)
    path = blobs.blob_path(current_app.config["DATA_DIR"], sha256)
    if kind is None or not path.is_file():
        raise odata.ODataError(404, "not_found", "odata.error_no_attachment")
    with write_transaction(db):
        api_tokens.mark_used(db, user["token_id"])
        audit(
            db,
            "view_record",
            user_id=user["id"],
            username=user["username"],
            target=record_id,
            detail=f"file {sha256} (OData, token {user['token_id']})",
        )
    response = send_file(
        path, mimetype=blobs.served_type(path, kind), etag=sha256, conditional=True
    )
    response.headers["Cache-Control"] = "no-store"
    return response
