"""A fresh installation: the default survey and a demo commune, so ``make run`` shows a working
product at once. Idempotent: it only adds what is missing."""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from schemas.form import DEFAULT_FORM
from server.domain.accounts import add_user, new_password
from server.domain.db import write_transaction
from server.domain.forms import install_form
from server.domain.register import add_commune, add_household, add_village

DEMO_COMMUNE = {
    "code": "99999",
    "name": "Xã Minh Họa",
    "province_code": "99",
    "province_name": "Tỉnh Minh Họa",
}
DEMO_VILLAGES = ["Thôn Đông", "Thôn Tây", "Thôn Bắc Sơn"]
DEMO_HOUSEHOLDS = [
    ("Nguyễn Văn An", "Số 12, ngõ 3"),
    ("Trần Thị Bình", "Cạnh nhà văn hóa"),
    ("Lê Văn Cường", "Số 5"),
    ("Phạm Thị Dung", "Đầu ngõ 7"),
]
DEMO_VOLUNTEER = "tnv.demo"


def load_default_form(db: sqlite_utils.Database) -> bool:
    definition = json.loads(DEFAULT_FORM.read_text(encoding="utf-8"))
    with write_transaction(db):
        return install_form(db, definition)[1]


def seed_demo(db: sqlite_utils.Database) -> dict[str, Any] | None:
    """Create the demo commune and its admin once; returns the admin's one-time password."""
    if db.execute("SELECT 1 FROM communes WHERE id = ?", [DEMO_COMMUNE["code"]]).fetchone():
        return None
    password = new_password()
    with write_transaction(db):
        commune = add_commune(
            db,
            DEMO_COMMUNE["code"],
            DEMO_COMMUNE["name"],
            DEMO_COMMUNE["province_code"],
            DEMO_COMMUNE["province_name"],
        )
        villages = [add_village(db, commune["id"], name) for name in DEMO_VILLAGES]
        for index, (head, address) in enumerate(DEMO_HOUSEHOLDS):
            add_household(db, villages[index % 2]["id"], head, address)
        admin = add_user(db, "admin", "Quản trị xã", "admin", commune["id"], password=password)
        # Printed on the console (and so in a terminal's scrollback or a service's log): like
        # every first password, it must be changed at the first login.
        db.execute("UPDATE users SET must_change_password = 1 WHERE id = ?", [admin["id"]])
        add_user(
            db,
            DEMO_VOLUNTEER,
            "Tình nguyện viên mẫu",
            "volunteer",
            commune["id"],
            union_name="Đoàn Thanh niên",
            village_ids=[villages[0]["id"], villages[1]["id"]],
        )
    return {"username": "admin", "password": password}
