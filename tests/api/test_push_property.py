"""Random batches against push: valid records mixed with items that are bad in every way JSON
allows (lone surrogates, nesting thousands deep, numbers no phone holds, wrong types, ids that
are not UUIDs). Whatever comes, the answer is 200 with one result per item, in order, the valid
ones applied, the bad ones rejected, and the database holds exactly the applied ones."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.records import household_data, record

# Texts json.dumps cannot write (Python refuses the recursion and the digits): written as a
# placeholder string, then put in place in the body's text.
_PLACEHOLDERS: dict[str, str] = {}


def _raw(json_text: str) -> str:
    key = f"@@raw{len(_PLACEHOLDERS)}@@"
    _PLACEHOLDERS[key] = json_text
    return key


surrogates = st.integers(0xD800, 0xDFFF).map(chr)
with_surrogate = st.tuples(st.text(max_size=5), surrogates, st.text(max_size=5)).map("".join)
huge_ints = st.one_of(st.integers(2**53, 10**30), st.integers(-(10**30), -(2**53)))
deep = st.integers(33, 6000).map(lambda n: _raw("[" * n + "]" * n))
giant_number = st.integers(4400, 6000).map(lambda n: _raw("9" * n))
not_canonical_ids = st.text(max_size=40).filter(lambda s: not _is_uuid(s))
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-1000, 1000),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=10),
)


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


@st.composite
def bad_items(draw: Any, village: str) -> Any:
    """An item that no server may apply, and why."""
    item = record(village)
    kind = draw(
        st.sampled_from(
            [
                "surrogate_answer",
                "surrogate_key",
                "huge_meta",
                "deep_meta",
                "deep_data",
                "giant_number",
                "wrong_type",
                "bad_id",
                "bad_household",
                "not_an_object",
                "missing_data",
            ]
        )
    )
    if kind == "surrogate_answer":
        item["data"]["head_name"] = draw(with_surrogate)
    elif kind == "surrogate_key":
        item["meta"][draw(with_surrogate)] = draw(json_scalars)
    elif kind == "huge_meta":
        item["meta"]["n"] = draw(huge_ints)
    elif kind == "deep_meta":
        item["meta"]["x"] = draw(deep)
    elif kind == "deep_data":
        item["data"]["address"] = draw(deep)
    elif kind == "giant_number":
        item["data"][draw(st.sampled_from(["residents", "head_name"]))] = draw(giant_number)
    elif kind == "wrong_type":
        item["data"]["head_name"] = draw(
            st.one_of(st.integers(), st.booleans(), st.lists(json_scalars, max_size=3))
        )
    elif kind == "bad_id":
        item[draw(st.sampled_from(["id", "rev"]))] = draw(not_canonical_ids)
    elif kind == "bad_household":
        item["household_id"] = draw(
            st.one_of(st.just(""), st.text(max_size=30).map(lambda s: s + "/x"), st.integers())
        )
    elif kind == "not_an_object":
        return draw(st.one_of(json_scalars, st.lists(json_scalars, max_size=3)))
    else:
        del item["data"]
    return item


def _body(items: list[Any]) -> str:
    text = json.dumps({"items": items})  # ensure_ascii: a lone surrogate becomes "\ud8xx"
    for key, raw in _PLACEHOLDERS.items():
        text = text.replace(f'"{key}"', raw)
    return text


@pytest.mark.slow
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_random_batches_reject_the_bad_items_alone(client, phone, db, data):
    village = phone["villages"][0]["id"]
    valid = st.builds(lambda: record(village, data=household_data()))
    plan = data.draw(
        st.lists(
            valid.map(lambda i: (True, i)) | bad_items(village).map(lambda i: (False, i)),
            min_size=1,
            max_size=8,
        ),
        label="items",
    )
    good = [g for g, _ in plan]
    items = [i for _, i in plan]
    response = client.post(
        "/api/v1/sync/push",
        data=_body(items),
        headers={**phone["headers"], "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    results = response.get_json()["results"]
    assert len(results) == len(items)
    assert [r["status"] for r in results] == ["applied" if g else "rejected" for g in good]
    ids = [i["id"] for i in items if isinstance(i, dict) and isinstance(i.get("id"), str)]
    held = (
        {
            r[0]
            for r in db.execute(
                f"SELECT id FROM records WHERE id IN ({','.join('?' * len(ids))})", ids
            )
        }
        if ids
        else set()
    )
    assert held == {i["id"] for g, i in plan if g}
