"""Every ``GOCUA_*`` setting, read here and nowhere else; the README lists each one (a test
holds the two lists equal)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    data_dir: Path
    public_url: str  # the HTTPS address phones reach; empty: the request's own
    secure_cookies: bool
    proxy_hops: int  # reverse proxies in front whose X-Forwarded-* are trusted
    trusted_proxy: str  # the nearest proxy's address as the server sees it ('*': any peer)
    pwa_dir: str  # where the collector's files are served from; empty: pwa/ of this checkout
    timezone: ZoneInfo  # the zone staff pages show times in and date filters count days in
    workers: int  # `gocua serve`'s processes, each running waitress on the one socket
    sync_slots: int  # sync requests at work at once in a process; 0: no bound
    enketo_url: str  # an Enketo Express for Collect phones' web forms; empty: none
    enketo_api_key: str  # that Enketo's API key (its `api key` setting)
    map_tiles: str  # the staff map's tile URL template ({z}/{x}/{y}); empty: no tiles


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, not {raw!r}") from None


DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
# SQLite takes one writer at a time, but the batches waiting for it share one COMMIT (group
# commit), so more at work keep it busier: at 200 phones on two cores, 3 slots a process turned
# phones away 2,140 times while a core idled (555 records/s); 8 took 1,094 records/s, turned
# away 288, and kept reviewers' pages within half a second (bench/dusk.py). 16 took a little
# more and let reviewers' pages reach a second.
DEFAULT_SYNC_SLOTS = 8


# The most worker processes `gocua serve` starts.
MAX_WORKERS = 64


def default_workers() -> int:
    """``gocua serve``'s worker processes unless told: one more than the cores. A process
    holding the write lock shares its one running Python thread with its own requests'
    checks, so its writes slow while they run; a process more keeps the cores checking while
    the writer writes. On 2 cores, against one a core (bench/dusk.py, 5 batches a phone):
    10 phones 2,200 records/s against 1,488, 50 phones 2,091 against 1,325, 200 phones
    about 1,940 against 1,750; a fourth process did no better and doubled the reviewer's
    pages' p95 at 200 phones. The cores this process may run on, not the machine's (a
    container's share), and never past ``MAX_WORKERS``."""
    return min(len(os.sched_getaffinity(0)) + 1, MAX_WORKERS)


def _zone(name: str, default: str) -> ZoneInfo:
    raw = os.environ.get(name, "").strip() or default
    try:
        return ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise SystemExit(
            f"{name} must be a time zone name such as {default!r} (the IANA list), not {raw!r}"
        ) from None


def load() -> Settings:
    """The settings as the environment gives them now (read on each call: tests and the CLI
    set variables before starting a server)."""
    return Settings(
        host=os.environ.get("GOCUA_HOST", "127.0.0.1"),
        port=_int("GOCUA_PORT", 8000),
        data_dir=Path(os.environ.get("GOCUA_DATA_DIR", "data")).resolve(),
        public_url=os.environ.get("GOCUA_PUBLIC_URL", "").rstrip("/"),
        secure_cookies=os.environ.get("GOCUA_SECURE_COOKIES", "") == "1",
        proxy_hops=_int("GOCUA_PROXY_HOPS", 0),
        trusted_proxy=os.environ.get("GOCUA_TRUSTED_PROXY", "").strip() or "127.0.0.1",
        pwa_dir=os.environ.get("GOCUA_PWA_DIR", ""),
        timezone=_zone("GOCUA_TIMEZONE", DEFAULT_TIMEZONE),
        workers=_int("GOCUA_WORKERS", default_workers()),
        sync_slots=_int("GOCUA_SYNC_SLOTS", DEFAULT_SYNC_SLOTS),
        enketo_url=os.environ.get("GOCUA_ENKETO_URL", "").strip().rstrip("/"),
        enketo_api_key=os.environ.get("GOCUA_ENKETO_API_KEY", "").strip(),
        map_tiles=_tiles("GOCUA_MAP_TILES"),
    )


def _tiles(name: str) -> str:
    raw = os.environ.get(name, "").strip()
    places = all(k in raw for k in ("{z}", "{x}", "{y}"))
    if raw and not (raw.startswith(("https://", "http://", "/")) and places):
        raise SystemExit(
            f"{name} must be a tile address with {{z}}, {{x}} and {{y}}, such as"
            f" 'https://tile.openstreetmap.org/{{z}}/{{x}}/{{y}}.png', or empty, not {raw!r}"
        )
    return raw
