"""Times as people read them: the database keeps UTC ('YYYY-MM-DDTHH:MM:SSZ', ``db.now_iso``),
staff pages show the server's zone (``GOCUA_TIMEZONE``), and a day typed in a filter is that
zone's day, turned here into the UTC range the database is searched by."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def _parse(iso: str) -> datetime | None:
    text = iso.strip()
    if len(text) < 16 or text[10] != "T":
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def to_local(iso: str | None, zone: ZoneInfo) -> datetime | None:
    """A stored UTC time in ``zone``; None when ``iso`` is not a time of day."""
    moment = _parse(iso) if isinstance(iso, str) else None
    return moment.astimezone(zone) if moment else None


def local_time(iso: str | None, zone: ZoneInfo, lang: str = "vi") -> str:
    """How a stored UTC time reads on a staff page: ``30/11/2026 04:15`` in the zone, day first
    in both languages (as Vietnamese and British English write it, and as the phone shows it).
    Anything that is not a time (empty, a bare date) is given back as it is."""
    del lang  # one form for both languages today; kept so a page can ask for its own
    moment = to_local(iso, zone)
    if moment is None:
        return "" if iso is None else str(iso)
    return moment.strftime("%d/%m/%Y %H:%M")


def _utc_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def day_start_utc(day: str, zone: ZoneInfo) -> str:
    """The UTC time at which the local day ``YYYY-MM-DD`` begins in ``zone``."""
    return _utc_iso(datetime.combine(date.fromisoformat(day), time(), tzinfo=zone))


def day_end_utc(day: str, zone: ZoneInfo) -> str:
    """The UTC time at which the local day ``YYYY-MM-DD`` ends (the next one begins)."""
    return day_start_utc((date.fromisoformat(day) + timedelta(days=1)).isoformat(), zone)
