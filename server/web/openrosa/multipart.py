"""A submission POST's parts, read without werkzeug's general form parser when the body is
small and written the plain way HTTP clients write it (ODK Collect's OkHttp, requests, werkzeug):
that parser compiles two regular expressions for each request's boundary, which was a sixth of
a one-record submission's work. Anything else -- a preamble (but one empty line), padding after
a boundary, a part without a file name, headers that are not ASCII, a large body -- is left to
werkzeug (``parts`` gives None), so what is read is always what werkzeug would read
(``tests/unit/test_openrosa_multipart.py`` holds the two equal)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from werkzeug.http import parse_options_header

# Bodies past this are left to werkzeug, which keeps large files on disk, not in memory.
MAX_BODY = 1_000_000
# Part headers up to this long are parsed once and kept (a few hundred at most).
KEPT_HEADER = 300
_CRLF = b"\r\n"


def parts(content_type: str | None, body: bytes) -> list[tuple[str, str, bytes]] | None:
    """Each part's (field name, file name, content), in order; None: ask werkzeug."""
    if not content_type or len(body) > MAX_BODY:
        return None
    mimetype, options = parse_options_header(content_type)
    boundary = options.get("boundary")
    if mimetype != "multipart/form-data" or not boundary or len(boundary) > 70:
        return None
    if not boundary.isascii():
        return None
    delimiter = b"--" + boundary.encode("ascii")
    if body.startswith(_CRLF + delimiter + _CRLF):
        body = body[2:]  # an empty preamble, as werkzeug's own client writes
    if not body.startswith(delimiter + _CRLF):
        return None
    if body.count(b"\n" + delimiter) != body.count(_CRLF + delimiter) or b"\r" + delimiter in body:
        # werkzeug also takes a delimiter after a bare line feed or carriage return: such a
        # body is its to read.
        return None
    chunks = body[len(delimiter) :].split(_CRLF + delimiter)
    if chunks[-1] not in (b"--", b"--" + _CRLF):
        return None
    found = []
    for chunk in chunks[:-1]:
        if not chunk.startswith(_CRLF):
            return None
        head, blank, content = chunk[2:].partition(_CRLF + _CRLF)
        if not blank or not head.isascii():
            return None
        if b"\r" in head.replace(_CRLF, b"") or b"\n" in head.replace(_CRLF, b""):
            # werkzeug ends a header line at a bare CR or LF too: such a head is its to read.
            return None
        disposition = None
        for line in head.split(_CRLF):
            key, colon, value = line.partition(b":")
            if not colon or key != key.strip() or not key:
                return None
            if key.lower() == b"content-disposition":
                if disposition is not None:
                    return None
                disposition = (
                    _disposition(value)
                    if len(value) <= KEPT_HEADER
                    else parse_options_header(value.decode("ascii"))
                )
        if disposition is None or disposition[0] != "form-data":
            return None
        name, filename = disposition[1].get("name"), disposition[1].get("filename")
        if not name or not filename:
            return None
        found.append((name, filename, content))
    return found


@lru_cache(maxsize=256)
def _disposition(value: bytes) -> tuple[str, dict[str, Any]]:
    # A phone writes the same few part headers in every POST (``form-data;
    # name="xml_submission_file"; filename="submission.xml"``): each is parsed once. Callers
    # only read the options.
    return parse_options_header(value.decode("ascii"))
