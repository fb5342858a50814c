"""OData property names for answer keys: a SimpleIdentifier each, unique within its entity type,
and the same whatever other questions come later in the form."""

from __future__ import annotations

import re

from server.domain.odata import property_names

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


def test_path_keys_become_identifiers_and_names_that_are_ones_stay():
    keys = ["mother/age", "mother_age", "father/age", "a.b", "a-b", "head_name", "x" * 200]
    names = property_names(keys, {"__id", "__system"})
    assert names[:6] == ["mother_age_2", "mother_age", "father_age", "a_b", "a_b_2", "head_name"]
    assert len(set(names)) == len(names) and all(IDENTIFIER.fullmatch(n) for n in names)


def test_a_name_added_later_does_not_rename_the_others():
    before = property_names(["mother/age", "father/age"], set())
    after = property_names(["mother/age", "father/age", "note"], set())
    assert after[:2] == before == ["mother_age", "father_age"]


def test_reserved_names_are_not_given_out():
    assert property_names(["__id", "/id"], {"__id"}) == ["__id_2", "_id"]
    assert property_names(["__system", "_.system"], {"__id", "__system"}) == [
        "__system_2",
        "__system_3",
    ]
