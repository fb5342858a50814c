"""The form engine on the phone with a big form: 1,000 questions, 500 of them calculations.

Targets (headless Chromium): the form opens <= 1 s; recomputing after one answer changes
<= 50 ms. The baseline, in the same run, is the same work on the default survey.

    .venv/bin/python bench/form_engine.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import sync_playwright  # noqa: E402

from schemas.form import DEFAULT_FORM  # noqa: E402
from tests.e2e.conftest import CHROMIUM, FLAGS  # noqa: E402
from tests.server_process import ServerProcess  # noqa: E402


def big_form(questions: int = 1000, calculations: int = 500) -> dict:
    """Integers in groups of 50; each calculation reads the question before it and the last
    calculation, so one answer ripples through a chain, as sums and scores do."""
    survey: list[dict] = []
    asked = questions - calculations
    for group in range(asked // 50):
        survey.append({"type": "begin_group", "name": f"g{group}", "label": f"Part {group}"})
        for i in range(group * 50, group * 50 + 50):
            row = {
                "type": "integer",
                "name": f"q{i}",
                "label": f"Question {i}",
                "constraint": ". >= 0 and . <= 100",
            }
            if i % 10 == 9:
                row["relevant"] = f"${{q{i - 1}}} != 7"
            survey.append(row)
        survey.append({"type": "end_group"})
    for c in range(calculations):
        previous = f" + ${{c{c - 1}}}" if c else ""
        survey.append(
            {
                "type": "calculate",
                "name": f"c{c}",
                "calculation": f"coalesce(${{q{c % asked}}}, 0){previous}",
            }
        )
    return {"settings": {"form_id": "big", "version": "1"}, "survey": survey, "choices": []}


MEASURE = """async (definition) => {
  const { Form, Rules } = await import('/app/js/form.js');
  const { FormView } = await import('/app/js/render.js');
  const root = document.createElement('div');
  document.body.append(root);
  const t = (k) => k;
  let t0 = performance.now();
  const form = new Form(definition);
  const rules = new Rules(form, { today: '2026-11-20' });
  const view = new FormView({ form, rules, data: {}, lang: 'vi', root, t, onChange: () => {} });
  view.mount();
  const open = performance.now() - t0;
  const input = root.querySelector('.question input');
  const times = [];
  for (let i = 0; i < 7; i++) {
    input.value = String(i + 1);
    t0 = performance.now();
    input.dispatchEvent(new Event('change'));
    times.push(performance.now() - t0);
  }
  root.remove();
  times.sort((a, b) => a - b);
  const questions = [...form.nodes.values()].filter((n) => n.kind === 'field').length;
  return { open, change: times[3], questions };
}"""


def main() -> None:
    big = big_form()
    default = json.loads(DEFAULT_FORM.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        server = ServerProcess(Path(tmp)).start()
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page()
            page.goto(f"{server.base}/app/manifest.webmanifest")
            base = page.evaluate(MEASURE, default)
            result = page.evaluate(MEASURE, big)
        finally:
            browser.close()
            server.stop()
    print(
        f"form of {result['questions']} questions (500 calculations): opens in "
        f"{result['open']:.0f} ms (target <= 1000 ms), one answer recomputed in "
        f"{result['change']:.1f} ms (target <= 50 ms, median of 7)"
    )
    print(
        f"baseline, the default survey ({base['questions']} questions): opens in "
        f"{base['open']:.0f} ms,"
        f" one answer in {base['change']:.1f} ms; ratios {result['open'] / base['open']:.1f}x, "
        f"{result['change'] / base['change']:.1f}x"
    )


if __name__ == "__main__":
    main()
