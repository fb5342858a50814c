"""Choices from an attached CSV file: uploaded with the workbook on the Forms page, the file's
rows become the question's choices (checked by the server as any other list), its size shown;
a missing or unreadable file is refused naming the question's row and the file's line."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import pytest

from schemas.file_choices import FileChoicesError, inline_file_choices
from tests.api.admin_helpers import post
from tests.api.test_admin_forms import definition_of, text_of
from tests.records import VISIT_DATE
from tests.workbooks import EN, VI, workbook

FILE_ID = "tham_xa"
SURVEY = [
    ("type", "name", VI, EN, "required", "choice_filter"),
    ("today", "ngay", None, None, None, None),
    ("select_one_from_file thon.csv", "thon", "Thôn nào?", "Which village?", "yes", None),
    ("select_one_from_file ho.csv", "ho", "Hộ nào?", "Which household?", None, "thon = ${thon}"),
]
THON = "name,label::Tiếng Việt (vi),label::English (en)\ndong,Thôn Đông,East\ntay,Thôn Tây,West\n"
HO = "name,label,thon\nh1,Hộ Lò Văn A,dong\nh2,Hộ Lò Thị B,dong\nh3,Hộ Vì Văn C,tay\n"


def upload(client: Any, files: dict[str, bytes], survey: list[Any] = SURVEY) -> Any:
    data = {
        "file": (io.BytesIO(workbook(survey, form_id=FILE_ID, version="1")), "tham_xa.xlsx"),
        "attachments": [(io.BytesIO(body), name) for name, body in files.items()],
    }
    return post(client, "/admin/forms/check", data)


def files(**extra: str) -> dict[str, bytes]:
    given = {"thon.csv": THON, "ho.csv": HO, **extra}
    return {name: body.encode() for name, body in given.items()}


def publish(admin: Any, response: Any) -> dict[str, Any]:
    """Publish the form the Forms page checked (``response``, its answer); its definition."""
    page = response.get_data(as_text=True)
    published = post(admin, "/admin/forms/publish", {"definition": definition_of(page)})
    assert published.status_code == 303, text_of(published.get_data(as_text=True))
    return json.loads(definition_of(page))


def push(client: Any, phone: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """A visit with the published form and these answers, sent by the phone: its result."""
    item = {
        "id": str(uuid.uuid4()),
        "rev": str(uuid.uuid4()),
        "base_rev": None,
        "form_id": FILE_ID,
        "form_version": "1",
        "household_id": None,
        "village_id": phone["villages"][0]["id"],
        "data": data,
        "meta": {"started_at": "2026-11-20T01:00:00Z", "visit_date": VISIT_DATE},
    }
    body = client.post("/api/v1/sync/push", json={"items": [item]}, headers=phone["headers"])
    return body.get_json()["results"][0]


DAY = {"ngay": VISIT_DATE}


def test_the_files_choices_are_the_questions_and_the_server_checks_them(
    admin: Any, client: Any, db: Any, phone: dict[str, Any]
) -> None:
    response = upload(admin, files(**{"khac.csv": "name,label\nx,X\n"}))
    page = text_of(response.get_data(as_text=True))
    assert response.status_code == 200, page
    assert f"{len(HO.encode()) / 1024:.1f} KB" in page and "3 lựa chọn" in page
    assert "2 lựa chọn" in page and "Không câu hỏi nào dùng tệp này" in page
    assert db.execute("SELECT count(*) FROM forms WHERE form_id = ?", [FILE_ID]).fetchone()[0] == 0
    publish(admin, response)

    assert push(client, phone, {**DAY, "thon": "dong", "ho": "h2"})["status"] == "applied"
    refused = push(client, phone, {**DAY, "thon": "dong", "ho": "h3"})  # the other village's
    assert refused["status"] == "rejected" and "ho" in refused["errors"]
    assert push(client, phone, {**DAY, "thon": "bac"})["status"] == "rejected"
    page = text_of(admin.get(f"/admin/forms/{FILE_ID}").get_data(as_text=True))
    assert "Thăm lại hộ" in page


def test_a_question_whose_file_is_missing_is_refused_naming_its_row(admin: Any) -> None:
    response = upload(admin, {"thon.csv": THON.encode()})
    assert response.status_code == 422
    page = text_of(response.get_data(as_text=True))
    assert "Trang tính 'survey', dòng 4, file 'ho.csv'" in page
    assert "hãy tải tệp 'ho.csv' lên cùng biểu mẫu" in page
    admin.get("/lang/en")
    page = text_of(upload(admin, {"thon.csv": THON.encode()}).get_data(as_text=True))
    assert "Sheet 'survey', row 4, file 'ho.csv': attach the file 'ho.csv' with the form" in page


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"name,label\nh1,A\nh1,B\n", "ho.csv, dòng 3: lựa chọn 'h1' có hai lần"),
        (b"name,label\nh1,\n", "ho.csv, dòng 2: mỗi dòng cần cột 'name' và cột 'label'"),
        (b"ten,nhan\nh1,A\n", "ho.csv, dòng 2: mỗi dòng cần cột 'name'"),
        ("name,label\nh1,Hộ A\n".encode("utf-16"), "tệp không phải văn bản UTF-8"),
        (("name,label\n" + "h,x\n" * 20_001).encode(), "tệp có hơn 20000 lựa chọn"),
        (b'name,label\nh1,"' + b"a" * 2001 + b'"\n', "có ô dài hơn 2000 ký tự"),
    ],
)
def test_a_file_that_cannot_give_choices_is_refused_naming_its_line(
    admin: Any, body: bytes, said: str
) -> None:
    response = upload(admin, {"thon.csv": THON.encode(), "ho.csv": body})
    assert response.status_code == 422
    assert said in text_of(response.get_data(as_text=True))


def test_too_many_files_or_one_twice_is_refused(admin: Any) -> None:
    many = {f"f{i}.csv": b"name,label\na,A\n" for i in range(21)}
    assert upload(admin, many).status_code == 422
    data = {
        "file": (io.BytesIO(workbook(SURVEY, form_id=FILE_ID)), "tham_xa.xlsx"),
        "attachments": [
            (io.BytesIO(THON.encode()), "thon.csv"),
            (io.BytesIO(THON.encode()), "a/thon.csv"),
        ],
    }
    response = post(admin, "/admin/forms/check", data)
    assert response.status_code == 422 and "thon.csv" in text_of(response.get_data(as_text=True))


def test_other_columns_and_parameters_as_odk_reads_them() -> None:
    survey = [
        {
            "type": "select_multiple_from_file  xa.csv",
            "name": "xa",
            "parameters": "value=ma label=ten",
        },
        {"type": "select_one_from_file xa.csv", "name": "xa2"},
        {"type": "select_one_from_file 1 file-xa.csv", "name": "khac"},
    ]
    choices = [{"list_name": "file_xa", "name": "a", "label": "A"}]
    body = "ma,ten,ten::English (en),name,label,vung,bad col\n1,Xã Một,One,m1,Một,bac,z\n"
    given = inline_file_choices(survey[:2], choices, {"xa.csv": body.encode()})
    assert survey[0] == {"type": "select_multiple file_xa_2", "name": "xa"}
    assert survey[1]["type"] == "select_one file_xa_2"  # one list for one file
    assert choices[1:] == [
        {
            "list_name": "file_xa_2",
            "name": "1",
            "label": "Xã Một",
            "label::English (en)": "One",
            "vung": "bac",
        }
    ]
    assert [(g.name, g.list_name, g.choices, g.size) for g in given] == [
        ("xa.csv", "file_xa_2", 1, len(body.encode()))
    ]
    with pytest.raises(FileChoicesError):
        inline_file_choices([{"type": "select_one_from_file xa.csv"}], [], {})


def test_the_cli_takes_the_same_files_and_says_the_same(admin: Any, tmp_path: Any) -> None:
    from click.testing import CliRunner

    from server.cli.main import main

    book = tmp_path / "tham_xa.xlsx"
    book.write_bytes(workbook(SURVEY, form_id=FILE_ID, version="1"))
    for name, body in files().items():
        (tmp_path / name).write_bytes(body)
    env = {"GOCUA_DATA_DIR": str(tmp_path / "data")}

    def gocua(*args: Any) -> Any:
        return CliRunner().invoke(main, [str(a) for a in args], env=env)

    done = gocua("form", "check", book, "--attach", tmp_path / "thon.csv")
    assert done.exit_code == 1
    said = done.output.removeprefix("Error: ").splitlines()
    page = text_of(upload(admin, {"thon.csv": THON.encode()}).get_data(as_text=True))
    assert said[0] in page  # the Forms page's words
    done = gocua(
        "form", "import", book, "--attach", tmp_path / "thon.csv", "--attach", tmp_path / "ho.csv"
    )
    assert done.exit_code == 0, done.output
    assert f"File ho.csv ({len(HO.encode())} bytes): 3 choices" in done.output
    assert f"{FILE_ID} version 1: imported" in done.output


def _feature(properties: Any, geometry: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": properties, "geometry": geometry, **extra}


POINTS = {
    "type": "FeatureCollection",
    "features": [
        _feature(
            {"id": "nvh", "title": "Nhà văn hoá", "thon": "dong", "so": 3},
            {"type": "Point", "coordinates": [105.8, 21.0]},
        ),
        _feature(
            {"title": "Đường lên nương"},
            {"type": "LineString", "coordinates": [[105.8, 21.0], [105.9, 21.1, 12]]},
            id="duong",
        ),
        _feature(
            {"id": "ruong", "title": "Ruộng", "nested": {"x": 1}},
            {"type": "Polygon", "coordinates": [[[1, 2], [1, 3], [2, 3], [1, 2]]]},
        ),
    ],
}
GEO_SURVEY = [
    ("type", "name", VI, EN, "required", "choice_filter"),
    ("today", "ngay", None, None, None, None),
    ("select_one_from_file diem.geojson", "diem", "Điểm nào?", "Which place?", "yes", None),
]


def test_a_geojson_files_features_are_the_choices_as_odk_reads_them() -> None:
    choices: list[dict[str, Any]] = []
    survey = [{"type": "select_one_from_file diem.geojson", "name": "diem"}]
    given = inline_file_choices(survey, choices, {"diem.geojson": json.dumps(POINTS).encode()})
    assert survey[0]["type"] == "select_one file_diem" and given[0].choices == 3
    assert choices == [
        {
            "list_name": "file_diem",
            "name": "nvh",
            "label": "Nhà văn hoá",
            "thon": "dong",
            "so": "3",
            "geometry": "21.0 105.8 0 0",
        },
        {
            "list_name": "file_diem",
            "name": "duong",
            "label": "Đường lên nương",
            "geometry": "21.0 105.8 0 0; 21.1 105.9 0 0",
        },
        {
            "list_name": "file_diem",
            "name": "ruong",
            "label": "Ruộng",
            "geometry": "2 1 0 0; 3 1 0 0; 3 2 0 0; 2 1 0 0",
        },
    ]
    survey = [{"type": "select_one_from_file diem.geojson", "parameters": "value=thon label=id"}]
    choices = []
    one = {**POINTS, "features": POINTS["features"][:1]}
    inline_file_choices(survey, choices, {"diem.geojson": json.dumps(one).encode()})
    assert choices[0]["name"] == "dong" and choices[0]["label"] == "nvh"


def test_a_geojson_file_is_published_and_its_answers_checked(
    admin: Any, client: Any, phone: dict[str, Any]
) -> None:
    response = upload(admin, {"diem.geojson": json.dumps(POINTS).encode()}, GEO_SURVEY)
    page = text_of(response.get_data(as_text=True))
    assert response.status_code == 200, page
    assert "3 lựa chọn" in page
    definition = publish(admin, response)
    assert {
        "list_name": "file_diem",
        "name": "ruong",
        "label": "Ruộng",
        "geometry": "2 1 0 0; 3 1 0 0; 3 2 0 0; 2 1 0 0",
    } in definition["choices"]


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({"type": "Feature"}, "tệp GeoJSON lựa chọn phải là một FeatureCollection"),
        (
            {
                **POINTS,
                "features": [*POINTS["features"], _feature({"id": "x", "title": "X"}, None)],
            },
            "diem.geojson, đối tượng 4: geometry không phải Point",
        ),
        (
            {
                **POINTS,
                "features": [_feature({"id": "x"}, {"type": "Point", "coordinates": [1, 2]})],
            },
            "diem.geojson, đối tượng 1: mỗi dòng cần cột 'id' và cột 'title'",
        ),
        (
            {**POINTS, "features": [*POINTS["features"], POINTS["features"][0]]},
            "diem.geojson, đối tượng 4: lựa chọn 'nvh' có hai lần",
        ),
        (
            {
                **POINTS,
                "features": [
                    _feature({"id": "x", "title": "X"}, {"type": "Point", "coordinates": [200, 2]})
                ],
            },
            "diem.geojson, đối tượng 1: geometry",
        ),
        ({**POINTS, "deep": json.loads("[" * 20 + "]" * 20)}, "tệp lồng sâu hơn 16 cấp"),
        ("[" * 100_000, "không phải tệp GeoJSON"),
        ("{", "không phải tệp GeoJSON"),
    ],
)
def test_a_geojson_file_that_cannot_give_choices_is_refused_naming_its_feature(
    admin: Any, body: Any, said: str
) -> None:
    data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    response = upload(admin, {"diem.geojson": data}, GEO_SURVEY)
    assert response.status_code == 422
    assert said in text_of(response.get_data(as_text=True))
    admin.get("/lang/en")
    english = text_of(upload(admin, {"diem.geojson": data}, GEO_SURVEY).get_data(as_text=True))
    assert "Sheet 'survey', row 3, file 'diem.geojson'" in english


LOOKUP = "name,label,so_nguoi\nh1,Hộ Lò Văn A,4\nh2,Hộ Lò Thị B,2\n"
PULL_SURVEY = [
    ("type", "name", VI, EN, "required", "constraint", "calculation"),
    ("today", "ngay", None, None, None, None, None),
    ("select_one_from_file ho.csv", "ho", "Hộ nào?", "Which household?", "yes", None, None),
    (
        "calculate",
        "so_nguoi",
        None,
        None,
        None,
        None,
        "pulldata('ho', 'so_nguoi', 'name', ${ho})",
    ),
    (
        "integer",
        "gap",
        "Gặp mấy người?",
        "How many met?",
        "yes",
        ". <= pulldata('ho', 'so_nguoi', 'name', ${ho})",
        None,
    ),
]


def test_pulldata_reads_the_attached_csv_on_the_server(
    admin: Any, client: Any, phone: dict[str, Any]
) -> None:
    response = upload(admin, {"ho.csv": LOOKUP.encode(), "ban.csv": b"a,b\n1,2\n"}, PULL_SURVEY)
    page = text_of(response.get_data(as_text=True))
    assert response.status_code == 200, page
    assert "2 lựa chọn; 2 dòng cho pulldata()" in page
    definition = json.loads(definition_of(response.get_data(as_text=True)))
    assert definition["pulldata"] == {
        "ho": {
            "columns": ["name", "label", "so_nguoi"],
            "rows": [["h1", "Hộ Lò Văn A", "4"], ["h2", "Hộ Lò Thị B", "2"]],
        }
    }
    publish(admin, response)

    four = {**DAY, "ho": "h1", "so_nguoi": "4", "gap": 4}  # household h1 has 4 people
    assert push(client, phone, four)["status"] == "applied"
    refused = push(client, phone, {**DAY, "ho": "h2", "so_nguoi": "2", "gap": 3})  # h2: 2 people
    assert refused["status"] == "rejected" and "gap" in refused["errors"]


@pytest.mark.parametrize(
    ("files", "change", "said"),
    [
        (
            {"ho.csv": LOOKUP},
            "pulldata('ho', 'tuoi', 'name', ${ho})",
            "Trang tính 'survey', dòng 4, pulldata(): tệp 'ho.csv' không có cột 'tuoi'",
        ),
        (
            {"ho.csv": LOOKUP},
            "pulldata('xa', 'ten', 'name', ${ho})",
            "pulldata() đọc tệp 'xa.csv': hãy tải tệp lên cùng biểu mẫu",
        ),
        (
            {"ho.csv": LOOKUP},
            "pulldata(${ho}, 'ten', 'name', ${ho})",
            "hãy ghi tên tệp của pulldata() dạng văn bản",
        ),
    ],
)
def test_a_pulldata_that_cannot_be_read_is_refused_naming_its_row(
    admin: Any, files: dict[str, str], change: str, said: str
) -> None:
    survey = list(PULL_SURVEY)
    survey[3] = ("calculate", "so_nguoi", None, None, None, None, change)
    body = {name: text.encode() for name, text in files.items()}
    response = upload(admin, body, survey)
    page = text_of(response.get_data(as_text=True))
    assert response.status_code == 422, page
    assert said in page


def test_a_definitions_pulldata_files_are_bounded() -> None:
    from schemas.formcheck import review_form

    base = {
        "settings": {"form_id": "f", "version": "1"},
        "survey": [{"type": "calculate", "name": "c", "calculation": "pulldata('t', 'a', 'b', 1)"}],
        "choices": [],
    }
    good = {"t": {"columns": ["a", "b"], "rows": [["1", "2"]]}}
    assert review_form({**base, "pulldata": good})[0] == []
    in_filter = {
        **base,
        "survey": [
            {
                "type": "select_one l",
                "name": "s",
                "label": "S",
                "choice_filter": "x = pulldata('t', 'a', 'b', 1)",
            }
        ],
        "choices": [{"list_name": "l", "name": "n", "label": "N", "x": "1"}],
        "pulldata": good,
    }
    assert [p.message_vi for p in review_form(in_filter)[0]] == [
        "không hỗ trợ pulldata() trong choice_filter: hãy tính nó trong một câu calculate rồi"
        " so sánh với câu đó"
    ]
    for bad in (
        [],
        {"t": {"columns": ["a", "b"], "rows": [["1"]]}},
        {"t": {"columns": ["a", "b"], "rows": [["1", 2]]}},
        {"t": {"columns": ["a", "b"], "rows": [["1", "2"]] * 20_001}},
        {f"t{i}": good["t"] for i in range(21)},
    ):
        problems = review_form({**base, "pulldata": bad})[0]
        assert [p.feature for p in problems] == ["pulldata"], bad


def with_external(book: bytes, rows: list[tuple[Any, ...]]) -> bytes:
    """The workbook with an external_choices sheet of ``rows`` (a header first)."""
    from openpyxl import load_workbook

    loaded = load_workbook(io.BytesIO(book))
    sheet = loaded.create_sheet("external_choices")
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    loaded.save(out)
    return out.getvalue()


EXTERNAL_SURVEY = [
    ("type", "name", VI, EN, "required", "choice_filter"),
    ("today", "ngay", None, None, None, None),
    ("select_one co_khong", "gap_ho", "Gặp được hộ?", "Met the household?", "yes", None),
    ("text", "thon", "Thôn nào?", "Which village?", "yes", None),
    ("select_one_external ho", "ho", "Hộ nào?", "Which household?", None, "thon = ${thon}"),
]
EXTERNAL = [
    ("list_name", "name", VI, EN, "thon"),
    ("thon", "dong", "Thôn Đông", "East", None),
    ("thon", "tay", "Thôn Tây", "West", None),
    (None, None, None, None, None),
    ("ho", "h1", "Hộ A", "Household A", "dong"),
    ("ho", "h2", "Hộ B", "Household B", "tay"),
]


def upload_external(client: Any, survey: list[Any], rows: list[Any]) -> Any:
    book = with_external(workbook(survey, form_id=FILE_ID, version="1"), rows)
    return post(client, "/admin/forms/check", {"file": (io.BytesIO(book), "tham_xa.xlsx")})


def test_select_one_external_takes_its_list_from_the_external_choices_sheet(
    admin: Any, client: Any, phone: dict[str, Any]
) -> None:
    response = upload_external(admin, EXTERNAL_SURVEY, EXTERNAL)
    page = text_of(response.get_data(as_text=True))
    assert response.status_code == 200, page
    assert "external_choices" not in page  # used: no warning that it is ignored
    definition = json.loads(definition_of(response.get_data(as_text=True)))
    assert definition["survey"][3]["type"] == "select_one ho"
    assert {
        "list_name": "ho",
        "name": "h2",
        "label::Tiếng Việt (vi)": "Hộ B",
        "label::English (en)": "Household B",
        "thon": "tay",
    } in definition["choices"]
    publish(admin, response)
    met = {**DAY, "gap_ho": "co"}
    assert push(client, phone, {**met, "thon": "tay", "ho": "h2"})["status"] == "applied"
    refused = push(client, phone, {**met, "thon": "tay", "ho": "h1"})  # the other village's
    assert refused["status"] == "rejected" and "ho" in refused["errors"]


def test_a_list_name_on_both_sheets_keeps_the_two_lists_apart() -> None:
    from schemas.file_choices import inline_external_choices

    survey = [{"type": "select_one_external  co_khong", "name": "a"}]
    choices = [{"list_name": "co_khong", "name": "co", "label": "Có"}]
    external = [{"list_name": "co_khong", "name": "x", "label": "X"}]
    assert inline_external_choices(survey, choices, external, [2], [2]) == 1
    assert survey[0]["type"] == "select_one file_external_co_khong"
    assert choices[1] == {"list_name": "file_external_co_khong", "name": "x", "label": "X"}
    with pytest.raises(ValueError, match="no list 'khac'"):
        inline_external_choices([{"type": "select_one_external khac"}], [], external, [2], [2])


@pytest.mark.parametrize(
    ("rows", "said"),
    [
        (
            EXTERNAL[:3],
            "Trang tính 'survey', dòng 5, pyxform",
        ),
        (
            [*EXTERNAL, ("ho", "h1", "Hộ A lần hai", "Again", "dong")],
            "Trang tính 'external_choices', dòng 7, select_one_external: lựa chọn 'h1' có hai"
            " lần trong danh sách 'ho'",
        ),
    ],
)
def test_an_external_list_that_cannot_be_taken_is_refused_naming_its_row(
    admin: Any, rows: list[Any], said: str
) -> None:
    response = upload_external(admin, EXTERNAL_SURVEY, rows)
    page = text_of(response.get_data(as_text=True))
    assert response.status_code == 422, page
    assert said in page


SEARCH_SURVEY = [
    ("type", "name", VI, EN, "required", "appearance"),
    ("today", "ngay", None, None, None, None),
    ("text", "thon", "Thôn nào?", "Which village?", "yes", None),
    (
        "select_one ho_tim",
        "ho",
        "Hộ nào?",
        "Which household?",
        None,
        "minimal search('ho', 'matches', 'thon', ${thon})",
    ),
    ("select_one ho_tim", "ho_khac", "Hộ khác", "Another", None, "search('ho')"),
]
SEARCH_CSV = "ma,ten,ten_en,thon\nh1,Hộ A,Household A,dong\nh2,Hộ B,Household B,tay\n"


def test_the_search_appearance_chooses_among_the_attached_csv_rows(
    admin: Any, client: Any, phone: dict[str, Any]
) -> None:
    from openpyxl import load_workbook

    loaded = load_workbook(io.BytesIO(workbook(SEARCH_SURVEY, form_id=FILE_ID, version="1")))
    loaded["choices"].append(("ho_tim", "ma", "ten", "ten_en"))
    out = io.BytesIO()
    loaded.save(out)
    data = {
        "file": (io.BytesIO(out.getvalue()), "tham_xa.xlsx"),
        "attachments": [(io.BytesIO(SEARCH_CSV.encode()), "ho.csv")],
    }
    response = post(admin, "/admin/forms/check", data)
    page = text_of(response.get_data(as_text=True))
    assert response.status_code == 200, page
    definition = json.loads(definition_of(response.get_data(as_text=True)))
    ho, other = definition["survey"][2:4]
    assert ho == {
        "type": "select_one file_ho",
        "name": "ho",
        VI: "Hộ nào?",
        EN: "Which household?",
        "appearance": "minimal",
        "choice_filter": "thon = ${thon}",
    }
    assert other["type"] == "select_one file_ho" and "appearance" not in other
    assert {
        "list_name": "file_ho",
        "ma": "h2",
        "ten": "Hộ B",
        "ten_en": "Household B",
        "thon": "tay",
        "name": "h2",
        VI: "Hộ B",
        EN: "Household B",
    } in (definition["choices"])
    publish(admin, response)
    chosen = {**DAY, "thon": "tay", "ho": "h2", "ho_khac": "h1"}
    assert push(client, phone, chosen)["status"] == "applied"
    assert push(client, phone, {**DAY, "thon": "tay", "ho": "h1"})["status"] == "rejected"


def test_a_search_written_otherwise_is_refused_naming_its_row(admin: Any) -> None:
    survey = [
        *SEARCH_SURVEY[:3],
        ("select_one co_khong", "x", "X", "X", None, "search('ho', 'like', 'a', 'b')"),
    ]
    response = upload(admin, {"ho.csv": SEARCH_CSV.encode()}, survey)
    page = text_of(response.get_data(as_text=True))
    assert response.status_code == 422
    assert "Trang tính 'survey', dòng 4, appearance 'search('ho', 'like', 'a', 'b')'" in page


def test_pulldata_in_words_is_not_a_call() -> None:
    from schemas.file_choices import pulldata_tables

    survey = [{"type": "note", "name": "n", "label": "Viết pulldata('ho', 'a', 'b', 1) để tra"}]
    assert pulldata_tables(survey, {}) == ({}, [])
    with pytest.raises(FileChoicesError):
        pulldata_tables([{"type": "calculate", "calculation": "pulldata('ho', 'a', 'b', 1)"}], {})


XML_SURVEY = [
    ("type", "name", VI, EN, "required", "calculation"),
    ("select_one_from_file ho.xml", "ho", "Hộ nào?", "Which household?", "yes", None),
    ("calculate", "thon", None, None, None, "instance('ho')/root/item[name = ${ho}]/thon"),
]
HO_XML = (
    "<root><item><name>h1</name><label>Hộ Lò Văn A</label><thon>dong</thon></item>"
    "<item><name>h2</name><label>Hộ Vì Văn C</label><thon>tay</thon></item></root>"
)


def test_an_xml_file_uploaded_on_the_forms_page_gives_choices_and_lookups(
    admin: Any, client: Any, phone: dict[str, Any]
) -> None:
    response = upload(admin, {"ho.xml": HO_XML.encode()}, XML_SURVEY)
    page = response.get_data(as_text=True)
    assert response.status_code == 200, text_of(page)
    assert "2 lựa chọn" in text_of(page)
    definition = publish(admin, response)
    assert definition["survey"][1]["calculation"] == "pulldata('ho', 'thon', 'name', ${ho})"
    assert push(client, phone, {"ho": "h2", "thon": "tay"})["status"] == "applied"


def test_an_xml_file_with_entities_is_refused_on_the_forms_page(admin: Any) -> None:
    bomb = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><root><item>&a;</item></root>'
    response = upload(admin, {"ho.xml": bomb.encode()}, XML_SURVEY)
    page = text_of(response.get_data(as_text=True))
    assert response.status_code == 422, page
    # The lookup on row 3 reads the file first.
    assert "ho.xml" in page and "DTD" in page and "dòng 3" in page
