"""Both checkers agree on random lines and shapes: Hypothesis draws answers near the rule's
edges (numbers in every spelling two languages read differently, separators, white space of
both kinds, closed and open rings) and one ``node tests/js/check_cli.mjs`` call checks a batch
the way the phone does; every answer must get the server's codes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.form import Form
from schemas.validate import RecordChecker
from tests.unit.test_geo import FORM

# Left out of `make test-fast`, as the expressions' property test is: 600 answers (~5 s).
pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]

numbers = st.one_of(
    st.floats(min_value=-200, max_value=200, allow_nan=False).map(lambda x: f"{x:.6f}"),
    st.integers(min_value=-200, max_value=200).map(str),
    st.sampled_from(
        ["90", "-90", "180", "-180.0", "1e1", "1E+2", ".5", "5.", "+3", "1_0", "0x10", "Infinity",
         "NaN", "1e999", "", "-", "1e-999", "٣", "1,5", "1000000", "100001", "-0"]
    ),
)  # fmt: skip
spaces = st.sampled_from([" ", "  ", "\t", "\n", "\u00a0", "\u2003", ""])
points = st.lists(numbers, min_size=1, max_size=5).flatmap(
    lambda nums: spaces.map(lambda gap: (gap or " ").join(nums))
)
answers = st.one_of(
    st.lists(points, min_size=0, max_size=7).flatmap(
        lambda pts: st.sampled_from([";", "; ", " ;", ";;"]).map(lambda sep: sep.join(pts))
    ),
    # Rings: closed, or closed but for one of the first point's two numbers.
    st.lists(points, min_size=3, max_size=6).map(lambda pts: ";".join([*pts, pts[0]])),
    st.tuples(numbers, numbers, numbers, st.booleans()).map(
        lambda t: f"{t[0]} {t[1]};1 2;2 3;" + (f"{t[0]} {t[2]}" if t[3] else f"{t[2]} {t[1]}")
    ),
    st.text(alphabet="0123456789.-+eE ;\t", max_size=40),
    st.sampled_from([None, 3, ["1 2", "3 4"], {"lat": 1}, True]),
)


def server_codes(form: Form, data: dict[str, Any]) -> dict[str, list[str]]:
    errors = RecordChecker(form).check(data)
    return {path: [e["code"] for e in found] for path, found in errors.items()}


@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(answers, answers), min_size=150, max_size=150))
def test_the_phone_and_the_server_check_lines_and_shapes_alike(batch: list[Any]) -> None:
    cases = [
        {k: v for k, v in (("path", line), ("plot", shape)) if v is not None}
        for line, shape in batch
    ]
    payload = {
        "form": FORM.definition,
        "cases": [{"data": data, "today": "2026-11-30"} for data in cases],
    }
    out = subprocess.run(
        ["node", str(ROOT / "tests/js/check_cli.mjs")],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    for data, js in zip(cases, json.loads(out.stdout), strict=True):
        phone = {p: [e["code"] for e in errs] for p, errs in js["errors"].items()}
        assert phone == server_codes(FORM, data), data
