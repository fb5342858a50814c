"""ODK Collect fills a form with a rank question and an audit log: the XForm pyxform makes of
it passes ODK Validate, the rank's names arrive in their order, and Collect's audit.csv
attachment is kept as that record's file."""

from __future__ import annotations

import hashlib
from pathlib import Path

from pyxform.validators.odk_validate import check_xform

from schemas.xlsform import read_xlsform
from server.domain import answers as stored_answers
from server.domain.db import write_transaction
from server.domain.forms import install_form
from tests.collect_client import CollectClient
from tests.sync.live import LiveServer
from tests.sync.test_openrosa import collect_phone, household, server, stored
from tests.unit.test_xlsform import workbook as xlsx_workbook

__all__ = ["server"]  # the live server fixture, shared with test_openrosa.py

# As Collect writes it: event, node, start, end, then old-value and new-value (track-changes).
AUDIT_CSV = (
    b"event,node,start,end,old-value,new-value\n"
    b"form start,,1732000000000,,,\n"
    b"question,/data/household_code,1732000001000,1732000004000,,H1\n"
    b"question,/data/crops,1732000004000,1732000009000,,beans rice maize\n"
    b"form save,,1732000009000,,,\n"
    b"form exit,,1732000009000,,,\n"
    b"form finalize,,1732000009000,,,\n"
)


def test_collect_sends_a_rank_in_order_and_its_audit_log_is_the_records_file(
    server: LiveServer, tmp_path: Path
) -> None:
    survey = [
        ["type", "name", "label", "parameters"],
        ["text", "household_code", "Code", ""],
        ["rank crops", "crops", "Rank the crops", ""],
        ["audit", "audit", "", "track-changes=true"],
    ]
    choices = [
        ["list_name", "name", "label"],
        ["crops", "rice", "Rice"],
        ["crops", "maize", "Maize"],
        ["crops", "beans", "Beans"],
    ]
    definition = read_xlsform(
        xlsx_workbook(tmp_path, survey, choices, settings=[["form_id", "version"], ["ranks", "1"]])
    )
    with server.db() as db, write_transaction(db):
        install_form(db, definition)
    _, url = collect_phone(server)
    client = CollectClient(url)
    (listed,) = [f for f in client.form_list() if f["formID"] == "ranks"]
    xform = client.download(listed)
    assert b"odk:rank" in xform and b'odk:track-changes="true"' in xform
    (tmp_path / "ranks.xml").write_bytes(xform)
    check_xform(str(tmp_path / "ranks.xml"))
    code = household(server)["code"]
    filled = client.fill(
        xform,
        {"household_code": code, "crops": ["beans", "rice", "maize"]},
        {"audit.csv": AUDIT_CSV},
    )
    audit = filled.root.find("meta/audit")
    assert audit is not None  # pyxform puts the log in meta, wherever the row is
    audit.text = "audit.csv"
    assert [a.status for a in client.submit(filled)] == [201]
    (record,) = stored(
        server,
        "SELECT id, answers(data) AS data FROM records WHERE id = ?",
        filled.instance_id.removeprefix("uuid:"),
    )
    sha = hashlib.sha256(AUDIT_CSV).hexdigest()
    assert stored_answers.load(record["data"]) == {
        "household_code": code,
        "crops": ["beans", "rice", "maize"],
        "audit": sha,
    }
    assert (Path(server.data_dir) / "blobs" / sha[:2] / sha).read_bytes() == AUDIT_CSV
