"""The ODK functions beyond XPath 1.0's core: strings, math, dates, geography, digests, random.

Each is a plain function of already evaluated values; ``expressions`` wires them to the grammar.
pwa/js/expr.js holds their twins, and schemas/expression_cases.json holds both to one meaning.
Decisions where ODK's evaluators leave room or differ (JavaScript does the same):

* ``substring(s, start[, length])`` is XPath 1.0's: 1-based, positions rounded half up, NaN
  gives ``''``. ``substr`` (0-based, slice-like) stays as it was.
* ``translate``, ``normalize-space``, ``substring-*`` count code points; whitespace is XML's
  (space, tab, CR, LF).
* Math follows ECMAScript's Math (``pow(-8, 1 div 3)`` is NaN, ``log(0)`` is -Infinity, a
  domain error is NaN). Transcendental functions come from each language's own library and may
  differ in the last bit between the engines; ``exp10(x)`` is ``pow(10, x)``. An integer power
  of an integer is worked out exactly and rounded once (``pow(10, 34)`` is 1e34 on both, where
  V8's Math.pow is one bit off), as far as a double reaches.
* ``area``/``distance`` read geopoints ``"lat lon [alt [acc]]"``, separated by ``;`` in one answer
  or one per node of a node-set; an invalid point makes the result NaN. Area is the spherical
  polygon formula and distance the spherical law of cosines, on a sphere of 6,378,100 m, rounded
  to the centimetre, as Enketo computes them. ``geofence(point, shape)`` is true when the point is
  inside the polygon (even-odd rule on latitude/longitude), false for anything invalid.
* ``checklist``/``weighted-checklist`` count a response that is the boolean true or the string
  ``'yes'`` (ODK's documentation); -1 for min or max means no bound.
* ``digest(data, algorithm[, 'base64'|'hex'])`` hashes the UTF-8 bytes with MD5, SHA-1, SHA-256,
  SHA-384 or SHA-512 (names in any case); an unknown algorithm or encoding gives ``''``.
* ``base64-decode(s)`` decodes standard base64 (padding optional) as UTF-8, an invalid byte
  becoming U+FFFD; text that is not base64 gives ``''``.
* ``randomize(nodes, seed)`` is the inside-out Fisher-Yates shuffle driven by the Park-Miller
  "minimal standard" generator (multiplier 16807, modulus 2^31 - 1), seeded with the integer part
  of seed as Enketo seeds it, so a seed gives the same order in both engines and in Enketo.
  Without a seed, and for ``random()`` and ``uuid()``, the order is the platform's randomness.
* ``decimal-time(t)``: a time ``HH:MM[:SS[.fff]]`` is its fraction of a day; one with an offset
  (``Z``, ``+07:00``) is first moved to local time on today's date; a datetime gives its local
  time of day; anything else is NaN.
* ``date(x)`` is the local date ``YYYY-MM-DD`` of x (a date string, a datetime string, or a
  number of days since 1970-01-01T00:00Z); ``date-time(x)`` the local datetime with its offset.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import random as _random
import re
import secrets
import uuid as _uuid
from collections.abc import Callable, Iterator, Sequence

from schemas.expr_values import (
    INF,
    NAN,
    Value,
    date_fields,
    days_from_civil,
    local_iso,
    local_offset,
    parse_datetime,
    to_boolean,
    to_number,
    to_string,
)

_XML_SPACE = " \t\r\n"
_SPACES = re.compile(r"[ \t\r\n]+")
_TOKENS = re.compile(r"[^ \t\r\n]+")
EARTH_RADIUS = 6378100.0
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_TIME = re.compile(r"([0-9]{2}):([0-9]{2})(?::([0-9]{2})(\.[0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?")
_DIGESTS = {"md5": "md5", "sha-1": "sha1", "sha-256": "sha256", "sha-384": "sha384"}
_DIGESTS["sha-512"] = "sha512"
_TOKEN_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
MAX_UUID_LENGTH = 1024
_PM_MODULUS = 2147483647
_PM_MULTIPLIER = 16807


# -- strings -----------------------------------------------------------------------------------
def _xpath_round(x: float) -> float:
    return math.floor(x + 0.5) if math.isfinite(x) else x


def substring(s: str, start: float, length: float | None) -> str:
    first = _xpath_round(start)
    end = INF if length is None else first + _xpath_round(length)
    return "".join(ch for p, ch in enumerate(s, 1) if first <= p < end)


def substring_before(s: str, t: str) -> str:
    at = s.find(t)
    return s[:at] if at > 0 else ""


def substring_after(s: str, t: str) -> str:
    at = s.find(t)
    return s[at + len(t) :] if at >= 0 else ""


def translate(s: str, source: str, target: str) -> str:
    table: dict[str, str | None] = {}
    for i, ch in enumerate(source):
        table.setdefault(ch, target[i] if i < len(target) else None)
    return "".join(table.get(ch, ch) or "" for ch in s)


def normalize_space(s: str) -> str:
    return _SPACES.sub(" ", s.strip(_XML_SPACE))


def boolean_from_string(value: Value) -> bool:
    return to_string(value) in ("true", "1")


def selected_at(value: Value, index: Value) -> str:
    tokens = _TOKENS.findall(to_string(value))
    n = to_number(index)
    if not math.isfinite(n):
        return ""
    i = math.trunc(n)
    return tokens[i] if 0 <= i < len(tokens) else ""


# -- math (ECMAScript's Math where Python's math raises) ---------------------------------------
def _odd_integer(x: float) -> bool:
    return math.isfinite(x) and x.is_integer() and math.fmod(x, 2) != 0


# An integer power of an integer worked out exactly, then rounded once, when it fits in a
# double's range: the C library's pow and V8's differ in the last bit for some (10 ** 34), and a
# form's pow(10, n) must be the same number on the phone and on the server (pwa/js/expr.js:
# exactPow holds the same rule).
_EXACT_POW_BITS = 1100


def _exact_pow(a: float, b: float) -> float | None:
    if not (a.is_integer() and b.is_integer() and b != 0 and a != 0):
        return None
    if a == 10 and -400 < b < 400:
        return exp10(b)
    base, exponent = abs(int(a)), abs(int(b))
    if exponent * base.bit_length() > _EXACT_POW_BITS:
        return None
    power = base**exponent
    if b < 0:
        if power > 2**53:  # 1 / power is rounded once only while power is exact as a double
            return None
        value = 1.0 / float(power)
    else:
        value = float(power)
    return -value if a < 0 and exponent % 2 else value


def exp10(x: float) -> float:
    """10 to the x; an integer x read as the decimal 1eX, rounded once as both languages do."""
    if x == x and x.is_integer() and -400 < x < 400:
        return float(f"1e{int(x)}")
    return js_pow(10.0, x)


def js_pow(a: float, b: float) -> float:
    exact = _exact_pow(a, b) if math.isfinite(a) and math.isfinite(b) else None
    if exact is not None:
        return exact
    if b != b:
        return NAN
    if b == 0:
        return 1.0
    if a != a or (abs(a) == 1 and math.isinf(b)):
        return NAN
    try:
        return math.pow(a, b)
    except ZeroDivisionError:
        return -INF if math.copysign(1.0, a) < 0 and _odd_integer(b) else INF
    except ValueError:
        if a == 0:
            return -INF if math.copysign(1.0, a) < 0 and _odd_integer(b) else INF
        return NAN
    except OverflowError:
        return -INF if a < 0 and _odd_integer(b) else INF


def _log(f: Callable[[float], float]) -> Callable[[float], float]:
    def apply(x: float) -> float:
        if x != x or x < 0:
            return NAN
        if x == 0:
            return -INF
        return f(x)

    return apply


def _domain(f: Callable[[float], float]) -> Callable[[float], float]:
    def apply(x: float) -> float:
        try:
            return f(x)
        except ValueError:
            return NAN
        except OverflowError:
            return INF

    return apply


MATH: dict[str, Callable[[float], float]] = {
    "sqrt": _domain(math.sqrt),
    "exp": _domain(math.exp),
    "exp10": exp10,
    "log": _log(math.log),
    "log10": _log(math.log10),
    "sin": _domain(math.sin),
    "cos": _domain(math.cos),
    "tan": _domain(math.tan),
    "asin": _domain(math.asin),
    "acos": _domain(math.acos),
    "atan": math.atan,
}


# -- geography ---------------------------------------------------------------------------------
def _points(value: Value) -> list[tuple[float, float]] | None:
    if type(value) is list:
        items = [to_string(v) for v in value]  # type: ignore[union-attr]
        texts = items[0].split(";") if len(items) == 1 else items
    else:
        texts = to_string(value).split(";")
    points = []
    for text in texts:
        parts = _TOKENS.findall(text)
        if not 2 <= len(parts) <= 4:
            return None
        numbers = [to_number(p) for p in parts]
        if any(x != x for x in numbers):
            return None
        lat, lon = numbers[0], numbers[1]
        if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (len(parts) == 4 and numbers[3] < 0):
            return None
        points.append((lat, lon))
    return points


def _centimetres(x: float) -> float:
    return math.floor(abs(x) * 100 + 0.5) / 100


def area(value: Value) -> float:
    points = _points(value)
    if points is None:
        return NAN
    total = 0.0
    if len(points) > 2:
        for i, (lat1, lon1) in enumerate(points):
            lat2, lon2 = points[(i + 1) % len(points)]
            total += math.radians(lon2 - lon1) * (
                2 + math.sin(math.radians(lat1)) + math.sin(math.radians(lat2))
            )
        total = total * EARTH_RADIUS * EARTH_RADIUS / 2
    return _centimetres(total)


def distance(value: Value) -> float:
    points = _points(value)
    if points is None:
        return NAN
    total = 0.0
    for (lat1, lon1), (lat2, lon2) in zip(points, points[1:], strict=False):
        p1, p2 = math.radians(lat1), math.radians(lat2)
        cosine = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(
            math.radians(lon1 - lon2)
        )
        # Rounding can push the cosine of two equal points just past 1.
        total += math.acos(max(-1.0, min(1.0, cosine))) * EARTH_RADIUS
    return _centimetres(total)


def geofence(point: Value, shape: Value) -> bool:
    where = _points(point)
    polygon = _points(shape)
    if where is None or polygon is None or len(where) != 1 or len(polygon) < 3:
        return False
    lat, lon = where[0]
    inside = False
    j = len(polygon) - 1
    for i, (lat_i, lon_i) in enumerate(polygon):
        lat_j, lon_j = polygon[j]
        if (lat_i > lat) != (lat_j > lat):
            crossing = (lon_j - lon_i) * (lat - lat_i) / (lat_j - lat_i) + lon_i
            if lon < crossing:
                inside = not inside
        j = i
    return inside


# -- checklists --------------------------------------------------------------------------------
def _ticked(value: Value) -> bool:
    return value if type(value) is bool else to_string(value) == "yes"  # type: ignore[return-value]


def _within(total: float, low: Value, high: Value) -> bool:
    lo, hi = to_number(low), to_number(high)
    return (lo < 0 or total >= lo) and (hi < 0 or total <= hi)


def checklist(low: Value, high: Value, responses: Sequence[Value]) -> bool:
    return _within(float(sum(1 for v in responses if _ticked(v))), low, high)


def weighted_checklist(low: Value, high: Value, pairs: Sequence[Value]) -> bool:
    total = 0.0
    for i in range(0, len(pairs) - 1, 2):
        value, weight = pairs[i], pairs[i + 1]
        if type(value) is list:
            value = value[0] if value else ""  # type: ignore[index]
        if _ticked(value):
            total += to_number(weight)
    return _within(total, low, high)


def count_non_empty(nodes: Value) -> float:
    items = nodes if type(nodes) is list else [nodes]
    return float(sum(1 for v in items if to_string(v) != ""))  # type: ignore[union-attr]


# -- digests and encodings ---------------------------------------------------------------------
def digest(data: Value, algorithm: Value, encoding: Value = "base64") -> str:
    name = _DIGESTS.get(to_string(algorithm).lower())
    how = to_string(encoding).lower()
    if name is None or how not in ("base64", "hex"):
        return ""
    # A lone surrogate (possible in JSON) is U+FFFD, as JavaScript's TextEncoder writes it.
    text = _LONE_SURROGATE.sub("\ufffd", to_string(data))
    raw = hashlib.new(name, text.encode("utf-8")).digest()
    return raw.hex() if how == "hex" else base64.b64encode(raw).decode("ascii")


def base64_decode(value: Value) -> str:
    text = to_string(value)
    if not _BASE64.fullmatch(text):
        return ""
    bare = text.rstrip("=")
    if len(bare) % 4 == 1 or (bare != text and len(text) % 4 != 0):
        return ""
    try:
        raw = base64.b64decode(bare + "=" * (-len(bare) % 4))
    except (binascii.Error, ValueError):
        return ""
    return raw.decode("utf-8", "replace")


# -- randomness --------------------------------------------------------------------------------
def park_miller(seed: float) -> Iterator[float]:
    """The generator ``randomize`` uses: yields floats in [0, 1) (see the module docstring)."""
    state = math.fmod(math.trunc(seed) if math.isfinite(seed) else 0, _PM_MODULUS)
    if state <= 0:
        state += _PM_MODULUS - 1
    while True:
        state = state * _PM_MULTIPLIER % _PM_MODULUS
        yield (state - 1) / (_PM_MODULUS - 1)


def shuffle(items: list[Value], seed: float | None) -> list[Value]:
    draws = park_miller(seed) if seed is not None else iter(_random.random, None)
    result: list[Value] = []
    for i, item in enumerate(items):
        j = math.floor(next(draws) * (i + 1))
        if j == i:
            result.append(item)
        else:
            result.append(result[j])
            result[j] = item
    return result


def random_number() -> float:
    return _random.random()


def uuid(length: Value | None) -> str:
    if length is None:
        return str(_uuid.uuid4())
    n = to_number(length)
    if not n >= 1:
        return ""
    return "".join(secrets.choice(_TOKEN_CHARS) for _ in range(int(min(n, MAX_UUID_LENGTH))))


# -- dates -------------------------------------------------------------------------------------
def date(value: Value) -> str:
    fields = date_fields(value)
    return "" if fields is None else local_iso(fields, with_time=False)


def date_time(value: Value) -> str:
    fields = date_fields(value)
    return "" if fields is None else local_iso(fields, with_time=True)


def decimal_time(value: Value, today: str) -> float:
    if type(value) is list:
        value = value[0] if value else ""  # type: ignore[index]
    if type(value) is not str:
        return NAN
    m = _TIME.fullmatch(value)  # type: ignore[arg-type]
    if m is None:
        fields = date_fields(value) if parse_datetime(value) else None  # type: ignore[arg-type]
        if fields is None:
            return NAN
        hh, mi, ss, ms = fields[3], fields[4], fields[5], fields[6]
        return (hh * 3600 + mi * 60 + ss + ms / 1000) / 86400
    hh, mi, ss = int(m[1]), int(m[2]), int(m[3] or 0)
    frac = float("0" + m[4]) if m[4] else 0.0
    if hh > 23 or mi > 59 or ss > 59:
        return NAN
    seconds = hh * 3600 + mi * 60 + ss
    if m[5]:
        offset = 0
        if m[5] != "Z":
            zone = m[5].replace(":", "")
            oh, om = int(zone[1:3]), int(zone[3:5])
            if oh > 23 or om > 59:
                return NAN
            offset = (oh * 3600 + om * 60) * (-1 if zone[0] == "-" else 1)
        day = parse_datetime(today)
        base = days_from_civil(*day[:3]) * 86400 if day else 0
        instant = base + seconds - offset
        seconds = (instant + local_offset(instant)) % 86400
    return (seconds + frac) / 86400


__all__ = [
    "MATH",
    "area",
    "base64_decode",
    "boolean_from_string",
    "checklist",
    "count_non_empty",
    "date",
    "date_time",
    "decimal_time",
    "digest",
    "distance",
    "geofence",
    "js_pow",
    "random_number",
    "normalize_space",
    "selected_at",
    "shuffle",
    "substring",
    "substring_after",
    "substring_before",
    "to_boolean",
    "translate",
    "uuid",
    "weighted_checklist",
]
