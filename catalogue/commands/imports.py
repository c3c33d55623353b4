"""``flask import FILE`` (filled in by the officials' workspace)."""

from __future__ import annotations

import click


@click.command("import", help="Import a decision's spreadsheet (XLSX or CSV).")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def import_command(path: str) -> None:
    raise click.ClickException("Not available yet.")
