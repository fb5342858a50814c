"""The OData feed and its staff API tokens: tokens made once and stored hashed, revoked, as wide
as their staff member; the feed read back against the records and the export (pseudonymised
for a viewer), paged by its nextLinks, filtered, and every bad option a 400 OData error."""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import urlsplit

import pytest

from schemas.form import Form
from server.domain import tokens
from server.domain.db import write_transaction
from server.domain.reports import exports
from tests.api.test_reports_dashboard import login_as, push
from tests.api.test_reports_exports import PERSONAL, csv_rows
from tests.api.test_reports_exports import records as records  # noqa: F401 - the fixture
from tests.records import record
from tests.unit.test_indicators import A

FEED = "/odata/ho_gia_dinh_cds.svc"
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


def make_token(client: Any, name: str = "Power BI") -> str:
    page = client.get("/odata/tokens")
    assert page.status_code == 200
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    made = client.post("/odata/tokens", data={"name": name, "csrf_token": csrf})
    assert made.status_code == 200, made.get_data(as_text=True)[:300]
    assert made.headers["Cache-Control"] == "no-store"
    return re.search(r'id="new-token">([^<]+)<', made.get_data(as_text=True)).group(1)


def token_for(client: Any, db: Any, role: str) -> tuple[str, dict[str, Any]]:
    user = login_as(client, db, role)
    return make_token(client), user


def get(client: Any, token: str, path: str, **headers: str) -> Any:
    return client.get(path, headers={"Authorization": f"Bearer {token}", **headers})


def rows(client: Any, token: str, path: str) -> list[dict[str, Any]]:
    """Every row of an entity set, following the nextLinks."""
    out: list[dict[str, Any]] = []
    while path:
        response = get(client, token, path)
        assert response.status_code == 200, response.get_data(as_text=True)[:400]
        body = response.get_json()
        out += body["value"]
        link = body.get("@odata.nextLink")
        path = f"{urlsplit(link).path}?{urlsplit(link).query}" if link else ""
        assert len(out) < 1000
    return out


def test_a_token_is_shown_once_kept_hashed_audited_and_revoked(client, db, records):
    token, user = token_for(client, db, "reviewer")
    assert token.startswith("gca_") and len(token) > 40
    stored = db.execute("SELECT token_hash, name FROM api_tokens WHERE user_id = ?", [user["id"]])
    assert [tuple(r) for r in stored] == [(tokens.hash_secret(token), "Power BI")]
    page = client.get("/odata/tokens").get_data(as_text=True)
    assert token not in page and "Power BI" in page
    assert get(client, token, FEED).status_code == 200
    assert get(client, token, f"{FEED}/Submissions").status_code == 200
    token_id = db.execute("SELECT id FROM api_tokens WHERE user_id = ?", [user["id"]]).fetchone()[0]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    revoked = client.post(f"/odata/tokens/{token_id}/revoke", data={"csrf_token": csrf})
    assert revoked.status_code == 303
    refused = get(client, token, f"{FEED}/Submissions")
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Basic")
    assert refused.get_json()["error"]["code"] == "unauthorized"
    actions = [
        (r["action"], r["target"])
        for r in db.execute("SELECT action, target FROM audit_log WHERE user_id = ?", [user["id"]])
    ]
    assert ("api_token_created", f"api_token:{token_id}") in actions
    assert ("api_token_revoked", f"api_token:{token_id}") in actions
    reads = [a for a in actions if a[0] == "odata_read"]
    assert reads == [("odata_read", "form:ho_gia_dinh_cds")] * 2  # the refused read is not one


def test_a_token_is_the_password_of_basic_authentication(client, db, records):
    token, _ = token_for(client, db, "admin")
    basic = base64.b64encode(f"excel:{token}".encode()).decode()
    response = client.get(f"{FEED}/Submissions", headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 200
    assert response.headers["OData-Version"] == "4.0"
    wrong = base64.b64encode(b"excel:gca_not-a-token").decode()
    assert client.get(FEED, headers={"Authorization": f"Basic {wrong}"}).status_code == 401
    assert client.get(FEED).status_code == 401


def test_a_token_is_as_wide_as_its_staff_member(client, db, records):
    token, user = token_for(client, db, "admin")
    # Another commune's admin sees no record of this one.
    with write_transaction(db):
        db.execute(
            "INSERT INTO communes (id, name, province_code, province_name, created_at)"
            " VALUES ('88888', 'Xã Khác', '01', 'Hà Nội', '2026-11-01T00:00:00Z')"
        )
    other = login_as(client, db, "admin", commune_id="88888")
    theirs = make_token(client)
    theirs_read = get(client, theirs, f"{FEED}/Submissions?$count=true").get_json()
    assert theirs_read["value"] == [] and theirs_read["@odata.count"] == 0  # a shared form
    # A deactivated account, or one that must change its password, reads nothing.
    with write_transaction(db):
        db.execute("UPDATE users SET active = 0 WHERE id = ?", [user["id"]])
    assert get(client, token, FEED).status_code == 401
    with write_transaction(db):
        db.execute(
            "UPDATE users SET active = 1, must_change_password = 1 WHERE id = ?", [user["id"]]
        )
    assert get(client, token, FEED).status_code == 401
    # A province admin has no records to read: no token page.
    login_as(client, db, "admin", commune_id=None, province_code="01")
    assert client.get("/odata/tokens").status_code == 403
    assert other["id"] != user["id"]


def test_the_feed_reads_back_as_the_records_with_repeats_linked(client, db, records):
    token, _ = token_for(client, db, "admin")
    service = get(client, token, FEED).get_json()
    assert [s["url"] for s in service["value"]] == [
        "Submissions",
        "Submissions.members",
        "Submissions.support",
    ]
    metadata = get(client, token, f"{FEED}/$metadata")
    assert metadata.mimetype == "application/xml"
    schema = ET.fromstring(metadata.data).find(f".//{EDM}Schema")
    types = {t.get("Name"): t for t in schema.findall(f"{EDM}EntityType")}
    assert set(types) == {"Submissions", "Submissions_members", "Submissions_support"}
    props = {p.get("Name"): p.get("Type") for p in types["Submissions"].findall(f"{EDM}Property")}
    form = Form.load()
    assert props["__id"] == "Edm.String" and props["__system"].endswith(".SubmissionMetadata")
    assert props["residents"] == "Edm.Int64" and props["revisit_date"] == "Edm.Date"
    member_props = {p.get("Name") for p in types["Submissions_members"].findall(f"{EDM}Property")}
    assert "__Submissions-id" in member_props and "birth_year" in member_props

    submissions = {r["__id"]: r for r in rows(client, token, f"{FEED}/Submissions")}
    assert set(submissions) == {r["id"] for r in records}
    for item in records:
        row = submissions[item["id"]]
        assert row["__system"]["reviewState"] == "received"
        assert row["__system"]["submissionDate"].endswith("Z")
        for name, answer in item["data"].items():
            if name in form.nodes and form.nodes[name].kind == "field" and name in row:
                expected = " ".join(answer) if isinstance(answer, list) else answer
                if props[name] == "Edm.String" and expected not in ("", None):
                    expected = str(expected)  # a calculation is text, as ODK types it
                assert row[name] == (expected if expected not in ("", []) else None), name
    members = rows(client, token, f"{FEED}/Submissions.members")
    for item in records:
        mine = [m for m in members if m["__Submissions-id"] == item["id"]]
        assert [m["__id"] for m in mine] == [
            f"{item['id']}/{i}" for i in range(1, len(item["data"].get("members", [])) + 1)
        ]
        for row, answers in zip(mine, item["data"].get("members", []), strict=True):
            assert row["birth_year"] == answers.get("birth_year")
            assert isinstance(row["birth_year"], int | None)


def test_a_viewers_feed_is_the_pseudonymised_export(client, db, records, app):
    admin_token, _ = token_for(client, db, "admin")
    exported = csv_rows(client.get("/reports/export/households.csv?pseudo=1"))
    token, _ = token_for(client, db, "viewer")
    found = ""
    for path in ("", "/$metadata", "/Submissions", "/Submissions.members", "/Submissions.support"):
        response = get(client, token, FEED + path)
        assert response.status_code == 200
        found += response.get_data(as_text=True)
    for secret in PERSONAL + [r["id"] for r in records]:
        assert secret not in found, secret
    submissions = rows(client, token, f"{FEED}/Submissions")
    assert sorted(r["__id"] for r in submissions) == sorted(r["record_key"] for r in exported)
    secret = app.config["SECRET_KEY"]
    assert {exports.pseudonym(secret, "record", r["id"]) for r in records} == {
        r["__id"] for r in submissions
    }
    hidden = exports.hidden_fields(Form.load())
    assert hidden and not hidden & set(submissions[0])
    assert "submitterName" not in submissions[0]["__system"]
    # The viewer's cursor carries no record id either.
    paged = get(client, token, f"{FEED}/Submissions?$top=1").get_json()
    assert not any(r["id"] in paged["@odata.nextLink"] for r in records)
    assert get(client, admin_token, f"{FEED}/Submissions").status_code == 200


def test_pages_follow_the_next_links_over_records_of_one_second(client, db, phone, records):
    village = phone["villages"][0]["id"]
    push(client, phone, *[record(village, data=A) for _ in range(6)])  # one push: one second
    token, _ = token_for(client, db, "admin")
    everything = get(client, token, f"{FEED}/Submissions?$count=true").get_json()
    assert everything["@odata.count"] == 9 and len(everything["value"]) == 9
    assert "@odata.nextLink" not in everything
    for top in (1, 2, 4):
        paged = rows(client, token, f"{FEED}/Submissions?$top={top}")
        assert [r["__id"] for r in paged] == [r["__id"] for r in everything["value"]], top
    members = get(client, token, f"{FEED}/Submissions.members").get_json()["value"]
    assert [r["__id"] for r in rows(client, token, f"{FEED}/Submissions.members?$top=3")] == [
        r["__id"] for r in members
    ]
    newest = rows(client, token, f"{FEED}/Submissions?$orderby=__system/submissionDate desc")
    assert [r["__id"] for r in newest] == [r["__id"] for r in everything["value"]][::-1]
    for top in (1, 4):
        paged = rows(
            client, token, f"{FEED}/Submissions?$top={top}&$orderby=__system/submissionDate desc"
        )
        assert [r["__id"] for r in paged] == [r["__id"] for r in newest], top
    skipped = get(client, token, f"{FEED}/Submissions?$skip=2&$top=3&$count=true").get_json()
    assert [r["__id"] for r in skipped["value"]] == [r["__id"] for r in everything["value"][2:5]]
    assert skipped["@odata.count"] == 9
    following = rows(client, token, f"{FEED}/Submissions?$skip=2&$top=3")
    assert [r["__id"] for r in following] == [r["__id"] for r in everything["value"][2:]]


def test_filter_and_select(client, db, records):
    token, _ = token_for(client, db, "admin")
    with write_transaction(db):
        db.execute("UPDATE records SET review_state = 'approved' WHERE id = ?", [records[0]["id"]])

    def ids(query: str) -> set[str]:
        response = get(client, token, f"{FEED}/Submissions?{query}")
        assert response.status_code == 200, response.get_data(as_text=True)
        return {r["__id"] for r in response.get_json()["value"]}

    every = {r["id"] for r in records}
    assert ids("$filter=__system/reviewState eq 'approved'") == {records[0]["id"]}
    assert ids("$filter=__system/reviewState ne 'approved'") == every - {records[0]["id"]}
    assert ids("$filter=__system/submissionDate gt 2100-01-01") == set()
    assert ids("$filter=__system/submissionDate ge 2020-01-01T00:00:00%2B07:00") == every
    assert (
        ids(
            "$filter=(__system/reviewState eq 'approved' or __system/reviewState eq 'received')"
            " and __system/submissionDate lt 2100-01-01T00:00:00.000Z"
        )
        == every
    )
    assert ids("$filter=__system/reviewState eq 'it''s'") == set()
    members = get(
        client, token, f"{FEED}/Submissions.members?$filter=__system/reviewState eq 'approved'"
    ).get_json()["value"]
    assert {m["__Submissions-id"] for m in members} == {records[0]["id"]}
    picked = get(client, token, f"{FEED}/Submissions?$select=__id,residents").get_json()
    assert all(set(r) == {"__id", "residents"} for r in picked["value"])


@pytest.mark.parametrize(
    "query",
    [
        "$filter=__system/submitterId eq 'x'",
        "$filter=head_name eq 'Lò Văn A Một'",
        "$filter=__system/reviewState eq approved",
        "$filter=__system/submissionDate gt 'yesterday'",
        "$filter=__system/submissionDate gt 2026-13-45",
        "$filter=__system/reviewState eq 'a' and",
        "$filter=(__system/reviewState eq 'a'",
        "$filter=__system/reviewState eq 'a')",
        "$filter=__system/reviewState eq 'unterminated",
        "$filter=__system/reviewState lt null",
        "$filter=" + "(" * 50 + "__system/reviewState eq 'a'" + ")" * 50,
        "$filter=" + " or ".join(["__system/reviewState eq 'a'"] * 41),
        "$filter=" + "x" * 600,
        "$filter=1 eq 1; DROP TABLE records",
        "$filter=__system/submissionDate gt 9999-12-31T23:59:59-01:00",
        "$filter=__system/submissionDate gt 0001-01-01T00:00:00%2B01:00",
        "$filter=__system/reviewState eq 'a' \x00",
        "$top=-1",
        "$top=10001",
        "$top=99999999999999999999",
        "$top=١٢",
        "$skip=abc",
        "$count=yes",
        "$select=head_name,nope",
        "$select=" + ",".join(["__id"] * 301),
        "$orderby=__id",
        "$orderby=__system/submissionDate sideways",
        "$expand=*",
        "$format=xml",
        "$skiptoken=not-a-token",
        "$skiptoken=" + "A" * 3000,
    ],
)
def test_a_bad_option_is_a_400_with_an_odata_error(client, db, records, query):
    token, _ = token_for(client, db, "admin")
    response = get(client, token, f"{FEED}/Submissions?{query}", **{"Accept-Language": "en"})
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    error = response.get_json()["error"]
    assert error["code"].startswith("bad_") and error["message"]


def test_errors_speak_the_clients_language_and_unknown_things_are_404(client, db, records):
    token, _ = token_for(client, db, "admin")
    vi = get(client, token, f"{FEED}/Submissions?$top=x").get_json()["error"]
    en = get(client, token, f"{FEED}/Submissions?$top=x", **{"Accept-Language": "en"})
    assert "phải là số nguyên" in vi["message"] and vi["details"][0]["message"].startswith("$top")
    assert en.get_json()["error"]["message"].startswith("$top must be")
    assert get(client, token, f"{FEED}/Nope").status_code == 404
    assert get(client, token, "/odata/khong_co.svc/Submissions").status_code == 404
    assert get(client, token, f"/odata/{'x' * 500}.svc").status_code == 404


def test_token_names_are_bounded_and_tokens_counted(client, db):
    login_as(client, db, "viewer")
    page = client.get("/odata/tokens").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    for name in ("", " ", "x" * 61):
        refused = client.post("/odata/tokens", data={"name": name, "csrf_token": csrf})
        assert refused.status_code == 422
    assert client.post("/odata/tokens", data={"name": "x"}).status_code == 400  # no CSRF
    for i in range(20):
        made = client.post("/odata/tokens", data={"name": f"t{i}", "csrf_token": csrf})
        assert made.status_code == 200
    over = client.post("/odata/tokens", data={"name": "one more", "csrf_token": csrf})
    assert over.status_code == 422 and 'value="one more"' in over.get_data(as_text=True)
