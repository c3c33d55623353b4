"""``flask search rebuild|status|drain``: maintain the derived search index."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from flask import current_app
from flask.cli import with_appcontext

from catalogue.startup import needs_database

if TYPE_CHECKING:
    from sqlalchemy import Engine


def _root_engine() -> tuple[Path, Engine]:
    from catalogue.db import get_engine

    return Path(current_app.config["INDEX_DIR"]), get_engine()


@click.group("search", help="The full-text search index.")
def search_group() -> None:
    pass


@search_group.command("rebuild", help="Build a fresh index from the database and swap it in atomically.")
@click.option(
    "--procs",
    default=max(1, min(2, os.cpu_count() or 1)),
    show_default=True,
    help="Processes, each reading and indexing its share of the products.",
)
@click.option(
    "--background",
    is_flag=True,
    help="Queue the rebuild as a job for the job worker (its page shows progress) and return at once.",
)
@click.option(
    "--by",
    "by_email",
    default=None,
    metavar="EMAIL",
    help="With --background: the ministry official recorded as starting the job (default: the command line).",
)
@with_appcontext
@needs_database
def rebuild(procs: int, background: bool, by_email: str | None) -> None:
    from catalogue.search import building

    if by_email is not None and not background:
        raise click.UsageError("--by goes with --background (a foreground rebuild records no job).")
    if background:
        _queue_rebuild(by_email)
        return

    root, engine = _root_engine()
    state: dict[str, Any] = {"bar": None, "done": 0}

    def progress(done: int, total: int) -> None:
        if state["bar"] is None:
            state["bar"] = bar = click.progressbar(
                length=max(total, 1), label="Indexing products", show_pos=True
            )
            bar.__enter__()
        state["bar"].update(done - state["done"])
        state["done"] = done

    try:
        # Under the node's build lock, with the progress the search page's 503 shows.
        report = building.build(root, engine, progress, procs=procs)
    finally:
        if state["bar"] is not None:
            state["bar"].__exit__(None, None, None)
    if report is None:
        raise click.ClickException(
            "A build of this node's index is already running (its progress shows on /search); "
            "nothing was started."
        )
    rate = report.documents / report.seconds if report.seconds else 0
    click.echo(f"Indexed {report.documents} products in {report.seconds:.1f} s ({rate:.0f} documents/s); "
               f"now serving {report.name} ({report.caught_up} recent changes re-applied).")  # fmt: skip


def _queue_rebuild(by_email: str | None) -> None:
    """``search rebuild --background``: the same job as the workspace's button."""
    from flask_babel import force_locale

    from catalogue.accounts import permissions
    from catalogue.accounts import services as accounts
    from catalogue.accounts.models import User
    from catalogue.db import session_scope
    from catalogue.jobs import service

    with force_locale("en"), session_scope() as session:
        actor: User | permissions.SystemActor = permissions.SYSTEM
        if by_email is not None:
            user = accounts.find_user(session, by_email)
            if user is None:
                raise click.ClickException(f"No account with the e-mail {by_email!r}.")
            if not permissions.can(user, "rebuild_search"):
                raise click.ClickException(
                    f"{user.email} may not rebuild the search index: only an active ministry official may."
                )
            actor = user
        try:
            job = service.start_rebuild(session, actor=actor)
        except service.JobError as exc:
            raise click.ClickException(str(exc)) from None
        state = service.status(job)
        base = current_app.config["PUBLIC_BASE_URL"]
        click.echo(f"Queued the search index rebuild as job {job.id} ({state['state_label']}).")
        click.echo(f"Follow it on {base}/admin/jobs/{job.id} (signed in as a ministry official) "
                   f"or with: flask --app catalogue jobs show {job.id}")  # fmt: skip
        if not state["finished"]:
            click.echo("A job worker runs it (make run starts one; or: flask --app catalogue jobs consumer).")


@search_group.command("status", help="Documents in the index, pending outbox rows and ages.")
@with_appcontext
@needs_database
def status() -> None:
    from catalogue.search.drain import status as get_status

    root, engine = _root_engine()
    st = get_status(root, engine)
    click.echo(f"index:     {root / st.name if st.name else 'missing (built in the background)'}")
    click.echo(f"documents: {st.documents if st.documents is not None else 'unreadable'}")
    click.echo(f"built at:  {st.built_at or '-'}")
    click.echo(f"last write: {f'{st.modified_age:.0f} s ago' if st.modified_age is not None else '-'}")
    age = f" (oldest {st.oldest_pending_age:.0f} s old)" if st.oldest_pending_age is not None else ""
    click.echo(f"pending outbox rows: {st.pending}{age}")
    if st.needs_rebuild:
        click.echo("needs rebuild: outbox rows it never applied were pruned (OUTBOX_DAYS); rebuild started")


@search_group.command("drain", help="Apply pending outbox rows to the index now.")
@with_appcontext
@needs_database
def drain() -> None:
    from catalogue.search.sync import drain_now

    click.echo(f"Applied {drain_now()} outbox rows.")
