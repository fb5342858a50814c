"""How many of this tree's shared expression cases another tree's engines pass.

    .venv/bin/python bench/expression_cases.py [TREE]

TREE is a checkout of Gõ Cửa (default: this one), for example an older commit made with
``git worktree add /tmp/old <commit>``. Its Python engine runs in a child process (so that its
``schemas`` package is the one imported) and its JavaScript engine in Node; each case runs in the
local zone it names. Prints the counts and the first cases each engine fails.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "schemas" / "expression_cases.json"

PYTHON_RUNNER = r"""
import json, math, os, sys, time
sys.path.insert(0, sys.argv[1])
from schemas.expressions import Context, evaluate
suite = json.load(open(sys.argv[2], encoding="utf-8"))
fields = Context.__dataclass_fields__

def same(actual, expect):
    if isinstance(expect, dict):
        if "nan" in expect:
            return type(actual) is float and math.isnan(actual)
        if "inf" in expect:
            return type(actual) is float and actual == math.inf * expect["inf"]
        want = expect["nodeset"]
        return type(actual) is list and len(actual) == len(want) and all(
            same(a, w) for a, w in zip(actual, want))
    if isinstance(expect, bool):
        return actual is expect
    if isinstance(expect, (int, float)):
        return type(actual) is float and math.isclose(actual, expect, rel_tol=1e-12, abs_tol=1e-12)
    return type(actual) is str and actual == expect

results = []
for case in suite["cases"]:
    os.environ["TZ"] = case.get("tz", suite.get("tz", "UTC"))
    time.tzset()
    extra = {"choices": case["choices"]} if "choices" in case and "choices" in fields else {}
    ctx = Context(data=case.get("data", suite["data"]), fields=case.get("fields", suite["fields"]),
                  position=case.get("position", []), current=case.get("current"),
                  today=case.get("today"), now=case.get("now"), **extra)
    try:
        value = evaluate(case["expr"], ctx)
        ok = "error" not in case and same(value, case["expect"])
    except Exception as exc:
        ok = getattr(exc, "code", None) == case.get("error")
    results.append(ok)
print(json.dumps(results))
"""

NODE_RUNNER = r"""
const [tree, casesPath] = process.argv.slice(1);
const { evaluate } = await import(`${tree}/pwa/js/expr.js`);
const { readFileSync } = await import('node:fs');
const suite = JSON.parse(readFileSync(casesPath, 'utf8'));
const close = (a, b) => a === b
  || Math.abs(a - b) <= Math.max(1e-12, 1e-12 * Math.max(Math.abs(a), Math.abs(b)));
function same(actual, expect) {
  if (expect !== null && typeof expect === 'object') {
    if ('nan' in expect) return typeof actual === 'number' && Number.isNaN(actual);
    if ('inf' in expect) return actual === expect.inf * Infinity;
    return Array.isArray(actual) && actual.length === expect.nodeset.length
      && actual.every((a, i) => same(a, expect.nodeset[i]));
  }
  if (typeof expect === 'number') return typeof actual === 'number' && close(actual, expect);
  return actual === expect;
}
const results = suite.cases.map((c) => {
  process.env.TZ = c.tz ?? suite.tz ?? 'UTC';
  const ctx = { data: c.data ?? suite.data, fields: c.fields ?? suite.fields,
    position: c.position ?? [], current: c.current ?? null, today: c.today ?? null,
    now: c.now ?? null, choices: c.choices ?? null };
  try {
    const value = evaluate(c.expr, ctx);
    return !('error' in c) && same(value, c.expect);
  } catch (err) {
    return err.code === c.error;
  }
});
process.stdout.write(JSON.stringify(results));
"""


def main(argv: list[str]) -> int:
    tree = Path(argv[0] if argv else ROOT).resolve()
    cases = json.loads(CASES.read_text(encoding="utf-8"))["cases"]
    python = subprocess.run(
        [sys.executable, "-c", PYTHON_RUNNER, str(tree), str(CASES)],
        capture_output=True,
        text=True,
        check=True,
    )
    node = subprocess.run(
        ["node", "--input-type=module", "-e", NODE_RUNNER, str(tree), str(CASES)],
        capture_output=True,
        text=True,
        check=True,
    )
    for engine, out in (("python", python.stdout), ("javascript", node.stdout)):
        passed = json.loads(out)
        failed = [c["expr"] for c, ok in zip(cases, passed, strict=True) if not ok]
        print(f"{engine}: {len(cases) - len(failed)} of {len(cases)} cases pass ({tree})")
        for expr in failed[:5]:
            print(f"  fails: {expr}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
