"""The two addresses that send a record's file to the staff site, the record page's
(``/records/ID/files/SHA``) and the gallery's whole photo (``/reports/photos/ID/SHA``), follow
one rule (``records/query.py: named_file``): the record of the staff member's commune names the
file in its current answers."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from server.domain.db import write_transaction
from server.domain.register import add_commune
from tests.api.test_map_gallery import jpeg
from tests.api.test_reports_dashboard import login_as, push
from tests.api.test_sync_blobs import put
from tests.records import household_data, record
from tests.sync.photo_form import PHOTO_VERSION, install_photo_form

ROUTES = {
    "record page": "/records/{record}/files/{sha}",
    "gallery": "/reports/photos/{record}/{sha}",
}


@pytest.fixture
def replaced(client: Any, db: Any, phone: dict[str, Any]) -> dict[str, Any]:
    """A record whose house photo was taken again (its first revision names the old photo,
    its current one the new), and another record with a photo of its own."""
    install_photo_form(db)
    village = phone["villages"][0]["id"]
    old, old_sha = jpeg((10, 120, 10))
    new, new_sha = jpeg((120, 10, 10))
    other, other_sha = jpeg((10, 10, 120))
    for body, sha in ((old, old_sha), (new, new_sha), (other, other_sha)):
        assert put(client, phone, sha, body).status_code in (200, 201)
    first = record(village, data=household_data(house_photo=old_sha), form_version=PHOTO_VERSION)
    push(client, phone, first)
    again = {
        **first,
        "rev": str(uuid.uuid4()),
        "base_rev": first["rev"],
        "data": household_data(house_photo=new_sha),
    }
    neighbour = record(
        village, data=household_data(house_photo=other_sha), form_version=PHOTO_VERSION
    )
    push(client, phone, again, neighbour)
    return {"record": first["id"], "old": old_sha, "new": new_sha, "other": other_sha}


@pytest.mark.parametrize("route", ROUTES.values(), ids=ROUTES.keys())
def test_a_file_is_sent_only_while_the_records_current_answers_name_it(
    client: Any, db: Any, replaced: dict[str, Any], route: str
) -> None:
    login_as(client, db, "reviewer")
    url = route.format
    record_id = replaced["record"]
    assert client.get(url(record=record_id, sha=replaced["new"])).status_code == 200
    # The photo taken again is named by an older revision only.
    assert client.get(url(record=record_id, sha=replaced["old"])).status_code == 404
    # Another record's photo, a hash no record names, no hash at all, no such record.
    assert client.get(url(record=record_id, sha=replaced["other"])).status_code == 404
    assert client.get(url(record=record_id, sha="0" * 64)).status_code == 404
    assert client.get(url(record=record_id, sha="NOT-A-HASH")).status_code == 404
    assert client.get(url(record="nope", sha=replaced["new"])).status_code == 404


@pytest.mark.parametrize("route", ROUTES.values(), ids=ROUTES.keys())
def test_a_viewer_and_another_commune_get_none_of_a_records_files(
    client: Any, db: Any, replaced: dict[str, Any], route: str
) -> None:
    url = route.format(record=replaced["record"], sha=replaced["new"])
    login_as(client, db, "viewer")
    assert client.get(url).status_code == 403
    client.post("/logout")
    with write_transaction(db):
        add_commune(db, "88888", "Xã Khác", "01", "Hà Nội")
    login_as(client, db, "admin", commune_id="88888")
    assert client.get(url).status_code == 404
