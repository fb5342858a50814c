"""Every collector screen and every staff page, checked by axe-core in headless Chromium.

axe-core (npm, pinned in package-lock.json) runs with all its rules, WCAG 2.x A/AA and its best
practices, on real pages of a real ``gocua serve`` with real data: a phone enrolled by its link
that visits households, finalizes, syncs and hears back from the office; staff of each role who
log in once and walk every page their role may open. One browser and one server for the module;
each screen and each page is its own test, failing with every violation's rule, where and why.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from server.domain.db import connect, write_transaction
from server.domain.devices import add_collect_device
from tests.collect_client import CollectClient
from tests.e2e.collector import Collector, two_members
from tests.e2e.conftest import expect, phone_context
from tests.e2e.test_review_office import Phone
from tests.records import adult, child, household_data, record
from tests.server_process import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"

RUN_AXE = """async () => {
  const result = await axe.run(document, { resultTypes: ['violations'] });
  return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.map((n) => n.target.join(' ')) }));
}"""


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe's violations on the page as it is now (the script injected anew on each page)."""
    assert AXE.exists(), f"{AXE} is missing: run `make node_modules/.installed` (npm ci)"
    page.add_script_tag(path=str(AXE))
    return page.evaluate(RUN_AXE)


def described(violations: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']}\n    at " + "\n    at ".join(v["targets"])
        for v in violations
    )


def assert_accessible(where: str, violations: list[dict[str, Any]]) -> None:
    assert not violations, f"axe finds on {where}:\n{described(violations)}"


def stored(server: ServerProcess, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with connect(server.data_dir / "gocua.db") as db:
        return [tuple(r) for r in db.execute(sql, params)]


# --- one server, the staff's browsers ---------------------------------------------------------

ROLES = {
    "admin": ("qt.truycap", ["--role", "admin", "--commune", "99999"]),
    "reviewer": ("duyet.truycap", ["--role", "reviewer", "--commune", "99999"]),
    "viewer": ("xem.truycap", ["--role", "viewer", "--commune", "99999"]),
    "province": ("tinh.truycap", ["--province", "99"]),
}


@dataclass
class Site:
    server: ServerProcess
    browser: Any
    passwords: dict[str, str] = field(default_factory=dict)
    desks: dict[str, Any] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return self.server.base

    def desk(self, role: str) -> Any:
        """The role's desktop browser, logged in the first time it is asked for."""
        if role not in self.desks:
            context = self.browser.new_context(
                viewport={"width": 1280, "height": 900}, locale="vi-VN", bypass_csp=True
            )
            page = context.new_page()
            page.set_default_timeout(20_000)
            if role != "anonymous":
                username = ROLES[role][0]
                page.goto(f"{self.base}/login")
                page.fill("input[name=username]", username)
                page.fill("input[name=password]", self.passwords[role])
                page.click("button[type=submit]")
                page.wait_for_load_state()
                assert "/login" not in page.url, f"{username} did not log in"
            self.desks[role] = page
        return self.desks[role]


@pytest.fixture(scope="module")
def site(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    server = ServerProcess(tmp_path_factory.mktemp("a11y") / "server").start()
    site = Site(server, browser)
    for role, (username, options) in ROLES.items():
        command = "add-province-admin" if role == "province" else "add"
        site.passwords[role] = server.add_staff(
            command, username, "--name", f"Cán bộ {role}", *options
        )
    yield site
    for page in site.desks.values():
        page.context.close()
    server.stop()


# --- the collector ----------------------------------------------------------------------------

# Screens in the order a volunteer meets them; the scenario below scans each one once.
COLLECTOR_SCREENS = [
    "enroll",
    "enroll-refused",
    "home-households",
    "dialog-new-household",
    "dialog-household-code",
    "visit-part-1",
    "visit-part-2",
    "visit-part-3",
    "visit-part-4",
    "visit-part-5",
    "finalize-summary",
    "home-with-records",
    "record-draft",
    "record-finalized",
    "record-synced",
    "record-has_issues",
    "record-approved",
    "record-rejected",
    "record-conflict",
    "home-english",
]


def desk_decide(desk: Any, base: str, record_id: str, state: str, comment: str) -> None:
    desk.goto(f"{base}/records/{record_id}")
    desk.check(f"input[name=review_state][value={state}]")
    desk.fill("textarea[name=comment]", comment)
    desk.click("#save-review")
    desk.locator("#review").wait_for()


@pytest.fixture(scope="module")
def collector_scans(site: Site) -> dict[str, list[dict[str, Any]]]:
    """Walk the collector once as a volunteer does, scanning each screen on the way."""
    scans: dict[str, list[dict[str, Any]]] = {}
    context = phone_context(site.browser, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    app = Collector(page)
    desk = site.desk("admin")

    def scan(name: str) -> None:
        assert name in COLLECTOR_SCREENS, f"{name} is not in COLLECTOR_SCREENS"
        scans[name] = axe_violations(page)

    def row(record_id: str) -> Any:
        return page.locator(f'#record-list [data-record="{record_id}"]')

    def open_record(record_id: str, state: str) -> None:
        expect(row(record_id).locator(".pill")).to_have_class(re.compile(f"state-{state}"))
        row(record_id).click()
        page.locator("#back").wait_for()

    def home() -> None:
        page.locator("#back").click()
        page.locator("#record-list").wait_for()

    def synced() -> None:
        page.locator("#sync").click()
        expect(page.locator("#sync")).to_be_enabled()

    try:
        page.goto(f"{site.base}/app/")
        page.locator("#enroll-code").wait_for()
        scan("enroll")
        page.fill("#enroll-code", "KHONGCO")
        page.click("#enroll-button")
        page.locator("#enroll-error").wait_for()
        scan("enroll-refused")

        # Then the right code, typed as the volunteer would type it from her card.
        code = site.server.cli("enroll").strip().splitlines()[-1].split("#enroll=")[1]
        page.fill("#enroll-code", code)
        page.click("#enroll-button")
        app.households().first.wait_for()
        scan("home-households")
        page.click("#add-household")
        page.locator("#new-head").wait_for()
        scan("dialog-new-household")
        page.locator(".sheet button.secondary").click()
        page.click("#type-code")
        page.locator("#code-input").wait_for()
        scan("dialog-household-code")
        page.locator(".sheet button.secondary").click()

        # A visit with every part answered: each part of the form, one after the other.
        app.open_household(0)
        app.fill_household(two_members())
        app.choose("support_given", "yes")
        app.add("support")
        app.choose("support[0].support_member", "1")
        app.choose("support[0].support_actions", "install_vneid")
        app.choose("support[0].support_result", "done")
        while page.locator("#prev").is_enabled():
            page.click("#prev")
        part = 1
        while True:
            scan(f"visit-part-{part}")
            if not page.locator("#next").is_enabled():
                break
            page.click("#next")
            part += 1
        app.wait_saved()
        context.set_offline(True)  # finalized, and waiting: the server is out of reach
        app.finalize()
        first = app.record_rows().first.get_attribute("data-record")

        # Finalize on an empty visit: the summary of what is missing. It stays a draft.
        app.open_household(1)
        page.click("#finalize")
        page.locator("#summary").wait_for()
        scan("finalize-summary")
        home()
        draft = next(
            r.get_attribute("data-record")
            for r in app.record_rows().all()
            if r.get_attribute("data-record") != first
        )
        scan("home-with-records")
        open_record(draft, "draft")
        scan("record-draft")
        home()
        open_record(first, "finalized")
        scan("record-finalized")
        home()

        context.set_offline(False)
        synced()
        open_record(first, "synced")
        scan("record-synced")
        home()

        # The office asks about it: the phone shows the question.
        desk_decide(desk, site.base, first, "has_issues", "Số người trong hộ có đúng không?")
        synced()
        open_record(first, "has_issues")
        page.locator("#review-comment").wait_for()
        scan("record-has_issues")
        home()

        # Another visit, approved with a word of thanks.
        app.open_household(0)  # a second visit to the first household
        app.choose("outcome", "nobody_home")
        app.finalize()
        second = next(
            r.get_attribute("data-record")
            for r in app.record_rows().all()
            if r.get_attribute("data-record") not in (first, draft)
        )
        expect(row(second).locator(".pill")).to_have_class(re.compile("state-synced"))
        desk_decide(desk, site.base, second, "approved", "Cảm ơn em.")
        synced()
        open_record(second, "approved")
        scan("record-approved")
        home()

        # Refused by the server: a visit to Thôn Tây, finalized offline while the admin takes
        # that village away from the volunteer.
        page.locator("nav.villages button", has_text="Thôn Tây").click()
        context.set_offline(True)
        app.open_household(0)
        app.choose("outcome", "nobody_home")
        app.finalize()
        refused = page.locator("#record-list .pill.state-finalized").locator("..")
        refused_id = refused.get_attribute("data-record")
        (volunteer,) = stored(site.server, "SELECT id FROM users WHERE username = 'tnv.demo'")[0]
        desk.goto(f"{site.base}/admin/volunteers/{volunteer}")
        (west,) = stored(site.server, "SELECT id FROM villages WHERE name = 'Thôn Tây'")[0]
        desk.locator(f'#edit-volunteer input[value="{west}"]').uncheck()
        desk.fill("#edit-volunteer input[name=phone]", "0912345678")  # the demo has none
        desk.click("#edit-volunteer button[type=submit]")
        expect(desk.locator(f'#edit-volunteer input[value="{west}"]')).not_to_be_checked()
        assert stored(
            site.server,
            "SELECT count(*) FROM user_villages WHERE user_id = ? AND village_id = ?",
            volunteer,
            west,
        ) == [(0,)]
        context.set_offline(False)
        synced()
        open_record(refused_id, "rejected")
        scan("record-rejected")
        home()

        # A conflict lasts on the phone only until the same sync's pull brings the office's
        # version, so the record is put in that state on the phone itself, as sync.js would.
        page.evaluate(
            """async (id) => {
              const db = await import('/app/js/db.js');
              const r = await db.get('records', id);
              await db.put('records', { ...r, state: 'conflict',
                sync_result: { id: r.id, rev: r.rev, status: 'conflict', server_rev: r.rev } });
              const nav = await import('/app/js/nav.js');
              await nav.go('home');
            }""",
            second,
        )
        open_record(second, "conflict")
        scan("record-conflict")
        home()

        page.click("#lang")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        scan("home-english")
    finally:
        context.close()
    return scans


@pytest.mark.e2e
@pytest.mark.parametrize("screen", COLLECTOR_SCREENS)
def test_collector_screen(collector_scans: dict[str, list[dict[str, Any]]], screen: str) -> None:
    assert screen in collector_scans, f"the walk through the collector never reached {screen}"
    assert_accessible(f"the collector's {screen}", collector_scans[screen])


# --- the staff site ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def office_data(site: Site) -> dict[str, str]:
    """A commune with records, households, a conflict, follow-ups, an import, a phone, a code."""
    phone = Phone(site.server)
    # Thôn Đông only: the collector's walk takes Thôn Tây away from the volunteer.
    east = phone.villages["Thôn Đông"]
    households = stored(site.server, "SELECT id FROM households WHERE village_id = ?", east)
    (household,), (neighbour,) = households[:2]
    visit = record(east, household, household_data())
    at_the_door = ("start", "age_vneid", "age_account", "age_adult", "consent_notice_version")
    come_back = household_data(outcome="come_back", revisit_date="2030-01-15")
    later = record(
        east,
        neighbour,
        {
            k: v
            for k, v in come_back.items()
            if k in at_the_door or k in ("outcome", "revisit_date")
        },
    )
    helped = record(
        east,
        data=household_data(
            head_name="Lê Văn Cường",
            members=[adult("Lê Văn Cường", 1950, sex="male"), child("Lê Thị Na", 2018)],
        ),
    )
    assert phone.push(visit, later, helped) == ["applied"] * 3
    # The same visit corrected twice from the same revision: the second is a conflict.
    fixed = {**visit, "rev": str(uuid.uuid4()), "base_rev": visit["rev"]}
    fixed["data"] = household_data(address="Số 14, ngõ 3")
    again = {**visit, "rev": str(uuid.uuid4()), "base_rev": visit["rev"]}
    again["data"] = household_data(address="Số 16, ngõ 3")
    assert phone.push(fixed) == ["applied"]
    assert phone.push(again) == ["conflict"]

    desk = site.desk("admin")
    desk_decide(desk, site.base, helped["id"], "has_issues", "Năm sinh của ông Cường?")

    csv = site.server.data_dir / "ho-moi.csv"
    csv.write_text(
        "thon,chu_ho,dia_chi\nThôn Đông,Lò Thị Xuân,Bản trên\nThôn Không Tên,Lò Văn Hạ,Bản dưới\n",
        encoding="utf-8",
    )
    desk.goto(f"{site.base}/households/import")
    desk.set_input_files("input[type=file]", str(csv))
    desk.click("#import-form button[type=submit]")
    desk.locator("#import-apply").wait_for()
    import_id = re.search(r"/households/import/(\d+)", desk.url).group(1)

    (volunteer,) = stored(site.server, "SELECT id FROM users WHERE username = 'tnv.demo'")[0]
    desk.goto(f"{site.base}/admin/volunteers/{volunteer}")
    desk.click("#new-code")
    desk.wait_for_url(re.compile(r"/enroll/"))
    code = desk.url.rsplit("/", 1)[1]

    # An ODK Collect visit naming no household: it waits on /collect for the office.
    with connect(site.server.data_dir / "gocua.db") as db, write_transaction(db):
        _, key = add_collect_device(db, volunteer)
    collect = CollectClient(f"{site.base}/key/{key}")
    xform = collect.download(collect.form_list()[0])
    waiting = collect.fill(xform, household_data(head_name="Đinh Thị Thu"))
    assert [a.status for a in collect.submit(waiting)] == [201]
    return {
        "record": visit["id"],
        "conflict": again["rev"],
        "household": household,
        "village": east,
        "volunteer": str(volunteer),
        "code": code,
        "import": import_id,
    }


# (role, endpoint, path): every staff page a role may open, with the data above filled in.
# The endpoint ties each page to app.url_map (test_every_html_page_is_checked); a route that
# is not an HTML page for GET is listed in NOT_PAGES with the reason.
STAFF_PAGES = [
    ("anonymous", "site.login", "/login"),
    ("anonymous", "site.login", "/login?failed"),
    ("admin", "review.records", "/"),
    ("admin", "review.records", "/?village={village}&state=has_issues"),
    ("admin", "review.record", "/records/{record}"),
    ("admin", "review.edit_record", "/records/{record}/edit"),
    ("admin", "review.conflict", "/records/{record}/conflicts/{conflict}"),
    ("admin", "review.villages", "/villages"),
    ("admin", "review.households", "/households"),
    ("admin", "review.households", "/households?q=cuong"),
    ("admin", "review.household", "/households/{household}"),
    ("admin", "review.household_import_upload", "/households/import"),
    ("admin", "review.household_import_preview", "/households/import/{import}"),
    ("admin", "review.followups", "/followups"),
    ("admin", "review.people", "/people"),
    ("admin", "review.people", "/people?q=le van cuong"),
    ("admin", "review.backups", "/backups"),
    ("admin", "review.collect_waiting", "/collect"),
    ("admin", "reports.dashboard", "/reports/"),
    ("admin", "reports.dashboard", "/reports/?village={village}&approved=1"),
    ("admin", "reports.exports_page", "/reports/exports"),
    ("admin", "reports.printable", "/reports/print"),
    ("admin", "admin.index", "/admin/"),
    ("admin", "admin.staff_accounts", "/admin/staff"),
    ("admin", "admin.volunteers", "/admin/volunteers"),
    ("admin", "admin.volunteer", "/admin/volunteers/{volunteer}"),
    ("admin", "admin.enroll_page", "/admin/volunteers/{volunteer}/enroll/{code}"),
    ("admin", "admin.devices", "/admin/devices"),
    ("admin", "admin.forms_page", "/admin/forms"),
    ("admin", "admin.form_page", "/admin/forms/ho_gia_dinh_cds"),
    ("admin", "admin.print_menu", "/admin/print"),
    ("admin", "admin.print_labels", "/admin/print/labels?village={village}"),
    ("admin", "admin.audit_log", "/admin/audit"),
    ("admin", "site.password", "/account/password"),
    ("admin", "odata.tokens", "/odata/tokens"),
    ("admin", "reports.table", "/reports/table"),
    ("admin", "reports.map_page", "/reports/map"),
    ("admin", "reports.gallery", "/reports/gallery"),
    ("admin", "error", "/records/khong-co"),
    ("reviewer", "review.records", "/"),
    ("reviewer", "review.record", "/records/{record}"),
    ("reviewer", "review.edit_record", "/records/{record}/edit"),
    ("reviewer", "review.conflict", "/records/{record}/conflicts/{conflict}"),
    ("reviewer", "review.villages", "/villages"),
    ("reviewer", "review.households", "/households"),
    ("reviewer", "review.household", "/households/{household}"),
    ("reviewer", "review.followups", "/followups"),
    ("reviewer", "review.backups", "/backups"),
    ("reviewer", "reports.dashboard", "/reports/"),
    ("reviewer", "reports.exports_page", "/reports/exports"),
    ("reviewer", "reports.printable", "/reports/print"),
    ("reviewer", "reports.map_page", "/reports/map?village={village}&state=received"),
    ("reviewer", "reports.gallery", "/reports/gallery?village={village}"),
    ("reviewer", "site.password", "/account/password"),
    ("reviewer", "error", "/admin/"),
    ("viewer", "reports.dashboard", "/reports/"),
    ("viewer", "reports.exports_page", "/reports/exports"),
    ("viewer", "reports.printable", "/reports/print"),
    ("viewer", "site.password", "/account/password"),
    ("viewer", "odata.tokens", "/odata/tokens"),
    ("viewer", "reports.table", "/reports/table?col=residents&col=head_name"),
    ("viewer", "error", "/reports/map"),
    ("province", "reports.province", "/reports/province"),
    ("province", "reports.dashboard", "/reports/?commune=99999"),
    ("province", "admin.index", "/admin/"),
    ("province", "admin.communes", "/admin/communes"),
    ("province", "admin.audit_log", "/admin/audit"),
    ("province", "site.password", "/account/password"),
]

# The error pages people meet, by what they asked for.
ERROR_PAGES = {
    ("admin", "/records/khong-co"): 404,
    ("reviewer", "/admin/"): 403,
    ("viewer", "/reports/map"): 403,  # a viewer sees no household's place
}

NOT_PAGES = {
    "static": "the stylesheet",
    "site.set_language": "a redirect back to the page",
    "pwa.app_root": "a redirect to /app/",
    "pwa.index": "the collector: its screens are checked above",
    "pwa.serve": "the collector's files",
    "pwa.service_worker": "the collector's service worker",
    "site.favicon": "an icon",
    "admin.enroll_png": "a QR code image",
    "admin.enroll_svg": "a QR code image",
    "reports.api_indicators": "JSON",
    "reports.api_province": "JSON",
    "reports.data_dictionary": "a download",
    "reports.export_xlsx": "a download",
    "reports.export_csv": "a download",
    "reports.indicators_csv": "a download",
    "openrosa.form_list": "OpenRosa XML for ODK Collect",
    "openrosa.xform": "OpenRosa XML for ODK Collect",
    "openrosa.manifest": "OpenRosa XML for ODK Collect",
    "openrosa.media": "a form's picture, sound or film for ODK Collect",
    "review.record_file": "a record's photo, recording, film or document",
    "admin.preview_media": "a checked form's picture, sound or film, for its preview",
    "reports.table_csv": "a download",
    "odata.service": "the OData feed: JSON",
    "odata.metadata": "the OData feed: XML",
    "odata.entities": "the OData feed: JSON",
    "odata.attachment": "a record's file, for the OData feed's programs",
    "vendor": "the map's libraries (Leaflet from npm)",
    "reports.map_points": "JSON (the map page, checked drawn in test_map_gallery.py)",
    "reports.photo_thumb": "an image",
    "reports.photo": "a photo",
}


def test_every_html_page_is_checked(app: Any) -> None:
    """A new page is checked by axe from the day it is added, or named here with a reason."""
    get = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and not rule.endpoint.startswith("api.")
    }
    checked = {endpoint for _, endpoint, _ in STAFF_PAGES}
    assert sorted(get - checked - NOT_PAGES.keys()) == []
    assert sorted((checked | NOT_PAGES.keys()) - get - {"error"}) == []


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("role", "endpoint", "path"), STAFF_PAGES, ids=[f"{r}:{p}" for r, _, p in STAFF_PAGES]
)
def test_staff_page(
    site: Site, office_data: dict[str, str], role: str, endpoint: str, path: str
) -> None:
    page = site.desk(role)
    url = site.base + path.format(**office_data)
    if path == "/login?failed":
        page.goto(f"{site.base}/login")
        page.fill("input[name=username]", "khong.co")
        page.fill("input[name=password]", "sai mat khau")
        page.click("button[type=submit]")
        page.locator("#login-error").wait_for()
    else:
        response = page.goto(url)
        wanted = ERROR_PAGES.get((role, path), 200)
        assert response.status == wanted, f"{url} answered {response.status} to {role}"
        assert response.headers["content-type"].startswith("text/html")
    assert_accessible(f"{path} as {role}", axe_violations(page))


@pytest.mark.e2e
def test_cards_sheet(site: Site, office_data: dict[str, str]) -> None:
    """The enrollment cards, printed from the print menu (a POST, so not in the list above)."""
    page = site.desk("admin")
    page.goto(f"{site.base}/admin/print")
    with page.expect_popup() as opened:
        page.locator("form[action$='/admin/print/cards'] button[type=submit]").click()
    cards = opened.value
    cards.wait_for_load_state()
    try:
        assert_accessible("the enrollment cards", axe_violations(cards))
    finally:
        cards.close()


@pytest.mark.e2e
def test_collect_phone_page(site: Site, office_data: dict[str, str]) -> None:
    """The ODK Collect settings QR code, shown once in the answer to the admin's POST."""
    page = site.desk("admin")
    page.goto(f"{site.base}/admin/volunteers/{office_data['volunteer']}")
    page.locator("#new-collect").click()
    page.locator("#collect-qr svg").wait_for()
    assert_accessible("the ODK Collect phone page", axe_violations(page))
