"""The answers of ODK's line and shape questions (``geotrace``, ``geoshape``) and their points.

A point is ODK's geopoint text, ``"lat lon [alt [acc]]"``; a ``geotrace`` is at least two of them
separated by ``;`` (a path walked or drawn), a ``geoshape`` at least four whose last repeats the
first (a closed ring: a field, a plot). ``distance()`` and ``area()`` read the same text
(``schemas/expr_library.py``). A record travels whole in one push and one page, so an answer is
bounded: ``MAX_GEO_POINTS`` points, ``MAX_GEO_LENGTH`` characters, each number plain decimal
text, latitude in -90..90, longitude in -180..180, altitude within ``MAX_ALTITUDE`` metres,
accuracy from 0 to ``MAX_ACCURACY`` metres. ``pwa/js/geo.js`` is the phone's twin;
``schemas/geo_cases.json`` holds the two equal.
"""

from __future__ import annotations

import math
import re
from typing import Any

# A household's plot or a walk round a village is a few dozen points; a thousand still draws
# and sends at once on a cheap phone, and is about 40 KB of answer.
MAX_GEO_POINTS = 1_000
# A thousand points of four numbers with every digit a phone gives, and room to spare.
MAX_GEO_LENGTH = 100_000
MAX_ALTITUDE = 100_000.0  # metres, above or below the sea: no phone is further
MAX_ACCURACY = 1_000_000.0  # metres: a fix worse than this is no place at all
GEO_TYPES = frozenset({"geotrace", "geoshape"})
# The least points of each: a line has two ends; a ring three corners and the first again.
LEAST_POINTS = {"geotrace": 2, "geoshape": 4}

# Plain decimal numbers only: Python's float() and JavaScript's Number() read other texts
# differently ("1_0", "0x10", "Infinity"), and the two checkers must agree on every answer.
_NUMBER = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?"
# XML's own white space: Python's and JavaScript's ideas of white space differ.
_POINT = re.compile(
    rf"^[ \t\r\n]*({_NUMBER})[ \t\r\n]+({_NUMBER})"
    rf"(?:[ \t\r\n]+({_NUMBER})(?:[ \t\r\n]+({_NUMBER}))?)?[ \t\r\n]*$"
)

Point = tuple[float, float, float | None, float | None]


def read_point(text: str) -> Point | None:
    """``(lat, lon, alt, acc)`` of one point's text (alt and acc None when left out), or None
    when it is not one within the bounds."""
    found = _POINT.match(text)
    if found is None:
        return None
    lat, lon = float(found[1]), float(found[2])
    alt = None if found[3] is None else float(found[3])
    acc = None if found[4] is None else float(found[4])
    if not all(math.isfinite(n) for n in (lat, lon, alt or 0.0, acc or 0.0)):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    if alt is not None and abs(alt) > MAX_ALTITUDE:
        return None
    if acc is not None and not 0 <= acc <= MAX_ACCURACY:
        return None
    return lat, lon, alt, acc


def read_points(value: Any) -> list[Point] | None:
    """Every point of a ``;``-separated answer, or None when one is not a point or there are
    more than ``MAX_GEO_POINTS`` (the text is bounded before it is split)."""
    if not isinstance(value, str) or len(value) > MAX_GEO_LENGTH:
        return None
    texts = value.split(";")
    if len(texts) > MAX_GEO_POINTS:
        return None
    points = [read_point(text) for text in texts]
    return None if any(p is None for p in points) else points  # type: ignore[return-value]


def geo_problem(kind: str, value: Any) -> str | None:
    """What is wrong with a ``geotrace`` or ``geoshape`` answer: ``not_geotrace`` /
    ``not_geoshape`` (not points, or too few), ``too_many_points``, ``shape_not_closed``
    (a ring whose last point is not its first); None when it is good."""
    short = isinstance(value, str) and len(value) <= MAX_GEO_LENGTH
    if short and value.count(";") >= MAX_GEO_POINTS:
        return "too_many_points"
    points = read_points(value)
    if points is None or len(points) < LEAST_POINTS[kind]:
        return f"not_{kind}"
    if kind == "geoshape" and points[0][:2] != points[-1][:2]:
        return "shape_not_closed"
    return None


def closed(value: str) -> str:
    """A shape's text with its first point added at the end when the last is not it: what a
    person typed or an older tool sent as a ring left open (one more point, still bounded by
    the check)."""
    texts = [t.strip(" \t\r\n") for t in value.split(";") if t.strip(" \t\r\n")]
    first, last = (read_point(texts[0]), read_point(texts[-1])) if texts else (None, None)
    if len(texts) >= 3 and first and last and first[:2] != last[:2]:
        texts.append(texts[0])
    return ";".join(texts)


def tidy(kind: str, value: str) -> str:
    """A line's or shape's text as the phone writes it: points separated by ``;`` alone, no
    empty point (ODK Collect ends some lines with ``;``), a shape closed."""
    if kind == "geoshape":
        return closed(value)
    return ";".join(t.strip(" \t\r\n") for t in value.split(";") if t.strip(" \t\r\n"))
