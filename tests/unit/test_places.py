"""A geopoint answer as the map reads it: ODK's ``lat lon alt acc``, on Earth only."""

from __future__ import annotations

import pytest

from server.domain.records.places import parse_point


@pytest.mark.parametrize(
    "value",
    [
        "",
        "21.5",
        "abc def",
        "91 0",
        "0 181",
        "nan 1",
        "1 inf",
        None,
        21.5,
        ["21", "105"],
        "1 " * 200,
    ],
)
def test_what_is_not_a_point_on_earth_is_no_point(value):
    assert parse_point(value) is None


def test_a_point_keeps_seven_decimals():
    assert parse_point("-8.123456789 -179.5 0 0") == (-8.1234568, -179.5)
