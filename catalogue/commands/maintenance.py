"""``flask maintenance prune``: retention of the check log, the search outbox and old officials'
sessions and reset links (see
:mod:`catalogue.retention`); the job worker also runs it once a day."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from catalogue.startup import needs_database


@click.group("maintenance", help="Housekeeping (the job worker also runs it once a day).")
def maintenance_group() -> None:
    pass


@maintenance_group.command(
    "prune",
    help="Delete check log rows older than CHECK_LOG_DAYS (counts stay exact) "
    "and search outbox rows older than OUTBOX_DAYS, officials' sessions and reset links "
    "ended or expired 90 days ago.",
)
@with_appcontext
@needs_database
def prune() -> None:
    from catalogue import retention

    click.echo(retention.prune().summary())
