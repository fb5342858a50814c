"""``gocua sync`` as operators run it: a token on the province, pushes from the commune.
(The commands run in-process through click's runner, against live servers on loopback.)"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from server.cli.main import main
from sync.client import SyncClient
from tests.sync.live import LiveServer
from tests.sync.phone import Phone


def gocua(server: LiveServer, *args: str) -> Result:
    return CliRunner(env={"GOCUA_DATA_DIR": str(server.data_dir)}).invoke(main, list(args))


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
        assert f"Sent 2 record revisions to {province.base} in 1 batches: 2 new" in first.output
        second = gocua(commune, "sync", "push", *upstream)
        assert "Nothing new to send" in second.output and "Không có gì mới" in second.output
        assert "In step" in gocua(commune, "sync", "status", *upstream).output
        assert "99999  Xã Minh Họa" in gocua(province, "sync", "peers").output

        peer_id = issued.output.split("server id ")[1].split(")")[0]
        assert gocua(province, "sync", "revoke", peer_id).exit_code == 0
        refused = gocua(commune, "sync", "push", *upstream)
        assert refused.exit_code != 0 and "401 bad_token" in refused.output
        bad = gocua(province, "sync", "token", "9999")
        assert bad.exit_code != 0 and "5 digits" in bad.output
    finally:
        commune.stop()
        province.stop()
