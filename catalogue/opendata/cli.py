"""``flask --app catalogue opendata build``: write the bulk downloads now (``make run`` does, once)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from catalogue.opendata import manifest, tasks


@click.group("opendata", help="The bulk downloads at /data/.")
def opendata_group() -> None:
    pass


@opendata_group.command("build")
@click.option("--if-changed", is_flag=True, help="Only when the registry changed since the live files.")
@with_appcontext
def build_command(if_changed: bool) -> None:
    """Write every file of a new generation and make it the live one; print what was written."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    written = tasks.regenerate(app, force=not if_changed)
    if written is None:
        click.echo("opendata: nothing written (the files are up to date, or another process is writing them)")
        return
    folder = manifest.live_folder(app)
    click.echo(f"opendata: wrote {len(written.files)} files to {folder}")
    for f in written.files:
        click.echo(f"  {f.name:<24} {f.bytes:>12,} bytes {f.rows:>9,} rows  sha256 {f.sha256}")
    click.echo(f"  change feed cursor: {written.changes_cursor or '(none)'}")
