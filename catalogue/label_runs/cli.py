"""``flask labels``: issue a label run, write its codes again, withdraw labels (the operator's shell).

The operator is trusted (shell access); ``--as EMAIL`` acts as an official instead, under
the same record rule as the workspace. Every change is audited.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import force_locale
from sqlmodel import Session

from catalogue.accounts import services as accounts
from catalogue.accounts.permissions import SYSTEM, Actor, Forbidden
from catalogue.db import pk, session_scope
from catalogue.label_runs import runs, writing
from catalogue.places.services import Provinces
from catalogue.startup import needs_database
from catalogue.verification.models import LabelRun


@click.group("labels", help="Label runs: one verification code per package.")
def labels_group() -> None:
    pass


def _actor(session: Session, email: str | None) -> Actor:
    if email is None:
        return SYSTEM
    user = accounts.find_user(session, email)
    if user is None or not user.is_active:
        raise click.ClickException(f"No active account {email!r}.")
    return user


def _write(session: Session, run: LabelRun, out: Path, first: int = 1, last: int | None = None) -> int:
    """The run's serials ``first..last`` (default: all) as CSV, withdrawn ones left out."""
    end = run.count if last is None else last
    runs.check_range(run, first, end)
    ranges = runs.printable_ranges(session, run, first, end)
    started = time.monotonic()
    cfg = current_app.config
    with out.open("w", encoding="utf-8", newline="") as handle:
        keys, base = cfg["VERIFY_KEYS"], cfg["PUBLIC_BASE_URL"]
        rows = writing.write_csv(handle, run, ranges, keys=keys, base_url=base)
    seconds = time.monotonic() - started
    click.echo(f"Wrote {rows:,} codes of run {pk(run)} to {out} in {seconds:.1f} s.", err=True)
    return rows


def _writable(out: Path) -> None:
    """Refuse before anything is issued when the file cannot be written."""
    if not out.parent.is_dir() or out.is_dir():
        raise click.BadParameter(f"{out} cannot be written (no such folder).", param_hint="--out")


@labels_group.command("certificates", help="Certificates valid today, which labels may be issued for.")
@click.option("--province", "province_name", default=None, help="Only this current province's.")
@click.option("--codes", "only_codes", is_flag=True, help="Print only their verification codes, one a line.")
@with_appcontext
@needs_database
def certificates(province_name: str | None, only_codes: bool) -> None:
    with session_scope() as session:
        province = None
        if province_name:
            province = Provinces.load(session).match_current(province_name)
            if province is None:
                raise click.BadParameter(f"no current province {province_name!r}", param_hint="--province")
        for certificate, product in runs.issuable(session, province):
            if only_codes:
                click.echo(certificate.verify_code)
            else:
                click.echo(f"{certificate.verify_code}\t{certificate.number or '—'}\t{product}")


@labels_group.command(
    "issue", help="Issue a run of COUNT codes for a valid certificate and write them as CSV."
)
@click.option("--certificate", "ref", required=True, help="The certificate's number or verification code.")
@click.option("--count", type=int, required=True, help=f"Codes in the run, 1 to {runs.MAX_COUNT:,}.")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="CSV file to write."
)
@click.option("--note", default=None, help="A note for officials (the order, the printer).")
@click.option("--as", "email", default=None, help="Act as this official (default: the operator).")
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True)
@with_appcontext
@needs_database
def issue(ref: str, count: int, out: Path, note: str | None, email: str | None, lang: str) -> None:
    _writable(out)
    with force_locale(lang):
        try:
            with session_scope() as session:
                certificate = runs.find_certificate(session, ref, current_app.config["VERIFY_KEYS"])
                run = runs.issue_run(session, actor=_actor(session, email), certificate=certificate,
                                     count=count, note=note)  # fmt: skip
        except (runs.RunRefused, Forbidden) as exc:
            click.echo(_message(exc), err=True)
            sys.exit(1)
        click.echo(
            f"Label run {pk(run)}: {count:,} codes for certificate {certificate.number or ref}.", err=True
        )
        with session_scope() as session:
            _write(session, run, out)


@labels_group.command("csv", help="Write a run's codes (or serials FROM..TO) as CSV again.")
@click.option("--run", "run_id", type=int, required=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--from", "first", type=int, default=1, show_default=True)
@click.option("--to", "last", type=int, default=None, help="Default: the run's last serial.")
@with_appcontext
@needs_database
def write_again(run_id: int, out: Path, first: int, last: int | None) -> None:
    _writable(out)
    with session_scope() as session:
        run = session.get(LabelRun, run_id)
        if run is None:
            raise click.ClickException(f"No label run {run_id}.")
        try:
            with force_locale("en"):  # the refusal below is the operator's message
                _write(session, run, out, first, last)
        except runs.RunRefused:
            raise click.ClickException(f"Run {run_id} has serials 1 to {run.count:,}.") from None


@labels_group.command(
    "withdraw", help="Withdraw a run's labels (all, or serials FROM..TO): they read 'label withdrawn'."
)
@click.option("--run", "run_id", type=int, required=True)
@click.option("--from", "first", type=int, default=1, show_default=True)
@click.option("--to", "last", type=int, default=None, help="Default: the run's last serial.")
@click.option("--reason", required=True, help="Why (for example: a roll was lost).")
@click.option("--as", "email", default=None, help="Act as this official (default: the operator).")
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True)
@with_appcontext
@needs_database
def withdraw(run_id: int, first: int, last: int | None, reason: str, email: str | None, lang: str) -> None:
    with force_locale(lang):
        try:
            with session_scope() as session:
                run = session.get(LabelRun, run_id)
                if run is None:
                    raise click.ClickException(f"No label run {run_id}.")
                end = run.count if last is None else last
                runs.withdraw(
                    session, actor=_actor(session, email), run=run, first=first, last=end, reason=reason
                )
        except (runs.RunRefused, Forbidden) as exc:
            click.echo(_message(exc), err=True)
            sys.exit(1)
        click.echo(f"Labels {first:,}–{end:,} of run {run_id} withdrawn.", err=True)


def _message(exc: Exception) -> str:
    return str(getattr(exc, "description", None) or exc)
