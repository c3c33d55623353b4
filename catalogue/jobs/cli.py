"""``flask jobs consumer``: run the queue's consumer for this app (``make run`` starts it)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from catalogue.jobs.queue import WORKERS
from catalogue.startup import needs_database


@click.group("jobs", help="Background jobs (dry runs, publishing, photo zips, index rebuilds).")
def jobs_group() -> None:
    pass


@jobs_group.command("consumer", help="Run queued jobs until stopped (Ctrl-C or SIGTERM).")
@click.option(
    "--workers",
    default=WORKERS,
    show_default=True,
    type=click.IntRange(1, 16),
    help="Jobs run at the same time (threads): one office's long publish does not hold up another's check.",
)
@with_appcontext
@needs_database
def consumer(workers: int) -> None:
    from catalogue.jobs import queue

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    huey = queue.get_huey(app)
    if huey.immediate:
        raise click.ClickException("Jobs run inline in this configuration (TESTING); no consumer needed.")
    queue.make_consumer(app, workers).run()


@jobs_group.command("show", help="A job's state and progress (what its page in the workspace shows).")
@click.argument("job_id", type=int)
@with_appcontext
@needs_database
def show(job_id: int) -> None:
    from flask_babel import force_locale

    from catalogue.db import session_scope
    from catalogue.jobs import service
    from catalogue.jobs.models import Job

    with force_locale("en"), session_scope() as session:
        job = session.get(Job, job_id)
        if job is None:
            raise click.ClickException(f"No job {job_id}.")
        st = service.status(job)
        progress = f" {st['done']} of {st['total']} ({st['percent']}%)" if st["total"] else ""
        click.echo(f"job {job_id}: {st['kind_label']}: {st['state_label']}{progress}")
        if st["message"]:
            click.echo(str(st["message"]))
