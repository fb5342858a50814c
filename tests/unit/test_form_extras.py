"""What a form has that Gõ Cửa does not run: ignored with a warning when it changes no answer,
refused naming sheet, row and feature when it would collect something else. Every workbook is
built here cell by cell, as another tool would have written it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from schemas.form import QUESTION_TYPES
from schemas.formcheck import Problem
from schemas.formextras import TYPE_ADVICE
from schemas.xlsform import XLSFormError, read_xlsform
from server.cli.main import main
from tests.unit.test_xlsform import workbook

CHOICES = [["list_name", "name", "label"], ["yn", "yes", "Yes"], ["yn", "no", "No"]]


def read(tmp_path: Path, survey: list[list[str]], **sheets: list[list[str]]) -> list[Problem]:
    """The warnings of a workbook that imports."""
    warnings: list[Problem] = []
    read_xlsform(workbook(tmp_path, survey, **sheets), warnings=warnings)
    return warnings


def refused(tmp_path: Path, survey: list[list[str]], **sheets: list[list[str]]) -> XLSFormError:
    with pytest.raises(XLSFormError) as caught:
        read_xlsform(workbook(tmp_path, survey, **sheets))
    error = caught.value
    # Always where and what, in both languages.
    assert error.feature in error.en and error.feature in error.vi
    assert f"Sheet '{error.sheet}'" in error.en and f"Trang tính '{error.sheet}'" in error.vi
    if error.row is not None:
        assert f"row {error.row}," in error.en and f"dòng {error.row}," in error.vi
    return error


def where(warnings: list[Problem]) -> list[tuple[str, int | None, str, int]]:
    return [(w.sheet, w.row, w.feature, w.more) for w in warnings]


# -- settings -----------------------------------------------------------------------------------
def test_settings_that_change_no_answer_are_ignored_with_a_warning(tmp_path: Path) -> None:
    settings = [
        [
            "form_id",
            "version",
            "style",
            "instance_name",
            "public_key",
            "submission_url",
            "auto_send",
            "allow_choice_duplicates",
            "omit_instanceID",
        ],
        [
            "f",
            "1",
            "theme-grid pages",
            "concat(${q}, '')",
            "MIIBIjANBgkq",
            "https://example.org/submission",
            "true",
            "no",
            "false",
        ],
    ]
    warnings = read(tmp_path, [["type", "name", "label"], ["text", "q", "Q"]], settings=settings)
    assert where(warnings) == [
        ("settings", 2, f"setting '{name}'", 0)
        for name in (
            "style",
            "instance_name",
            "public_key",
            "submission_url",
            "auto_send",
            "omit_instanceID",
        )
    ]
    key = warnings[2]
    assert "unencrypted" in key.message_en and "không mã hóa" in key.message_vi


def test_adding_a_none_choice_is_refused_only_when_asked(tmp_path: Path) -> None:
    survey = [["type", "name", "label"], ["select_multiple yn", "q", "Q"]]
    settings = [["form_id", "version", "add_none_option"], ["f", "1", "FALSE"]]
    assert where(read(tmp_path, survey, choices=CHOICES, settings=settings)) == [
        ("settings", 2, "setting 'add_none_option'", 0)
    ]
    settings[1][2] = "TRUE"
    error = refused(tmp_path, survey, choices=CHOICES, settings=settings)
    assert (error.sheet, error.row, error.feature) == ("settings", 2, "setting 'add_none_option'")


# -- survey columns -----------------------------------------------------------------------------
def test_display_only_columns_are_ignored_with_sheet_row_and_column(tmp_path: Path) -> None:
    survey = [
        ["type", "name", "label", "body::accuracyThreshold", "guidance_hint", "notes", "rows"],
        ["geopoint", "where", "Where?", "5", "", "", ""],
        ["text", "who", "Who?", "", "Ask the head", "ask first", "3"],
        ["text", "what", "What?", "", "", "ask second", ""],
        ["text", "why", "Why?", "", "", "ask third", ""],
    ]
    assert where(read(tmp_path, survey)) == [
        ("survey", 2, "column 'body::accuracyThreshold'", 0),
        ("survey", 3, "column 'guidance_hint'", 0),
        ("survey", 3, "column 'notes'", 2),
        ("survey", 3, "column 'rows'", 0),
    ]


def test_another_tools_bindings_are_ignored_odks_own_are_refused(tmp_path: Path) -> None:
    survey = [["type", "name", "label", "bind::oc:itemgroup"], ["text", "q", "Q", "g1"]]
    assert where(read(tmp_path, survey)) == [("survey", 2, "column 'bind::oc:itemgroup'", 0)]
    survey = [["type", "name", "label", "bind::jr:preload"], ["text", "q", "Q", "uid"]]
    error = refused(tmp_path, survey)
    assert (error.row, error.feature) == (2, "column 'bind::jr:preload'")


@pytest.mark.parametrize(
    ("column", "value", "words"),
    [
        ("trigger", "${q}", "trigger"),
        ("body::intent", "org.example.app", "intent"),
    ],
)
def test_columns_that_change_what_is_collected_are_refused(
    tmp_path: Path, column: str, value: str, words: str
) -> None:
    survey = [["type", "name", "label", column], ["text", "q", "Q", ""], ["text", "r", "R", value]]
    error = refused(tmp_path, survey)
    assert (error.sheet, error.row, error.feature) == ("survey", 3, f"column '{column}'")
    assert words in error.en


def test_the_older_spelling_of_a_column_is_that_column(tmp_path: Path) -> None:
    """``bind:relevant`` is ``relevant`` to pyxform, ``bind:jr:constraintMsg`` is
    ``constraint_message``: the same rules, read as such (widgets.xls is written so)."""
    survey = [
        ["type", "name", "label", "bind:relevant", "bind:jr:constraintMsg", "control:appearance"],
        ["integer", "n", "N", "", "", ""],
        ["text", "t", "T", "${n} > 1", "Too short", "multiline"],
    ]
    definition = read_xlsform(workbook(tmp_path, survey))
    assert definition["survey"][1] == {
        "type": "text",
        "name": "t",
        "label": "T",
        "relevant": "${n} > 1",
        "constraint_message": "Too short",
        "appearance": "multiline",
    }


def test_parameters_that_only_shape_a_widget_are_ignored(tmp_path: Path) -> None:
    survey = [
        ["type", "name", "label", "parameters"],
        ["select_one yn", "q", "Q", "randomize=true seed=${n}"],
        ["integer", "n", "N", ""],
        ["image", "p", "Photo", "max-pixels=1024"],
    ]
    assert where(read(tmp_path, survey, choices=CHOICES)) == [
        ("survey", 2, "parameter 'randomize'", 0),
        ("survey", 2, "parameter 'seed'", 0),
        ("survey", 4, "parameter 'max-pixels'", 0),
    ]


def test_an_appearance_the_phone_does_not_use_is_a_warning(tmp_path: Path) -> None:
    survey = [
        ["type", "name", "label", "appearance"],
        ["select_one yn", "q", "Q", "quick minimal"],
        ["text", "t", "T", "multiline"],
        ["date", "d", "D", "no-calendar"],
    ]
    assert where(read(tmp_path, survey, choices=CHOICES)) == [
        ("survey", 2, "appearance 'quick'", 0),
        ("survey", 4, "appearance 'no-calendar'", 0),
    ]


@pytest.mark.parametrize(
    ("row", "feature"),
    [
        (["image", "sign", "Sign here", "signature"], "appearance 'signature'"),
        (["image", "drawing", "Draw", "draw"], "appearance 'draw'"),
        (
            ["text", "slip", "Slip", "printer:org.example.print"],
            "appearance 'printer:org.example.print'",
        ),
    ],
)
def test_an_appearance_that_collects_something_else_is_refused(
    tmp_path: Path, row: list[str], feature: str
) -> None:
    survey = [["type", "name", "label", "appearance"], ["text", "q", "Q", ""], row]
    error = refused(tmp_path, survey)
    assert (error.sheet, error.row, error.feature) == ("survey", 3, feature)


def test_a_label_missing_a_language_is_a_warning(tmp_path: Path) -> None:
    survey = [
        ["type", "name", "label::Tiếng Việt (vi)", "label::English (en)"],
        ["text", "a", "Tên", "Name"],
        ["text", "b", "Tuổi", ""],
    ]
    choices = [
        ["list_name", "name", "label::Tiếng Việt (vi)", "label::English (en)"],
        ["yn", "yes", "Có", ""],
        ["yn", "no", "Không", ""],
    ]
    assert where(read(tmp_path, survey, choices=choices)) == [
        ("survey", 3, "label::en", 0),
        ("choices", 2, "label::en", 1),
    ]


def test_trigger_is_xlsforms_first_name_for_acknowledge(tmp_path: Path) -> None:
    definition = read_xlsform(
        workbook(tmp_path, [["type", "name", "label"], ["trigger", "ok", "OK"]])
    )
    assert definition["survey"] == [{"type": "acknowledge", "name": "ok", "label": "OK"}]


# -- the command --------------------------------------------------------------------------------
def test_the_check_lists_each_warning_in_both_languages(tmp_path: Path) -> None:
    path = workbook(
        tmp_path,
        [
            ["type", "name", "label", "notes"],
            ["text", "a", "A", "first"],
            ["text", "b", "B", "second"],
        ],
        settings=[["form_id", "version", "style"], ["f", "1", "pages"]],
    )
    done = CliRunner().invoke(
        main, ["form", "check", str(path)], env={"GOCUA_DATA_DIR": str(tmp_path)}
    )
    assert done.exit_code == 0, done.output
    assert done.output.splitlines() == [
        "OK: f version 1",
        "Cảnh báo: Trang tính 'survey', dòng 2, column 'notes' (và 1 dòng khác): bỏ qua cột "
        "'notes' (các công cụ ODK cũng bỏ qua cột này): nó không đổi câu trả lời",
        "Warning: Sheet 'survey', row 2, column 'notes' (and 1 more row): the column 'notes' "
        "is ignored (ODK tools ignore it too): it changes no answer",
        "Cảnh báo: Trang tính 'settings', dòng 2, setting 'style': bỏ qua cài đặt 'style' "
        "(giao diện trang của Enketo): nó không đổi câu trả lời",
        "Warning: Sheet 'settings', row 2, setting 'style': the setting 'style' is ignored "
        "(a theme for Enketo's pages): it changes no answer",
    ]


# -- metadata -----------------------------------------------------------------------------------
def test_metadata_the_phone_fills_imports_with_no_label(tmp_path: Path) -> None:
    survey = [
        ["type", "name", "label"],
        ["start", "started", ""],
        ["end time", "ended", ""],
        ["today", "day", ""],
        ["imei", "device", ""],
        ["uri:deviceid", "device_uri", ""],
        ["username", "volunteer", ""],
        ["text", "q", "Q"],
    ]
    warnings: list[Problem] = []
    definition = read_xlsform(workbook(tmp_path, survey), warnings=warnings)
    assert [row["type"] for row in definition["survey"]] == [
        "start",
        "end",
        "today",
        "deviceid",
        "deviceid",
        "username",
        "text",
    ]
    assert warnings == []


def test_metadata_a_web_app_cannot_read_stays_empty_with_a_warning(tmp_path: Path) -> None:
    survey = [
        ["type", "name", "label", "required"],
        ["phonenumber", "phone", "", ""],
        ["email", "mail", "", ""],
        ["get sim id", "sim", "", ""],
        ["subscriberid", "subscriber", "", ""],
    ]
    warnings = read(tmp_path, survey)
    assert where(warnings) == [
        ("survey", 2, "type 'phonenumber'", 0),
        ("survey", 3, "type 'email'", 0),
        ("survey", 4, "type 'simserial'", 0),
        ("survey", 5, "type 'subscriberid'", 0),
    ]
    assert "stays empty" in warnings[0].message_en and "luôn để trống" in warnings[0].message_vi
    survey[1][3] = "yes"
    error = refused(tmp_path, survey)
    assert (error.sheet, error.row, error.feature) == ("survey", 2, "type 'phonenumber'")
    assert "cannot be required" in error.en


@pytest.mark.parametrize("kind", ["background-audio"])
def test_metadata_that_records_more_is_refused(tmp_path: Path, kind: str) -> None:
    error = refused(tmp_path, [["type", "name", "label"], ["text", "q", "Q"], [kind, "m", ""]])
    assert (error.sheet, error.row) == ("survey", 3) and kind in error.feature


def test_form_id_and_version_are_short_words(tmp_path: Path) -> None:
    survey = [["type", "name", "label"], ["text", "q", "Q"]]
    for settings in ([["form_id"], ["f" * 256]], [["form_id", "version"], ["f", "9" * 256]]):
        error = refused(tmp_path, survey, settings=settings)
        assert (error.sheet, error.row) == ("settings", 2)
        assert "at most 255" in error.en and "tối đa 255" in error.vi
    assert read(tmp_path, survey, settings=[["form_id", "version"], ["f" * 255, "9" * 255]]) == []


def test_a_phone_number_is_a_text_of_digits_as_pyxform_writes_it(tmp_path: Path) -> None:
    from schemas.form import Form
    from schemas.validate import RecordChecker

    survey = [
        ["type", "name", "label", "constraint"],
        ["phone number", "phone", "Phone", ""],
        ["phone number", "mobile", "Mobile", "string-length(.) = 10"],
    ]
    definition = read_xlsform(
        workbook(tmp_path, survey, settings=[["form_id", "version"], ["f", "1"]])
    )
    assert definition["survey"][0]["type"] == definition["survey"][1]["type"] == "text"
    checker = RecordChecker(Form(definition))
    assert checker.check({"phone": "0912345678", "mobile": "0912345678"}) == {}
    errors = checker.check({"phone": "0912 345", "mobile": "091234"})
    assert (
        [e["code"] for e in errors["phone"]]
        == [e["code"] for e in errors["mobile"]]
        == ["constraint"]
    )


def test_an_unused_external_choices_sheet_and_an_entities_sheet_are_ignored(
    tmp_path: Path,
) -> None:
    survey = [["type", "name", "label"], ["text", "q", "Q"]]
    external = [["list_name", "name", "label"], ["towns", "hanoi", "Hà Nội"]]
    assert where(read(tmp_path, survey, external_choices=external)) == [
        ("external_choices", 2, "sheet 'external_choices'", 0)
    ]
    # ODK Central would also keep a list of households; the record holds every answer anyway.
    entities = [["list_name", "label"], ["households", "concat(${q}, '')"]]
    warnings = read(tmp_path, survey, entities=entities)
    assert where(warnings) == [("entities", 2, "sheet 'entities'", 0)]
    assert "every answer stays in its record" in warnings[0].message_en
    assert "mọi câu trả lời vẫn nằm trong phiếu" in warnings[0].message_vi


def test_saving_an_answer_to_an_entity_is_still_refused(tmp_path: Path) -> None:
    survey = [["type", "name", "label", "save_to"], ["text", "q", "Q", "name"]]
    entities = [["list_name", "label"], ["households", "${q}"]]
    error = refused(tmp_path, survey, entities=entities)
    assert (error.sheet, error.row) == ("survey", 2)


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("background-audio", "use an audio question"),
    ],
)
def test_a_type_not_supported_says_what_to_use(tmp_path: Path, kind: str, words: str) -> None:
    error = refused(tmp_path, [["type", "name", "label"], ["text", "q", "Q"], [kind, "m", "M"]])
    assert (error.row, error.feature) == (3, f"type '{kind}'") and words in error.en


@pytest.mark.parametrize(
    ("kind", "default", "dynamic"),
    [
        ("date", "today()", True),
        ("text", "concat(${q}, '!')", True),
        ("integer", "${n} + 1", True),
        ("date", "2026-01-01", False),
        ("integer", "-5", False),
        ("decimal", "3.5", False),
        ("text", "Thôn Đông", False),
    ],
)
def test_a_default_worked_out_by_an_expression_is_refused(
    tmp_path: Path, kind: str, default: str, dynamic: bool
) -> None:
    survey = [
        ["type", "name", "label", "default"],
        ["integer", "n", "N", ""],
        ["text", "q", "Q", ""],
        [kind, "d", "D", default],
    ]
    if not dynamic:
        assert read(tmp_path, survey) == []
        return
    error = refused(tmp_path, survey)
    assert (error.sheet, error.row, error.feature) == ("survey", 4, "default")
    assert default in error.en and default in error.vi


def test_advice_is_only_for_types_that_are_refused() -> None:
    # A type that became collectable keeps no "use this instead" sentence that nothing says.
    assert not set(TYPE_ADVICE) & QUESTION_TYPES
