"""GOCUA_TIMEZONE and the clock: UTC in the database, the server's zone on pages and filters."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from server import settings
from server.domain import clock

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def test_the_zone_is_vietnam_unless_set(monkeypatch):
    monkeypatch.delenv("GOCUA_TIMEZONE", raising=False)
    assert settings.load().timezone == VIETNAM
    monkeypatch.setenv("GOCUA_TIMEZONE", " Europe/Paris ")
    assert settings.load().timezone == ZoneInfo("Europe/Paris")


@pytest.mark.parametrize("name", ["Asia/Hanoi_City", "UTC+7", "../../etc/passwd", "Asia"])
def test_an_unknown_zone_refuses_to_start_and_says_why(monkeypatch, name):
    monkeypatch.setenv("GOCUA_TIMEZONE", name)
    with pytest.raises(SystemExit) as refused:
        settings.load()
    message = str(refused.value)
    assert "GOCUA_TIMEZONE" in message and repr(name) in message
    assert "Asia/Ho_Chi_Minh" in message


def test_a_stored_time_reads_as_the_zone_has_it():
    assert clock.local_time("2026-11-29T21:15:00Z", VIETNAM, "vi") == "30/11/2026 04:15"
    assert clock.local_time("2026-11-29T21:15:00Z", VIETNAM, "en") == "30/11/2026 04:15"
    assert clock.local_time("2026-11-29T21:15:00Z", ZoneInfo("UTC")) == "29/11/2026 21:15"
    assert clock.local_time(None, VIETNAM) == ""
    assert clock.local_time("2026-11-30", VIETNAM) == "2026-11-30"  # a date is left alone
    assert clock.local_time("not a time", VIETNAM) == "not a time"


def test_a_local_day_is_its_utc_range():
    assert clock.day_start_utc("2026-11-30", VIETNAM) == "2026-11-29T17:00:00Z"
    assert clock.day_end_utc("2026-11-30", VIETNAM) == "2026-11-30T17:00:00Z"
    london = ZoneInfo("Europe/London")  # a day of 23 hours: summer time begins
    assert clock.day_start_utc("2026-03-29", london) == "2026-03-29T00:00:00Z"
    assert clock.day_end_utc("2026-03-29", london) == "2026-03-29T23:00:00Z"
