"""``flask search rebuild|status`` (filled in by the full-text search work)."""

from __future__ import annotations

import click


@click.group("search", help="The full-text search index.")
def search_group() -> None:
    pass


@search_group.command("rebuild", help="Rebuild the search index from the database.")
def rebuild() -> None:
    click.echo("No search index yet.")
