"""``flask db upgrade|downgrade|current``: Alembic, driven directly."""

from __future__ import annotations

import click
from flask import current_app

from catalogue import migrate
from catalogue.startup import needs_database


@click.group("db", help="Database schema (Alembic migrations).")
def db_group() -> None:
    pass


@db_group.command("upgrade", help="Bring the schema to the latest revision (from empty if need be).")
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    url = current_app.config["SQLALCHEMY_URL"]
    sqlite_file = current_app.config["SETTINGS"].sqlite_file
    if sqlite_file is not None:  # SQLite creates the file on connect, but not its folder
        sqlite_file.parent.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(url, revision)
    click.echo(f"Schema at {', '.join(sorted(migrate.current_heads(url))) or 'base'}.")


@db_group.command("downgrade", help="Step the schema back to REVISION.")
@click.argument("revision")
@needs_database
def downgrade(revision: str) -> None:
    migrate.downgrade(current_app.config["SQLALCHEMY_URL"], revision)


@db_group.command("current", help="Print the schema revision.")
@needs_database
def current() -> None:
    heads = migrate.current_heads(current_app.config["SQLALCHEMY_URL"])
    click.echo(", ".join(sorted(heads)) or "base (empty)")
