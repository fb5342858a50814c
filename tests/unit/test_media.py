"""Media in imported XLSForms: file answers (audio, video, file), labels with a picture, a
sound or a film (``image``, ``big-image``, ``audio``, ``video``, ``media::…``, per language),
and the files they name, checked against the attachments given with the workbook."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from schemas.form import Form
from schemas.formcheck import review_form
from schemas.media import ANSWER_MAX_BYTES, media_column
from schemas.validate import RecordChecker
from schemas.xlsform import XLSFormError, read_xlsform
from tests.unit.test_xlsform import workbook

ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
WAV = b"RIFF" + b"\0" * 100

SURVEY = [
    ["type", "name", "label::Tiếng Việt (vi)", "label::English (en)", "media::image",
     "media::audio::English (en)", "big-image"],
    ["select_one kind", "kind", "Loại nhà", "House", "house.png", "house_en.wav", ""],
    ["audio", "voice", "Ghi âm", "Recording", "small.png", "", "big.png"],
    ["video", "clip", "Quay phim", "Film", "", "", ""],
    ["file", "paper", "Giấy tờ", "A document", "", "", ""],
]  # fmt: skip
CHOICES = [
    ["list_name", "name", "label::Tiếng Việt (vi)", "label::English (en)", "image::English (en)",
     "image::Tiếng Việt (vi)"],
    ["kind", "brick", "Gạch", "Brick", "brick_en.png", "brick_vi.png"],
    ["kind", "wood", "Gỗ", "Wood", "", ""],
]  # fmt: skip
FILES = {
    "house.png": PNG,
    "house_en.wav": WAV,
    "small.png": PNG + b"small",
    "big.png": PNG + b"big",
    "brick_en.png": PNG + b"en",
    "brick_vi.png": PNG + b"vi",
}


def media_book(tmp_path: Path, survey: list[list[str]] | None = None) -> Path:
    return workbook(tmp_path, survey or SURVEY, CHOICES)


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ("image", ("image", None)),
        ("media::image", ("image", None)),
        ("media::audio::English (en)", ("audio", "English (en)")),
        ("video::Tiếng Việt (vi)", ("video", "Tiếng Việt (vi)")),
        ("big-image", ("big-image", None)),
        ("label", None),
        ("media::label", None),
    ],
)
def test_media_columns_are_read_as_xlsform_writes_them(column: str, expected: object) -> None:
    assert media_column(column) == expected


def test_a_form_with_media_and_its_files_keeps_each_file_by_hash(tmp_path: Path) -> None:
    given: list = []
    warnings: list = []
    definition = read_xlsform(
        media_book(tmp_path), attachments=dict(FILES), given=given, warnings=warnings
    )
    media = definition["media"]
    assert set(media) == set(FILES)
    for name, body in FILES.items():
        assert media[name]["sha256"] == hashlib.sha256(body).hexdigest()
        assert media[name]["size"] == len(body)
    assert media["house.png"]["type"] == "image/png"
    assert media["house_en.wav"]["type"].startswith("audio/")
    # media::image is image, as pyxform reads it
    assert definition["survey"][0]["image"] == "house.png"
    assert definition["survey"][0]["audio::English (en)"] == "house_en.wav"
    assert {a.name: a.labels for a in given} == {name: 1 for name in FILES}
    assert not [w for w in warnings if "file" in w.feature]
    form = Form(definition)
    assert [form.nodes[n].type for n in ("voice", "clip", "paper")] == ["audio", "video", "file"]


def test_a_file_missing_from_the_attachments_given_is_refused_naming_sheet_row_and_file(
    tmp_path: Path,
) -> None:
    files = {k: v for k, v in FILES.items() if k != "brick_vi.png"}
    with pytest.raises(XLSFormError) as caught:
        read_xlsform(media_book(tmp_path), attachments=files)
    error = caught.value
    assert (error.sheet, error.row, error.feature) == ("choices", 2, "file 'brick_vi.png'")
    assert "attach the file 'brick_vi.png'" in error.en
    assert "hãy tải tệp 'brick_vi.png'" in error.vi


def test_a_workbook_without_attachments_imports_with_a_warning_per_file(tmp_path: Path) -> None:
    warnings: list = []
    definition = read_xlsform(media_book(tmp_path), attachments={}, warnings=warnings)
    assert "media" not in definition
    missing = {w.feature: (w.sheet, w.row) for w in warnings if w.feature.startswith("file ")}
    assert missing == {
        "file 'house.png'": ("survey", 2),
        "file 'house_en.wav'": ("survey", 2),
        "file 'small.png'": ("survey", 3),
        "file 'big.png'": ("survey", 3),
        "file 'brick_en.png'": ("choices", 2),
        "file 'brick_vi.png'": ("choices", 2),
    }
    warning = next(w for w in warnings if w.feature == "file 'house.png'")
    assert "shown without it" in warning.message_en and "không có tệp" in warning.message_vi


def test_a_label_file_past_its_bound_is_refused(tmp_path: Path) -> None:
    files = {**FILES, "house.png": b"x" * 2_000_001}
    with pytest.raises(XLSFormError) as caught:
        read_xlsform(media_book(tmp_path), attachments=files)
    assert (caught.value.row, caught.value.feature) == (2, "file 'house.png'")
    assert "2 MB" in caught.value.en and "2 MB" in caught.value.vi


def test_a_question_with_only_a_picture_for_label_is_taken(tmp_path: Path) -> None:
    survey = [
        ["type", "name", "label", "image"],
        ["note", "n", "", "n.png"],
        ["text", "t", "T", ""],
    ]
    read_xlsform(workbook(tmp_path, survey), attachments={"n.png": PNG})


def test_background_audio_is_refused_naming_sheet_row_and_reason(tmp_path: Path) -> None:
    survey = [["type", "name", "label"], ["text", "t", "T"], ["background-audio", "bg", ""]]
    with pytest.raises(XLSFormError) as caught:
        read_xlsform(workbook(tmp_path, survey))
    error = caught.value
    assert (error.sheet, error.row, error.feature) == ("survey", 3, "type 'background-audio'")
    assert "cannot record sound in the background" in error.en
    assert "không thể ghi âm ngầm" in error.vi


def test_a_media_map_that_is_not_what_the_import_makes_is_refused() -> None:
    definition = {
        "settings": {"form_id": "f", "version": "1"},
        "survey": [{"type": "text", "name": "t", "label": "T", "image": "a.png"}],
        "media": {"a.png": {"sha256": "../../etc/passwd", "size": 1, "type": "image/png"}},
    }
    problems, _ = review_form(definition)
    assert problems and problems[0].column == "media"


@pytest.mark.parametrize("kind", ["audio", "video", "file"])
def test_a_file_answer_is_a_blob_hash(kind: str) -> None:
    definition = {
        "settings": {"form_id": "f", "version": "1"},
        "survey": [{"type": kind, "name": "q", "label": "Q"}],
    }
    checker = RecordChecker(Form(definition))
    assert checker.check({"q": "a" * 64}) == {}
    assert checker.check({"q": "my file.pdf"})["q"][0]["code"] == "not_blob"


def test_the_phone_bounds_each_kind_of_file_as_the_server_does() -> None:
    source = (ROOT / "pwa" / "js" / "blobs.js").read_text(encoding="utf-8")
    found = re.search(r"export const ANSWER_MAX_BYTES = (\{[^}]*\});", source)
    assert found, "pwa/js/blobs.js names ANSWER_MAX_BYTES"
    phone = json.loads(re.sub(r"(\w+):", r'"\1":', found.group(1)).replace("_", ""))
    assert phone == ANSWER_MAX_BYTES
