"""A phone as the collector behaves, driven through the Python sync client: finalized
revisions wait in a queue until the server answered for that exact (id, rev); pulled pages and
their checkpoint are applied together."""

from __future__ import annotations

import uuid
from typing import Any

from sync.client import SyncClient, split_batches
from tests.records import record

SMALL = {
    "start": "2026-11-20T08:00:00+07:00",
    "age_vneid": 14,
    "age_account": 15,
    "age_adult": 18,
    "outcome": "nobody_home",
}
KEPT = ("applied", "duplicate", "conflict")


def small_record(village_id: str, **envelope: Any) -> dict[str, Any]:
    """A valid record of about 400 bytes: nobody was home (the form ends there)."""
    return record(village_id, data=dict(SMALL), **envelope)


class Phone:
    def __init__(self, client: SyncClient) -> None:
        self.client = client
        self.queue: list[dict[str, Any]] = []
        self.created: set[tuple[str, str]] = set()
        self.acked: set[tuple[str, str]] = set()
        self.latest: dict[str, dict[str, Any]] = {}
        self.since = 0
        self.villages: dict[str, dict[str, Any]] = {}
        self.households: dict[str, dict[str, Any]] = {}
        self.reviews: dict[str, dict[str, Any]] = {}
        # Revisions the server refused: they stay on the phone, off the queue, for fixing.
        self.refused: dict[tuple[str, str], dict[str, Any]] = {}

    def finalize(self, item: dict[str, Any]) -> dict[str, Any]:
        self.queue.append(item)
        self.created.add((item["id"], item["rev"]))
        self.latest[item["id"]] = item
        return item

    def new(self, village_id: str, **envelope: Any) -> dict[str, Any]:
        return self.finalize(small_record(village_id, **envelope))

    def edit(self, record_id: str, **answers: Any) -> dict[str, Any]:
        before = self.latest[record_id]
        data = {**before["data"], **answers}
        return self.finalize(
            {**before, "rev": str(uuid.uuid4()), "base_rev": before["rev"], "data": data}
        )

    def push(self) -> None:
        """Send the queue in order; raises when a batch cannot be sent (the rest waits)."""
        for batch in list(split_batches(self.queue)):
            results = self.client.push_batch(batch)["results"]
            assert len(results) == len(batch)
            for item, result in zip(batch, results, strict=True):
                assert (result["id"], result["rev"]) == (item["id"], item["rev"])
                if result["status"] in KEPT:
                    self.acked.add((item["id"], item["rev"]))
                else:
                    self.refused[(item["id"], item["rev"])] = result
            done = {(r["id"], r["rev"]) for r in results}
            self.queue = [i for i in self.queue if (i["id"], i["rev"]) not in done]

    def pull(self) -> None:
        self.since = self.client.pull_all(self.since, on_page=self._apply)

    def _apply(self, page: dict[str, Any]) -> None:
        for change in page["changes"]:
            kind, op = change["kind"], change["op"]
            store = {
                "village": self.villages,
                "household": self.households,
                "review": self.reviews,
            }.get(kind)
            if store is None:
                continue
            if op == "delete":
                store.pop(change["id"], None)
            else:
                store[change["id"]] = change["data"]

    def sync(self) -> None:
        self.push()
        self.pull()
