"""Settings read from the environment in one place.

Every other module takes its configuration from ``current_app.config`` (which
``create_app`` fills from :class:`Settings`) so tests can override any value.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent

_DEV_ENVS = {"development", "test", "testing"}


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass
class Settings:
    """Application settings; ``from_env`` is the only reader of ``os.environ``."""

    ENV: str = "production"
    CATALOGUE_DATA_DIR: Path = PROJECT_ROOT / "data"
    DATABASE_URL: str = ""
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
    # Per-client limits on the verification endpoints (Flask-Limiter syntax).
    VERIFY_RATE_LIMIT: str = "60 per minute;600 per hour"
    VERIFY_REPORT_RATE_LIMIT: str = "5 per minute;20 per day"
    MAX_CONTENT_LENGTH: int = 32 * 1024 * 1024
    SESSION_COOKIE_SECURE: bool = False

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
    def is_dev(self) -> bool:
        return self.ENV in _DEV_ENVS

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        s = cls()
        s.ENV = env.get("CATALOGUE_ENV", env.get("FLASK_ENV", s.ENV)) or s.ENV
        if env.get("CATALOGUE_DATA_DIR"):
            s.CATALOGUE_DATA_DIR = Path(env["CATALOGUE_DATA_DIR"]).resolve()
        s.DATABASE_URL = env.get("DATABASE_URL", "")
        s.SECRET_KEY = env.get("SECRET_KEY", "")
        s.PUBLIC_BASE_URL = env.get("PUBLIC_BASE_URL", "").rstrip("/") or s.PUBLIC_BASE_URL
        if env.get("PORT"):
            s.PORT = int(env["PORT"])
            if not env.get("PUBLIC_BASE_URL"):
                s.PUBLIC_BASE_URL = f"http://127.0.0.1:{s.PORT}"
        if env.get("CERTIFICATE_VALIDITY_YEARS"):
            s.CERTIFICATE_VALIDITY_YEARS = int(env["CERTIFICATE_VALIDITY_YEARS"])
        # VERIFY_KEYS="a:secret1,b:secret2"; the current key signs new codes.
        if env.get("VERIFY_KEYS"):
            pairs = (p.split(":", 1) for p in env["VERIFY_KEYS"].split(",") if ":" in p)
            s.VERIFY_KEYS = {k.strip(): v.strip() for k, v in pairs}
        s.VERIFY_CURRENT_KEY_ID = env.get("VERIFY_CURRENT_KEY_ID", s.VERIFY_CURRENT_KEY_ID)
        s.RATELIMIT_ENABLED = _bool(env.get("RATELIMIT_ENABLED"), s.RATELIMIT_ENABLED)
        s.VERIFY_RATE_LIMIT = env.get("VERIFY_RATE_LIMIT", s.VERIFY_RATE_LIMIT)
        s.VERIFY_REPORT_RATE_LIMIT = env.get("VERIFY_REPORT_RATE_LIMIT", s.VERIFY_REPORT_RATE_LIMIT)
        if env.get("REDIS_URL"):
            s.RATELIMIT_STORAGE_URI = env["REDIS_URL"]
        s.SESSION_COOKIE_SECURE = _bool(
            env.get("SESSION_COOKIE_SECURE"), s.PUBLIC_BASE_URL.startswith("https://")
        )
        return s

    def finalise(self) -> None:
        """Fill development defaults and refuse unsafe production settings."""
        if not self.SECRET_KEY:
            if not self.is_dev:
                raise RuntimeError(
                    "SECRET_KEY must be set outside development and tests "
                    "(set CATALOGUE_ENV=development for a throwaway key)."
                )
            self.SECRET_KEY = _dev_secret(Path(self.CATALOGUE_DATA_DIR))
        if not self.VERIFY_KEYS:
            if not self.is_dev:
                raise RuntimeError("VERIFY_KEYS must be set outside development and tests.")
            # A stable development key so printed codes survive restarts.
            self.VERIFY_KEYS = {self.VERIFY_CURRENT_KEY_ID: "dev-verify-" + self.SECRET_KEY}
        if self.VERIFY_CURRENT_KEY_ID not in self.VERIFY_KEYS:
            raise RuntimeError("VERIFY_CURRENT_KEY_ID names no key in VERIFY_KEYS.")

    def as_flask_config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        cfg["SQLALCHEMY_URL"] = self.database_url
        cfg["INDEX_DIR"] = self.index_dir
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


def _dev_secret(data_dir: Path) -> str:
    """Keep one random development secret per data dir so sessions survive restarts."""
    path = data_dir / ".dev-secret"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        data_dir.mkdir(parents=True, exist_ok=True)
        value = secrets.token_hex(32)
        path.write_text(value)
        return value
