"""A pushed record's list facts (outcome, needs help, visit date) are worked out in Python
(``store.list_facts``) for the shapes a household visit has, and by the SQL of migration m003
(``RECORD_FACTS_OF``, which the trigger for every other writer runs) otherwise: both must give
the same facts, whatever the answers and the meta hold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.domain import answers
from server.domain.db import connect
from server.domain.migrations import RECORD_FACTS_OF
from server.domain.records.store import list_facts

RECEIVED = "2026-11-30T12:00:00Z"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Any:
    database = connect(Path(tmp_path_factory.mktemp("facts")) / "facts.db")
    yield database
    database.conn.close()


def sql_facts(db: Any, data: Any, meta: Any) -> tuple[Any, ...]:
    row = db.execute(
        f"SELECT {RECORD_FACTS_OF} FROM (SELECT ? AS data, ? AS meta, ? AS received_at) AS given",
        [answers.dumps(data), answers.dumps(meta), RECEIVED],
    ).fetchone()
    return tuple(row)


def agree(db: Any, data: Any, meta: Any) -> bool:
    """Whether Python worked the facts out (False: the SQL does), after checking they agree."""
    facts = list_facts(data, meta, RECEIVED)
    if facts is None:
        return False
    expected = sql_facts(db, data, meta)
    assert facts == expected, (data, meta)
    # Same types too: SQLite keeps 1 and '1' apart in the list's indexes.
    assert [type(v) for v in facts] == [type(v) for v in expected], (data, meta)
    return True


MEMBER_HELP = [None, [], ["none"], ["vneid"], ["none", "health"], [""], ["NONE"]]
SUPPORT = [None, "revisit", "done", "", "Revisit"]


@pytest.mark.parametrize("outcome", [None, "completed", "nobody_home", "", "come_back"])
@pytest.mark.parametrize("meta", [
    {"visit_date": "2026-11-20", "started_at": "2026-11-19T23:00:00Z"},
    {"started_at": "2026-11-18T23:30:00Z"},
    {"visit_date": None, "started_at": "2026-11-18"},
    {"started_at": "short"},
    {"visit_date": ""},
    {"started_at": None},
    {"started_at": ""},
    {},
])  # fmt: skip
def test_the_household_visits_facts_are_the_sqls(db: Any, outcome: Any, meta: Any) -> None:
    for help_ in MEMBER_HELP:
        for result in SUPPORT:
            data: dict[str, Any] = {"members": [{"name": "A"}, {"name": "B"}], "support": []}
            if outcome is not None:
                data["outcome"] = outcome
            if help_ is not None:
                data["members"][1]["needs_help"] = help_
            if result is not None:
                data["support"].append({"support_result": result})
            assert agree(db, data, meta)


def test_a_visit_without_members_or_support_has_its_facts(db: Any) -> None:
    assert agree(db, {}, {})
    assert agree(db, {"outcome": "refused", "members": None, "support": None}, {})
    assert agree(db, {"members": [], "support": [{}]}, {"visit_date": "2026-01-02"})


def test_other_shapes_are_left_to_the_sql(db: Any) -> None:
    # Each is one JSON rule the SQL has (a number's type, json_each over an object or a
    # scalar, NUL in text): Python declines rather than copy every one of them.
    for data, meta in [
        ({"outcome": 3}, {}),
        ({"outcome": True}, {}),
        ({"outcome": ["completed"]}, {}),
        ({"outcome": "a\x00b"}, {}),
        ({"members": {"a": {"needs_help": ["x"]}}}, {}),
        ({"members": "x"}, {}),
        ({"members": [1]}, {}),
        ({"members": [{"needs_help": "health"}]}, {}),
        ({"members": [{"needs_help": [None]}]}, {}),
        ({"members": [{"needs_help": [1]}]}, {}),
        ({"support": [{"support_result": 1}]}, {}),
        ({"support": {"support_result": "revisit"}}, {}),
        ({}, {"visit_date": 20261120}),
        ({}, {"started_at": 5}),
        ([], {}),
        ({}, []),
    ]:
        assert list_facts(data, meta, RECEIVED) is None, (data, meta)


texts = st.one_of(
    st.none(),
    st.sampled_from(["none", "revisit", "completed", "", "2026-11-20", "2026-11-20T01:02:03Z"]),
    st.text(max_size=12),
)
# No NaN nor infinity: they are not JSON, so no body carrying them is taken (sync/body.py) and
# no stored answer holds one (SQLite's JSON functions refuse them as malformed).
values = st.one_of(
    texts, st.integers(-3, 3), st.booleans(), st.floats(allow_nan=False, allow_infinity=False)
)
lists = st.one_of(st.none(), st.lists(values, max_size=3), values)
members = st.one_of(
    st.none(),
    values,
    st.lists(
        st.one_of(st.fixed_dictionaries({}, optional={"needs_help": lists}), values), max_size=3
    ),
)
supports = st.one_of(
    st.none(),
    values,
    st.lists(
        st.one_of(st.fixed_dictionaries({}, optional={"support_result": values}), values),
        max_size=3,
    ),
)
datas = st.fixed_dictionaries(
    {}, optional={"outcome": values, "members": members, "support": supports}
)
metas = st.fixed_dictionaries({}, optional={"visit_date": values, "started_at": values})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=datas, meta=metas)
def test_python_and_the_sql_agree_on_any_answers(db: Any, data: Any, meta: Any) -> None:
    agree(db, data, meta)
