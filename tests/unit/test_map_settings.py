"""GOCUA_MAP_TILES: a tile address with {z}, {x} and {y}, or nothing (no background)."""

from __future__ import annotations

import pytest

from server import settings


def test_no_tiles_by_default_and_a_tile_address_as_given(monkeypatch):
    monkeypatch.delenv("GOCUA_MAP_TILES", raising=False)
    assert settings.load().map_tiles == ""
    address = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    monkeypatch.setenv("GOCUA_MAP_TILES", f" {address} ")
    assert settings.load().map_tiles == address


@pytest.mark.parametrize(
    "value", ["tile.openstreetmap.org", "https://tiles.example/{z}/{x}.png", "javascript:{z}{x}{y}"]
)
def test_an_address_that_is_no_tile_address_stops_the_start_with_a_message(monkeypatch, value):
    monkeypatch.setenv("GOCUA_MAP_TILES", value)
    with pytest.raises(SystemExit, match="GOCUA_MAP_TILES must be a tile address"):
        settings.load()
