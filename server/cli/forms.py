"""``gocua form``: check an XLSForm workbook or a form definition, and import it as a version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from server.cli.common import open_db
from server.domain.db import write_transaction


@click.group()
def form() -> None:
    """Survey forms: check and import XLSForm workbooks or form JSON."""


def _read_form(path: Path, version: str | None) -> tuple[dict[str, Any], list[Any]]:
    """The form definition in ``path`` and what it has that Gõ Cửa ignores (warnings);
    a ClickException in both languages for a form that cannot be taken as it is."""
    from schemas.form import Form, FormError
    from schemas.formcheck import review_form, with_version
    from schemas.xlsform import WORKBOOK_SUFFIXES, read_xlsform

    suffix = path.suffix.lower()
    if suffix not in (*WORKBOOK_SUFFIXES, ".json"):
        raise click.ClickException(
            f"{path.name}: biểu mẫu phải là tệp .xlsx, .xlsm, .xls (XLSForm) hoặc .json\n"
            f"{path.name}: a form is an .xlsx, .xlsm or .xls file (XLSForm) or .json"
        )
    warnings: list[Any] = []
    try:
        if suffix in WORKBOOK_SUFFIXES:
            return read_xlsform(path, version=version, warnings=warnings), warnings
        definition = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(definition, dict) or not isinstance(definition.get("settings", {}), dict):
            raise ValueError("a form definition is an object with survey, choices and settings")
        if version:
            definition.setdefault("settings", {})["version"] = version
        problems, warnings = review_form(definition)
        if problems:
            vi, en = _where(problems[0])
            raise click.ClickException(
                f"{vi}: {problems[0].message_vi}\n{en}: {problems[0].message_en}"
            )
        Form(with_version(definition, "0"))
        return definition, warnings
    except FormError as error:
        raise click.ClickException(str(error)) from None
    except (OSError, ValueError, TypeError, AttributeError, RecursionError) as error:
        raise click.ClickException(
            f"không đọc được {path}: {error}\ncannot read {path}: {error}"
        ) from None


def _where(problem: Any) -> tuple[str, str]:
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


def _echo_warnings(warnings: list[Any]) -> None:
    for warning in warnings:
        vi, en = _where(warning)
        click.echo(f"Cảnh báo: {vi}: {warning.message_vi}")
        click.echo(f"Warning: {en}: {warning.message_en}")


@form.command("check")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--version", default=None, help="the version, when the workbook names none")
def form_check(path: Path, version: str | None) -> None:
    """Check a form (an .xlsx, .xlsm or .xls XLSForm, or .json) without storing it; list what
    it has that Gõ Cửa ignores (warnings)."""
    definition, warnings = _read_form(path, version)
    settings = definition["settings"]
    if settings.get("version"):
        click.echo(f"OK: {settings['form_id']} version {settings['version']}")
    else:
        click.echo(
            f"OK: {settings['form_id']}, chưa có phiên bản: `gocua form import` tạo phiên bản "
            "theo giờ tải lên (YYYYMMDDHH, UTC), trừ khi đã có phiên bản cùng nội dung\n"
            f"OK: {settings['form_id']}, no version: `gocua form import` makes one from the "
            "upload time (YYYYMMDDHH, UTC) unless a stored version has the same content"
        )
    _echo_warnings(warnings)


@form.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--version", default=None, help="the version, when the workbook names none")
def form_import(path: Path, version: str | None) -> None:
    """Check a form and store it as a new, immutable version phones receive on their next sync."""
    from server.domain.forms import FormVersionExists, import_form

    definition, warnings = _read_form(path, version)
    db = open_db()
    try:
        with write_transaction(db):
            loaded, added = import_form(db, definition)
    except FormVersionExists as error:
        raise click.ClickException(str(error)) from None
    state = "imported" if added else "already imported (same content)"
    click.echo(f"{loaded.form_id} version {loaded.version}: {state}")
    _echo_warnings(warnings)
