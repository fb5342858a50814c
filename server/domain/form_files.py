"""Reading a form someone hands in: a workbook or JSON file, checked as ``gocua form check``
and the admin's Forms page both report it: the definition and its warnings, or one refusal,
each with where it is (sheet, row, feature) in Vietnamese and English."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.file_choices import Attachment
from schemas.form import Form, FormError
from schemas.formcheck import review_form, with_version
from schemas.xlsform import WORKBOOK_SUFFIXES, XLSFormError, read_xlsform

FORM_SUFFIXES = (*WORKBOOK_SUFFIXES, ".json")


@dataclass(frozen=True)
class Finding:
    """One thing the check says of a form, in both languages: where, then what."""

    where_vi: str
    where_en: str
    vi: str
    en: str

    @property
    def lines(self) -> tuple[str, str]:
        if not self.where_vi:
            return self.vi, self.en
        return f"{self.where_vi}: {self.vi}", f"{self.where_en}: {self.en}"


class FormRefused(ValueError):
    """A form that cannot be taken as it is; ``finding`` says where and why."""

    def __init__(self, finding: Finding) -> None:
        super().__init__("\n".join(finding.lines))
        self.finding = finding


def where(problem: Any) -> tuple[str, str]:
    """Where a problem is, in Vietnamese and English: sheet, row, what it is about."""
    vi, en = [f"Trang tính '{problem.sheet}'"], [f"Sheet '{problem.sheet}'"]
    if problem.row is not None:
        vi.append(f"dòng {problem.row}")
        en.append(f"row {problem.row}")
    if problem.feature:
        vi.append(problem.feature)
        en.append(problem.feature)
    if getattr(problem, "more", 0):
        vi[-1] += f" (và {problem.more} dòng khác)"
        en[-1] += f" (and {problem.more} more row{'s' if problem.more > 1 else ''})"
    return ", ".join(vi), ", ".join(en)


def finding(problem: Any) -> Finding:
    where_vi, where_en = where(problem)
    return Finding(where_vi, where_en, problem.message_vi, problem.message_en)


def _refusal(vi: str, en: str) -> FormRefused:
    return FormRefused(Finding("", "", vi, en))


def read_form_file(
    path: Path,
    version: str | None = None,
    *,
    suffixes: tuple[str, ...] = FORM_SUFFIXES,
    attachments: dict[str, bytes] | None = None,
    given: list[Attachment] | None = None,
) -> tuple[dict[str, Any], list[Finding]]:
    """The form definition in ``path`` and what it has that Gõ Cửa ignores (warnings); raises
    ``FormRefused`` for a form that cannot be taken as it is, whatever the file holds.
    ``attachments``: the files uploaded with a workbook (``read_xlsform``); what each gave is
    added to ``given``."""
    suffix = path.suffix.lower()
    if suffix not in suffixes:
        workbooks = ", ".join(s for s in suffixes if s != ".json")
        vi_json, en_json = (" hoặc .json", " or .json") if ".json" in suffixes else ("", "")
        raise _refusal(
            f"{path.name}: biểu mẫu phải là tệp {workbooks} (XLSForm){vi_json}",
            f"{path.name}: a form is an {' or '.join(workbooks.rsplit(', ', 1))} file"
            f" (XLSForm){en_json}",
        )
    warnings: list[Any] = []
    try:
        if suffix in WORKBOOK_SUFFIXES:
            definition = read_xlsform(
                path, version=version, warnings=warnings, attachments=attachments, given=given
            )
            return definition, [finding(w) for w in warnings]
        definition = json.loads(path.read_text(encoding="utf-8"))
        if version and isinstance(definition, dict):
            settings = definition.setdefault("settings", {})
            if isinstance(settings, dict):
                settings["version"] = version
        return check_definition(definition)
    except FormRefused:
        raise
    except XLSFormError as error:
        vi, _, en = str(error).partition("\n")
        raise _refusal(vi, en or vi) from None
    except FormError as error:
        raise _refusal(str(error), str(error)) from None
    except (OSError, ValueError, TypeError, AttributeError, RecursionError) as error:
        raise _refusal(
            f"không đọc được {path.name}: {error}", f"cannot read {path.name}: {error}"
        ) from None


def check_definition(definition: Any) -> tuple[dict[str, Any], list[Finding]]:
    """A form definition given as JSON, checked as a workbook's is; raises ``FormRefused``."""
    if not isinstance(definition, dict) or not isinstance(definition.get("settings", {}), dict):
        raise _refusal(
            "không đọc được biểu mẫu: biểu mẫu là một đối tượng có survey, choices và settings",
            "cannot read the form: a form definition is an object with survey, choices and"
            " settings",
        )
    try:
        problems, warnings = review_form(definition)
        if not problems:
            Form(with_version(definition, "0"))
    except FormError as error:
        raise _refusal(str(error), str(error)) from None
    except (ValueError, TypeError, AttributeError, RecursionError) as error:
        raise _refusal(
            f"không đọc được biểu mẫu: {error}", f"cannot read the form: {error}"
        ) from None
    if problems:
        raise FormRefused(finding(problems[0]))
    return definition, [finding(w) for w in warnings]
