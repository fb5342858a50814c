"""What Gõ Cửa does with the XLSForm columns, settings, parameters and appearances it does not run.

Forms people already have carry much that other tools use: a theme for Enketo (``style``), an
encryption key, a server address, hints for ODK Collect's widgets. Each is sorted here, once:

- **ignored, with a warning**: it changes no answer, only how another tool shows or sends the
  form; the form imports, and ``gocua form check`` lists it (sheet, row, column);
- **refused**: it would make the form collect something else than the workbook says (a
  drawing where it asks a signature, choices it adds, answers set by another app), so the form
  is refused naming sheet, row and feature, never imported as a different form.

``schemas/formcheck.py`` asks; every sentence is here in Vietnamese and English.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    """What becomes of one thing the form uses: ``refused``, else ignored with a warning."""

    refused: bool
    feature: str
    en: str
    vi: str


def _ignored(feature: str, en: str, vi: str) -> Verdict:
    return Verdict(False, feature, en, vi)


def _refused(feature: str, en: str, vi: str) -> Verdict:
    return Verdict(True, feature, en, vi)


_YES = frozenset({"yes", "true", "true()", "1"})

# -- question types -----------------------------------------------------------------------------
# What to use instead of a question type Gõ Cửa does not collect (it is refused all the same).
TYPE_ADVICE = {
    "select_one_from_file": (
        "choices must be on the choices sheet, not in a file",
        "lựa chọn phải nằm trên trang choices, không lấy từ tệp",
    ),
    "select_multiple_from_file": (
        "choices must be on the choices sheet, not in a file",
        "lựa chọn phải nằm trên trang choices, không lấy từ tệp",
    ),
    "select_one_external": (
        "choices must be on the choices sheet",
        "lựa chọn phải nằm trên trang choices",
    ),
    "background-audio": (
        "a web page cannot record sound in the background while the form is filled: use an "
        "audio question the volunteer records",
        "trang web không thể ghi âm ngầm trong lúc điền biểu mẫu: hãy dùng câu hỏi audio để "
        "tình nguyện viên tự ghi âm",
    ),
    "csv-external": (
        "attached files are not read by expressions",
        "biểu thức không đọc tệp đính kèm",
    ),
    "xml-external": (
        "attach the .xml file it names with the form",
        "hãy tải tệp .xml mà nó nêu tên lên cùng biểu mẫu",
    ),
}


# -- settings -----------------------------------------------------------------------------------
USED_SETTINGS = frozenset(
    {"form_id", "version", "form_title", "default_language", "allow_choice_duplicates"}
)
_SETTING_REASONS = {
    "style": ("a theme for Enketo's pages", "giao diện trang của Enketo"),
    "instance_name": (
        "the name ODK Collect gives each filled form in its lists",
        "tên ODK Collect đặt cho mỗi phiếu trong danh sách",
    ),
    "submission_url": (
        "where ODK Collect sends records: Gõ Cửa phones send them to this server",
        "địa chỉ ODK Collect gửi phiếu: điện thoại Gõ Cửa gửi về máy chủ này",
    ),
    "public_key": (
        "ODK's encryption of each record with this key is not done: records are kept on the "
        "phone and the server unencrypted, behind their access rules",
        "không mã hóa từng phiếu bằng khóa này như ODK: phiếu được lưu trên điện thoại và máy "
        "chủ không mã hóa, theo quy tắc truy cập",
    ),
    "auto_send": ("ODK Collect's sending setting", "cài đặt gửi phiếu của ODK Collect"),
    "auto_delete": ("ODK Collect's deleting setting", "cài đặt xóa phiếu của ODK Collect"),
    "omit_instanceid": (
        "every Gõ Cửa record has its own id",
        "mỗi phiếu Gõ Cửa luôn có mã riêng",
    ),
    "clean_text_values": (
        "how pyxform trims spaces in labels",
        "cách pyxform cắt khoảng trắng trong nhãn",
    ),
}


def setting_verdict(column: str, value: str) -> Verdict | None:
    """None for a setting Gõ Cửa uses; else what becomes of it."""
    if column in USED_SETTINGS:
        return None
    key = column.lower()
    feature = f"setting '{column}'"
    if key == "add_none_option" and value.strip().lower() in _YES:
        return _refused(
            feature,
            "adding a 'none' choice to every select_multiple is not supported: add it to the "
            "choice lists",
            "không hỗ trợ tự thêm lựa chọn 'none' vào mọi câu select_multiple: hãy thêm nó vào "
            "danh sách lựa chọn",
        )
    en, vi = _SETTING_REASONS.get(key, ("", ""))
    en, vi = (f" ({en})", f" ({vi})") if en else ("", "")
    return _ignored(
        feature,
        f"the setting '{column}' is ignored{en}: it changes no answer",
        f"bỏ qua cài đặt '{column}'{vi}: nó không đổi câu trả lời",
    )


# -- survey columns -----------------------------------------------------------------------------
_DISPLAY = (
    "shown differently by ODK Collect or Enketo only",
    "chỉ đổi cách ODK Collect hoặc Enketo hiển thị",
)
_OTHER_TOOL = ("read by another tool only", "chỉ công cụ khác đọc cột này")
# Columns ODK tools give a meaning that changes what a record holds.
_REFUSED_COLUMNS = {
    "trigger": (
        "working a question out again when another answer changes (trigger) is not supported",
        "không hỗ trợ tính lại câu hỏi khi câu trả lời khác thay đổi (trigger)",
    ),
    "intent": (
        "answers filled by another app (intent) are not supported",
        "không hỗ trợ câu trả lời do ứng dụng khác điền (intent)",
    ),
    "save_to": (
        "saving to entities is not supported",
        "không hỗ trợ lưu vào thực thể (entities)",
    ),
}
# Display-only columns and attributes (their base, lower case, after any ``body::``).
_DISPLAY_COLUMNS = frozenset(
    {"rows", "autoplay", "buttontext", "noapperrorstring", "no_app_error_string", "guidance_hint"}
)
# ``bind::`` attributes in ODK's own namespaces set what is stored; others are another tool's.
_ODK_NAMESPACES = ("jr:", "odk:", "orx:", "entities:")


def survey_column_verdict(column: str) -> Verdict | None:
    """What becomes of a survey column the model does not use (as it is named in the sheet)."""
    feature = f"column '{column}'"
    group, sep, rest = column.partition("::")
    base = (rest if sep and group.lower() in ("body", "control") else column).split("::")[0]
    key = base.lower()
    if key in _REFUSED_COLUMNS or (sep and group.lower() == "bind" and key.startswith("entities")):
        en, vi = _REFUSED_COLUMNS.get(key, _REFUSED_COLUMNS["save_to"])
        return _refused(feature, en, vi)
    if sep and group.lower() == "bind":
        if rest.lower().startswith(_ODK_NAMESPACES) or ":" not in rest:
            return _refused(
                feature,
                f"the binding '{rest}' is not supported: it changes what the question stores",
                f"không hỗ trợ ràng buộc '{rest}': nó thay đổi dữ liệu câu hỏi lưu lại",
            )
        en, vi = _OTHER_TOOL
    elif key in _DISPLAY_COLUMNS or (sep and group.lower() in ("body", "control")):
        en, vi = _DISPLAY
    elif key.startswith(("sms_", "compact_tag")) or (sep and group.lower() == "instance"):
        en, vi = _OTHER_TOOL
    else:
        en, vi = ("ODK tools ignore it too", "các công cụ ODK cũng bỏ qua cột này")
    return _ignored(
        feature,
        f"the column '{column}' is ignored ({en}): it changes no answer",
        f"bỏ qua cột '{column}' ({vi}): nó không đổi câu trả lời",
    )


# -- parameters ---------------------------------------------------------------------------------
# ODK's parameters that only shape a widget: the order choices are shown in, a photo's size
# (the phone downscales photos itself), when a GPS reading is good enough to take.
_DISPLAY_PARAMETERS = frozenset(
    {
        "randomize",
        "seed",
        "max-pixels",
        "capture-accuracy",
        "warning-accuracy",
        "allow-mock-accuracy",
        "quality",
    }
)
_PARAMETER = re.compile(r"([\w-]+)\s*=\s*('[^']*'|\"[^\"]*\"|\S*)")


def parameter_verdicts(value: str) -> Iterator[Verdict]:
    """One verdict per parameter of a ``parameters`` cell (``randomize=true seed=${s}``)."""
    found = _PARAMETER.findall(value) or [(value.strip(), "")]
    for name, _ in found:
        feature = f"parameter '{name}'"
        if name.lower() in _DISPLAY_PARAMETERS:
            yield _ignored(
                feature,
                f"the parameter '{name}' is ignored ({_DISPLAY[0]}): it changes no answer",
                f"bỏ qua tham số '{name}' ({_DISPLAY[1]}): nó không đổi câu trả lời",
            )
        else:
            yield _refused(
                feature,
                f"the parameter '{name}' is not supported",
                f"không hỗ trợ tham số '{name}'",
            )


# -- the audit log's parameters ------------------------------------------------------------------
# What the phone logs is the audit question's whole answer (pwa/js/audit.js); a parameter asking
# for more than a browser can log is refused, never run as a thinner log than the form asks.
_AUDIT_REFUSED = {
    "location-priority": (
        "a web page cannot follow the phone's GPS in the background while the form is filled, "
        "so the log cannot say where each move happened: remove location-priority, "
        "location-min-interval and location-max-age, and add a geopoint question for where the "
        "visit took place",
        "trang web không thể theo dõi GPS ngầm trong lúc điền biểu mẫu nên nhật ký không ghi "
        "được vị trí của từng thao tác: hãy bỏ location-priority, location-min-interval và "
        "location-max-age, và thêm câu hỏi geopoint để ghi nơi thăm hộ",
    ),
    "identify-user": (
        "a Gõ Cửa phone is enrolled to one volunteer, who is never asked to type a name: remove "
        "identify-user, and add a username question to record who filled the form",
        "mỗi điện thoại Gõ Cửa được đăng ký cho một tình nguyện viên, không ai phải gõ tên: "
        "hãy bỏ identify-user, và thêm câu hỏi username để ghi người điền phiếu",
    ),
    "track-changes-reasons": (
        "the phone does not ask why a saved answer was changed: remove track-changes-reasons "
        "(track-changes=true still logs each old and new value)",
        "điện thoại không hỏi lý do sửa một câu trả lời đã lưu: hãy bỏ track-changes-reasons "
        "(track-changes=true vẫn ghi giá trị cũ và mới)",
    ),
}
_AUDIT_REFUSED["location-min-interval"] = _AUDIT_REFUSED["location-priority"]
_AUDIT_REFUSED["location-max-age"] = _AUDIT_REFUSED["location-priority"]


def audit_parameter_verdicts(value: str) -> Iterator[Verdict]:
    """A verdict per parameter of an ``audit`` row that Gõ Cửa does not honour: only
    ``track-changes`` (``true`` or ``false``) is used."""
    for name, given in _PARAMETER.findall(value) or [(value.strip(), "")]:
        key = name.lower()
        feature = f"parameter '{name}'"
        if key == "track-changes" and given.strip("'\"").lower() in ("true", "false"):
            continue
        if key == "track-changes":
            en, vi = ("it is true or false", "giá trị là true hoặc false")
        else:
            en, vi = _AUDIT_REFUSED.get(
                key, ("only track-changes is used", "chỉ dùng tham số track-changes")
            )
        yield _refused(
            feature,
            f"the audit's parameter '{name}' is not supported: {en}",
            f"không hỗ trợ tham số '{name}' của audit: {vi}",
        )


# -- appearances --------------------------------------------------------------------------------
USED_APPEARANCES = frozenset({"minimal", "multiline", "field-list", "numbers"})
# Appearances that collect something else than the question's type says on the phone.
_REFUSED_APPEARANCES = {
    "signature": ("a signature drawn on the screen", "chữ ký vẽ trên màn hình"),
    "draw": ("a drawing", "hình vẽ"),
    "annotate": ("a drawing over a photo", "hình vẽ trên ảnh"),
}


def appearance_verdicts(appearance: str) -> Iterator[Verdict]:
    """One verdict per appearance word Gõ Cửa does not use (``search(...)`` counts as one)."""
    if "search(" in appearance:
        yield _refused(
            f"appearance '{appearance}'",
            f"the appearance '{appearance}' is not supported: it needs data or an app outside "
            "the form",
            f"không hỗ trợ appearance '{appearance}': nó cần dữ liệu hoặc ứng dụng ngoài biểu mẫu",
        )
        return
    for word in appearance.split():
        if word in USED_APPEARANCES:
            continue
        feature = f"appearance '{word}'"
        if word.startswith("ex:"):
            # ODK Collect lets the volunteer type the answer when the app is not there; a web
            # page can start no app, so it always does: the answer is the same.
            yield _ignored(
                feature,
                f"the appearance '{word}' is ignored: a web page cannot start another app, so "
                "the volunteer enters the answer, as ODK Collect lets them when the app is missing",
                f"bỏ qua appearance '{word}': trang web không mở được ứng dụng khác, nên tình "
                "nguyện viên tự nhập câu trả lời, như ODK Collect cho phép khi thiếu ứng dụng",
            )
        elif word.startswith("printer:"):
            yield _refused(
                feature,
                f"the appearance '{word}' is not supported: it needs an app outside the form",
                f"không hỗ trợ appearance '{word}': nó cần ứng dụng ngoài biểu mẫu",
            )
        elif word in _REFUSED_APPEARANCES:
            en, vi = _REFUSED_APPEARANCES[word]
            yield _refused(
                feature,
                f"the appearance '{word}' is not supported: the phone would take a photo, not {en}",
                f"không hỗ trợ appearance '{word}': điện thoại sẽ chụp ảnh, không phải {vi}",
            )
        else:
            yield _ignored(
                feature,
                f"the appearance '{word}' is ignored: the phone shows the question as usual",
                f"bỏ qua appearance '{word}': điện thoại hiển thị câu hỏi như thường lệ",
            )
