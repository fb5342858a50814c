"""``gocua form``: check an XLSForm workbook or a form definition, and import it as a version."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from server.cli.common import open_db
from server.domain.db import write_transaction


@click.group()
def form() -> None:
    """Survey forms: check and import XLSForm workbooks or form JSON."""


def _read_form(
    path: Path, version: str | None, attach: tuple[Path, ...] = ()
) -> tuple[dict[str, Any], list[Any]]:
    """The form definition in ``path`` and what it has that Gõ Cửa ignores (warnings);
    a ClickException in both languages for a form that cannot be taken as it is. ``attach``:
    the CSV files its ``select_one_from_file`` questions name, as the Forms page takes them."""
    from server.domain.form_files import FormRefused, read_form_file

    attachments = {p.name: p.read_bytes() for p in attach}
    given: list[Any] = []
    try:
        definition, warnings = read_form_file(path, version, attachments=attachments, given=given)
    except FormRefused as refused:
        raise click.ClickException("\n".join(refused.finding.lines)) from None
    for file in given:
        if file.list_name:
            click.echo(
                f"Tệp {file.name} ({file.size} byte): {file.choices} lựa chọn\n"
                f"File {file.name} ({file.size} bytes): {file.choices} choices"
            )
        if file.lookup_rows:
            click.echo(
                f"Tệp {file.name} ({file.size} byte): {file.lookup_rows} dòng cho pulldata()\n"
                f"File {file.name} ({file.size} bytes): {file.lookup_rows} rows for pulldata()"
            )
        if file.labels:
            click.echo(
                f"Tệp {file.name} ({file.size} byte): hiển thị bên {file.labels} nhãn\n"
                f"File {file.name} ({file.size} bytes): shown beside {file.labels} labels"
            )
        if not file.list_name and not file.lookup_rows and not file.labels:
            click.echo(
                f"Tệp {file.name}: không câu hỏi nào dùng, bỏ qua\n"
                f"File {file.name}: no question uses it, ignored"
            )
    return definition, warnings


def _echo_warnings(warnings: list[Any]) -> None:
    for warning in warnings:
        vi, en = warning.lines
        click.echo(f"Cảnh báo: {vi}")
        click.echo(f"Warning: {en}")


_ATTACH = click.option(
    "--attach",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="a file the form names: a CSV, GeoJSON or XML file of choices, a picture, sound or film"
    " a label shows (again for each file)",
)


@form.command("check")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--version", default=None, help="the version, when the workbook names none")
@_ATTACH
def form_check(path: Path, version: str | None, attach: tuple[Path, ...]) -> None:
    """Check a form (an .xlsx, .xlsm or .xls XLSForm, or .json) without storing it; list what
    it has that Gõ Cửa ignores (warnings)."""
    definition, warnings = _read_form(path, version, attach)
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
@_ATTACH
def form_import(path: Path, version: str | None, attach: tuple[Path, ...]) -> None:
    """Check a form and store it as a new, immutable version phones receive on their next sync."""
    from server.cli.common import data_dir
    from server.domain.blobs import keep_form_media
    from server.domain.forms import FormVersionExists, import_form

    definition, warnings = _read_form(path, version, attach)
    keep_form_media(data_dir(), definition, {p.name: p.read_bytes() for p in attach})
    db = open_db()
    try:
        with write_transaction(db):
            loaded, added = import_form(db, definition)
    except FormVersionExists as error:
        raise click.ClickException(str(error)) from None
    state = "imported" if added else "already imported (same content)"
    click.echo(f"{loaded.form_id} version {loaded.version}: {state}")
    _echo_warnings(warnings)
