"""``flask import FILE [--dry-run] --as EMAIL``: the workspace import from the command line.

Same code path as the web upload (:mod:`catalogue.imports.checking` then
:mod:`catalogue.imports.publishing`): the file is checked row by row; any bad
row lists every problem, exits with status 1 and writes nothing.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click
from flask.cli import with_appcontext
from flask_babel import force_locale

from catalogue.accounts import services as accounts
from catalogue.accounts.permissions import Forbidden
from catalogue.db import session_scope
from catalogue.imports import checking as importing
from catalogue.imports import publishing
from catalogue.registry.records import PublishError
from catalogue.registry.rows import parse_date
from catalogue.startup import needs_database


@click.command("import", help="Import a decision's spreadsheet (XLSX or CSV) as an official.")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "email", required=True, help="E-mail of the official publishing the file.")
@click.option("--dry-run", is_flag=True, help="Check every row and report; write nothing.")
@click.option("--decision", default=None, help="Decision number for rows that have none.")
@click.option("--decision-date", default=None, help="Decision date (dd/mm/yyyy or ISO).")
@click.option(
    "--lang",
    type=click.Choice(["vi", "en"]),
    default="vi",
    show_default=True,
    help="Language of the messages.",
)
@with_appcontext
@needs_database
def import_command(
    path: Path, email: str, dry_run: bool, decision: str | None, decision_date: str | None, lang: str
) -> None:
    with force_locale(lang):
        _run(path, email, dry_run, decision, decision_date)


def _run(path: Path, email: str, dry_run: bool, decision: str | None, decision_date: str | None) -> None:
    try:
        decided_on: date | None = parse_date(decision_date) if decision_date else None
    except ValueError:
        raise click.BadParameter(f"{decision_date!r} is not a date", param_hint="--decision-date") from None
    data = path.read_bytes()
    with session_scope() as session:
        user = accounts.find_user(session, email)
        if user is None or not user.is_active:
            raise click.ClickException(f"No active account {email!r}.")
        click.echo(f"Checking {path.name}…", err=True)
        try:
            report, _table = importing.check_file(session, actor=user, filename=path.name, data=data)
        except Forbidden as exc:
            raise click.ClickException(str(exc.description)) from None
        click.echo(f"{path.name}: {len(report.rows)} rows, sha256 {report.sha256}")
        if report.warning_count:
            # Warnings (a value kept as printed) are shown but never block or change the exit status.
            click.echo(f"Warnings: {report.warning_count} (they do not block publishing):")
            for line in report.warning_lines():
                click.echo(f"  ! {line}")
        if not report.ok:
            for line in report.problems():
                click.echo(f"  - {line}", err=True)
            click.echo(
                f"{len(report.bad_rows)} of {len(report.rows)} rows have problems; nothing was written.",
                err=True,
            )
            session.rollback()
            raise SystemExit(1)
        click.echo(
            f"All rows correct: {report.new_count} new, {report.update_count} updating existing certificates."
        )
        if dry_run:
            session.rollback()
            click.echo("Dry run: nothing was written.")
            return
        batch, _ = importing.stage_batch(session, actor=user, filename=path.name, data=data)
        assert batch is not None
        session.commit()  # the pending batch; the publish below then holds the write lock only briefly
        try:
            with click.progressbar(length=len(report.rows), label="Publishing", file=sys.stderr) as bar:
                result = publishing.publish_batch(
                    session, actor=user, batch=batch, decision_number=decision, decision_date=decided_on,
                    progress=lambda done, _total: bar.update(done - bar.pos), staged=True,
                )  # fmt: skip
        except publishing.BatchRejected as exc:
            for line in exc.report.problems():
                click.echo(f"  - {line}", err=True)
            raise click.ClickException(str(exc)) from None
        except PublishError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(
        f"Published batch #{batch.id}: {result.created} new, {result.updated} updated, "
        f"{result.unchanged} unchanged."
    )
