"""``flask backup create|restore``: everything that matters in one archive.

What cannot be rebuilt is the database, the photos (``media/``) and the keys
(``secrets.json``: without the verification keys every printed QR code reads
"not recognised"). The search index is derived, so a restore rebuilds it
rather than trusting a copy. SQLite files are copied with SQLite's online
backup, a consistent snapshot while the site keeps serving; a PostgreSQL
database is ``pg_dump``'s job (README), and the archive then carries the files.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tarfile
import tempfile
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from catalogue.clock import utcnow
from catalogue.config import SECRETS_FILE, Settings, StartupError
from catalogue.credentials.keys import FILE_NAME as KEYS_FILE
from catalogue.startup import needs_database

MANIFEST = "manifest.json"
MEDIA = "media"


def _settings() -> Settings:
    settings: Settings = current_app.config["SETTINGS"]
    return settings


def _sqlite_stores(settings: Settings) -> list[Path]:
    """Every SQLite store in the data folder: the registry's file and any store of its own."""
    data = Path(settings.CATALOGUE_DATA_DIR)
    return sorted(p for p in data.glob("*.sqlite3") if p.is_file())


def _snapshot(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (WAL included), via SQLite's backup API."""
    src, dst = sqlite3.connect(f"file:{source}?mode=ro", uri=True), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


@click.group("backup", help="Back up and restore the database, photos and keys.")
def backup_group() -> None:
    pass


@backup_group.command("create", help="Write ARCHIVE (.tar.gz, mode 0600: it holds the keys).")
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
@needs_database
def create(archive: Path) -> None:
    settings = _settings()
    data = Path(settings.CATALOGUE_DATA_DIR)
    archive = archive.resolve()
    if not archive.parent.is_dir():
        raise click.ClickException(f"{archive.parent} is not a folder; nothing written.")
    stores = _sqlite_stores(settings) if settings.sqlite_file else []
    partial = archive.with_name(f".{archive.name}.partial")
    with tempfile.TemporaryDirectory() as tmp:
        has_media, has_secrets = (data / MEDIA).is_dir(), (data / SECRETS_FILE).is_file()
        # The credentials' signing keys: lose them and every credential handed out fails to verify.
        has_keys = (data / KEYS_FILE).is_file()
        manifest = {
            "created_at": utcnow().isoformat(timespec="seconds"),
            "databases": [p.name for p in stores],
            "media": has_media,
            "secrets": has_secrets,
            "credential_keys": has_keys,
        }
        (Path(tmp) / MANIFEST).write_text(json.dumps(manifest, indent=2))
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            tar.add(Path(tmp) / MANIFEST, arcname=MANIFEST)
            for store in stores:
                copy = Path(tmp) / store.name
                _snapshot(store, copy)
                tar.add(copy, arcname=store.name)
            if has_secrets:
                tar.add(data / SECRETS_FILE, arcname=SECRETS_FILE)
            if has_keys:
                tar.add(data / KEYS_FILE, arcname=KEYS_FILE)
            if has_media:
                tar.add(data / MEDIA, arcname=MEDIA)
    os.replace(partial, archive)
    parts = [p.name for p in stores] + [SECRETS_FILE] * has_secrets + [KEYS_FILE] * has_keys
    parts += [f"{MEDIA}/"] * has_media
    click.echo(f"Backed up {', '.join(parts) or 'nothing'} to {archive}.")
    if not settings.sqlite_file:
        click.echo("The database is PostgreSQL: back it up with pg_dump --format=custom (see the README).")


def _members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    """The archive's members, refusing anything that is not ours (paths stay inside the folder)."""
    allowed = []
    for member in tar.getmembers():
        top = member.name.split("/", 1)[0]
        ours = (
            member.name in (MANIFEST, SECRETS_FILE, KEYS_FILE)
            or top == MEDIA
            or ("/" not in member.name and member.name.endswith(".sqlite3"))
        )
        if not ours or not (member.isfile() or member.isdir()):
            raise click.ClickException(
                f"{member.name!r} is not part of a catalogue backup; nothing restored."
            )
        allowed.append(member)
    return allowed


@backup_group.command("restore", help="Restore ARCHIVE into an empty data folder, then rebuild the index.")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def restore(archive: Path) -> None:
    from catalogue import migrate
    from catalogue.db import dispose_engines, make_engine
    from catalogue.search.builds import rebuild

    settings = _settings()
    data = Path(settings.CATALOGUE_DATA_DIR)
    main = settings.sqlite_file
    if main is not None and main.exists():
        raise StartupError(f"{data} already holds a database: restore into an empty data folder.")
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = _members(tar)
            names = {m.name for m in members}
            if MANIFEST not in names:
                raise click.ClickException(f"{archive} has no {MANIFEST}: not a catalogue backup.")
            if main is not None and main.name not in names:
                raise click.ClickException(f"{archive} holds no {main.name}: nothing restored.")
            data.mkdir(parents=True, exist_ok=True)
            tar.extractall(data, members=members, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise click.ClickException(f"{archive} cannot be read ({exc}); nothing restored.") from None
    (data / MANIFEST).unlink(missing_ok=True)
    # An archive from an older release is brought up to this release's schema.
    url = settings.database_url
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        report = rebuild(settings.index_dir, engine)
    finally:
        engine.dispose()
        dispose_engines()
    click.echo(f"Restored {archive} into {data}; search index rebuilt ({report.documents} products).")
