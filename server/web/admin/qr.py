"""QR codes for enrollment cards and household labels: PNG for the screen, SVG inline in print.

``qrcode`` makes the matrix; the SVG is written here with one path per run of dark modules,
so that a page of thirty labels stays small enough to print from a commune office PC.
"""

from __future__ import annotations

import io
from html import escape

import qrcode
from qrcode.constants import ERROR_CORRECT_M


def _matrix(data: str, border: int) -> list[list[bool]]:
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=border)
    qr.add_data(data)
    qr.make(fit=True)
    return qr.get_matrix()


def svg(data: str, border: int = 2, label: str = "") -> str:
    """An SVG drawing of the code, sized by its container (viewBox in modules); ``label`` is
    what a screen reader says for it on a page (the drawing itself says nothing)."""
    matrix = _matrix(data, border)
    size = len(matrix)
    runs = []
    for y, row in enumerate(matrix):
        x = 0
        while x < size:
            if not row[x]:
                x += 1
                continue
            start = x
            while x < size and row[x]:
                x += 1
            runs.append(f"M{start} {y}h{x - start}v1h{start - x}z")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}"'
        f' shape-rendering="crispEdges" role="img"'
        + (f' aria-label="{escape(label)}"' if label else "")
        + f'><rect width="{size}" height="{size}"'
        f' fill="#fff"/><path fill="#000" d="{"".join(runs)}"/></svg>'
    )


def png(data: str, box_size: int = 8, border: int = 4) -> bytes:
    """A PNG of the code with the standard four-module quiet zone, for cameras at arm's length."""
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=box_size, border=border)
    qr.add_data(data)
    qr.make(fit=True)
    out = io.BytesIO()
    qr.make_image().save(out)
    return out.getvalue()
