"""The quick path of ``load_record`` gives exactly what the marshmallow schema gives."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from sync.protocol import RecordSchema, load_record

_IDS = st.one_of(
    st.uuids().map(str),
    st.uuids().map(lambda u: str(u).upper()),
    st.uuids().map(lambda u: u.hex),
    st.just(""),
    st.text(max_size=5),
    st.integers(),
    st.none(),
)
_TEXT = st.one_of(
    st.text(max_size=3), st.text(min_size=199, max_size=202), st.integers(), st.none()
)
_FIELDS = {
    "id": _IDS,
    "rev": _IDS,
    "base_rev": _IDS,
    "form_id": _TEXT,
    "form_version": _TEXT,
    "village_id": _TEXT,
    "household_id": st.one_of(_TEXT, st.text(min_size=99, max_size=101)),
    "data": st.one_of(
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
        st.lists(st.integers(), max_size=1),
        st.none(),
    ),
    "meta": st.one_of(st.dictionaries(st.text(max_size=3), st.integers(), max_size=2), st.none()),
    "household": st.one_of(
        st.none(),
        st.text(max_size=3),
        st.fixed_dictionaries({}, optional={"head_name": _TEXT, "address": _TEXT, "phone": _TEXT}),
    ),
    "extra": st.integers(),
}


def _good() -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "rev": str(uuid.uuid4()),
        "form_id": "f",
        "form_version": "1",
        "village_id": "v",
        "data": {"a": 1},
    }


def outcome(load: Any, item: dict[str, Any]) -> Any:
    try:
        return ("ok", load(item))
    except ValidationError as error:
        return ("error", error.messages)


# Left out of `make test-fast`: 400 Hypothesis examples (2-4 s on a loaded 2-core machine).
@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(
    changes=st.fixed_dictionaries({}, optional=_FIELDS),
    dropped=st.sets(st.sampled_from(sorted(_FIELDS))),
)
def test_quick_path_and_schema_agree(changes: dict[str, Any], dropped: set[str]) -> None:
    item = {k: v for k, v in {**_good(), **changes}.items() if k not in dropped}
    assert outcome(load_record, item) == outcome(RecordSchema().load, item)
