"""How fast the server checks household records against the default survey (one core).

Target: >= 2,000 records/s for a household with 4 members. The baseline, measured in the same
run, is a JSON round trip of the same record (what any server does with a record at least).

    .venv/bin/python bench/check_records.py [N]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from schemas.form import Form  # noqa: E402
from schemas.validate import RecordChecker  # noqa: E402
from tests.records import VISIT_DATE, adult, child, household_data  # noqa: E402


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    members = [
        adult("Nguyễn Thị Hoa", 1980),
        adult("Nguyễn Văn Tú", 1978, "spouse", "male"),
        child("Nguyễn Văn Nam", 2013),
        child("Nguyễn Thị Bé", 2019),
    ]
    record = household_data(members=members)
    checker = RecordChecker(Form.load())
    assert checker.check(record, today=VISIT_DATE) == {}, "the bench record must be valid"

    start = time.perf_counter()
    for _ in range(n):
        json.loads(json.dumps(record))
    baseline = n / (time.perf_counter() - start)

    start = time.perf_counter()
    for _ in range(n):
        checker.check(record, today=VISIT_DATE)
    rate = n / (time.perf_counter() - start)

    print(f"records checked: {n} (household, 4 members)")
    print(f"check rate:      {rate:,.0f} records/s (target >= 2,000)")
    print(f"baseline:        {baseline:,.0f} JSON round trips/s")
    print(f"ratio:           {rate / baseline:.3f} of the baseline")


if __name__ == "__main__":
    main()
