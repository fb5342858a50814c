"""Media in a form: answers that are files (``image``, ``audio``, ``video``, ``file``) and the
pictures, sounds and films shown beside a label (XLSForm's ``image``, ``big-image``,
``audio`` and ``video`` columns, also written ``media::image``, each with ``::language``).

A label's file travels with the form as an attachment. The definition keeps it by name under
``media``, ``{name: {sha256, size, type}}``: the bytes are a content-addressed blob, so the
version names exactly the files it was published with, and the same workbook with another
picture is another version. A file a label names but the form was not given is

- **an error** when the workbook came with attachments (one of them is surely missing),
- **a warning** when it came with none (a form from elsewhere, published first and given its
  files later as a new version, as ODK Central lets a draft miss its media): the label is
  shown as text alone.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from typing import Any

# The label columns that name a file; ``big-image`` is the picture shown when the small one is
# tapped in ODK Collect; the collector shows the small one (both travel with the form).
LABEL_MEDIA = ("image", "big-image", "audio", "video")
# Answers that are files, each bounded: a photo is downscaled on the phone; a recording or a
# document is kept as the phone made it. ``pwa/js/blobs.js`` holds the same figures
# (``tests/unit/test_media.py`` holds them equal).
ANSWER_MAX_BYTES = {
    "image": 5_000_000,
    "audio": 10_000_000,
    "video": 20_000_000,
    "file": 10_000_000,
    # An audit log (audit.csv): the phone's stops at MAX_AUDIT_LOG_BYTES; ODK Collect, which
    # logs with no bound, may send a longer one, taken up to this size.
    "audit": 5_000_000,
}
# How far the phone logs one record (pwa/js/audit.js) before it stops with a last 'log full'
# row: events, and bytes of audit.csv.
MAX_AUDIT_EVENTS = 5_000
MAX_AUDIT_LOG_BYTES = 1_000_000
FILE_ANSWER_TYPES = frozenset(ANSWER_MAX_BYTES)
# What the phone's file picker offers for each (``accept``); ``file`` takes anything.
ANSWER_ACCEPT = {
    "image": "image/*",
    "audio": "audio/*",
    "video": "video/*",
    "file": "",
    "audit": "text/csv",
}
# A label's file is shown on every phone, once per form version: bounded per kind.
LABEL_MAX_BYTES = {"image": 2_000_000, "big-image": 5_000_000, "audio": 5_000_000,
                   "video": 20_000_000}  # fmt: skip
MAX_NAME = 255


@dataclass(frozen=True)
class MediaFile:
    """One attachment a label names, as the definition keeps it."""

    name: str
    sha256: str
    size: int
    type: str
    labels: int  # how many label cells name it


@dataclass(frozen=True)
class MediaProblem:
    """A label naming a file the form cannot show: the sheet, its row (counted from 2 as the
    definition's rows are), the column and the file."""

    sheet: str
    row: int
    column: str
    file: str
    en: str
    vi: str
    warning: bool


def media_column(column: str) -> tuple[str, str | None] | None:
    """``"image::English (en)"`` or ``"media::image::English (en)"`` → ``("image", "English
    (en)")``; ``("audio", None)`` for a column without a language; None for any other column."""
    parts = [part.strip() for part in str(column).split("::")]
    if parts and parts[0].lower() == "media":
        parts = parts[1:]
    if not parts or parts[0].lower() not in LABEL_MEDIA or len(parts) > 2:
        return None
    return parts[0].lower(), (parts[1] if len(parts) == 2 else None)


def references(rows: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
    """(row number from 2, column, file name) of every media label cell of a sheet's rows."""
    found = []
    for number, row in enumerate(rows, start=2):
        for column, value in row.items():
            name = "" if value is None else str(value).strip()
            if name and media_column(str(column)):
                found.append((number, str(column), name))
    return found


def content_type(name: str) -> str:
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or "application/octet-stream"


def attach_media(
    sheets: dict[str, list[dict[str, Any]]], attachments: dict[str, bytes] | None
) -> tuple[dict[str, dict[str, Any]], list[MediaFile], list[MediaProblem]]:
    """The definition's ``media`` map, each file given, and the problems (errors and warnings)
    of the labels of ``sheets`` (``survey``, ``choices``) against the ``attachments``."""
    attachments = attachments or {}
    media: dict[str, dict[str, Any]] = {}
    counts: dict[str, int] = {}
    problems: list[MediaProblem] = []
    for sheet, rows in sheets.items():
        for number, column, name in references(rows):
            kind, _ = media_column(column) or ("image", None)
            body = attachments.get(name)
            if body is None:
                problems.append(_missing(sheet, number, column, name, warning=not attachments))
                continue
            if len(body) > LABEL_MAX_BYTES[kind]:
                limit = LABEL_MAX_BYTES[kind] // 1_000_000
                problems.append(
                    MediaProblem(
                        sheet, number, column, name,
                        f"the file '{name}' is larger than {limit} MB, the most a {kind} "
                        "beside a label may be",
                        f"tệp '{name}' lớn hơn {limit} MB, mức tối đa cho {kind} bên cạnh nhãn",
                        warning=False,
                    )
                )  # fmt: skip
                continue
            counts[name] = counts.get(name, 0) + 1
            if name not in media:
                media[name] = {
                    "sha256": hashlib.sha256(body).hexdigest(),
                    "size": len(body),
                    "type": content_type(name),
                }
    files = [
        MediaFile(name, entry["sha256"], entry["size"], entry["type"], counts[name])
        for name, entry in sorted(media.items())
    ]
    return media, files, problems


def _missing(sheet: str, row: int, column: str, name: str, *, warning: bool) -> MediaProblem:
    if warning:
        return MediaProblem(
            sheet, row, column, name,
            f"the file '{name}' was not given with the form: the label is shown without it "
            "until a version with the file is published",
            f"chưa tải tệp '{name}' lên cùng biểu mẫu: nhãn được hiển thị không có tệp này "
            "cho đến khi phát hành phiên bản có tệp",
            warning=True,
        )  # fmt: skip
    return MediaProblem(
        sheet, row, column, name,
        f"attach the file '{name}' with the form",
        f"hãy tải tệp '{name}' lên cùng biểu mẫu",
        warning=False,
    )  # fmt: skip


def media_map_problems(media: Any) -> str | None:
    """Why a definition's ``media`` map cannot be what ``attach_media`` makes; None when it is."""
    if media is None:
        return None
    if not isinstance(media, dict) or len(media) > 1000:
        return "media must map file names to {sha256, size, type}"
    for name, entry in media.items():
        if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME or "/" in name:
            return f"media: '{str(name)[:40]}' is not a file name"
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("sha256"), str)
            or len(entry["sha256"]) != 64
            or any(c not in "0123456789abcdef" for c in entry["sha256"])
            or not isinstance(entry.get("size"), int)
            or isinstance(entry.get("size"), bool)
            or not 0 <= entry["size"] <= max(LABEL_MAX_BYTES.values())
            or not isinstance(entry.get("type"), str)
            or len(entry["type"]) > 100
        ):
            return f"media: '{name}' needs its sha256, size and type"
    return None
