"""A page object for the collector: what a volunteer does, in the words of the screen's parts."""

from __future__ import annotations

from typing import Any

from tests.records import adult


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
        self.page.wait_for_function("navigator.serviceWorker && navigator.serviceWorker.controller"
                                    " !== null")

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


def two_members() -> list[dict[str, Any]]:
    child = {"member_name": "Nguyễn Văn Nam", "relation": "child", "sex": "male",
             "birth_year": 2016, "answered_by": "proxy"}
    return [adult("Nguyễn Thị Hoa", 1980), child]
