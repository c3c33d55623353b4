"""Registers the ``flask --app catalogue`` commands, one module per concern."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from catalogue.accounts import cli as users
    from catalogue.commands import backup, db, maintenance, seed, translations
    from catalogue.credentials import cli as credentials
    from catalogue.imports import cli as imports
    from catalogue.label_runs import cli as label_runs
    from catalogue.opendata import cli as opendata
    from catalogue.search import cli as search

    for command in (db.db_group, seed.seed_command, search.search_group,
                    users.user_group, imports.import_command, translations.translations_group,
                    backup.backup_group, maintenance.maintenance_group, label_runs.labels_group,
                    opendata.opendata_group, credentials.credential_group):  # fmt: skip
        app.cli.add_command(command)
    from catalogue.jobs import cli as job_commands

    app.cli.add_command(job_commands.jobs_group)
