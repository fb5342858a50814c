"""How long the OData feed takes to serve a page of 10,000 rows, against the CSV export of the
same rows in the same run.

    .venv/bin/python -u bench/odata_page.py [RECORDS]     # 10,000 by default

A real `gocua serve` gets RECORDS households (two or three members each) pushed by an enrolled
phone over HTTP, in batches of 100. A reviewer made with the CLI logs in, makes an API token on
the staff site, and then, each five times, median and worst over HTTP:

1. `Submissions?$top=10000` and `Submissions.members?$top=10000` (the feed, v4 JSON);
2. the same households as the CSV export (`/reports/export/households.csv`): the baseline, the
   same rows read by the same code (`reports/exports.py`) and written as CSV;
3. a page of 1,000 at the start of the feed and the last page, reached by following the
   next links: a page's cost must not grow with how far into the feed it is.
"""

from __future__ import annotations

import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.test_review_office import Phone  # noqa: E402
from tests.records import adult, child, household_data, record  # noqa: E402
from tests.server_process import ServerProcess  # noqa: E402

RUNS = 5
FEED = "/odata/ho_gia_dinh_cds.svc"


def login(server: ServerProcess) -> requests.Session:
    password = server.add_staff(
        "add", "bench.odata", "--name", "Bench", "--role", "reviewer", "--commune", "99999"
    )
    site = requests.Session()
    page = site.get(f"{server.base}/login", timeout=30).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    site.post(
        f"{server.base}/login",
        data={"username": "bench.odata", "password": password, "csrf_token": csrf},
        timeout=30,
    ).raise_for_status()
    return site


def token(server: ServerProcess, site: requests.Session) -> str:
    page = site.get(f"{server.base}/odata/tokens", timeout=30).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    made = site.post(
        f"{server.base}/odata/tokens", data={"name": "bench", "csrf_token": csrf}, timeout=30
    )
    return re.search(r'id="new-token">([^<]+)<', made.text).group(1)


def timed(get: Any, url: str) -> tuple[list[float], requests.Response]:
    times, response = [], None
    for _ in range(RUNS):
        start = time.perf_counter()
        response = get(url, timeout=600)
        times.append(time.perf_counter() - start)
        response.raise_for_status()
    assert response is not None
    return times, response


def report(what: str, times: list[float], rows: int) -> None:
    median = statistics.median(times)
    print(
        f"{what:<52} median {median * 1000:8.0f} ms  worst {max(times) * 1000:8.0f} ms"
        f"  {rows:>6} rows  {rows / median:>9,.0f} rows/s"
    )


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as folder:
        server = ServerProcess(Path(folder) / "server").start()
        try:
            phone = Phone(server)
            village = phone.villages["Thôn Đông"]
            start = time.perf_counter()
            for first in range(0, count, 100):
                batch = [
                    record(
                        village,
                        data=household_data(
                            members=[adult(f"Lò Văn {i}", 1980), child(f"Lò Thị {i}", 2016)]
                            + ([adult(f"Quàng Thị {i}", 1950)] if i % 2 else [])
                        ),
                    )
                    for i in range(first, min(first + 100, count))
                ]
                assert set(phone.push(*batch)) == {"applied"}
            print(f"{count} households pushed in {time.perf_counter() - start:.1f} s")
            site = login(server)
            feed = requests.Session()
            feed.headers["Authorization"] = f"Bearer {token(server, site)}"

            times, response = timed(feed.get, f"{server.base}{FEED}/Submissions?$top=10000")
            rows = len(response.json()["value"])
            report("OData Submissions, $top=10000", times, rows)
            size = len(response.content)
            times, response = timed(feed.get, f"{server.base}{FEED}/Submissions.members?$top=10000")
            report("OData Submissions.members, $top=10000", times, len(response.json()["value"]))
            times, response = timed(site.get, f"{server.base}/reports/export/households.csv")
            csv_rows = response.content.count(b"\n") - 1
            report("baseline: CSV export of the households", times, csv_rows)
            print(f"bytes: OData page {size:,}, CSV {len(response.content):,}")

            times, response = timed(feed.get, f"{server.base}{FEED}/Submissions?$top=1000")
            report("OData page of 1,000 at the start", times, len(response.json()["value"]))
            link = response.json().get("@odata.nextLink")
            last = link
            while link:
                last = link
                link = feed.get(link, timeout=600).json().get("@odata.nextLink")
            if last:
                path = urlsplit(last)
                times, response = timed(feed.get, f"{server.base}{path.path}?{path.query}")
                report(
                    "OData last page of 1,000 (by its next link)",
                    times,
                    len(response.json()["value"]),
                )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
