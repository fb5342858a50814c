"""The submission's own multipart reader (server/web/openrosa/multipart.py) reads what
werkzeug's form parser reads, or leaves the body to it: over bodies as clients write them, and
bodies bent in the ways the fast path must not guess at."""

from __future__ import annotations

import io
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from urllib3 import encode_multipart_formdata
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from server.web.openrosa.multipart import parts

NAMES = st.sampled_from(["xml_submission_file", "photo.jpg", "a", "ảnh", "x y"])
FILENAMES = st.one_of(
    st.sampled_from(["submission.xml", "1700000000.jpg", "ảnh.jpg", 'a"b.jpg', ""]),
    st.text(min_size=1, max_size=12),
)
CONTENT = st.one_of(
    st.binary(max_size=300),
    st.sampled_from([b"", b"--", b"\r\n", b"\r\n--", b"<data><a>1</a></data>\r\n"]),
)


def werkzeug_reads(content_type: str, body: bytes) -> list[tuple[str, str, bytes]]:
    """The files werkzeug's parser finds, in body order (a MultiDict groups them by name)."""
    environ = EnvironBuilder(
        method="POST", input_stream=io.BytesIO(body), content_type=content_type
    ).get_environ()
    environ["CONTENT_LENGTH"] = str(len(body))
    request = Request(environ)
    return [(n, f.filename or "", f.read()) for n, f in request.files.items(multi=True)]


def test_a_delimiter_after_a_bare_line_feed_is_left_to_werkzeug() -> None:
    # Found by the bent bodies below: werkzeug ends a part at "\n--BOUNDARY" too, so the fast
    # path read the next part's headers as this part's content and lost the XML.
    body, content_type = encode_multipart_formdata(
        [
            ("photo.jpg", ("1.jpg", b"\x00\r", "image/jpeg")),
            ("xml_submission_file", ("submission.xml", b"<data/>", "text/xml")),
        ]
    )
    second = body.index(b"\r\n--", body.index(b"\x00\r"))
    bent = body[:second] + b"\x00" + body[second + 1 :]
    assert [name for name, _, _ in werkzeug_reads(content_type, bent)] == [
        "photo.jpg",
        "xml_submission_file",
    ]
    assert agrees(content_type, bent) is None


def test_a_bare_carriage_return_or_line_feed_is_left_to_werkzeug() -> None:
    # Found by the bent bodies below: werkzeug ends a header line at a bare CR or LF, and a
    # part at a delimiter after a bare CR; the fast path read a part werkzeug drops (a name
    # beginning with a line feed) and took a delimiter's line as a file's content.
    body, content_type = encode_multipart_formdata(
        [(name, ("submission.xml", b"", "text/xml")) for name in ("xml_submission_file", "a")]
    )
    named = body.index(b'name="') + len(b'name="')
    second = body.index(b"\r\n--", body.index(b"\r\n\r\n")) + 2
    for bent in (
        body[:named] + b"\n" + body[named:],
        body[:named] + b"\r" + body[named:],
        body[:second] + b"\r" + body[second:],
    ):
        assert agrees(content_type, bent) is None


def grouped(found: list[tuple[str, str, bytes]]) -> list[tuple[str, str, bytes]]:
    order = list(dict.fromkeys(name for name, _, _ in found))
    return [part for name in order for part in found if part[0] == name]


def agrees(content_type: str, body: bytes) -> Any:
    fast = parts(content_type, body)
    if fast is not None:
        assert grouped(fast) == werkzeug_reads(content_type, body)
    return fast


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(NAMES, FILENAMES, CONTENT), min_size=1, max_size=4))
def test_what_clients_send_is_read_as_werkzeug_reads_it(
    fields: list[tuple[str, str, bytes]],
) -> None:
    body, content_type = encode_multipart_formdata(
        [
            (name, (filename, content, "application/octet-stream"))
            for name, filename, content in fields
        ]
    )
    agrees(content_type, body)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(NAMES, FILENAMES, CONTENT), min_size=1, max_size=3),
    st.integers(min_value=0, max_value=10_000),
    st.binary(max_size=6),
)
def test_a_bent_body_is_read_as_werkzeug_reads_it_or_left_to_it(
    fields: list[tuple[str, str, bytes]], where: int, inserted: bytes
) -> None:
    body, content_type = encode_multipart_formdata(
        [(name, (filename, content, "text/xml")) for name, filename, content in fields]
    )
    where %= len(body) + 1
    agrees(content_type, body[:where] + inserted + body[where:])


def test_a_plain_submission_is_read_without_werkzeug() -> None:
    body, content_type = encode_multipart_formdata(
        [
            ("xml_submission_file", ("submission.xml", b"<data/>", "text/xml")),
            ("photo", ("1.jpg", b"\xff\xd8--\r\n", "image/jpeg")),
        ]
    )
    assert agrees(content_type, body) == [
        ("xml_submission_file", "submission.xml", b"<data/>"),
        ("photo", "1.jpg", b"\xff\xd8--\r\n"),
    ]
    # werkzeug's own test client begins with an empty line.
    assert agrees(content_type, b"\r\n" + body) is not None


def test_what_the_fast_path_does_not_guess_at_is_left_to_werkzeug() -> None:
    body, content_type = encode_multipart_formdata(
        [("xml_submission_file", ("submission.xml", b"<data/>", "text/xml"))]
    )
    boundary = content_type.split("boundary=")[1].encode()
    field_only, field_type = encode_multipart_formdata([("xml_submission_file", "<data/>")])
    for bent_type, bent in [
        (content_type, b"preamble\r\n" + body),
        (content_type, body.replace(boundary + b"\r\n", boundary + b" \r\n", 1)),
        (content_type, body[:-4]),  # cut before the closing delimiter
        (field_type, field_only),  # a form field, not a file
        ("application/xml", body),
        (content_type, body.replace(b"submission.xml", "phiếu.xml".encode())),
        (content_type, body + b"x" * 1_000_001),
    ]:
        assert parts(bent_type, bent) is None
