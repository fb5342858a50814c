"""Small copies of photos for the staff site's gallery, made once with Pillow and kept under
``DATA_DIR/thumbs/ab/abcd…-320.jpg`` (a blob never changes, so neither does its thumbnail).

A photo is at most 5 MB on disk, but a small file can claim a huge picture (a decompression
bomb): its size is read from the header first and anything past MAX_PIXELS is refused before
a pixel is decoded. A file Pillow cannot read is no thumbnail, never an error page.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from server.domain.blobs import blob_path

SIZE = 320  # px, the longer side
MAX_PIXELS = 40_000_000  # a 48-megapixel phone's photo downscaled on the phone is far below
MAX_BYTES = 16 * 1024 * 1024
TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}


def thumb_path(data_dir: str | Path, sha256: str) -> Path:
    return Path(data_dir) / "thumbs" / sha256[:2] / f"{sha256}-{SIZE}.jpg"


def thumbnail(data_dir: str | Path, sha256: str) -> Path | None:
    """The photo's thumbnail (made now when it is not yet kept), or None when the blob is
    missing or not a picture Pillow reads within the bounds."""
    target = thumb_path(data_dir, sha256)
    if target.is_file():
        return target
    source = blob_path(data_dir, sha256)
    try:
        if source.stat().st_size > MAX_BYTES:
            return None
        with Image.open(source) as image:
            width, height = image.size
            if width * height > MAX_PIXELS or image.format not in TYPES:
                return None
            image.draft("RGB", (SIZE, SIZE))  # JPEG decodes at a fraction of its size
            small = ImageOps.exif_transpose(image) or image
            small = small.convert("RGB")
            small.thumbnail((SIZE, SIZE))
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temp = tempfile.mkstemp(dir=target.parent, prefix=".thumb-")
            try:
                with os.fdopen(handle, "wb") as out:
                    small.save(out, "JPEG", quality=78, optimize=True)
                # Two requests may make the same one: either file is whole and the same.
                os.replace(temp, target)
            finally:
                Path(temp).unlink(missing_ok=True)
    except (
        FileNotFoundError,
        UnidentifiedImageError,
        OSError,
        ValueError,
        Image.DecompressionBombError,
    ):
        return None
    return target


def photo_type(data_dir: str | Path, sha256: str) -> str | None:
    """The photo's MIME type as Pillow reads its header, or None when it is not a picture."""
    try:
        with Image.open(blob_path(data_dir, sha256)) as image:
            return TYPES.get(image.format or "")
    except (
        FileNotFoundError,
        UnidentifiedImageError,
        OSError,
        ValueError,
        Image.DecompressionBombError,
    ):
        return None
