"""A big imported form on the phone engine: 1,000 questions, one of them a select_one_from_file
of a 10,000-row CSV file, opened and answered by the collector's own form.js and render.js in
headless Chromium with the CPU slowed 4x through CDP (as bench/search.py does).

Targets (issue #13): the form opens in <= 1 s and one answer is recomputed in <= 50 ms; the
collector's first visit stays <= 100 KB gzip without attachments. Same-run baseline: a
100-question form with a 100-row file. The file goes through the real import path
(``schemas/file_choices.py``), so the definition is the one a phone receives.

Open: from the definition to the first frame drawn (Form, Rules, FormView.mount, layout and
paint). One answer: an integer changed, to the next frame; and the 10,000-row question
answered, to the next frame. Medians of 7, after one warm-up run.

    .venv/bin/python bench/form_scale.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import sync_playwright  # noqa: E402

from bench.collector import first_visit_bytes  # noqa: E402
from schemas.file_choices import inline_file_choices  # noqa: E402
from tests.e2e.conftest import CHROMIUM, FLAGS  # noqa: E402
from tests.server_process import ServerProcess  # noqa: E402

RUNS = 7


def scaled_form(questions: int, rows: int, filtered: bool = False) -> dict[str, Any]:
    """``questions`` questions in parts of 50: the first chooses a household from a file of
    ``rows`` rows (name, label, village), the others integers and, one in five, calculations
    summing along a chain; one in ten integers is shown only when the one before is not 7.
    ``filtered``: the household is chosen among those of the village answered first."""
    body = "name,label,thon\n" + "".join(
        f"h{i},Hộ số {i} ({'Đông' if i % 2 else 'Tây'}),{'dong' if i % 2 else 'tay'}\n"
        for i in range(rows)
    )
    survey: list[dict[str, Any]] = [
        {"type": "begin_group", "name": "g0", "label": "Part 0"},
        {"type": "select_one_from_file ho.csv", "name": "ho", "label": "Hộ nào?"},
    ]
    if filtered:
        survey[1]["choice_filter"] = "thon = ${thon}"
        survey.insert(1, {"type": "select_one thon", "name": "thon", "label": "Thôn nào?"})
    last_calc = ""
    for i in range(1, questions):
        if i % 50 == 0:
            survey += [
                {"type": "end_group"},
                {"type": "begin_group", "name": f"g{i // 50}", "label": f"Part {i // 50}"},
            ]
        if i % 5 == 4:
            chain = f" + ${{{last_calc}}}" if last_calc else ""
            survey.append(
                {
                    "type": "calculate",
                    "name": f"c{i}",
                    "calculation": f"coalesce(${{q{i - 1}}}, 0){chain}",
                }
            )
            last_calc = f"c{i}"
            continue
        row = {"type": "integer", "name": f"q{i}", "label": f"Câu {i}", "constraint": ". >= 0"}
        if i % 10 == 3:
            row["relevant"] = f"${{q{i - 1}}} != 7"
        survey.append(row)
    survey.append({"type": "end_group"})
    choices: list[dict[str, Any]] = [
        {"list_name": "thon", "name": "dong", "label": "Đông"},
        {"list_name": "thon", "name": "tay", "label": "Tây"},
    ]
    inline_file_choices(survey, choices, {"ho.csv": body.encode()})
    return {"settings": {"form_id": "scale", "version": "1"}, "survey": survey, "choices": choices}


MEASURE = """async ({ definition, runs }) => {
  const { Form, Rules } = await import('/app/js/form.js');
  const { FormView } = await import('/app/js/render.js');
  const frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  const t = (k) => k;
  const opens = [], answers = [], picks = [];
  let questions = 0, choices = 0;
  for (let run = 0; run <= runs; run++) {
    const root = document.createElement('div');
    document.body.append(root);
    // A fresh copy each run: nothing cached on the definition's objects from the run before.
    const copy = JSON.parse(JSON.stringify(definition));
    let t0 = performance.now();
    const form = new Form(copy);
    const rules = new Rules(form, { today: '2026-11-20' });
    const view = new FormView({ form, rules, data: {}, lang: 'vi', root, t, onChange: () => {} });
    view.mount();
    root.offsetHeight;
    await frame();
    const open = performance.now() - t0;
    const village = root.querySelector('[data-path="thon"] input');
    if (village) {
      village.checked = true;
      village.dispatchEvent(new Event('change', { bubbles: true }));
      await frame();
    }
    const input = root.querySelector('.type-integer input');
    input.value = String(run + 1);
    t0 = performance.now();
    input.dispatchEvent(new Event('change', { bubbles: true }));
    root.offsetHeight;
    await frame();
    const answer = performance.now() - t0;
    const radios = root.querySelectorAll('[data-path="ho"] input');
    const pick = radios[radios.length - 1 - run];
    t0 = performance.now();
    if (pick) { pick.checked = true; pick.dispatchEvent(new Event('change', { bubbles: true })); }
    root.offsetHeight;
    await frame();
    const picked = performance.now() - t0;
    if (run > 0) { opens.push(open); answers.push(answer); picks.push(picked); }
    questions = [...form.nodes.values()].filter((n) => n.kind === 'field').length;
    choices = form.choiceList(form.nodes.get('ho')).length;
    root.remove();
  }
  return { opens, answers, picks, questions, choices };
}"""


def measure(page: Any, definition: dict[str, Any]) -> dict[str, Any]:
    return page.evaluate(MEASURE, {"definition": definition, "runs": RUNS})


def main() -> None:
    forms = {
        "target": scaled_form(1000, 10_000),
        "the same, the file's list filtered by the village answered": scaled_form(
            1000, 10_000, filtered=True
        ),
        "baseline": scaled_form(100, 100),
    }
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        server = ServerProcess(Path(tmp)).start()
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            sent, raw = first_visit_bytes(browser, server)
            context = browser.new_context(viewport={"width": 360, "height": 640}, is_mobile=True)
            page = context.new_page()
            page.set_default_timeout(600_000)
            page.goto(f"{server.base}/app/manifest.webmanifest")
            cdp = context.new_cdp_session(page)
            cdp.send("Emulation.setCPUThrottlingRate", {"rate": 4})
            results = {label: measure(page, form) for label, form in forms.items()}
            context.close()
        finally:
            browser.close()
            server.stop()
    print("phone engine (form.js + render.js), Chromium, CPU 4x slower; medians of", RUNS)
    for label, r in results.items():
        print(
            f"{label}: {r['questions']} questions, a list of {r['choices']} choices from a file:"
            f" opens in {statistics.median(r['opens']):.0f} ms (worst {max(r['opens']):.0f}),"
            f" one answer {statistics.median(r['answers']):.1f} ms"
            f" (worst {max(r['answers']):.1f}), the file's question answered"
            f" {statistics.median(r['picks']):.1f} ms (worst {max(r['picks']):.1f})"
        )
    print("targets: opens <= 1000 ms, one answer <= 50 ms")
    print(f"collector's first visit: {sent / 1024:.1f} KB gzip ({raw / 1024:.1f} KB uncompressed);")
    print("target <= 100 KB")


if __name__ == "__main__":
    main()
