"""How long the staff table takes to show a page sorted by a question's answer, against the same
page in arrival order, at 10,000 records.

    .venv/bin/python -u bench/table_sort.py [RECORDS]     # 10,000 by default

A real `gocua serve` gets RECORDS households pushed by an enrolled phone over HTTP, in batches
of 100, with Vietnamese names and two or three members. A reviewer made with the CLI logs in,
and then, each five times, median and worst over HTTP:

1. the first page of `/reports/table` (50 rows) in arrival order: the baseline, an index's order;
2. the first page sorted by text (`head_name`, Vietnamese order), by a number (`residents`,
   descending) and by a time (`start`): every record's answer is read for its key;
3. a later page of the text sort, by its cursor (five pages in): as dear as the first;
4. the whole view sorted by text as CSV.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.odata_page import login, report, timed  # noqa: E402
from tests.e2e.test_review_office import Phone  # noqa: E402
from tests.records import adult, child, household_data, record  # noqa: E402
from tests.server_process import ServerProcess  # noqa: E402

FAMILIES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Đặng", "Lò", "Quàng", "Vũ", "Đỗ"]
GIVEN = ["An", "Ánh", "Bình", "Cường", "Dũng", "Đào", "Hoa", "Hương", "Ông", "Ưng", "Yến"]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("count", type=int, nargs="?", default=10_000, help="households")
    count = parser.parse_args().count
    with tempfile.TemporaryDirectory() as folder:
        server = ServerProcess(Path(folder) / "server").start()
        try:
            phone = Phone(server)
            village = phone.villages["Thôn Đông"]
            start = time.perf_counter()
            for first in range(0, count, 100):
                batch = []
                for i in range(first, min(first + 100, count)):
                    name = f"{FAMILIES[i % 10]} Văn {GIVEN[(i * 7) % 11]} {i}"
                    members = [adult(name, 1980), child(f"Lò Thị {i}", 2016)]
                    members += [adult(f"Quàng Thị {i}", 1950)] if i % 2 else []
                    data = household_data(
                        members=members,
                        head_name=name,
                        start=f"2026-11-{1 + i % 28:02}T{i % 24:02}:{i % 60:02}:00+07:00",
                    )
                    batch.append(record(village, data=data))
                assert set(phone.push(*batch)) == {"applied"}
            print(f"{count} households pushed in {time.perf_counter() - start:.1f} s")
            site = login(server)
            table = f"{server.base}/reports/table?col=head_name&col=residents&col=start"
            for what, query in [
                ("table, first page, arrival order (baseline)", ""),
                ("table, first page sorted by head_name (text)", "&sort=head_name"),
                ("table, first page sorted by residents desc", "&sort=residents&order=desc"),
                ("table, first page sorted by start (time)", "&sort=start"),
            ]:
                times, response = timed(site.get, table + query)
                report(what, times, response.text.count("<tr><td>"))
            url = table + "&sort=head_name"
            for _ in range(5):
                found = re.search(r'id="next-page" href="([^"]+)"', site.get(url, timeout=600).text)
                assert found, "a next page"
                url = server.base + found.group(1).replace("&amp;", "&")
            times, response = timed(site.get, url)
            report("table, sixth page sorted by head_name", times, response.text.count("<tr><td>"))
            csv = f"{server.base}/reports/table.csv?col=head_name&col=residents&sort=head_name"
            times, response = timed(site.get, csv)
            report("table as CSV sorted by head_name", times, response.content.count(b"\n") - 1)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
