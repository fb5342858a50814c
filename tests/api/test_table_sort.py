"""The staff table sorted by any column: numbers as numbers, text in Vietnamese order, dates as
moments, choices in the form's order, empty answers last both ways; pages by cursor give every
record once under any sort, and the CSV is the view in the same order."""

from __future__ import annotations

import csv
import io
import random
import re
from typing import Any

from schemas.xlsform import read_xlsform
from server.domain.db import write_transaction
from server.domain.forms import install_form
from tests.api.test_reports_dashboard import login_as, push
from tests.api.test_reports_table import cells, headings
from tests.loop_forms import twice_workbook
from tests.records import adult, child, household_data, record

START = "2026-11-20T08:00:00+07:00"


def every_page(client: Any, url: str) -> list[list[str]]:
    """The rows of every page, following the next-page links."""
    seen: list[list[str]] = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, url
        page = response.get_data(as_text=True)
        seen += cells(page)
        found = re.search(r'id="next-page" href="([^"]+)"', page)
        url = found.group(1).replace("&amp;", "&") if found else ""
    return seen


def view_csv(client: Any, query: str) -> list[list[str]]:
    response = client.get(f"/reports/table.csv?{query}")
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))[1:]


def households(client: Any, phone: dict[str, Any], *answers: dict[str, Any]) -> None:
    """One record a household, its answers over the default ones; ``residents`` gives that
    many members, and ``residents=None`` a visit that found nobody home (no answers but its
    start and outcome: the empty cells)."""
    village = phone["villages"][0]["id"]
    items = []
    for given in answers:
        given = dict(given)
        size = given.pop("residents", 2)
        if size is None:
            data = {"start": given.get("start", START), "outcome": "nobody_home"}
        else:
            members = [adult("Lò Văn Một", 1980)] + [child("Lò Văn Con", 2016)] * (size - 1)
            data = household_data(members=members, **given)
        items.append(record(village, data=data))
    for at in range(0, len(items), 50):  # a push's batch is bounded
        push(client, phone, *items[at : at + 50])


def column(rows: list[list[str]], index: int = -1) -> list[str]:
    return [row[index] for row in rows]


def test_numbers_sort_as_numbers_and_empty_answers_come_last(client, db, phone):
    households(
        client,
        phone,
        {"head_name": "mười", "residents": 10},
        {"residents": None},
        {"head_name": "hai", "residents": 2},
        {"head_name": "hai mươi lăm", "residents": 25},
        {"head_name": "chín", "residents": 9},
    )
    login_as(client, db, "reviewer")
    base = "col=residents&col=head_name&sort=residents"
    assert column(every_page(client, f"/reports/table?{base}")) == [
        "hai",
        "chín",
        "mười",
        "hai mươi lăm",
        "",
    ]
    descending = ["hai mươi lăm", "mười", "chín", "hai", ""]
    assert column(every_page(client, f"/reports/table?{base}&order=desc")) == descending
    assert column(view_csv(client, f"{base}&order=desc")) == descending


def test_text_sorts_in_vietnamese_order(client, db, phone):
    names = ["Zin", "Đào Văn Em", "Ánh", "Bình", "Dương Thị Bé", "Ân", "Anh", "an", "Ăn"]
    households(client, phone, *({"head_name": n} for n in names), {"residents": None})
    login_as(client, db, "admin")
    expected = ["an", "Anh", "Ánh", "Ăn", "Ân", "Bình", "Dương Thị Bé", "Đào Văn Em", "Zin", ""]
    url = "/reports/table?col=head_name&sort=head_name"
    assert column(every_page(client, url)) == expected
    assert column(every_page(client, f"{url}&order=desc")) == [*expected[-2::-1], ""]


def test_times_sort_as_moments_whatever_their_offset(client, db, phone):
    starts = {
        "bốn giờ rưỡi": "2026-11-19T23:30:00-05:00",  # 04:30 UTC on the 20th
        "nửa giờ": "2026-11-20T07:30:00+07:00",  # 00:30 UTC
        "hai giờ": "2026-11-20T02:00:00Z",
        "một giờ": "2026-11-20T08:00:00+07:00",  # 01:00 UTC
    }
    households(client, phone, *({"head_name": n, "start": s} for n, s in starts.items()))
    login_as(client, db, "admin")
    rows = every_page(client, "/reports/table?col=head_name&sort=start")
    assert column(rows) == ["nửa giờ", "một giờ", "hai giờ", "bốn giờ rưỡi"]


def test_choices_sort_in_the_forms_order(client, db, phone):
    # The list is fibre, mobile_only, other, none: not the codes' alphabetical order.
    answers = {"Bốn": "none", "Một": "fibre", "Ba": "other", "Hai": "mobile_only"}
    households(
        client,
        phone,
        *(
            {
                "head_name": n,
                "internet": i,
                **({"no_internet_reason": ["cost"]} if i == "none" else {}),
            }
            for n, i in answers.items()
        ),
    )
    login_as(client, db, "admin")
    rows = every_page(client, "/reports/table?col=head_name&sort=internet")
    assert column(rows) == ["Một", "Hai", "Ba", "Bốn"]
    by_state = every_page(client, "/reports/table?col=head_name&sort=__system/reviewState")
    assert sorted(column(by_state)) == sorted(answers)


def test_pages_of_any_sort_give_every_record_once_in_order(client, db, phone):
    shuffle = random.Random(15)
    sizes = [shuffle.choice([1, 2, 3, None]) for _ in range(130)]
    # The start time tells the records apart (empty ones have nothing else).
    starts = [f"2026-11-20T08:{i // 60:02}:{i % 60:02}+07:00" for i in range(len(sizes))]
    households(
        client,
        phone,
        *({"start": start, "residents": size} for start, size in zip(starts, sizes, strict=True)),
    )
    login_as(client, db, "admin")
    size_of = dict(zip(starts, sizes, strict=True))
    for order in ("", "&order=desc"):
        query = f"col=start&sort=residents{order}"
        rows = every_page(client, f"/reports/table?{query}")
        seen = column(rows)
        assert sorted(seen) == sorted(size_of), order  # each once, none missing
        given = [size_of[start] for start in seen]
        filled = [s for s in given if s is not None]
        assert filled == sorted(filled, reverse=bool(order))
        assert given[len(filled) :] == [None] * (len(given) - len(filled))
        assert column(view_csv(client, query)) == seen
    # The column picker, the filter and the sort stay in every page's links.
    page = client.get("/reports/table?col=start&state=received&sort=residents&order=desc")
    text = page.get_data(as_text=True).replace("&amp;", "&")
    follow = re.search(r'id="next-page" href="([^"]+)"', text)
    assert follow, "a second page"
    for kept in ("col=start", "state=received", "sort=residents", "order=desc"):
        assert kept in follow.group(1), kept


def test_headings_sort_and_turn_the_order_round(client, db, phone):
    households(client, phone, {"head_name": "Bình"}, {"head_name": "An"})
    login_as(client, db, "admin")
    page = client.get("/reports/table?col=head_name&sort=head_name").get_data(as_text=True)
    page = page.replace("&amp;", "&")
    heading = re.search(r'<th scope="col" data-column="head_name" aria-sort="ascending">', page)
    assert heading, headings(page)
    link = re.search(r'data-column="head_name"[^>]*><a class="sort" href="([^"]+)"', page)
    assert link and "order=desc" in link.group(1)
    turned = client.get(link.group(1)).get_data(as_text=True)
    assert 'aria-sort="descending"' in turned
    assert column(cells(turned)) == ["Bình", "An"]


def test_a_wrong_sort_or_cursor_is_refused_or_ignored(client, db, phone):
    households(client, phone, *({"head_name": f"Hộ {i}", "residents": 2} for i in range(55)))
    login_as(client, db, "viewer")
    # Unknown columns, and a volunteer's name for a viewer, fall back to arrival order.
    for sort in ("nope", "__system/submitterName", "head_name", "x" * 5000):
        page = client.get(f"/reports/table?sort={sort}")
        assert page.status_code == 200
        assert 'data-column="__system/submissionDate" aria-sort="ascending"' in page.get_data(
            as_text=True
        )
    first = client.get("/reports/table?sort=residents").get_data(as_text=True)
    cursor = re.search(r"after=([^\"&]+)", first).group(1)
    for after in ("garbage", "W10", "WzIsIDIsIDNd", "WzAsIHRydWUsIDNd", "x" * 3000, cursor + "A"):
        assert client.get(f"/reports/table?sort=residents&after={after}").status_code == 400
    # A cursor of one sort is no cursor of the arrival order.
    assert client.get(f"/reports/table?after={cursor}").status_code == 400
    assert client.get(f"/reports/table?sort=residents&after={cursor}").status_code == 200


def test_the_sorted_csv_is_audited_with_its_order(client, db, phone):
    households(client, phone, {"head_name": "An"})
    login_as(client, db, "admin")
    client.get("/reports/table.csv?sort=residents&order=desc")
    with write_transaction(db):
        detail = db.execute(
            "SELECT detail FROM audit_log WHERE action = 'export_records' ORDER BY id DESC"
        ).fetchone()[0]
    assert '"sort": "residents"' in detail and '"descending": true' in detail


def test_a_name_in_two_groups_sorts_by_its_own_answers(client, db, phone, tmp_path):
    """The table names columns as the feed does (``mother/age`` is ``mother_age``), and sorts
    by the answers stored under the question's own key."""
    with write_transaction(db):
        install_form(db, read_xlsform(twice_workbook(tmp_path / "parents.xlsx")))
    village = phone["villages"][0]["id"]
    ages = [(41, 70), (23, 50), (35, 30)]
    push(
        client,
        phone,
        *(
            record(
                village,
                data={"mother/age": m, "father/age": f},
                form_id="two_parents",
                form_version="1",
            )
            for m, f in ages
        ),
    )
    login_as(client, db, "admin")
    base = "/reports/table?form=two_parents&col=mother_age&col=father_age"
    by_mother = [row[-2:] for row in every_page(client, f"{base}&sort=mother_age")]
    assert by_mother == [["23", "50"], ["35", "30"], ["41", "70"]]
    by_father = [row[-2:] for row in every_page(client, f"{base}&sort=father_age&order=desc")]
    assert by_father == [["41", "70"], ["23", "50"], ["35", "30"]]
