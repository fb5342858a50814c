"""How much CPU the server's answer check takes per household record of the default survey.

Target: <= 0.1 ms of CPU a realistic record (4 members, every question a volunteer is asked
answered), so that checking stays a small part of the server's 0.33 ms a record at 3,000
records/s. Each shape is checked by the compiled checker (``schemas/validate.py``), in the same
run and alternating round by round by the checker as it was before it was compiled
(``tests/validate_reference.py``, on this checkout's expression engine), and with ``--base REF``
by that commit's own code (``git archive``, in a process of its own, this checkout's virtual
environment); a JSON round trip of the record is a fourth figure (what any server does with a
record at least). CPU time (``time.process_time``), not wall time, with the load average beside
each round: on a shared machine only CPU figures and same-run ratios hold up. The checkers must
give the same verdict on each shape first.

    .venv/bin/python bench/check_records.py [N] [--rounds 3] [--base REF]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def cpu_ms(work: Callable[[], Any], n: int) -> float:
    """CPU milliseconds one call of ``work`` takes, over ``n`` calls."""
    start = time.process_time()
    for _ in range(n):
        work()
    return (time.process_time() - start) * 1000 / n


def shapes() -> dict[str, dict[str, Any]]:
    from tests.records import adult, child, household_data

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


def measure(n: int) -> dict[str, Any]:
    """This tree's checker on each shape: its errors, and its CPU a record."""
    from schemas.form import Form
    from schemas.validate import RecordChecker
    from tests.records import VISIT_DATE

    checker = RecordChecker(Form.load())
    out = {}
    for name, record in shapes().items():
        errors = checker.check(record, today=VISIT_DATE)
        out[name] = {
            "errors": errors,
            "ms": cpu_ms(lambda r=record: checker.check(r, today=VISIT_DATE), n),
        }
    return out


def base_figures(tree: Path, n: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), str(n), "--tree", str(tree)],
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--base", help="a commit whose checker is measured alongside")
    parser.add_argument("--tree", help=argparse.SUPPRESS)  # --base's process: measure that tree
    args = parser.parse_args()
    if args.tree:
        sys.path.insert(0, args.tree)
        print(json.dumps(measure(args.n), ensure_ascii=False))
        return
    sys.path.insert(0, str(ROOT))
    from schemas.form import Form
    from schemas.validate import RecordChecker
    from tests.records import VISIT_DATE
    from tests.validate_reference import ReferenceChecker

    form = Form.load()
    compiled, reference = RecordChecker(form), ReferenceChecker(form)
    records = shapes()
    for name, record in records.items():
        verdict = compiled.check(record, today=VISIT_DATE)
        assert verdict == reference.check(record, today=VISIT_DATE), name
        assert (verdict == {}) == ("errors" not in name), (name, verdict)
    figures: dict[str, list[dict[str, float]]] = {name: [] for name in records}
    with tempfile.TemporaryDirectory() as scratch:
        tree = None
        if args.base:
            from bench.trees import old_tree, short

            tree = old_tree(args.base, Path(scratch) / "base")
            print(f"base: {short(args.base)}")
        for round_ in range(1, args.rounds + 1):
            base = base_figures(tree, args.n) if tree else {}
            for name, record in records.items():
                row = {
                    "compiled": cpu_ms(
                        lambda r=record: compiled.check(r, today=VISIT_DATE), args.n
                    ),
                    "before": cpu_ms(lambda r=record: reference.check(r, today=VISIT_DATE), args.n),
                    "json": cpu_ms(lambda r=record: json.loads(json.dumps(r)), args.n),
                    "load": os.getloadavg()[0],
                }
                if name in base:
                    assert base[name]["errors"] == compiled.check(record, today=VISIT_DATE), name
                    row["base"] = base[name]["ms"]
                figures[name].append(row)
            print(f"round {round_} of {args.rounds} done (load average {os.getloadavg()[0]:.2f})")
    for name, rows in figures.items():
        print(f"{name}: CPU a record, {args.n} checks a figure")
        for i, row in enumerate(rows, 1):
            new = row["compiled"]
            line = (
                f"  round {i}: compiled {new:.4f} ms ({1000 / new:,.0f}/s);"
                f" checker before {row['before']:.4f} ms ({row['before'] / new:.2f}x)"
            )
            if "base" in row:
                line += f"; {args.base} {row['base']:.4f} ms ({row['base'] / new:.2f}x)"
            line += f"; JSON round trip {row['json']:.4f} ms; load average {row['load']:.2f}"
            print(line)
        best = min(r["compiled"] for r in rows)
        print(f"  best: compiled {best:.4f} ms a record ({1000 / best:,.0f} records/s)")
    print("target: <= 0.1 ms CPU a household record of 4 members")


if __name__ == "__main__":
    main()
