"""How much CPU the server's answer check takes per household record of the default survey.

Target: <= 0.1 ms of CPU a realistic record (4 members, every question a volunteer is asked
answered), so that checking stays a small part of the server's 0.33 ms a record at 3,000
records/s. The record is checked by the compiled checker (``schemas/validate.py``) and, in the
same run and alternating round by round, by the checker as it was before it was compiled
(``tests/validate_reference.py``), with a JSON round trip of the record as a third figure (what
any server does with a record at least). CPU time (``time.process_time``), not wall time, with
the load average beside each round: on a shared machine only CPU figures and same-run ratios
hold up. Both checkers must give the same verdict on each shape first.

    .venv/bin/python bench/check_records.py [N] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from schemas.form import Form  # noqa: E402
from schemas.validate import RecordChecker  # noqa: E402
from tests.records import VISIT_DATE, adult, child, household_data  # noqa: E402
from tests.validate_reference import ReferenceChecker  # noqa: E402


def cpu_ms(work: Callable[[], Any], n: int) -> float:
    """CPU milliseconds one call of ``work`` takes, over ``n`` calls."""
    start = time.process_time()
    for _ in range(n):
        work()
    return (time.process_time() - start) * 1000 / n


def shapes() -> dict[str, dict[str, Any]]:
    four = [
        adult("Nguyễn Thị Hoa", 1980),
        adult("Nguyễn Văn Tú", 1978, "spouse", "male"),
        child("Nguyễn Văn Nam", 2013),
        child("Nguyễn Thị Bé", 2019),
    ]
    refused = household_data(members=[dict(m) for m in four])
    refused["members"][1]["birth_year"] = 2030  # one constraint broken: a message built
    del refused["members"][0]["vneid_login"]  # one required answer missing
    return {
        "household, 4 members": household_data(members=four),
        "household, 2 members": household_data(),
        "4 members, 2 errors": refused,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    form = Form.load()
    compiled, reference = RecordChecker(form), ReferenceChecker(form)
    for name, record in shapes().items():
        verdict = compiled.check(record, today=VISIT_DATE)
        assert verdict == reference.check(record, today=VISIT_DATE), name
        expected_valid = "errors" not in name
        assert (verdict == {}) == expected_valid, (name, verdict)
        print(f"{name} ({len(verdict)} errors), {args.n} checks a figure:")
        ratios = []
        for round_ in range(1, args.rounds + 1):
            new = cpu_ms(lambda r=record: compiled.check(r, today=VISIT_DATE), args.n)
            old = cpu_ms(lambda r=record: reference.check(r, today=VISIT_DATE), args.n)
            trip = cpu_ms(lambda r=record: json.loads(json.dumps(r)), args.n)
            ratios.append(old / new)
            print(
                f"  round {round_}: compiled {new:.4f} ms CPU a record ({1000 / new:,.0f}/s),"
                f" before {old:.4f} ms ({old / new:.2f}x),"
                f" JSON round trip {trip:.4f} ms;"
                f" load average {os.getloadavg()[0]:.2f}"
            )
        print(f"  speed-up over the checker before: {min(ratios):.2f}x-{max(ratios):.2f}x")
    print("target: <= 0.1 ms CPU a household record of 4 members")


if __name__ == "__main__":
    main()
