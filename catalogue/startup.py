"""What ``create_app`` checks before anything is served or run.

* The database is there and migrated. Nothing is created to find out: SQLite
  would create an empty file on connect, so its file is looked for first. Under
  ``flask --app catalogue …`` the answer is kept for the commands to ask
  (:func:`needs_database`), because ``db upgrade`` is how the database gets made;
  anywhere else (gunicorn, scripts, tests) the app refuses to start.
* The configured verification keys read the codes already printed: every key id
  in use by a stored certificate is configured, with the secret that signed it.
  Otherwise every QR code on the shelves would read "not recognised".

Each refusal is one line (:class:`catalogue.config.StartupError`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

import click
from flask import Flask, current_app
from sqlalchemy import Connection, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from catalogue.config import SECRETS_FILE, Settings, StartupError
from catalogue.registry.codes import ALPHABET, parse_code

F = TypeVar("F", bound=Callable[..., Any])

RUN_FIRST = "run `make run` (or `flask --app catalogue db upgrade`) first."
_PROBLEM = "catalogue.database_problem"

# One index seek (the unique index on verify_code) per key id in use, plus one.
_NEXT_CODE = text(
    "SELECT verify_code FROM certificate WHERE verify_code >= :start ORDER BY verify_code LIMIT 1"
)
_FIRST_CODE_PER_SYMBOL = text(
    "SELECT min(verify_code) FROM certificate WHERE verify_code IS NOT NULL "
    "GROUP BY substr(verify_code, 1, 1)"
)


class DatabaseNotReady(StartupError):
    """The data folder holds no database, or the database has no schema yet."""


def database_problem(settings: Settings) -> DatabaseNotReady | None:
    """Why the database cannot be used yet, or None when it is migrated. Creates nothing.

    Raises :class:`StartupError` when the database cannot be opened at all.
    """
    sqlite_file = settings.sqlite_file
    if sqlite_file is not None and not sqlite_file.exists():
        return DatabaseNotReady(f"No database in {sqlite_file.parent}: {RUN_FIRST}")
    with _connection(settings) as conn:
        if inspect(conn).has_table("alembic_version"):
            if conn.execute(text("SELECT version_num FROM alembic_version")).first() is not None:
                return None
    return DatabaseNotReady(f"The database {_name(settings)} has no schema yet: {RUN_FIRST}")


def stored_key_samples(settings: Settings) -> dict[str, str]:
    """:func:`key_samples` of the (migrated) database."""
    with _connection(settings) as conn:
        return key_samples(conn)


def _name(settings: Settings) -> str:
    sqlite_file = settings.sqlite_file
    return (
        str(sqlite_file)
        if sqlite_file
        else make_url(settings.database_url).render_as_string(hide_password=True)
    )


@contextmanager
def _connection(settings: Settings) -> Iterator[Connection]:
    from catalogue.db import get_engine

    try:
        # The app's own engine (same busy timeout), not a second pool beside it.
        with get_engine(settings.database_url, settings.SQLITE_BUSY_SECONDS).connect() as conn:
            yield conn
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        detail = reason[0] if reason else type(exc).__name__
        raise StartupError(f"cannot open the database {_name(settings)}: {detail}") from None


def key_samples(conn: Connection) -> dict[str, str]:
    """One stored code per verification key id in use: ``{"A": "A7K…"}``.

    A skip scan over the unique index on ``verify_code``: the first code at or
    after each key symbol, then on from the next symbol, so it costs a query per
    key id in use whatever the number of certificates. Should the collation not
    order codes by their first symbol, every code is grouped instead.
    """
    samples: dict[str, str] = {}
    start = ALPHABET[0]
    for _ in range(2 * len(ALPHABET)):
        code = conn.execute(_NEXT_CODE, {"start": start}).scalar()
        if code is None:
            return samples
        first = code[0]
        if first in samples:
            break
        if first in ALPHABET:
            samples[first] = code
        start = chr(ord(first) + 1)
    rows = conn.execute(_FIRST_CODE_PER_SYMBOL).scalars()
    return {code[0]: code for code in rows if code and code[0] in ALPHABET}


def check_verify_keys(samples: dict[str, str], settings: Settings) -> None:
    """Refuse when a stored code's key id is not configured, or its secret does not verify it."""
    keys = settings.VERIFY_KEYS
    if samples and settings.throwaway_keys:
        folder = Path(settings.CATALOGUE_DATA_DIR)
        raise StartupError(
            f"No {SECRETS_FILE} in {folder}, but stored certificates carry codes of verification key id "
            f"{', '.join(sorted(samples))}: restore {SECRETS_FILE} from this data folder's backup "
            "(or set VERIFY_KEYS to the keys they were signed with)."
        )
    configured = ", ".join(sorted(keys)) or "none"
    missing = sorted(set(samples) - {key_id.upper() for key_id in keys})
    if missing:
        where = f" (or to {settings.secrets_path})" if settings.secrets_path else ""
        raise StartupError(
            f"Stored certificates use verification key ids not configured: {', '.join(missing)} "
            f"(configured: {configured}). Add them to VERIFY_KEYS{where}."
        )
    wrong = sorted(key_id for key_id, code in samples.items() if parse_code(code, keys) != code)
    if wrong:
        source = f"the secrets in {settings.secrets_path}" if settings.secrets_path else "VERIFY_KEYS"
        raise StartupError(
            f"The configured secret of verification key id {', '.join(wrong)} does not verify the stored "
            f'certificates\' codes (printed QR codes would read "not recognised"): {source} must hold '
            "the secret they were signed with."
        )


def loaded_by_flask_cli() -> bool:
    """Is the app being built by ``flask --app catalogue …`` (whose commands then decide)?"""
    from flask.cli import ScriptInfo

    ctx = click.get_current_context(silent=True)
    return ctx is not None and ctx.find_object(ScriptInfo) is not None


def remember(app: Flask, problem: DatabaseNotReady | None) -> None:
    """Keep ``problem`` for :func:`needs_database` (only the flask CLI builds an app despite one)."""
    app.extensions[_PROBLEM] = problem


def problem_of(app: Flask) -> DatabaseNotReady | None:
    """Why ``app``'s database cannot be used (asked by a command that can also work without one)."""
    problem = app.extensions.get(_PROBLEM)
    return problem if isinstance(problem, DatabaseNotReady) else None


def needs_database(command: F) -> F:
    """Mark a CLI command that needs a migrated database: refuse in one line otherwise.

    Put it right above the function. The check runs before the command's body
    (so before a prompt the body makes), but after click has parsed the options.
    """

    @functools.wraps(command)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        problem = current_app.extensions.get(_PROBLEM)
        if problem is not None:
            raise problem
        return command(*args, **kwargs)

    return cast(F, guarded)
