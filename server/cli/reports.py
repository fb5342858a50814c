"""``gocua reports``: check the indicator files and bring the kept counts up to date."""

from __future__ import annotations

import time

import click

from schemas.form import Form
from schemas.indicators import load_sets
from server.cli.common import open_db
from server.domain.forms import form_versions
from server.domain.reports.facts import rebuild, refresh_dirty

_db = open_db


@click.group()
def reports() -> None:
    """Indicators: check their definitions, count them ahead of the first report."""


@reports.command("check")
def check() -> None:
    """Check every indicator file against every stored version of its form."""
    db = _db()
    problems = 0
    for indicator_set in load_sets():
        versions = form_versions(db, indicator_set.form_id)
        if not versions:
            click.echo(f"{indicator_set.form_id}: no stored form of that id")
        for version, definition in versions:
            found = indicator_set.problems(Form(definition))
            problems += len(found)
            for problem in found:
                click.echo(f"{indicator_set.form_id} {version}: {problem}")
            if not found:
                click.echo(
                    f"{indicator_set.form_id} {version}: OK, "
                    f"{len(indicator_set.indicators)} indicators"
                )
    if problems:
        raise click.ClickException(f"{problems} problems")


@reports.command("refresh")
@click.option("--all", "everything", is_flag=True, help="recount every record, not only changed")
def refresh(everything: bool) -> None:
    """Count the indicators of new and changed records now (else the server counts them in
    the background when a report is opened)."""
    db = _db()
    start = time.perf_counter()
    counted = rebuild(db) if everything else refresh_dirty(db)
    click.echo(f"{counted} records counted in {time.perf_counter() - start:.1f} s")
