"""A page object for the collector: what a volunteer does, in the words of the screen's parts."""

from __future__ import annotations

from typing import Any

from tests.records import adult

# An image's width once it has loaded (0 for bytes that are no picture).
LOADED_WIDTH = """img => img.complete ? img.naturalWidth : new Promise((done) => {
  img.addEventListener('load', () => done(img.naturalWidth), { once: true });
  img.addEventListener('error', () => done(0), { once: true });
})"""


class Collector:
    def __init__(self, page: Any) -> None:
        self.page = page

    def question(self, path: str) -> Any:
        return self.page.locator(f'[data-path="{path}"]')

    def reveal(self, path: str) -> Any:
        """The question at `path`, going forward through the form's parts until it shows."""
        question = self.question(path)
        question.wait_for(state="attached")
        while not question.is_visible():
            following = self.page.locator("#next")
            assert following.is_enabled(), f"{path} is not on any later part of the form"
            following.click()
        return question

    def choose(self, path: str, *values: str) -> None:
        question = self.reveal(path)
        for value in values:
            question.locator(f'input[value="{value}"]').check()

    def type(self, path: str, text: str | int) -> None:
        field = self.reveal(path).locator("input, textarea").first
        field.fill(str(text))
        field.dispatch_event("change")

    def wait_controlled(self) -> None:
        """Until the service worker controls the page: only then does it load offline."""
        self.page.wait_for_function(
            "navigator.serviceWorker && navigator.serviceWorker.controller !== null"
        )

    def households(self) -> Any:
        return self.page.locator("#household-list [data-household]")

    def record_rows(self) -> Any:
        return self.page.locator("#record-list [data-record]")

    def fill_member(self, index: int, member: dict[str, Any]) -> None:
        prefix = f"members[{index}]."
        for name, value in member.items():
            if name == "age":
                continue  # calculated by the form
            path = prefix + name
            if isinstance(value, list):
                self.choose(path, *value)
            elif name in ("member_name", "birth_year"):
                self.type(path, value)
            else:
                self.choose(path, value)

    def fill_household(self, members: list[dict[str, Any]]) -> None:
        self.choose("outcome", "completed")
        self.choose("consent", "yes")
        self.type("respondent_name", "Nguyễn Thị Hoa")
        self.type("head_name", "Nguyễn Thị Hoa")
        self.type("address", "Số 12, ngõ 3")
        self.type("residents", len(members))
        self.choose("devices", "smartphone")
        self.choose("internet", "fibre")
        self.choose("zalo_group", "yes")
        self.choose("sells_online", "no")
        for index, member in enumerate(members):
            self.fill_member(index, member)
        self.choose("support_given", "no")

    def add(self, repeat: str) -> None:
        """Add one more entry to a repeat the volunteer fills as she goes."""
        button = self.page.locator(f'[data-add="{repeat}"]')
        while not button.is_visible():
            self.page.locator("#next").click()
        button.click()

    def wait_stored(self, store: str, key: str, holds: str = "(v) => v !== undefined") -> None:
        """Until the phone's IndexedDB ``store`` keeps under ``key`` a value the JavaScript
        predicate ``holds`` is true of. Playwright takes a Promise a page function returns for a
        true answer without awaiting it, so each poll starts a read and a later poll sees what
        it found."""
        self.page.wait_for_function(
            """([store, key, holds]) => {
              const seen = (window.__stored ||= {});
              const id = `${store}/${key}/${holds}`;
              if (seen[id]) return true;
              const open = indexedDB.open('gocua');
              open.onsuccess = () => {
                const get = open.result.transaction(store).objectStore(store).get(key);
                get.onsuccess = () => {
                  if (new Function(`return (${holds})`)()(get.result)) seen[id] = true;
                };
                get.transaction.oncomplete = () => open.result.close();
              };
              return false;
            }""",
            arg=[store, key, holds],
            polling=100,
        )

    def enroll(self, url: str) -> None:
        self.page.goto(url)
        self.households().first.wait_for()
        self.wait_controlled()

    def open_household(self, index: int = 0) -> None:
        self.households().nth(index).click()
        self.page.locator("#finalize").wait_for()

    def start_visit(self, form_id: str) -> None:
        """A new visit to the first household, with this form."""
        self.households().first.click()
        self.page.locator(f'#choose-form [data-form="{form_id}"]').click()
        self.page.locator("#finalize").wait_for()

    def send(self) -> None:
        """Finalize the visit once every answer is saved, and sync until the server holds it."""
        self.wait_saved()
        self.finalize()
        self.page.locator("#sync").click()
        self.page.locator("#record-list .pill.state-synced").wait_for()

    def finalize(self) -> None:
        self.page.locator("#finalize").click()
        self.page.locator("#record-list").wait_for()

    def wait_saved(self) -> None:
        """Until every answer given so far is written to IndexedDB."""
        self.page.locator('#saved[data-pending="0"]').wait_for(state="attached")

    def value(self, path: str) -> str:
        return self.question(path).locator("input, textarea").first.input_value()

    def checked(self, path: str) -> list[str]:
        boxes = self.question(path).locator("input:checked")
        return [boxes.nth(i).get_attribute("value") for i in range(boxes.count())]


def two_members() -> list[dict[str, Any]]:
    child = {
        "member_name": "Nguyễn Văn Nam",
        "relation": "child",
        "sex": "male",
        "birth_year": 2016,
        "answered_by": "proxy",
    }
    return [adult("Nguyễn Thị Hoa", 1980), child]
