"""The data folder holds personal data: only the service's own account may read it."""

from __future__ import annotations

import stat

from server import create_app
from server.domain.db import write_transaction


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_installation_is_readable_by_its_own_account_alone(tmp_path):
    folder = tmp_path / "data"
    app = create_app(
        {"DATA_DIR": str(folder), "DATABASE": str(folder / "gocua.db"), "SECRET_KEY": "k" * 64}
    )
    from server.domain.db import connect

    with connect(app.config["DATABASE"]) as db, write_transaction(db):
        db.execute(
            "INSERT INTO communes (id, name, province_code, province_name, created_at)"
            " VALUES ('12345', 'Xã Thử', '01', 'Hà Nội', '2026-11-30T00:00:00Z')"
        )
        files = sorted(p.name for p in folder.glob("gocua.db*"))
        # WAL files exist now, and the writers' queue (server/domain/db.py: write_transaction)
        assert files == ["gocua.db", "gocua.db-shm", "gocua.db-wal", "gocua.db-writer"]
        assert {p.name: _mode(p) for p in folder.glob("gocua.db*")} == dict.fromkeys(files, 0o600)
    assert _mode(folder) == 0o700


def test_an_older_installation_is_tightened_at_start(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    (folder / "gocua.db").touch(mode=0o644)
    (folder / "gocua.db").chmod(0o644)
    create_app(
        {"DATA_DIR": str(folder), "DATABASE": str(folder / "gocua.db"), "SECRET_KEY": "k" * 64}
    )
    assert _mode(folder) == 0o700
    assert _mode(folder / "gocua.db") == 0o600
