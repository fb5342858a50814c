"""ODK Collect fills a form with a rank question and an audit log: the XForm pyxform makes of
it passes ODK Validate, the rank's names arrive in their order, and Collect's audit.csv
attachment is kept as that record's file."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.sync.live import LiveServer
from tests.sync.test_openrosa import downloaded, household, server, stored_data, workbook_form

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
    form = workbook_form(tmp_path, survey, "ranks", choices)
    client, xform = downloaded(server, form, tmp_path)
    assert b"odk:rank" in xform and b'odk:track-changes="true"' in xform
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
    sha = hashlib.sha256(AUDIT_CSV).hexdigest()
    assert stored_data(server, filled) == {
        "household_code": code,
        "crops": ["beans", "rice", "maize"],
        "audit": sha,
    }
    assert (Path(server.data_dir) / "blobs" / sha[:2] / sha).read_bytes() == AUDIT_CSV
