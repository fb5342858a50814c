"""The OpenRosa API as ODK Collect calls it, under the phone's server address
``/key/<token>``: ``formList``, each form's XForm and manifest, and ``submission`` (HEAD, then
multipart POSTs). Every answer, an error too, is XML with the OpenRosa headers; what a person
reads is an ``<OpenRosaResponse>`` message, Vietnamese then English."""

from __future__ import annotations

import io
import time
from email.utils import formatdate
from functools import lru_cache
from typing import IO, Any
from xml.sax.saxutils import escape

from flask import Response, current_app, request, send_file, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from schemas.messages import message
from server.domain.devices import device_for_token
from server.domain.openrosa import service
from server.domain.openrosa.instance import MAX_XML_BYTES
from server.web.admission import busy_answer
from server.web.db import get_db
from server.web.openrosa import bp, multipart
from server.web.staff import public_base_url

XFORMS_LIST = "http://openrosa.org/xforms/xformsList"
MANIFEST = "http://openrosa.org/xforms/xformsManifest"
RESPONSE = "http://openrosa.org/http/response"
# Lines of field errors in one message: a phone's dialog, not a report.
MAX_ERROR_LINES = 12


class _Refused(HTTPException):
    def __init__(self, status: int, key: str, **params: Any) -> None:
        super().__init__()
        self.code = status
        self.key = key
        self.params = params


def _phone(token: str) -> dict[str, Any]:
    # A token is 43 URL-safe characters; anything far longer is no token of ours.
    device = device_for_token(get_db(), token) if len(token) <= 100 else None
    # Only a phone made for Collect: a collector's token was never meant to sit in addresses
    # (and in the logs of the proxies they pass).
    if device is None or device["client"] != "collect":
        raise _Refused(403, "bad_token")
    return {**device, "kind": "device"}


def _xml(body: str, status: int = 200) -> Response:
    return Response(
        '<?xml version="1.0" encoding="UTF-8"?>\n' + body,
        status=status,
        content_type="text/xml; charset=utf-8",
    )


def _words(key: str, **params: Any) -> str:
    said = message(f"openrosa.{key}", **params)
    return f"{said['vi']} / {said['en']}"


def _message(
    status: int, key: str, params: dict[str, Any], errors: dict[str, Any] | None = None
) -> Response:
    if not errors and all(isinstance(v, int | str) for v in params.values()):
        return _xml(_plain_body(status, key, tuple(sorted(params.items()))), status)
    return _xml(_body(status, key, params, errors), status)


@lru_cache(maxsize=256)
def _plain_body(status: int, key: str, params: tuple[tuple[str, int | str], ...]) -> str:
    # Most answers are one of a few (received, duplicate, partial with a count): each is
    # worded once, not for every submission.
    return _body(status, key, dict(params), None)


def _body(status: int, key: str, params: dict[str, Any], errors: dict[str, Any] | None) -> str:
    lines = [_words(key, **params)]
    for path, problems in list((errors or {}).items())[:MAX_ERROR_LINES]:
        for problem in problems[:1]:
            lines.append(f"{path}: {problem.get('vi', '')} / {problem.get('en', '')}")
    nature = "submit_success" if status < 300 else "error"
    return (
        f'<OpenRosaResponse xmlns="{RESPONSE}" items="0">'
        f'<message nature="{nature}">{escape(chr(10).join(lines))}</message>'
        "</OpenRosaResponse>"
    )


# Flask looks for a handler by status code before it looks by class, the app's too: the staff
# site's error pages (server/web/site.py) would answer Collect in HTML. Each status the staff
# site has a page for is claimed here as well.
@bp.errorhandler(HTTPException)
@bp.errorhandler(400)
@bp.errorhandler(403)
@bp.errorhandler(404)
@bp.errorhandler(405)
@bp.errorhandler(413)
def _refused(error: HTTPException) -> Response:
    status = error.code or 500
    if isinstance(error, _Refused):
        return _message(status, error.key, error.params)
    key = {413: "too_large", 404: "not_found", 405: "not_found"}.get(status, "bad_request")
    return _message(status, key, {"max": service.ACCEPT_CONTENT_LENGTH})


@busy_answer(bp.name)
def _busy(seconds: int) -> Response:
    # Collect does not read Retry-After: it shows the message and keeps the form, marked as
    # failed, for the volunteer (or its automatic sending) to send again.
    return _message(503, "server_busy", {"seconds": seconds})


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers["X-OpenRosa-Version"] = "1.0"
    response.headers["X-OpenRosa-Accept-Content-Length"] = str(service.ACCEPT_CONTENT_LENGTH)
    response.headers["Date"] = _http_date(int(time.time()))
    return response


@lru_cache(maxsize=2)
def _http_date(second: int) -> str:
    return formatdate(second, usegmt=True)


def _url(endpoint: str, **values: Any) -> str:
    return public_base_url() + url_for(endpoint, **values)


@bp.get("/key/<token>/formList")
def form_list(token: str) -> Response:
    phone = _phone(token)
    wanted = request.args.get("formID")
    items = []
    for form in service.form_list(get_db(), phone["commune_id"]):
        if wanted and form["form_id"] != wanted:
            continue
        where = {"token": token, "form_id": form["form_id"], "version": form["version"]}
        items.append(
            "<xform>"
            f"<formID>{escape(form['form_id'])}</formID>"
            f"<name>{escape(form['title'])}</name>"
            f"<version>{escape(form['version'])}</version>"
            f"<hash>{form['hash']}</hash>"
            f"<downloadUrl>{escape(_url('openrosa.xform', **where))}</downloadUrl>"
            f"<manifestUrl>{escape(_url('openrosa.manifest', **where))}</manifestUrl>"
            "</xform>"
        )
    return _xml(f'<xforms xmlns="{XFORMS_LIST}">{"".join(items)}</xforms>')


@bp.get("/key/<token>/forms/<form_id>/versions/<version>/form.xml")
def xform(token: str, form_id: str, version: str) -> Response:
    phone = _phone(token)
    body = service.xform(get_db(), phone["commune_id"], form_id, version)
    if body is None:
        raise _Refused(404, "unknown_form", form=form_id, version=version)
    # pyxform's text starts with its own XML declaration.
    return Response(body, content_type="text/xml; charset=utf-8")


@bp.get("/key/<token>/forms/<form_id>/versions/<version>/manifest")
def manifest(token: str, form_id: str, version: str) -> Response:
    phone = _phone(token)
    listed = service.manifest(
        get_db(), phone["commune_id"], form_id, version, current_app.config["DATA_DIR"]
    )
    if listed is None:
        raise _Refused(404, "unknown_form", form=form_id, version=version)
    files = "".join(
        "<mediaFile>"
        f"<filename>{escape(f['name'])}</filename>"
        f"<hash>{f['md5']}</hash>"
        "<downloadUrl>"
        + escape(
            _url("openrosa.media", token=token, form_id=form_id, version=version, name=f["name"])
        )
        + "</downloadUrl></mediaFile>"
        for f in listed
    )
    return _xml(f'<manifest xmlns="{MANIFEST}">{files}</manifest>')


@bp.get("/key/<token>/forms/<form_id>/versions/<version>/media/<name>")
def media(token: str, form_id: str, version: str, name: str) -> Response:
    phone = _phone(token)
    listed = service.manifest(
        get_db(), phone["commune_id"], form_id, version, current_app.config["DATA_DIR"]
    )
    found = next((f for f in listed or [] if f["name"] == name), None)
    if found is None:
        raise _Refused(404, "unknown_form", form=form_id, version=version)
    return send_file(found["path"], mimetype=found["type"], etag=found["sha256"], conditional=True)


@bp.route("/key/<token>/submission", methods=["HEAD", "POST"])
def submission(token: str) -> Response:
    phone = _phone(token)
    if request.method == "HEAD":
        # Collect asks first, and reads the size it may send in one POST from the headers.
        return Response(status=204)
    # A POST holds the largest file a form may take; werkzeug keeps each file past 500 KB in
    # a temporary file, so no request is held in memory whole.
    request.max_content_length = service.MAX_REQUEST_BYTES
    xml, files = _submitted()
    outcome = service.submit(get_db(), phone, xml, files, current_app.config["DATA_DIR"])
    return _message(outcome.status, outcome.key, outcome.params, outcome.errors)


def _submitted() -> tuple[bytes, list[tuple[str, IO[bytes]]]]:
    """The submission file and the other files of a POST, in order: the XML read up to one
    byte past its bound, each file as a stream the domain reads a chunk at a time."""
    length = request.content_length
    # A body of no announced length (chunked) is streamed through werkzeug's parser too.
    small = length is not None and length <= multipart.MAX_BODY
    plain = multipart.parts(request.content_type, request.get_data()) if small else None
    read: list[tuple[str, str, IO[bytes]]]
    if plain is None:
        read = [
            (name, part.filename or name, part.stream)
            for name, part in request.files.items(multi=True)
        ]
    else:
        # In werkzeug's order: by field name, in the order each name first came.
        grouped = MultiDict([(name, (filename, content)) for name, filename, content in plain])
        read = [(name, filename, io.BytesIO(content)) for name, (filename, content) in
                grouped.items(multi=True)]  # fmt: skip
    xml: bytes | None = None
    files: list[tuple[str, IO[bytes]]] = []
    for name, filename, stream in read:
        if name == "xml_submission_file" and xml is None:
            xml = stream.read(MAX_XML_BYTES + 1)
            continue
        if len(files) > service.MAX_FILES:
            raise _Refused(413, "too_many_files", max=service.MAX_FILES)
        files.append((filename, stream))
    if xml is None:
        raise _Refused(400, "no_xml")
    return xml, files
