"""Choices from an attached CSV file: uploaded with the workbook on the Forms page, the file's
rows become the question's choices (checked by the server as any other list), its size shown;
a missing or unreadable file is refused naming the question's row and the file's line."""

from __future__ import annotations

import io
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


def test_the_files_choices_are_the_questions_and_the_server_checks_them(
    admin: Any, client: Any, db: Any, phone: dict[str, Any]
) -> None:
    response = upload(admin, files(**{"khac.csv": "name,label\nx,X\n"}))
    page = text_of(response.get_data(as_text=True))
    assert response.status_code == 200, page
    assert f"{len(HO.encode()) / 1024:.1f} KB" in page and "3 lựa chọn" in page
    assert "2 lựa chọn" in page and "Không câu hỏi nào dùng tệp này" in page
    assert db.execute("SELECT count(*) FROM forms WHERE form_id = ?", [FILE_ID]).fetchone()[0] == 0
    page = response.get_data(as_text=True)
    response = post(admin, "/admin/forms/publish", {"definition": definition_of(page)})
    assert response.status_code == 303

    village = phone["villages"][0]["id"]

    def push(answers: dict[str, Any]) -> dict[str, Any]:
        item = {
            "id": str(uuid.uuid4()),
            "rev": str(uuid.uuid4()),
            "base_rev": None,
            "form_id": FILE_ID,
            "form_version": "1",
            "household_id": None,
            "village_id": village,
            "data": {"ngay": VISIT_DATE, **answers},
            "meta": {"started_at": "2026-11-20T01:00:00Z", "visit_date": VISIT_DATE},
        }
        body = client.post("/api/v1/sync/push", json={"items": [item]}, headers=phone["headers"])
        return body.get_json()["results"][0]

    assert push({"thon": "dong", "ho": "h2"})["status"] == "applied"
    refused = push({"thon": "dong", "ho": "h3"})  # a household of the other village
    assert refused["status"] == "rejected" and "ho" in refused["errors"]
    assert push({"thon": "bac"})["status"] == "rejected"
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
