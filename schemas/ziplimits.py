"""How much an XLSX (a zip) may unpack to, checked before openpyxl or pyxform opens it.

An XLSX is a zip of XML parts; a few megabytes can unpack to a gigabyte of sheet XML (a zip
bomb), and openpyxl and pyxform read whatever they are given. ``check_zip`` reads the zip's
directory only -- nothing is inflated -- and refuses a file that would unpack too far. The
sizes it checks are the ones the directory declares, and they hold: Python's ``zipfile``, which
openpyxl (and pyxform through it) reads with, never inflates a member past its declared size.

The limits live here, in one place, one set per kind of upload.
"""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

MB = 1024 * 1024


@dataclass(frozen=True)
class ZipLimits:
    total: int  # bytes, every member unpacked; also the most the file itself may weigh
    member: int  # bytes, one member unpacked
    members: int  # how many members
    ratio: int  # unpacked / packed, for a member big enough to matter (RATIO_FLOOR)


# A household register of 5,000 rows is about 1 MB of sheet XML; a real XLSForm, well under 1.
REGISTER = ZipLimits(total=50 * MB, member=25 * MB, members=500, ratio=200)
FORM = ZipLimits(total=20 * MB, member=10 * MB, members=500, ratio=200)
# Small parts compress as they like (an empty styles part is mostly repeats); the ratio only
# speaks for a member over this size.
RATIO_FLOOR = 2 * MB


class ZipRefused(ValueError):
    """Why a zip is refused: ``reason`` is ``too_big``, ``too_many_parts`` or ``packed``;
    ``limit`` is the limit it broke (megabytes for ``too_big``)."""

    def __init__(self, reason: str, limit: int) -> None:
        super().__init__(f"{reason} (limit {limit})")
        self.reason = reason
        self.limit = limit


def check_zip(source: bytes | str | Path, limits: ZipLimits) -> None:
    """Refuse (``ZipRefused``) a zip, its bytes or its path, that would unpack past ``limits``;
    a file that is not a readable zip is left to its reader to refuse in its own words."""
    size = len(source) if isinstance(source, bytes) else os.path.getsize(source)
    if size > limits.total:
        raise ZipRefused("too_big", limits.total // MB)
    try:
        with zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source) as book:
            members = book.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return
    if len(members) > limits.members:
        raise ZipRefused("too_many_parts", limits.members)
    if any(member.file_size > limits.member for member in members):
        raise ZipRefused("too_big", limits.member // MB)
    if sum(member.file_size for member in members) > limits.total:
        raise ZipRefused("too_big", limits.total // MB)
    if any(
        member.file_size > RATIO_FLOOR
        and member.file_size > limits.ratio * max(member.compress_size, 1)
        for member in members
    ):
        raise ZipRefused("packed", limits.ratio)
