"""The collector's home and shell as a volunteer and an accessibility audit see them: whether the
server answers, what waits to be sent, messages that cover nothing, the new household dialog, the
home's scroll, the language of kept messages, local times, contrast and names."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.collector import Collector
from tests.e2e.conftest import expect, phone_context, screenshot
from tests.server_process import ServerProcess

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ZONE = "Asia/Ho_Chi_Minh"  # not the test machine's: shows that the phone's own zone is used


@pytest.fixture
def vn_page(browser: Any) -> Iterator[Any]:
    """A phone in Việt Nam: the phone_page of conftest, with the zone set."""
    context = phone_context(browser, timezone_id=ZONE)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def enroll(server: ServerProcess, page: Any) -> Collector:
    app = Collector(page)
    app.enroll(server.cli("enroll").strip().splitlines()[-1])
    page.locator("#sync:not([disabled])").wait_for()
    return app


def finalize_nobody_home(app: Collector) -> None:
    app.open_household()
    app.choose("outcome", "nobody_home")
    app.finalize()


def test_the_header_says_whether_the_server_answers_and_what_waits(server, phone_page):
    page = phone_page
    app = enroll(server, page)
    net, badge = page.locator("#net"), page.locator("#badge")
    expect(net).to_have_text("Máy chủ: kết nối được")
    expect(badge).to_have_text("0 phiếu chờ gửi")

    # The server stops; the phone keeps its network, and the header must not say all is well.
    server.stop()
    page.locator("#sync").click()
    expect(net).to_have_text("Máy chủ: không trả lời")
    assert page.evaluate("navigator.onLine")
    finalize_nobody_home(app)
    expect(badge).to_have_text("1 phiếu chờ gửi")
    expect(net).to_have_text("Máy chủ: không trả lời")
    screenshot(page, "home-server-unreachable")

    page.locator("#lang").click()
    expect(net).to_have_text("Server: not answering")
    expect(badge).to_have_text("1 record waiting to send")

    page.context.set_offline(True)
    expect(net).to_have_text("No network")
    page.context.set_offline(False)
    expect(net).to_have_text("Server: not answering")  # the sync on regaining the network failed

    server.start()
    page.locator("#sync").click()
    expect(net).to_have_text("Server: reachable")
    expect(badge).to_have_text("0 records waiting to send")
    page.locator("#lang").click()
    expect(net).to_have_text("Máy chủ: kết nối được")
    expect(badge).to_have_text("0 phiếu chờ gửi")


def test_a_server_that_is_down_when_the_app_opens_is_said_so(server, phone_page):
    page = phone_page
    app = enroll(server, page)
    app.wait_controlled()
    server.stop()
    page.reload()  # the shell from the service worker; the sync on opening finds nobody
    expect(page.locator("#net")).to_have_text("Máy chủ: không trả lời")
    expect(page.locator("#net")).to_have_attribute("data-state", "unreachable")


def test_the_light_check_asks_once_in_two_quiet_minutes_and_no_more(server, phone_page):
    """The phone's timers on a controlled clock: paused once enrolled, then moved a second at a
    time, so that a check and the answer it hears fall in the same second however slowly the
    test machine runs (a clock that also ran on its own, or moved ten seconds at once, let
    the two fall on either side of a window's end)."""
    page = phone_page
    checks: list[str] = []
    page.on("request", lambda r: checks.append(r.url) if "/api/v1/health" in r.url else None)
    page.clock.install()
    enroll(server, page)
    net = page.locator("#net")
    expect(net).to_have_text("Máy chủ: kết nối được")
    page.clock.pause_at(page.evaluate("Date.now()") / 1000 + 1)

    def asked_in(seconds: int) -> int:
        """The checks made while the clock moves ``seconds``: a marker request issued
        afterwards arrives after any of them, so that none is still on its way."""
        before = len(checks)
        page.clock.run_for(seconds * 1000)
        with page.expect_request("**/api/v1/health?marker"):
            page.evaluate("fetch('../api/v1/health?marker').catch(() => {})")
        checks.pop()
        return len(checks) - before

    def seconds_to_next_check(quiet: int = 115, most: int = 130) -> int:
        """Seconds until the phone asks the server: ``quiet`` of them at once, in which it must
        not, then one at a time."""
        assert asked_in(quiet) == 0
        for second in range(quiet + 1, most + 1):
            asked = asked_in(1)
            if asked:
                assert asked == 1
                return second
        raise AssertionError(f"no check in {most} s")

    # The sync on enrolling was heard from a moment before the clock stopped: nothing to check
    # until two minutes after it.
    assert 110 <= seconds_to_next_check(quiet=100) <= 120
    assert 120 <= seconds_to_next_check() <= 122  # answered: two minutes after that
    expect(net).to_have_text("Máy chủ: kết nối được")

    server.stop()
    assert 120 <= seconds_to_next_check() <= 122
    expect(net).to_have_text("Máy chủ: không trả lời")  # no sync, no tap: the check said so
    for _ in range(3):  # a server that stays down is asked once per two minutes, no more
        assert 120 <= seconds_to_next_check() <= 122

    server.start()
    page.locator("#sync").click()
    expect(net).to_have_text("Máy chủ: kết nối được")


def assert_uncovered(page: Any, selector: str, messages: bool | None = True) -> None:
    """What is at the centre of each of these controls is the control itself, and no message
    overlaps it (with `messages`, some are showing at that moment; None: either way). One
    synchronous look, so that a redraw cannot come in between."""
    found = page.evaluate(
        """(selector) => [...document.querySelectorAll(selector)].map((node) => {
            node.scrollIntoView({ block: 'nearest' });
            const r = node.getBoundingClientRect();
            const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
            const overlaps = [...document.querySelectorAll('.toast')].some((toast) => {
                const t = toast.getBoundingClientRect();
                return t.right > r.left && r.right > t.left && t.bottom > r.top && r.bottom > t.top;
            });
            const showing = document.querySelectorAll('.toast').length > 0;
            const free = hit === node || node.contains(hit);
            return { shown: r.height > 0, free, overlaps, showing };
        })""",
        selector,
    )
    assert found, f"no {selector}"
    if messages is None:
        for look in found:
            del look["showing"]
    expected = {"shown": True, "free": True, "overlaps": False}
    if messages is not None:
        expected["showing"] = messages
    assert found == [expected] * len(found), selector


def test_messages_never_cover_save_finalize_or_sync(server, phone_page):
    page = phone_page
    app = enroll(server, page)
    app.open_household()
    app.choose("outcome", "completed")
    # Messages as the app shows them (dom.js: toast), two at once, the longest there is.
    page.evaluate(
        """async () => {
            const { toast } = await import('./js/dom.js');
            toast('Có phiên bản mới; sẽ cập nhật khi bạn đóng phiếu.');
            toast('Không lưu được trên máy! Bộ nhớ có thể đã đầy: hãy lưu tệp sao lưu và giải'
              + ' phóng bộ nhớ.', 'error');
        }"""
    )
    expect(page.locator(".toast.info").last).to_be_in_viewport()
    expect(page.locator(".toast.error")).to_be_in_viewport()
    screenshot(page, "messages-over-a-visit")
    assert_uncovered(page, "#save-draft")
    assert_uncovered(page, "#finalize")
    assert_uncovered(page, "#lang")
    # Scrolled to the middle of the part, the bar still shows and is still free.
    page.evaluate("scrollTo(0, 600)")
    page.wait_for_function("scrollY > 0")
    assert_uncovered(page, "#save-draft")
    assert_uncovered(page, "#finalize")

    # The error a sync by the button shows, on the home screen.
    page.locator("#save-draft").click()
    page.locator("#household-list").wait_for()
    server.stop()
    page.locator("#sync").click()
    expect(page.locator(".toast.error")).to_be_visible()
    assert_uncovered(page, "#sync")
    assert_uncovered(page, "#add-household")
    assert_uncovered(page, "#lang")


def test_the_new_household_dialog_says_what_is_missing_next_to_the_field(server, phone_page):
    page = phone_page
    enroll(server, page)
    page.locator("#add-household").click()
    dialog = page.get_by_role("dialog", name="Thêm hộ mới")
    head = dialog.locator("#new-head")
    head.fill("   ")
    dialog.locator("#sheet-ok").click()

    error = dialog.locator("#new-head-error")
    expect(error).to_be_visible()
    expect(error).to_have_text("Cần nhập tên chủ hộ.")
    expect(head).to_have_attribute("aria-invalid", "true")
    expect(head).to_have_attribute("aria-describedby", "new-head-error")
    expect(head).to_have_accessible_description("Cần nhập tên chủ hộ.")
    expect(head).to_be_focused()
    expect(page.locator(".toast.error")).to_have_count(0)  # nothing behind the dialog
    # Nothing in the dialog covers its own error.
    assert_uncovered(page, "#new-head-error", messages=None)
    screenshot(page, "new-household-name-needed")

    head.fill("Lò Văn Sáng")
    expect(error).to_be_hidden()
    expect(head).not_to_have_attribute("aria-invalid", "true")
    dialog.locator("#sheet-ok").click()
    page.locator("#finalize").wait_for()


def test_after_save_draft_the_home_opens_at_its_top(server, phone_page):
    page = phone_page
    app = enroll(server, page)
    for index in range(2):  # the same each time, not only the first
        app.open_household(index)
        app.choose("outcome", "completed")
        app.choose("consent", "yes")
        app.wait_saved()
        page.evaluate("scrollTo(0, document.documentElement.scrollHeight)")
        page.wait_for_function("scrollY > 300")
        page.locator("#save-draft").click()
        page.locator("#household-list").wait_for()
        # Tall enough to open anywhere: the top is a choice, not the only place there is.
        assert page.evaluate("document.documentElement.scrollHeight > innerHeight + 300")
        assert page.evaluate("scrollY") == 0
        expect(page.locator("#sync")).to_be_in_viewport()

    # A redraw of the home (a search, a sync) leaves the volunteer where she scrolled.
    page.evaluate("scrollTo(0, 200)")
    page.wait_for_function("scrollY === 200")
    page.locator("#lang").click()
    expect(page.locator("#net")).to_have_text("Server: reachable")
    with page.expect_response("**/api/v1/device/report"):  # the sync's last call
        page.locator("#sync").dispatch_event("click")  # a tap would scroll the button into view
    page.locator("#sync:not([disabled])").wait_for()  # and the home drawn after it
    expect(page.locator(".sync .notice")).to_contain_text("Synced")
    assert page.evaluate("scrollY") == 200


def minute_in_zone() -> datetime:
    return datetime.now(ZoneInfo(ZONE)).replace(tzinfo=None, second=0, microsecond=0)


def read_time(text: str) -> datetime:
    return datetime.strptime(text, "%d/%m/%Y %H:%M")


def test_the_last_sync_message_follows_the_language(server, phone_page):
    page = phone_page
    enroll(server, page)
    notice = page.locator(".sync .notice")
    expect(notice).to_contain_text("Đồng bộ lúc")
    shown = re.fullmatch(r"Đồng bộ lúc (.+): không có phiếu mới để gửi\.", notice.inner_text())
    assert shown
    page.locator("#lang").click()
    expect(notice).to_have_text(f"Synced at {shown[1]}: nothing new to send.")
    page.locator("#lang").click()
    expect(notice).to_have_text(f"Đồng bộ lúc {shown[1]}: không có phiếu mới để gửi.")

    # A failed sync is kept the same way: said in the language chosen after it.
    server.stop()
    page.locator("#sync").click()
    expect(notice).to_have_text(
        "Không kết nối được máy chủ. Phiếu vẫn an toàn trên máy; sẽ thử lại sau."
    )
    page.locator("#lang").click()
    expect(notice).to_have_text(
        "Cannot reach the server. Records are safe on the phone; will try again later."
    )


def test_times_and_dates_read_in_the_phones_zone_day_first(server, vn_page):
    page = vn_page
    before = minute_in_zone()
    app = enroll(server, page)
    notice = page.locator(".sync .notice")
    expect(notice).to_contain_text("Đồng bộ lúc")
    shown = re.fullmatch(r"Đồng bộ lúc (.+): không có phiếu mới để gửi\.", notice.inner_text())
    assert shown and re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", shown[1]), notice.inner_text()
    assert before <= read_time(shown[1]) <= minute_in_zone()

    # A return visit's day and the record's time, as the volunteer reads them.
    before = minute_in_zone()
    app.open_household()
    household = page.locator("h1").inner_text()
    app.choose("outcome", "come_back")
    app.type("revisit_date", "2026-12-01")
    app.wait_saved()
    page.locator("#save-draft").click()
    row = app.households().filter(has_text=household)
    expect(row.locator(".pill")).to_have_text("Hẹn quay lại 01/12/2026")
    stamp = app.record_rows().first.locator(".sub").inner_text()
    assert before <= read_time(stamp) <= minute_in_zone()
    page.locator("#lang").click()
    expect(row.locator(".pill")).to_have_text("Come back 01/12/2026")
    expect(notice).to_have_text(f"Synced at {shown[1]}: nothing new to send.")


def luminance(rgb: tuple[float, float, float]) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(text: tuple[float, float, float], background: tuple[float, float, float]) -> float:
    lighter, darker = sorted((luminance(text), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


# Each colour as drawn: the element's colour over its background, and that background over its
# parents' down to an opaque one (the page is white under everything).
COLOURS = """(node) => {
    const parse = (c) => {
        const v = c.match(/[\\d.]+/g).map(Number);
        return [v[0], v[1], v[2], v[3] ?? 1];
    };
    const over = (top, under) => [0, 1, 2].map((i) => top[i] * top[3] + under[i] * (1 - top[3]));
    const layers = [];
    for (let n = node; n; n = n.parentElement) {
        const c = parse(getComputedStyle(n).backgroundColor);
        layers.push(c);
        if (c[3] === 1) break;
    }
    let background = [255, 255, 255];
    for (const layer of layers.reverse()) background = over(layer, background);
    return { text: over(parse(getComputedStyle(node).color), background), background };
}"""


def test_every_status_chip_is_readable_and_the_shell_passes_the_audit(server, phone_page):
    page = phone_page
    enroll(server, page)
    catalogue = json.loads((ROOT / "schemas/messages/vi.json").read_text(encoding="utf-8"))
    states = sorted(k.removeprefix("app.state_") for k in catalogue if k.startswith("app.state_"))
    households = sorted(
        k.removeprefix("app.household_")
        for k in catalogue
        if k.startswith("app.household_") and k != "app.household_code"
    )
    reaches = sorted(
        k.removeprefix("app.server_") for k in catalogue if k.startswith("app.server_")
    )
    if "rejected" in reaches:
        reaches.remove("rejected")  # "the server sent this record back": a message, not a state
    # Every chip the app can draw, drawn where the app draws it.
    samples = page.evaluate(
        """([states, households, reaches]) => {
            const made = [];
            const add = (parent, tag, cls) => {
                const node = document.createElement(tag);
                node.className = cls; node.textContent = 'Mẫu chữ'; node.dataset.sample = cls;
                parent.append(node); made.push(cls);
            };
            const status = document.querySelector('#net').parentElement;
            for (const r of reaches) add(status, 'span', `net ${r}`);
            const row = document.querySelector('#household-list .row');
            for (const s of [...states, ...households]) add(row, 'span', `pill state-${s}`);
            const villages = document.querySelector('.villages');
            add(villages, 'button', 'chip'); add(villages, 'button', 'chip active');
            add(document.querySelector('#toasts'), 'div', 'toast info');
            add(document.querySelector('#toasts'), 'div', 'toast error');
            return made;
        }""",
        [states, households, reaches],
    )
    assert len(samples) == len(reaches) + len(states) + len(households) + 4
    # The live header first, as it is now (the server answers), then every sample.
    checked = ["#net", "#badge", "#lang", ".bar .title", "#sync", "#add-household"]
    checked += [f'[data-sample="{cls}"]' for cls in samples]
    low = {}
    for selector in checked:
        colours = page.locator(selector).first.evaluate(COLOURS)
        ratio = contrast(tuple(colours["text"]), tuple(colours["background"]))
        if ratio < 4.5:
            low[selector] = round(ratio, 2)
    assert low == {}
    assert {"checking", "offline", "reachable", "unreachable"} == set(reaches)

    # The language button's name begins with what it shows (label-content-name-mismatch).
    switch = page.locator("#lang")
    for shows in ("EN", "VI"):
        expect(switch).to_have_text(shows)
        expect(switch).to_have_accessible_name(re.compile(rf"^{shows}\b"))
        switch.click()

    description = page.locator('meta[name="description"]').get_attribute("content")
    assert description and "Gõ Cửa" in description and len(description) > 50

    # One level-one heading on every screen of the collector.
    expect(page.locator("h1")).to_have_count(1)
    expect(page.locator("h1")).to_be_visible()
    Collector(page).open_household()
    expect(page.locator("h1")).to_have_count(1)


def test_a_redraw_while_the_volunteer_types_a_search_keeps_her_text_and_caret(server, phone_page):
    page = phone_page
    enroll(server, page)
    box = page.locator("#search")
    box.click()
    page.keyboard.type("le")
    # A redraw that began before the keystrokes (a sync's pull arriving, say) draws the home again
    # while she keeps typing.
    page.evaluate("import('./js/nav.js').then((nav) => nav.go('home'))")
    page.keyboard.type(" van")
    expect(box).to_have_value("le van")
    expect(box).to_be_focused()
    expect(Collector(page).households()).to_have_count(1)
    expect(Collector(page).households().first.locator(".name")).to_have_text("Lê Văn Cường")
