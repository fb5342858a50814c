"""Photos by hash: PUT and HEAD /api/v1/blobs/{sha256}, and records that name a photo."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any

from server import create_app
from server.domain.blobs import blob_root
from sync.protocol import MAX_BLOB_BYTES
from tests.records import household_data, record
from tests.sync.phone import small_record
from tests.sync.photo_form import PHOTO_VERSION, install_photo_form, photo


def put(client: Any, phone: dict[str, Any], sha256: str, body: bytes, **headers: str) -> Any:
    return client.put(
        f"/api/v1/blobs/{sha256}",
        data=body,
        headers={**phone["headers"], "Content-Type": "image/jpeg", **headers},
    )


def head(client: Any, phone: dict[str, Any], sha256: str) -> Any:
    return client.head(f"/api/v1/blobs/{sha256}", headers=phone["headers"])


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_a_blob_is_stored_once_by_its_hash_and_head_says_so(client, phone, app):
    content, sha = photo("a")
    assert head(client, phone, sha).status_code == 404
    first = put(client, phone, sha, content)
    assert first.status_code == 201
    assert first.get_json() == {"sha256": sha, "size": len(content), "created": True}
    found = head(client, phone, sha)
    assert found.status_code == 200 and found.headers["X-Blob-Size"] == str(len(content))
    again = put(client, phone, sha, content)
    assert again.status_code == 200 and again.get_json()["created"] is False
    stored = Path(app.config["DATA_DIR"]) / "blobs" / sha[:2] / sha
    assert stored.read_bytes() == content
    assert files_under(blob_root(app.config["DATA_DIR"]) / ".tmp") == []


def test_a_body_whose_hash_differs_is_refused_and_nothing_is_kept(client, phone, app):
    content, sha = photo("b")
    damaged = content[:-1] + b"X"
    response = put(client, phone, sha, damaged)
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "blob_hash_mismatch"
    assert hashlib.sha256(damaged).hexdigest() in body["message"]["en"]
    assert head(client, phone, sha).status_code == 404
    assert files_under(blob_root(app.config["DATA_DIR"])) == []


def test_a_cut_upload_leaves_nothing_half_written(client, phone, app):
    content, sha = photo("c")
    response = client.put(
        f"/api/v1/blobs/{sha}",
        data=content[: len(content) // 2],
        headers=phone["headers"],
        environ_overrides={"CONTENT_LENGTH": str(len(content))},
    )
    assert response.status_code == 400
    assert response.get_json()["code"] == "blob_incomplete"
    assert files_under(blob_root(app.config["DATA_DIR"])) == []


def test_too_large_is_413_stating_the_limit(client, phone):
    _, sha = photo("d")
    response = put(client, phone, sha, b"x" * (MAX_BLOB_BYTES + 1))
    assert response.status_code == 413
    body = response.get_json()
    assert body["code"] == "blob_too_large"
    assert f"{MAX_BLOB_BYTES}" in body["message"]["en"] and body["message"]["vi"]


def test_a_bad_address_and_a_missing_token_are_refused(client, phone):
    bad = put(client, phone, "ABC", b"x")
    assert bad.status_code == 422
    assert bad.get_json()["errors"]["sha256"][0]["code"] == "not_hash"
    content, sha = photo("e")
    assert client.put(f"/api/v1/blobs/{sha}", data=content).status_code == 401
    assert client.head(f"/api/v1/blobs/{sha}").status_code == 401


def test_stale_temporary_files_of_a_killed_upload_are_removed_at_start(app):
    temp = blob_root(app.config["DATA_DIR"]) / ".tmp"
    temp.mkdir(parents=True, exist_ok=True)
    old, fresh = temp / "old-upload", temp / "fresh-upload"
    old.write_bytes(b"half")
    fresh.write_bytes(b"half")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    create_app({**app.config, "TESTING": True})
    assert not old.exists() and fresh.exists()


def test_a_record_naming_a_photo_the_server_lacks_is_rejected_until_it_is_uploaded(
    client, phone, db
):
    install_photo_form(db)
    village = phone["villages"][0]["id"]
    house, house_sha = photo("house")
    face, face_sha = photo("face")
    members = household_data()["members"]
    members[0]["member_photo"] = face_sha
    item = record(
        village,
        data=household_data(members=members, house_photo=house_sha),
        form_version=PHOTO_VERSION,
    )

    def push() -> dict:
        return client.post(
            "/api/v1/sync/push", json={"items": [item]}, headers=phone["headers"]
        ).get_json()["results"][0]

    first = push()
    assert first["status"] == "rejected"
    assert {k: [e["code"] for e in v] for k, v in first["errors"].items()} == {
        "house_photo": ["missing_blob"],
        "members[0].member_photo": ["missing_blob"],
    }
    assert first["errors"]["house_photo"][0]["vi"]
    put(client, phone, house_sha, house)
    assert list(push()["errors"]) == ["members[0].member_photo"]
    put(client, phone, face_sha, face)
    assert push()["status"] == "applied"


def test_records_without_photos_are_not_slowed_by_the_check(client, phone, db):
    install_photo_form(db)
    item = small_record(phone["villages"][0]["id"], form_version=PHOTO_VERSION)
    result = client.post(
        "/api/v1/sync/push", json={"items": [item]}, headers=phone["headers"]
    ).get_json()["results"][0]
    assert result["status"] == "applied"
