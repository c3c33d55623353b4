"""``flask seed``: load the real demo data from ``seed/`` (idempotent)."""

from __future__ import annotations

import click
from flask import current_app

from catalogue.db import session_scope
from catalogue.seeding import seed_all
from catalogue.startup import needs_database


@click.command("seed", help="Load the real demo data from seed/ (safe to run again).")
@needs_database
def seed_command() -> None:
    cfg = current_app.config
    with session_scope() as session, click.progressbar(length=1, label="Seeding") as bar:

        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - bar.pos)

        report = seed_all(
            session,
            validity_years=cfg["CERTIFICATE_VALIDITY_YEARS"],
            verify_keys=cfg["VERIFY_KEYS"],
            verify_key_id=cfg["VERIFY_CURRENT_KEY_ID"],
            progress=progress,
        )
    click.echo(
        f"Seed loaded: {report.rows} product rows ({report.created} new, "
        f"{report.changed - report.created} updated), {report.provinces} new provinces, "
        f"{report.events} new fairs/showrooms."
    )
