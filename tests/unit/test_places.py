"""The map's points as read from a record: ODK geopoints, in any repeat, on Earth only."""

from __future__ import annotations

import pytest

from schemas.form import Form
from server.domain.records.places import _points, parse_point

VI = "label::Tiếng Việt (vi)"
FORM = Form(
    {
        "settings": {"form_id": "ruong", "version": "1", "default_language": "Tiếng Việt (vi)"},
        "survey": [
            {"type": "geopoint", "name": "home", VI: "Vị trí nhà"},
            {"type": "begin_repeat", "name": "plots", VI: "Thửa"},
            {"type": "geopoint", "name": "corner", VI: "Góc thửa"},
            {"type": "end_repeat"},
        ],
        "choices": [],
    }
)


def test_every_geopoint_of_a_record_repeats_included():
    data = {
        "home": "21.5 105.1 10 5",
        "plots": [{"corner": "21.6 105.2"}, {"corner": ""}, {"corner": "99 1"}, "not a dict"],
    }
    assert _points(FORM, data) == [(21.5, 105.1, "home"), (21.6, 105.2, "corner")]
    assert _points(FORM, {"plots": "not a list"}) == []


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
