"""The gallery's thumbnails: made once, 320 px at most, and none for what is not a picture
or would decode to more pixels than a phone's photo (a small file claiming a huge image)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from PIL import Image

from server.domain.blobs import blob_path
from server.domain.thumbnails import photo_type, thumb_path, thumbnail


def stored(data_dir: Path, content: bytes) -> str:
    sha = hashlib.sha256(content).hexdigest()
    path = blob_path(data_dir, sha)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return sha


def picture(mode: str, size: tuple[int, int], kind: str) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size).save(out, kind)
    return out.getvalue()


def test_a_photo_gets_one_kept_thumbnail_of_320_px(tmp_path):
    sha = stored(tmp_path, picture("RGB", (1600, 1200), "JPEG"))
    made = thumbnail(tmp_path, sha)
    assert made == thumb_path(tmp_path, sha)
    assert Image.open(made).size == (320, 240)
    kept = made.stat().st_mtime_ns
    assert thumbnail(tmp_path, sha) == made and made.stat().st_mtime_ns == kept
    assert photo_type(tmp_path, sha) == "image/jpeg"


def test_a_decompression_bomb_and_bytes_that_are_no_picture_get_none(tmp_path):
    # 64 megapixels of one colour pack into a few kilobytes of PNG.
    bomb = picture("1", (8000, 8000), "PNG")
    assert len(bomb) < 100_000
    for content in (bomb, b"\xff\xd8\xff\xe0 not really a JPEG"):
        sha = stored(tmp_path, content)
        assert thumbnail(tmp_path, sha) is None
        assert not thumb_path(tmp_path, sha).exists()
    assert thumbnail(tmp_path, "0" * 64) is None and photo_type(tmp_path, "0" * 64) is None
