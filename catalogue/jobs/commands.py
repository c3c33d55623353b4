"""``flask jobs consumer``: run the queue's consumer for this app (``make run`` starts it)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from catalogue.startup import needs_database


@click.group("jobs", help="Background jobs (dry runs, publishing, photo zips, index rebuilds).")
def jobs_group() -> None:
    pass


@jobs_group.command("consumer", help="Run queued jobs until stopped (Ctrl-C or SIGTERM).")
@click.option("--workers", default=1, show_default=True, help="Jobs run at the same time (threads).")
@with_appcontext
@needs_database
def consumer(workers: int) -> None:
    from catalogue.jobs import queue

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    huey = queue.get_huey(app)
    if huey.immediate:
        raise click.ClickException("Jobs run inline in this configuration (TESTING); no consumer needed.")
    huey.create_consumer(workers=workers, worker_type="thread", check_worker_health=True).run()
