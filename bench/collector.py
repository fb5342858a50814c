"""The collector's speed on a phone-like browser (headless Chromium, real server on loopback).

Prints:
- first visit: bytes transferred (as sent, gzip) for the shell, the code and the default form,
  against the same files uncompressed (target <= 100 KB);
- first visit usable on slow 3G (400 kbps, 400 ms RTT) with a 4x slower CPU, and a later visit
  with the server down (targets <= 3 s and <= 1 s), against loading one small static file
  under the same conditions;
- with 5,000 records on the phone: the home screen with its lists, and saving one record
  (targets <= 300 ms and <= 50 ms), against one IndexedDB read of a single record.

    .venv/bin/python bench/collector.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.e2e.conftest import CHROMIUM, FLAGS  # noqa: E402
from tests.server_process import ServerProcess  # noqa: E402

SLOW_3G = {
    "offline": False,
    "latency": 200,
    "downloadThroughput": 400_000 / 8,
    "uploadThroughput": 400_000 / 8,
}  # 200 ms each way: 400 ms round trip


def first_visit_bytes(browser, server: ServerProcess) -> tuple[int, int]:
    context = browser.new_context(viewport={"width": 360, "height": 640})
    page = context.new_page()
    sizes: list[tuple[int, int]] = []

    def count(response) -> None:
        try:
            body = len(response.body())
        except Exception:  # redirects and 304s have no body
            body = 0
        sizes.append((response.request.sizes()["responseBodySize"], body))

    context.on("response", count)  # the service worker's precache requests included
    page.goto(server.cli("enroll").strip().splitlines()[-1])
    page.locator("#household-list [data-household]").first.wait_for()
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    page.wait_for_timeout(500)  # let the last precache responses be counted, not measured
    context.close()
    return sum(s for s, _ in sizes), sum(b for _, b in sizes)


def throttled(page, cpu: float = 4) -> None:
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", SLOW_3G)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": cpu})


def slow_visits(browser, server: ServerProcess) -> tuple[float, float, float]:
    context = browser.new_context(viewport={"width": 360, "height": 640})
    page = context.new_page()
    throttled(page)
    start = time.perf_counter()
    page.goto(f"{server.base}/app/manifest.webmanifest")
    baseline = time.perf_counter() - start
    url = server.cli("enroll").strip().splitlines()[-1]
    start = time.perf_counter()
    page.goto(url)
    page.locator("#household-list [data-household]").first.wait_for(timeout=60_000)
    first = time.perf_counter() - start
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=60_000)
    server.stop()
    start = time.perf_counter()
    page.reload()
    page.locator("#household-list [data-household]").first.wait_for(timeout=60_000)
    later = time.perf_counter() - start
    server.start()
    context.close()
    return baseline, first, later


FILL = """async (n) => {
  const db = await import('/app/js/db.js');
  const households = await db.all('households');
  const form = (await db.all('forms'))[0];
  const records = [];
  for (let i = 0; i < n; i++) {
    const h = households[i % households.length];
    records.push({ id: crypto.randomUUID(), rev: crypto.randomUUID(), base_rev: null,
      form_id: form.form_id, form_version: form.version, household_id: h.id,
      village_id: h.village_id, household_name: h.head_name,
      state: i % 3 ? 'synced' : 'finalized',
      data: { outcome: 'completed', consent: 'yes', head_name: h.head_name, residents: 4,
        members: Array.from({ length: 4 },
          (_, k) => ({ member_name: 'Người ' + k, birth_year: 1970 + k })) },
      meta: { visit_date: '2026-11-20' },
      updated_at: new Date(Date.now() - i * 1000).toISOString() });
  }
  await db.transaction(['records'], 'readwrite',
    (s) => { for (const r of records) s.records.put(r); });
  return records[0].id;
}"""

TIME_HOME = """async () => {
  const nav = await import('/app/js/nav.js');
  const t0 = performance.now();
  await nav.go('home');
  return performance.now() - t0;
}"""

TIME_SAVE = """async (id) => {
  const db = await import('/app/js/db.js');
  const r = await db.get('records', id);
  let t0 = performance.now();
  await db.get('records', id);
  const read = performance.now() - t0;
  r.data.notes = 'x';
  t0 = performance.now();
  await db.put('records', r);
  return [read, performance.now() - t0];
}"""


def many_records(browser, server: ServerProcess, n: int = 5000) -> tuple[float, float, float]:
    context = browser.new_context(viewport={"width": 360, "height": 640})
    page = context.new_page()
    page.goto(server.cli("enroll").strip().splitlines()[-1])
    page.locator("#household-list [data-household]").first.wait_for()
    some_id = page.evaluate(FILL, n)
    page.evaluate(TIME_HOME)  # warm: the first call compiles the modules' code
    home = min(page.evaluate(TIME_HOME) for _ in range(5))
    read, save = min((page.evaluate(TIME_SAVE, some_id) for _ in range(5)), key=lambda x: x[1])
    context.close()
    return home, save, read


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        server = ServerProcess(Path(tmp)).start()
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            sent, raw = first_visit_bytes(browser, server)
            print(
                f"first visit transferred: {sent / 1024:.1f} KB gzip "
                f"({raw / 1024:.1f} KB uncompressed, ratio {sent / raw:.2f}); target <= 100 KB"
            )
            baseline, first, later = slow_visits(browser, server)
            print(
                f"slow 3G + 4x CPU: first visit usable {first:.2f} s (target <= 3 s); "
                f"later visit, server down {later:.2f} s (target <= 1 s); "
                f"one small file {baseline:.2f} s (ratios {first / baseline:.1f}x, "
                f"{later / baseline:.1f}x)"
            )
            home, save, read = many_records(browser, server)
            print(
                f"5,000 records on the phone: home screen {home:.0f} ms (target <= 300 ms); "
                f"saving a record {save:.1f} ms (target <= 50 ms); "
                f"baseline: reading one record {read:.1f} ms"
            )
        finally:
            browser.close()
            server.stop()


if __name__ == "__main__":
    main()
