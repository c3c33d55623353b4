"""Settings read from the environment in one place.

Every other module takes its configuration from ``current_app.config`` (which
``create_app`` fills from :class:`Settings`) so tests can override any value.

Secrets. ``SECRET_KEY`` (sessions, CSRF) and ``VERIFY_KEYS`` (the keyed check of
the verification codes printed on packaging) come from the environment when it
sets them. Otherwise, when the database is SQLite (the embedded default: one
node) or in development and tests, they are generated once per data folder and
kept in ``$CATALOGUE_DATA_DIR/secrets.json`` (mode 0600), so every process on
that folder (CLI commands, gunicorn workers) agrees and printed codes keep
verifying after a restart. With a server database (``DATABASE_URL``, possibly
several nodes) in production both must come from the environment.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import IO, Any

import click
from gunicorn.errors import AppImportError

from catalogue.registry.codes import ALPHABET

PROJECT_ROOT = Path(__file__).resolve().parent.parent

ENVIRONMENTS = ("production", "development", "test", "testing")
_DEV_ENVS = {"development", "test", "testing"}
SECRETS_FILE = "secrets.json"
_LEGACY_DEV_SECRET = ".dev-secret"  # before secrets.json, development kept only SECRET_KEY here


class StartupError(click.ClickException, AppImportError):
    """A reason the app cannot start, told in one line and never as a traceback.

    A :class:`click.ClickException`, so ``flask --app catalogue …`` prints the line
    and exits 1; a gunicorn ``AppImportError``, so a gunicorn worker prints the line
    and the server stops ("App failed to load") instead of respawning workers that
    would fail the same way.
    """

    prefix = "catalogue: "

    def format_message(self) -> str:
        return self.prefix + self.message

    def __str__(self) -> str:
        return self.format_message()

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(self.format_message(), file=file, err=file is None)


class ConfigError(StartupError):
    """A setting is missing, malformed or contradicts another."""

    prefix = "catalogue: configuration error: "


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(env: Any, name: str, default: int, low: int, high: int) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number ({low} to {high}).") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is out of range ({low} to {high}).")
    return value


def parse_verify_keys(raw: str) -> dict[str, str]:
    """``"a:secret1,b:secret2"`` → ``{"a": "secret1", "b": "secret2"}``; never echoes a secret."""
    keys: dict[str, str] = {}
    for number, entry in enumerate((e.strip() for e in raw.split(",")), start=1):
        if not entry:
            continue
        key_id, colon, secret = (part.strip() for part in entry.partition(":"))
        if not colon or not key_id or not secret:
            raise ConfigError(
                f"VERIFY_KEYS entry {number} is not 'id:secret' "
                "(expected e.g. VERIFY_KEYS=a:secret1,b:secret2)."
            )
        keys[key_id] = secret
    return keys


@dataclass
class Settings:
    """Application settings; ``from_env`` is the only reader of ``os.environ``."""

    ENV: str = "production"
    CATALOGUE_DATA_DIR: Path = PROJECT_ROOT / "data"
    DATABASE_URL: str = ""
    # Where scans are counted (catalogue.verification.counting); empty: next to the registry.
    CHECKS_DATABASE_URL: str = ""
    SECRET_KEY: str = ""
    PUBLIC_BASE_URL: str = "http://127.0.0.1:5000"
    PORT: int = 5000
    # Years a certificate stays valid when its decision states no expiry
    # (DESIGN §2: the regulation as found states no validity period).
    CERTIFICATE_VALIDITY_YEARS: int = 3
    # Keys for the keyed check of verification codes: {key_id: secret}.
    VERIFY_KEYS: dict[str, str] = field(default_factory=dict)
    VERIFY_CURRENT_KEY_ID: str = "a"
    RATELIMIT_ENABLED: bool = True
    RATELIMIT_STORAGE_URI: str = "memory://"
    # Limits on the verification endpoints (Flask-Limiter syntax), shared by page, API and
    # look-up. Per (client address, code): one client re-checking one code.
    VERIFY_RATE_LIMIT: str = "60 per minute;600 per hour"
    # Per client address, every code: high enough for a fair's visitors behind one Wi-Fi.
    VERIFY_CLIENT_RATE_LIMIT: str = "300 per minute;6000 per hour"
    # Per client address, look-ups that found nothing (walking through codes or numbers).
    VERIFY_FAILED_RATE_LIMIT: str = "20 per minute;200 per hour"
    VERIFY_REPORT_RATE_LIMIT: str = "5 per minute;20 per day"
    MAX_CONTENT_LENGTH: int = 32 * 1024 * 1024
    SESSION_COOKIE_SECURE: bool = False
    # Reverse proxies in front of the app whose X-Forwarded-For/-Proto it trusts (0: none).
    # Behind a proxy, 0 would make every client share the proxy's address in the rate limits.
    TRUSTED_PROXIES: int = 0
    # How long a request waits for SQLite's single writer (a publish holds it) before
    # answering 503 "try again": under gunicorn's 30 s worker timeout, within DESIGN's 10 s.
    SQLITE_BUSY_SECONDS: float = 8.0
    # Retention (``flask maintenance prune`` and the job worker's daily run): raw rows of the
    # check log older than this are deleted (the per-code tally keeps every count exact) ...
    CHECK_LOG_DAYS: int = 400
    # ... and search outbox rows older than this (a node further behind must rebuild its index).
    OUTBOX_DAYS: int = 30
    # How long a password reset link issued for an official stays usable (hours).
    RESET_LINK_HOURS: int = 24
    # A signed-in session unseen for this many days counts as ended (the cookie outlives a closed
    # browser). At most 31: Flask's signed cookie itself expires 31 days after sign-in.
    SESSION_IDLE_DAYS: int = 30
    # Outgoing mail for reset links (catalogue.accounts.mail); no SMTP_HOST: links are only shown.
    SMTP_HOST: str = ""
    SMTP_PORT: int = 587
    SMTP_USER: str = ""
    SMTP_PASSWORD: str = ""
    SMTP_FROM: str = ""
    SMTP_STARTTLS: bool = True
    # The licence of the bulk downloads at /data/ (catalogue.opendata.dumps.licence): id, title, URL.
    OPENDATA_LICENCE_ID: str = "CC-BY-4.0"
    OPENDATA_LICENCE_TITLE: str = "Creative Commons Attribution 4.0 International (CC BY 4.0)"
    OPENDATA_LICENCE_URL: str = "https://creativecommons.org/licenses/by/4.0/"
    # Who answers for the open data (DCAT contactPoint); empty: SMTP_FROM, else opendata@ the public host.
    OPENDATA_CONTACT_EMAIL: str = ""
    # The private keys that sign the certificates' credentials (catalogue.credentials.keys): a JWK set
    # file; empty: ``credential-keys.json`` in the data folder, generated there when secrets may be.
    CREDENTIAL_KEYS_FILE: str = ""
    # How long a copy of a revocation list may be used before fetching it again (its ``ttl``).
    STATUS_LIST_TTL_SECONDS: int = 300
    # Where generated secrets were read from (None: the environment or overrides gave them).
    secrets_path: Path | None = None
    # True when VERIFY_KEYS are throw-away values, neither given nor kept (see ``finalise``).
    throwaway_keys: bool = False

    @property
    def db_path(self) -> Path:
        return Path(self.CATALOGUE_DATA_DIR) / "catalogue.sqlite3"

    @property
    def index_dir(self) -> Path:
        return Path(self.CATALOGUE_DATA_DIR) / "index"

    @property
    def media_dir(self) -> Path:
        return Path(self.CATALOGUE_DATA_DIR) / "media"

    @property
    def database_url(self) -> str:
        return self.DATABASE_URL or f"sqlite:///{self.db_path}"

    @property
    def sqlite_file(self) -> Path | None:
        """The SQLite database file, or None for a server (or in-memory) database."""
        url = self.database_url
        if not url.startswith("sqlite"):
            return None
        from sqlalchemy.engine import make_url

        database = make_url(url).database
        return Path(database) if database and database != ":memory:" else None

    @property
    def is_dev(self) -> bool:
        return self.ENV in _DEV_ENVS

    @property
    def keeps_secrets(self) -> bool:
        """May missing secrets be generated and kept in the data folder?

        Yes for SQLite (one node: the data folder is the installation) and in
        development and tests; no for a server database in production, where
        several nodes must share them and only the environment can say so.
        """
        return self.is_dev or self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        s = cls()
        s.ENV = env.get("CATALOGUE_ENV", env.get("FLASK_ENV", s.ENV)) or s.ENV
        if env.get("CATALOGUE_DATA_DIR"):
            s.CATALOGUE_DATA_DIR = Path(env["CATALOGUE_DATA_DIR"]).resolve()
        s.DATABASE_URL = env.get("DATABASE_URL", "")
        s.CHECKS_DATABASE_URL = env.get("CHECKS_DATABASE_URL", "")
        s.TRUSTED_PROXIES = _int(env, "TRUSTED_PROXIES", s.TRUSTED_PROXIES, 0, 5)
        s.CHECK_LOG_DAYS = _int(env, "CHECK_LOG_DAYS", s.CHECK_LOG_DAYS, 1, 36500)
        s.OUTBOX_DAYS = _int(env, "OUTBOX_DAYS", s.OUTBOX_DAYS, 1, 3650)
        s.RESET_LINK_HOURS = _int(env, "RESET_LINK_HOURS", s.RESET_LINK_HOURS, 1, 24 * 14)
        s.SESSION_IDLE_DAYS = _int(env, "SESSION_IDLE_DAYS", s.SESSION_IDLE_DAYS, 1, 31)
        s.SMTP_HOST = (env.get("SMTP_HOST") or "").strip()
        s.SMTP_PORT = _int(env, "SMTP_PORT", s.SMTP_PORT, 1, 65535)
        s.SMTP_USER = env.get("SMTP_USER", "")
        s.SMTP_PASSWORD = env.get("SMTP_PASSWORD", "")
        s.SMTP_FROM = (env.get("SMTP_FROM") or "").strip()
        s.SMTP_STARTTLS = _bool(env.get("SMTP_STARTTLS"), s.SMTP_STARTTLS)
        for name in ("OPENDATA_LICENCE_ID", "OPENDATA_LICENCE_TITLE", "OPENDATA_LICENCE_URL",
                     "OPENDATA_CONTACT_EMAIL"):  # fmt: skip
            setattr(s, name, (env.get(name) or "").strip() or getattr(s, name))
        s.CREDENTIAL_KEYS_FILE = (env.get("CREDENTIAL_KEYS_FILE") or "").strip()
        s.STATUS_LIST_TTL_SECONDS = _int(env, "STATUS_LIST_TTL_SECONDS", s.STATUS_LIST_TTL_SECONDS, 10, 86400)
        s.SECRET_KEY = env.get("SECRET_KEY", "")
        s.PUBLIC_BASE_URL = env.get("PUBLIC_BASE_URL", "").rstrip("/") or s.PUBLIC_BASE_URL
        s.PORT = _int(env, "PORT", s.PORT, 1, 65535)
        if env.get("PORT") and not env.get("PUBLIC_BASE_URL"):
            s.PUBLIC_BASE_URL = f"http://127.0.0.1:{s.PORT}"
        s.CERTIFICATE_VALIDITY_YEARS = _int(
            env, "CERTIFICATE_VALIDITY_YEARS", s.CERTIFICATE_VALIDITY_YEARS, 1, 100
        )
        # VERIFY_KEYS="a:secret1,b:secret2"; the current key signs new codes.
        if env.get("VERIFY_KEYS", "").strip():
            s.VERIFY_KEYS = parse_verify_keys(env["VERIFY_KEYS"])
        s.VERIFY_CURRENT_KEY_ID = (env.get("VERIFY_CURRENT_KEY_ID") or "").strip() or s.VERIFY_CURRENT_KEY_ID
        s.RATELIMIT_ENABLED = _bool(env.get("RATELIMIT_ENABLED"), s.RATELIMIT_ENABLED)
        s.VERIFY_RATE_LIMIT = env.get("VERIFY_RATE_LIMIT", s.VERIFY_RATE_LIMIT)
        s.VERIFY_REPORT_RATE_LIMIT = env.get("VERIFY_REPORT_RATE_LIMIT", s.VERIFY_REPORT_RATE_LIMIT)
        s.VERIFY_CLIENT_RATE_LIMIT = env.get("VERIFY_CLIENT_RATE_LIMIT", s.VERIFY_CLIENT_RATE_LIMIT)
        s.VERIFY_FAILED_RATE_LIMIT = env.get("VERIFY_FAILED_RATE_LIMIT", s.VERIFY_FAILED_RATE_LIMIT)
        if env.get("REDIS_URL"):
            s.RATELIMIT_STORAGE_URI = env["REDIS_URL"]
        s.SESSION_COOKIE_SECURE = _bool(
            env.get("SESSION_COOKIE_SECURE"), s.PUBLIC_BASE_URL.startswith("https://")
        )
        return s

    def validate(self) -> None:
        """Check the settings that need nothing from the data folder.

        Raises :class:`ConfigError` (one line, naming the variable) on anything wrong.
        """
        if self.ENV not in ENVIRONMENTS:
            raise ConfigError(f"CATALOGUE_ENV={self.ENV!r} is not one of {', '.join(ENVIRONMENTS[:3])}.")
        _check_key_id("VERIFY_CURRENT_KEY_ID", self.VERIFY_CURRENT_KEY_ID)
        missing = [name for name in ("SECRET_KEY", "VERIFY_KEYS") if not getattr(self, name)]
        if missing and not self.keeps_secrets:
            raise ConfigError(
                f"{' and '.join(missing)} must be set in the environment: with DATABASE_URL in "
                f"production every node must share the same {'values' if len(missing) > 1 else 'value'} "
                "(they are generated into the data folder only for SQLite or CATALOGUE_ENV=development)."
            )

    def finalise(self, *, store_secrets: bool = True, codes_stored: bool = False) -> None:
        """:meth:`validate`, fill missing secrets from the data folder, then check the keys.

        ``create_app`` says whether the folder holds a migrated database
        (``store_secrets``) and whether it already holds signed codes
        (``codes_stored``). Secrets are generated and kept only next to a database
        whose codes they can have signed: without a database nothing is written (a
        command pointed at the wrong folder leaves no trace; the first process that
        finds the database creates the file), and new keys beside codes signed
        with lost ones would be wrong forever, so they stay throw-away and the
        start-up check asks for the file back.
        """
        self.validate()
        if not self.SECRET_KEY or not self.VERIFY_KEYS:
            stored = self._stored_secrets(store_secrets, codes_stored)
            self.SECRET_KEY = self.SECRET_KEY or stored["SECRET_KEY"]
            if not self.VERIFY_KEYS:
                self.VERIFY_KEYS = dict(stored["VERIFY_KEYS"])
                path = Path(self.CATALOGUE_DATA_DIR) / SECRETS_FILE
                self.secrets_path = path if path.exists() else None
                self.throwaway_keys = self.secrets_path is None
        where = f" from {self.secrets_path}" if self.secrets_path else ""
        symbols: dict[str, str] = {}
        for key_id in self.VERIFY_KEYS:
            _check_key_id(f"VERIFY_KEYS{where}: key id", key_id)
            if key_id.upper() in symbols:
                raise ConfigError(f"VERIFY_KEYS{where} lists key id {key_id.upper()} twice.")
            symbols[key_id.upper()] = key_id
        current = symbols.get(self.VERIFY_CURRENT_KEY_ID.upper())
        if current is None:
            raise ConfigError(
                f"VERIFY_CURRENT_KEY_ID={self.VERIFY_CURRENT_KEY_ID} names no key in VERIFY_KEYS{where} "
                f"(keys: {', '.join(self.VERIFY_KEYS)})."
            )
        self.VERIFY_CURRENT_KEY_ID = current  # the spelling VERIFY_KEYS uses (codes are upper-case anyway)

    def _stored_secrets(self, store: bool, codes_stored: bool) -> dict[str, Any]:
        """This data folder's secrets: read, or generated once and kept (mode 0600)."""
        data_dir = Path(self.CATALOGUE_DATA_DIR)
        path = data_dir / SECRETS_FILE
        if path.exists():
            return _read_secrets(path)
        fresh: dict[str, Any] = {
            "SECRET_KEY": secrets.token_hex(32),
            "VERIFY_KEYS": {self.VERIFY_CURRENT_KEY_ID: secrets.token_urlsafe(32)},
        }
        legacy = data_dir / _LEGACY_DEV_SECRET
        if legacy.exists():
            # Keep what development data was signed with: codes already printed keep verifying.
            old = legacy.read_text().strip()
            known = {"SECRET_KEY": old, "VERIFY_KEYS": {self.VERIFY_CURRENT_KEY_ID: "dev-verify-" + old}}
            return _create_secrets(path, known) if store else known
        return _create_secrets(path, fresh) if store and not codes_stored else fresh

    def as_flask_config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self) if f.name.isupper()}
        cfg["SQLALCHEMY_URL"] = self.database_url
        cfg["INDEX_DIR"] = self.index_dir
        cfg["KEEPS_SECRETS"] = self.keeps_secrets
        cfg["MEDIA_DIR"] = self.media_dir
        cfg["SESSION_COOKIE_HTTPONLY"] = True
        cfg["SESSION_COOKIE_SAMESITE"] = "Lax"
        cfg["REMEMBER_COOKIE_HTTPONLY"] = True
        cfg["REMEMBER_COOKIE_SECURE"] = self.SESSION_COOKIE_SECURE
        cfg["BABEL_DEFAULT_LOCALE"] = "vi"
        cfg["BABEL_DEFAULT_TIMEZONE"] = "Asia/Ho_Chi_Minh"
        cfg["BABEL_TRANSLATION_DIRECTORIES"] = str(Path(__file__).parent / "translations")
        cfg["TESTING"] = self.ENV in {"test", "testing"}
        return cfg


def _check_key_id(what: str, key_id: str) -> None:
    if len(key_id) != 1 or key_id.upper() not in ALPHABET:
        raise ConfigError(
            f"{what} {key_id!r} must be one letter or digit of the code alphabet (not I, L, O or U)."
        )


def _read_secrets(path: Path) -> dict[str, Any]:
    # A file written by a filesystem without hard links may be seen half-written: retry briefly.
    for attempt in range(20):
        try:
            data = json.loads(path.read_text())
            if (
                isinstance(data, dict)
                and isinstance(data.get("SECRET_KEY"), str)
                and data["SECRET_KEY"]
                and isinstance(data.get("VERIFY_KEYS"), dict)
                and data["VERIFY_KEYS"]
                and all(
                    isinstance(k, str) and isinstance(v, str) and v for k, v in data["VERIFY_KEYS"].items()
                )
            ):
                return data
        except (OSError, ValueError):
            pass
        if attempt < 19:
            time.sleep(0.05)
    raise ConfigError(
        f"{path} is not a secrets file (JSON with SECRET_KEY and VERIFY_KEYS {{id: secret}}); "
        "restore it from a backup, or printed codes will stop verifying."
    )


def _create_secrets(path: Path, values: dict[str, Any]) -> dict[str, Any]:
    """Write ``values`` to ``path`` (0600) unless another process got there first; return the winner."""
    try:
        written = create_once(path, (json.dumps(values, indent=2) + "\n").encode())
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}.") from None
    return values if written else _read_secrets(path)


def create_once(path: Path, body: bytes) -> bool:
    """Create ``path`` (0600) holding ``body``; False, writing nothing, if it exists already.

    The file is written under a temporary name and hard-linked into place, which
    fails if ``path`` exists: two gunicorn workers starting together keep the same
    secrets or keys, and nobody ever reads a half-written file.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError:  # no hard links here: exclusive create in place instead
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                return False
            with os.fdopen(fd, "wb") as fh:
                fh.write(body)
                fh.flush()
                os.fsync(fh.fileno())
    finally:
        tmp.unlink(missing_ok=True)
    return True
