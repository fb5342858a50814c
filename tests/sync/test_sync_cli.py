"""``gocua sync`` as operators run it: a token on the province, pushes from the commune.
(The commands run in-process through click's runner, against live servers on loopback.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from server.cli.main import main
from server.domain.db import write_transaction
from server.domain.register import add_household, add_village
from server.domain.replication import server_id
from sync.client import AuthError, SyncClient
from tests.sync.live import LiveServer
from tests.sync.phone import Phone


def gocua(server: LiveServer, *args: str) -> Result:
    return CliRunner(env={"GOCUA_DATA_DIR": str(server.data_dir)}).invoke(main, list(args))


def source_of(server: LiveServer) -> str:
    with server.db() as db:
        return server_id(db)


def test_token_push_twice_status_and_revoke(tmp_path: Path) -> None:
    province = LiveServer(tmp_path / "province", seed=False).start()
    commune = LiveServer(tmp_path / "commune").start()
    try:
        phone = Phone(SyncClient(commune.base))
        phone.client.enroll(commune.enrollment_code())
        phone.pull()
        for village in phone.villages:
            phone.new(village)
        phone.sync()

        issued = gocua(province, "sync", "token", "99999", "--label", "Xã Minh Họa")
        token = issued.output.strip().splitlines()[-1]
        assert issued.exit_code == 0 and "Shown once" in issued.output and " " not in token
        upstream = ("--upstream", province.base, "--token", token)
        first = gocua(commune, "sync", "push", *upstream)
        assert f"Sent to {province.base} in 1 batches: 2 record revisions (2 new," in first.output
        checkpoint = re.search(r"checkpoint: (\d+)\.", first.output).group(1)
        assert int(checkpoint) > 0
        second = gocua(commune, "sync", "push", *upstream)
        assert "Nothing new to send" in second.output and "Không có gì mới" in second.output
        assert f"(the province's checkpoint: {checkpoint})" in second.output

        # No record revision, but review states, a village and a household: said, and counted.
        with commune.db() as db, write_transaction(db):
            db.execute("UPDATE records SET review_state = 'approved'")
            village = add_village(db, "99999", "Thôn Mới")["id"]
            add_household(db, village, "Hộ Mới")
        third = gocua(commune, "sync", "push", *upstream)
        assert third.exit_code == 0 and "Nothing new" not in third.output
        said = third.output.splitlines()[1]
        assert "2 record states" in said and "1 villages" in said and "1 households" in said
        assert "record revisions" not in said and "trạng thái phiếu" in third.output
        assert re.search(r"checkpoint: (\d+)\.", said).group(1) == str(
            SyncClient(province.base, token).status(source_of(commune))["checkpoint"]
        )
        assert "In step" in gocua(commune, "sync", "status", *upstream).output
        assert "99999  Xã Minh Họa" in gocua(province, "sync", "peers").output

        peer_id = issued.output.split("server id ")[1].split(")")[0]
        assert gocua(province, "sync", "revoke", peer_id).exit_code == 0
        refused = gocua(commune, "sync", "push", *upstream)
        # A commune server is told what its admin should do, in both languages -- not the
        # phone's "save a backup file".
        assert refused.exit_code != 0 and "401 peer_revoked" in refused.output
        assert "ask the province for a new token" in refused.output
        assert "hãy xin tỉnh một mã mới" in refused.output
        assert "phone" not in refused.output and "backup" not in refused.output
        assert "401 peer_revoked" in gocua(commune, "sync", "status", *upstream).output
        unknown = SyncClient(province.base, "not-a-token-anyone-was-given")
        with pytest.raises(AuthError) as never_issued:
            unknown.status()
        assert never_issued.value.code == "bad_token"  # a token never issued: it may be a phone's
        bad = gocua(province, "sync", "token", "9999")
        assert bad.exit_code != 0 and "5 digits" in bad.output
    finally:
        commune.stop()
        province.stop()
