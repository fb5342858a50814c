"""How much CPU counting a record's indicators takes (``IndicatorSet.compute``): what the
reports' background count does for every record received, beside the push's own work.

Each shape of a default-survey record is counted by the compiled count and, in the same run and
alternating round by round, by the count before it was compiled (``tests/indicators_reference.py``,
the interpreter evaluating every expression from the record); both must give the same counts
first. CPU time (``time.process_time``), with the load average beside each round.

    .venv/bin/python bench/count_records.py [N] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.check_records import cpu_ms, shapes  # noqa: E402
from schemas.form import Form  # noqa: E402
from schemas.indicators import indicator_set  # noqa: E402
from tests import indicators_reference  # noqa: E402
from tests.records import VISIT_DATE  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    form, counted = Form.load(), indicator_set("ho_gia_dinh_cds")
    assert counted is not None
    records = {**shapes(), "not surveyed": {"outcome": "not_home"}}
    for name, record in records.items():
        facts = counted.compute(form, record, VISIT_DATE)
        assert facts == indicators_reference.compute(counted, form, record, VISIT_DATE), name
        assert facts.surveyed == (name != "not surveyed"), name
    figures: dict[tuple[str, str], list[float]] = {}
    for round_ in range(1, args.rounds + 1):
        load = os.getloadavg()[0]
        for name, record in records.items():
            for how, count in (
                (
                    "before",
                    lambda r=record: indicators_reference.compute(counted, form, r, VISIT_DATE),
                ),
                ("compiled", lambda r=record: counted.compute(form, r, VISIT_DATE)),
            ):
                figures.setdefault((name, how), []).append(cpu_ms(count, args.n))
        print(f"round {round_} done (load average {load:.2f})")
    print(f"CPU a record, median of {args.rounds} rounds of {args.n:,}:")
    for name in records:
        before = statistics.median(figures[(name, "before")])
        now = statistics.median(figures[(name, "compiled")])
        print(f"  {name:22} before {before:.3f} ms, compiled {now:.3f} ms ({before / now:.2f}×)")


if __name__ == "__main__":
    main()
