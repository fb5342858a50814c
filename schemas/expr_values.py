"""Values of the expression language and the XPath 1.0 conversions between them.

An evaluated value is a ``bool``, a ``float`` (every number, integer answers included), a ``str``
or a ``list`` (a node-set: the values of its nodes, in document order). Conversions follow XPath
1.0 as ODK applies it; the points where XPath leaves room, or where JavaRosa and Enketo differ, are
decided here once so that the JavaScript engine (pwa/js/expr.js) can copy them exactly:

* string -> number accepts only XPath's ``-?digits(.digits)?`` with surrounding spaces, tabs or
  line breaks: ``''``, ``'1e3'``, ``'+1'`` and ``'Infinity'`` are NaN. A ``YYYY-MM-DD`` or
  ``YYYY-MM-DDTHH:MM[:SS[.fff]][Z|+HH:MM]`` string is the instant it names, in days since
  1970-01-01T00:00Z. A date, and a datetime without an offset, are read in LOCAL time (the
  process's zone on the server, the phone's own zone on the phone), as ODK's evaluators read them:
  ``'2018-01-01' + 1`` is a whole number only where local time is UTC. A local time that a clock
  change skips or repeats is read with the offset from before the change (ECMAScript's rule).
* a number used as a date is that many days after 1970-01-01T00:00Z, shown in local time.
* number -> string: integers without ``.0``, ``NaN``, ``Infinity``, ``-Infinity``; other numbers
  use the shortest digits that read back exactly, laid out as ECMAScript's Number::toString does
  (exponent form below 1e-6 and from 1e21), so that both engines print the same text.
* a node-set used as a number or a string is its first node's value (NaN / ``''`` when empty);
  as a boolean it is true when it has at least one node (XPath 1.0, as Enketo does).
* negative zero is kept as IEEE arithmetic makes it (it shows in ``1 div -0``), but prints "0".
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, localcontext
from functools import lru_cache
from typing import Any

Value = bool | float | str | list

NAN = math.nan
INF = math.inf
_NUMBER = re.compile(r"[ \t\r\n]*(-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))[ \t\r\n]*")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_DATETIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2})"
    r"(?::([0-9]{2})(\.[0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?"
)
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def from_answer(raw: Any) -> Value:
    """An answer as stored in a record's ``data`` -> an expression value."""
    kind = type(raw)
    if kind is str or kind is float or kind is bool:
        return raw
    if kind is int:
        return float(raw)
    if raw is None:
        return ""
    if kind is list:
        # select_multiple: ODK stores the choices space-separated.
        try:
            return " ".join(raw)  # choices' names: each text is its own value
        except TypeError:
            return " ".join(to_string(from_answer(item)) for item in raw)
    return ""


def to_number(value: Value) -> float:
    """XPath ``number()``."""
    kind = type(value)
    if kind is float:
        return value  # type: ignore[return-value]
    if kind is str:
        return _string_to_number(value)  # type: ignore[arg-type]
    if kind is bool:
        return 1.0 if value else 0.0
    if kind is list:
        return to_number(value[0]) if value else NAN  # type: ignore[index]
    if kind is int:
        return float(value)  # type: ignore[arg-type]
    return NAN


def _string_to_number(text: str) -> float:
    plain = _plain_number(text)
    if plain is not None:
        return plain
    # The zone is part of the key, for a date's value follows the local zone, which time.tzset()
    # may change; its names and offsets stand for it (reading the TZ variable each time costs
    # more than the cache saves).
    return _date_number(text, time.tzname, time.timezone, time.altzone)


@lru_cache(maxsize=8192)
def _date_number(text: str, *_zone: object) -> float:
    return date_to_days(text)


@lru_cache(maxsize=8192)
def _plain_number(text: str) -> float | None:
    m = _NUMBER.fullmatch(text)
    return float(m.group(1)) if m else None


def to_string(value: Value) -> str:
    """XPath ``string()``."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[return-value]
    if kind is float:
        return number_to_string(value)  # type: ignore[arg-type]
    if kind is bool:
        return "true" if value else "false"
    if kind is list:
        return to_string(value[0]) if value else ""  # type: ignore[index]
    if kind is int:
        return str(value)
    return ""


def to_boolean(value: Value) -> bool:
    """XPath ``boolean()``."""
    kind = type(value)
    if kind is bool:
        return value  # type: ignore[return-value]
    if kind is str or kind is list:
        return len(value) > 0  # type: ignore[arg-type]
    if kind is float or kind is int:
        return value == value and value != 0
    return False


def number_to_string(x: float) -> str:
    if x != x:
        return "NaN"
    if x in (INF, -INF):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    if x.is_integer() and abs(x) < 2**53:
        return str(int(x))  # exact; above 2**53 the shortest digits are padded with zeros
    sign, digits_t, exponent = Decimal(repr(x)).as_tuple()
    digits = "".join(map(str, digits_t)).rstrip("0")
    k = len(digits)
    n = int(exponent) + len(digits_t)  # the decimal point sits after n digits
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * -n + digits
    else:
        e = n - 1
        text = (
            digits[0]
            + ("." + digits[1:] if k > 1 else "")
            + ("e+" if e >= 0 else "e-")
            + str(abs(e))
        )
    return "-" + text if sign else text


def days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's algorithm)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z: int) -> tuple[int, int, int]:
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (m <= 2), m, d


def _valid_date(y: int, m: int, d: int) -> bool:
    if not 1 <= m <= 12:
        return False
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    return 1 <= d <= _DAYS_IN_MONTH[m - 1] + (m == 2 and leap)


def parse_datetime(text: str) -> tuple[int, int, int, int, int, int, float, int | None] | None:
    """``(y, m, d, hour, minute, second, fraction, offset_seconds or None for local time)``."""
    m = _DATE.fullmatch(text)
    if m:
        y, mo, d = int(m[1]), int(m[2]), int(m[3])
        return (y, mo, d, 0, 0, 0, 0.0, None) if _valid_date(y, mo, d) else None
    m = _DATETIME.fullmatch(text)
    if not m:
        return None
    y, mo, d, hh, mi = int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5])
    ss = int(m[6]) if m[6] else 0
    frac = float("0" + m[7]) if m[7] else 0.0
    offset: int | None = 0 if m[8] else None
    if m[8] and m[8] != "Z":
        zone = m[8].replace(":", "")
        oh, om = int(zone[1:3]), int(zone[3:5])
        if oh > 23 or om > 59:
            return None
        offset = (oh * 3600 + om * 60) * (-1 if zone[0] == "-" else 1)
    if not _valid_date(y, mo, d) or hh > 23 or mi > 59 or ss > 59:
        return None
    return y, mo, d, hh, mi, ss, frac, offset


def local_offset(epoch_seconds: float) -> int:
    """Seconds east of UTC of the local zone at an instant (pwa/js/expr.js asks Date the same)."""
    try:
        return time.localtime(math.floor(epoch_seconds)).tm_gmtoff
    except (OverflowError, OSError, ValueError):
        return 0


def local_to_epoch(wall: float) -> float:
    """The instant at which local clocks show ``wall`` (seconds since 1970 read as if UTC).

    A skipped or repeated wall time takes the offset from before the clock change, as ECMAScript
    does; both engines apply this same rule to their zone's offsets."""
    before = local_offset(wall - 86400)
    if local_offset(wall - before) == before:
        return wall - before
    after = local_offset(wall + 86400)
    if local_offset(wall - after) == after:
        return wall - after
    return wall - before


def date_to_epoch(text: str) -> float | None:
    """Seconds since 1970-01-01T00:00Z of a date/datetime string, or None."""
    parts = parse_datetime(text)
    if parts is None:
        return None
    y, mo, d, hh, mi, ss, frac, offset = parts
    wall = days_from_civil(y, mo, d) * 86400 + hh * 3600 + mi * 60 + ss
    start = local_to_epoch(wall) if offset is None else wall - offset
    return start + frac


def date_to_days(text: str) -> float:
    """Days (fractional) since 1970-01-01T00:00Z, local time unless an offset is given; or NaN."""
    epoch = date_to_epoch(text)
    return NAN if epoch is None else epoch / 86400


# (year, month, day, hour, minute, second, millisecond, weekday with 0 = Sunday)
Fields = tuple[int, int, int, int, int, int, int, int]
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
WEEKDAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")


def _fields_of_wall(days: int, rem: int, milli: int) -> Fields:
    y, mo, d = civil_from_days(days)
    return y, mo, d, rem // 3600, rem % 3600 // 60, rem % 60, milli, (days + 4) % 7


def local_fields(days: float) -> Fields | None:
    """The local calendar fields of the instant ``days`` after 1970-01-01T00:00Z (to the ms)."""
    if not math.isfinite(days) or abs(days) > 3e6:
        return None
    ms = math.floor(days * 86400000 + 0.5)
    secs = math.floor(ms / 1000)
    wall = secs + local_offset(secs)
    day = math.floor(wall / 86400)
    fields = _fields_of_wall(day, wall - day * 86400, ms - secs * 1000)
    return fields if 0 <= fields[0] <= 9999 else None


def date_fields(value: Value) -> Fields | None:
    """The local fields of a date value: a date/datetime string (one written without an offset
    keeps the wall-clock time written in it) or a number of days since 1970-01-01T00:00Z."""
    if type(value) is list:
        value = value[0] if value else ""  # type: ignore[index]
    if type(value) is str:
        parts = parse_datetime(value)  # type: ignore[arg-type]
        if parts is not None:
            y, mo, d, hh, mi, ss, frac, offset = parts
            if offset is not None:
                return local_fields(date_to_days(value))  # type: ignore[arg-type]
            day = days_from_civil(y, mo, d)
            return _fields_of_wall(
                day, hh * 3600 + mi * 60 + ss, min(999, math.floor(frac * 1000 + 0.5))
            )
    return local_fields(to_number(value))


def local_iso(fields: Fields, with_time: bool) -> str:
    """``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM:SS.sss+HH:MM`` (the local offset at that time)."""
    y, mo, d, hh, mi, ss, ms, _ = fields
    day = f"{y:04d}-{mo:02d}-{d:02d}"
    if not with_time:
        return day
    wall = days_from_civil(y, mo, d) * 86400 + hh * 3600 + mi * 60 + ss
    offset = local_offset(local_to_epoch(wall))
    sign = "-" if offset < 0 else "+"
    zone = f"{sign}{abs(offset) // 3600:02d}:{abs(offset) % 3600 // 60:02d}"
    return f"{day}T{hh:02d}:{mi:02d}:{ss:02d}.{ms:03d}{zone}"


def format_date(value: Value, fmt: str) -> str:
    """``format-date``/``format-date-time``: ``%Y %y %m %n %b %d %e %a %H %h %M %S %3``, month and
    day names in English as Enketo gives them; other ``%x`` are copied as they are. Anything that
    is not a date gives ``''``."""
    if type(value) is str and _DATE.fullmatch(value):  # type: ignore[arg-type]
        # A day's text reads the same in every zone (a real date as written, an impossible one
        # as NaN: nothing), so its result is kept: a checker asks format-date(today(), '%Y')
        # of every member.
        return _format_day(value, fmt)  # type: ignore[arg-type]
    return _format_date(value, fmt)


@lru_cache(maxsize=1024)
def _format_day(value: str, fmt: str) -> str:
    return _format_date(value, fmt)


def _format_date(value: Value, fmt: str) -> str:
    fields = date_fields(value)
    if fields is None:
        return ""
    y, mo, d, hh, mi, ss, ms, wd = fields
    codes = {
        "Y": f"{y:04d}",
        "y": f"{y:04d}"[2:],
        "m": f"{mo:02d}",
        "n": str(mo),
        "b": MONTHS[mo - 1],
        "d": f"{d:02d}",
        "e": str(d),
        "a": WEEKDAYS[wd],
        "H": f"{hh:02d}",
        "h": str(hh),
        "M": f"{mi:02d}",
        "S": f"{ss:02d}",
        "3": f"{ms:03d}",
    }
    out: list[str] = []
    i = 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%" and i + 1 < len(fmt) and fmt[i + 1] in codes:
            out.append(codes[fmt[i + 1]])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def round_half_away(x: float, places: float) -> float:
    """``round(x, n)``: half away from zero on the shortest decimal form of x, as JavaRosa does
    with BigDecimal (so round(2.675, 2) is 2.68). A zero result is +0."""
    if places != places:
        return NAN
    if not math.isfinite(x):
        return x
    if x == 0:
        return 0.0
    if places > 400:
        return x
    if places < -400:
        return 0.0
    n = math.trunc(places)
    with localcontext() as ctx:
        ctx.prec = 1000
        q = Decimal(repr(x)).quantize(Decimal(1).scaleb(-n), rounding=ROUND_HALF_UP)
    result = float(q)
    return result if result != 0 else 0.0


def keep_zero_sign(result: float, x: float) -> float:
    """math.floor/ceil/trunc return ints and so lose -0; Math.floor etc. keep it."""
    return math.copysign(0.0, x) if result == 0 else result


# -- comparison and arithmetic (XPath 1.0 3.4; IEEE 754 as JavaScript has it) -------------
def _eq(a: Value, b: Value) -> bool:
    ta, tb = type(a), type(b)
    if ta is tb:
        return a == b
    if ta is bool or tb is bool:
        return to_boolean(a) == to_boolean(b)
    if ta is float or tb is float:
        return to_number(a) == to_number(b)
    return to_string(a) == to_string(b)


COMPARISONS: dict[str, Callable[[Value, Value], bool]] = {
    "=": _eq,
    "!=": lambda a, b: not _eq(a, b),
    "<": lambda a, b: to_number(a) < to_number(b),
    "<=": lambda a, b: to_number(a) <= to_number(b),
    ">": lambda a, b: to_number(a) > to_number(b),
    ">=": lambda a, b: to_number(a) >= to_number(b),
}


def compare_nodesets(scalar: Callable[[Value, Value], bool], a: Value, b: Value) -> bool:
    if type(a) is list:
        if type(b) is list:
            return any(scalar(x, y) for x in a for y in b)  # type: ignore[union-attr]
        if type(b) is bool:
            return scalar(to_boolean(a), b)
        return any(scalar(x, b) for x in a)  # type: ignore[union-attr]
    if type(a) is bool:
        return scalar(a, to_boolean(b))
    return any(scalar(a, y) for y in b)  # type: ignore[union-attr]


def _div(a: float, b: float) -> float:
    if b == 0:
        if a == 0 or a != a:
            return NAN
        return math.copysign(INF, a) * math.copysign(1.0, b)
    return a / b


def _mod(a: float, b: float) -> float:
    if b == 0 or a != a or b != b or a in (INF, -INF):
        return NAN
    if b in (INF, -INF):
        return a
    return math.fmod(a, b)


ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "div": _div,
    "mod": _mod,
}
