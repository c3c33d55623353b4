"""Configuration, secrets and start-up checks: commands that work as printed.

Settings come from the environment; secrets missing from it are generated once
per data folder (SQLite, or development) and kept there with mode 0600; every
configuration or start-up problem is one line, never a traceback; a command
pointed at a folder without a database says to run ``make run`` and creates
nothing; the app refuses to start when the configured verification keys cannot
read the codes already stored (and printed).

The subprocess tests run the real ``flask`` and ``gunicorn`` commands; they
assert only date-independent facts (a subprocess does not see the frozen clock).
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlmodel import Session

from catalogue import create_app
from catalogue.config import PROJECT_ROOT, SECRETS_FILE, ConfigError, Settings, StartupError, _create_secrets
from catalogue.db import dispose_engines, get_engine
from catalogue.registry.codes import parse_code
from catalogue.startup import DatabaseNotReady, key_samples
from tests.conftest import IS_PG, PG_URL, VERIFY_KEYS, base_overrides, fresh_data_folder

BIN = Path(sys.executable).parent
#: Every variable :class:`Settings` reads: the subprocess tests start from a plain shell's.
SETTINGS_VARS = {
    "CATALOGUE_ENV", "FLASK_ENV", "CATALOGUE_DATA_DIR", "DATABASE_URL", "SECRET_KEY", "VERIFY_KEYS",
    "VERIFY_CURRENT_KEY_ID", "PORT", "PUBLIC_BASE_URL", "CERTIFICATE_VALIDITY_YEARS", "REDIS_URL",
    "RATELIMIT_ENABLED", "SESSION_COOKIE_SECURE", "FLASK_APP",
}  # fmt: skip


def plain_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """A plain shell's environment (no catalogue settings) pointed at ``data_dir``."""
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARS}
    return {**env, "CATALOGUE_DATA_DIR": str(data_dir), **settings}


def run(args: list[str], env: dict[str, str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    if "faketime" in env.get("LD_PRELOAD", ""):
        # Under a frozen libfaketime clock the rate limiter's in-memory expiry timer
        # (a non-daemon thread) never fires, so the process could not exit.
        env = {**env, "RATELIMIT_ENABLED": "false"}
    # A new session has no controlling terminal, so a password prompt reads stdin.
    return subprocess.run(args, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
                          start_new_session=True, **kwargs)  # fmt: skip


def one_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


SECRET_VARS = {"SECRET_KEY", "VERIFY_KEYS", "VERIFY_CURRENT_KEY_ID"}


def without_secrets(data_dir: Path, **overrides: Any) -> dict[str, Any]:
    """The test overrides minus the secrets, so the environment or the data folder gives them."""
    return {**{k: v for k, v in base_overrides(data_dir).items() if k not in SECRET_VARS}, **overrides}


@pytest.fixture(autouse=True)
def no_secrets_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SECRET_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def folder(tmp_path: Path, db_templates: dict[str, Path]) -> Callable[..., Path]:
    """``folder(seeded=False)``: a fresh copy of a migrated template data folder."""
    counter = {"n": 0}

    def make(seeded: bool = False) -> Path:
        counter["n"] += 1
        return fresh_data_folder(db_templates, tmp_path / f"folder{counter['n']}", seeded)

    yield make
    dispose_engines()


def write_secrets(data_dir: Path, keys: dict[str, str]) -> None:
    """The secrets ``make run`` would have generated, here the ones the seed was signed with."""
    _create_secrets(data_dir / SECRETS_FILE, {"SECRET_KEY": "folder-secret", "VERIFY_KEYS": keys})


# ----------------------------------------------------------------------------- secrets


def test_secrets_are_generated_once_per_data_folder_with_mode_0600(folder: Callable[..., Path]) -> None:
    data = folder()
    # Any CATALOGUE_ENV: an SQLite install is one node (PostgreSQL needs development here).
    env = "development" if IS_PG else "production"
    first = create_app(without_secrets(data, ENV=env))
    path = data / SECRETS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(path.read_text())
    second = create_app(without_secrets(data, ENV=env))
    for app in (first, second):
        assert app.config["SECRET_KEY"] == stored["SECRET_KEY"] and len(stored["SECRET_KEY"]) >= 32
        assert app.config["VERIFY_KEYS"] == stored["VERIFY_KEYS"] and set(stored["VERIFY_KEYS"]) == {"a"}
    assert [p.name for p in data.iterdir() if p.name.startswith(f".{SECRETS_FILE}")] == []


def test_a_second_process_keeps_the_first_ones_secrets(tmp_path: Path) -> None:
    """Two workers starting together: whoever links the file first wins, the other reads it."""
    path = tmp_path / SECRETS_FILE
    winner = {"SECRET_KEY": "first", "VERIFY_KEYS": {"a": "first-key"}}
    assert _create_secrets(path, winner) == winner
    assert _create_secrets(path, {"SECRET_KEY": "second", "VERIFY_KEYS": {"a": "second-key"}}) == winner
    assert json.loads(path.read_text()) == winner
    assert sorted(p.name for p in tmp_path.iterdir()) == [SECRETS_FILE]  # no temporary file left


def test_the_environment_wins_over_the_data_folder(
    folder: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = folder()
    write_secrets(data, {"a": "folder-key"})
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    app = create_app(without_secrets(data, ENV="development"))
    assert app.config["SECRET_KEY"] == "from-the-environment"
    assert app.config["VERIFY_KEYS"] == {"a": "folder-key"}  # each secret on its own
    monkeypatch.setenv("VERIFY_KEYS", "a:env-a, b:env-b")
    monkeypatch.setenv("VERIFY_CURRENT_KEY_ID", "B")
    app = create_app(without_secrets(data, ENV="development"))
    assert app.config["VERIFY_KEYS"] == {"a": "env-a", "b": "env-b"}
    assert app.config["VERIFY_CURRENT_KEY_ID"] == "b"  # the spelling VERIFY_KEYS uses
    assert json.loads((data / SECRETS_FILE).read_text())["VERIFY_KEYS"] == {"a": "folder-key"}


def test_lost_secrets_are_not_replaced_beside_signed_codes(folder: Callable[..., Path]) -> None:
    """New keys would never verify the codes already printed: ask for the file back, write nothing."""
    data = folder(seeded=True)
    with pytest.raises(StartupError) as caught:
        create_app(without_secrets(data, ENV="development" if IS_PG else "production"))
    assert str(caught.value) == (
        f"catalogue: No {SECRETS_FILE} in {data}, but stored certificates carry codes of verification key "
        f"id A: restore {SECRETS_FILE} from this data folder's backup (or set VERIFY_KEYS to the keys they "
        "were signed with)."
    )
    assert not (data / SECRETS_FILE).exists()


def test_existing_development_data_keeps_its_key(folder: Callable[..., Path]) -> None:
    """A folder from before secrets.json (only ``.dev-secret``) keeps verifying its codes."""
    data = folder()
    (data / ".dev-secret").write_text("old-dev-secret\n")
    settings = Settings(ENV="development", CATALOGUE_DATA_DIR=data)
    settings.finalise()
    assert settings.SECRET_KEY == "old-dev-secret"
    assert settings.VERIFY_KEYS == {"a": "dev-verify-old-dev-secret"}  # what development signed with
    assert json.loads((data / SECRETS_FILE).read_text())["VERIFY_KEYS"] == settings.VERIFY_KEYS


def test_production_with_a_server_database_takes_secrets_only_from_the_environment(tmp_path: Path) -> None:
    server = {"DATABASE_URL": "postgresql+psycopg2://catalogue@db.internal/catalogue",
              "CATALOGUE_DATA_DIR": str(tmp_path / "data")}  # fmt: skip
    with pytest.raises(ConfigError, match=r"SECRET_KEY and VERIFY_KEYS must be set in the environment"):
        Settings.from_env(server).finalise()
    with pytest.raises(ConfigError, match=r": SECRET_KEY must be set in the environment"):
        Settings.from_env({**server, "VERIFY_KEYS": "a:k"}).finalise()
    with pytest.raises(ConfigError, match=r": VERIFY_KEYS must be set in the environment"):
        Settings.from_env({**server, "SECRET_KEY": "s"}).finalise()
    assert not (tmp_path / "data").exists()  # nothing generated
    settings = Settings.from_env({**server, "SECRET_KEY": "s", "VERIFY_KEYS": "a:k"})
    settings.finalise()
    assert (settings.SECRET_KEY, settings.VERIFY_KEYS) == ("s", {"a": "k"})


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"PORT": "http"}, "PORT='http' is not a whole number"),
        ({"PORT": "70000"}, "PORT=70000 is out of range"),
        ({"CERTIFICATE_VALIDITY_YEARS": "three"}, "CERTIFICATE_VALIDITY_YEARS='three' is not a whole number"),
        ({"VERIFY_KEYS": "a:top-secret,b"}, "VERIFY_KEYS entry 2 is not 'id:secret'"),
        ({"VERIFY_KEYS": "a:top-secret,A:other"}, "VERIFY_KEYS lists key id A twice"),
        ({"VERIFY_KEYS": "ab:top-secret"}, "key id 'ab' must be one letter or digit"),
        ({"VERIFY_KEYS": "a:top-secret", "VERIFY_CURRENT_KEY_ID": "b"},
         "VERIFY_CURRENT_KEY_ID=b names no key in VERIFY_KEYS (keys: a)"),
        ({"VERIFY_CURRENT_KEY_ID": "I"}, "VERIFY_CURRENT_KEY_ID 'I' must be one letter or digit"),
        ({"CATALOGUE_ENV": "prod"}, "CATALOGUE_ENV='prod' is not one of production, development, test"),
    ],
)  # fmt: skip
def test_a_bad_setting_is_one_clear_line(tmp_path: Path, environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"SECRET_KEY": "s", "CATALOGUE_DATA_DIR": str(tmp_path), **environ}).finalise()
    line = str(caught.value)
    assert line.startswith("catalogue: configuration error: ") and message in line, line
    assert "\n" not in line and "top-secret" not in line  # a secret is never echoed


# ----------------------------------------------------------------------------- database


def test_no_database_refuses_and_creates_nothing(tmp_path: Path) -> None:
    data = tmp_path / "nowhere"
    overrides = without_secrets(data, DATABASE_URL="", ENV="production")
    with pytest.raises(DatabaseNotReady, match=re.escape(f"No database in {data}: run `make run`")):
        create_app(overrides)
    assert not data.exists()  # no database file, no secrets file, no folder
    data.mkdir()
    (data / "catalogue.sqlite3").touch()  # what an older command pointed here left behind
    with pytest.raises(DatabaseNotReady, match=r"catalogue.sqlite3 has no schema yet: run `make run`"):
        create_app(overrides)
    assert not (data / SECRETS_FILE).exists()  # secrets are kept only next to a migrated database


def test_key_samples_seeks_one_code_per_key_symbol() -> None:
    from sqlalchemy import create_engine

    engine = create_engine("sqlite://")
    codes = ["0AAA", "0ZZZ", "9AAA", "AAAA", "ABCD", "BAAA", "ZZZZ", ":AAA", "aAAA", "IAAA"]
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE certificate (verify_code VARCHAR(40) UNIQUE)")
        conn.exec_driver_sql("INSERT INTO certificate VALUES (NULL)")
        for code in codes:
            conn.exec_driver_sql("INSERT INTO certificate VALUES (?)", (code,))
        assert key_samples(conn) == {"0": "0AAA", "9": "9AAA", "A": "AAAA", "B": "BAAA", "Z": "ZZZZ"}
    engine.dispose()


def test_key_samples_finds_one_code_per_key_id(seeded_app: Flask) -> None:
    with seeded_app.app_context(), get_engine().connect() as conn:
        samples = key_samples(conn)
        first = conn.exec_driver_sql("SELECT min(verify_code) FROM certificate").scalar()
    assert samples == {"A": first}


# ----------------------------------------------------------------------------- verification keys


def _sign_one_with_b(app: Flask, keys: dict[str, str]) -> str:
    from catalogue.places.services import Provinces
    from catalogue.registry.records import WriteContext, upsert_record
    from catalogue.registry.rows import RecordInput
    from catalogue.vocab import Level, ProductGroup

    with app.app_context(), Session(get_engine(), expire_on_commit=False) as session:
        provinces = Provinces.load(session)
        province = provinces.match("Lào Cai")
        assert province is not None
        record = RecordInput(product="Chè khoá b", producer="HTX khoá b", province=province,
                             level=Level.TINH, group=ProductGroup.CHE_BIEN, year=2024)  # fmt: skip
        ctx = WriteContext(provinces=provinces, validity_years=3, verify_keys=keys, verify_key_id="b")
        code = str(upsert_record(session, record, ctx).certificate.verify_code)
        session.commit()
    return code


def test_refuses_to_start_when_stored_codes_use_an_unconfigured_key(make_app: Callable[..., Flask]) -> None:
    both = {**VERIFY_KEYS, "b": "test-verify-key-b"}
    app = make_app(seeded=True, VERIFY_KEYS=dict(both), VERIFY_CURRENT_KEY_ID="b")
    code = _sign_one_with_b(app, both)
    assert code.startswith("B") and parse_code(code, both) == code
    data = Path(app.config["CATALOGUE_DATA_DIR"])
    with pytest.raises(StartupError) as caught:
        create_app(base_overrides(data))  # VERIFY_KEYS has only a
    assert str(caught.value) == (
        "catalogue: Stored certificates use verification key ids not configured: B (configured: a). "
        "Add them to VERIFY_KEYS."
    )
    restarted = create_app({**base_overrides(data), "VERIFY_KEYS": dict(both)})
    assert restarted.test_client().get(f"/api/v1/verify/{code}").status_code == 200
    with pytest.raises(StartupError, match=r"secret of verification key id B does not verify"):
        create_app({**base_overrides(data), "VERIFY_KEYS": {**VERIFY_KEYS, "b": "another-secret"}})


# ----------------------------------------------------------------------------- real commands


def test_flask_command_prints_one_line_on_a_bad_setting(folder: Callable[..., Path]) -> None:
    done = run([str(BIN / "flask"), "--app", "catalogue", "search", "status"],
               plain_env(folder(), VERIFY_KEYS="a:k", VERIFY_CURRENT_KEY_ID="b"))  # fmt: skip
    assert done.returncode == 1
    assert one_line(done.stderr) == (
        "catalogue: configuration error: VERIFY_CURRENT_KEY_ID=b names no key in VERIFY_KEYS (keys: a)."
    )


def test_flask_command_on_an_empty_data_folder_says_to_run_make_run(tmp_path: Path) -> None:
    data = tmp_path / "data"
    done = run([str(BIN / "flask"), "--app", "catalogue", "user", "create", "--email", "cuc@moit.gov.vn",
                "--role", "ministry"], plain_env(data), stdin=subprocess.DEVNULL)  # fmt: skip
    assert done.returncode == 1
    assert one_line(done.stderr) == (
        f"catalogue: No database in {data}: run `make run` (or `flask --app catalogue db upgrade`) first."
    )
    assert not data.exists()


def test_gunicorn_on_an_empty_data_folder_stops_with_the_reason(tmp_path: Path) -> None:
    data = tmp_path / "data"
    done = run([str(BIN / "gunicorn"), "--workers", "1", "--bind", "127.0.0.1:0", "catalogue:create_app()"],
               plain_env(data))  # fmt: skip
    assert done.returncode == 4  # gunicorn's "App failed to load": it stops instead of respawning workers
    assert "Traceback" not in done.stderr
    assert f"catalogue: No database in {data}: run `make run`" in done.stderr
    assert not data.exists()


def test_the_readme_account_command_works_verbatim(folder: Callable[..., Path]) -> None:
    """After ``make run``, in a plain shell: no CATALOGUE_ENV, secrets from the data folder."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    commands = [
        line.strip()
        for line in readme.splitlines()
        if line.startswith("    .venv/bin/flask --app catalogue user create")
    ]
    assert commands, "the README shows the account command"
    if not (PROJECT_ROOT / ".venv" / "bin" / "flask").exists():
        pytest.skip("no .venv in the project (make creates it)")
    data = folder(seeded=True)
    write_secrets(data, dict(VERIFY_KEYS))  # as `make run` left them; the seed was signed with them
    env = plain_env(data)
    if IS_PG:  # a server database: production takes its secrets from the environment (README)
        env |= {
            "DATABASE_URL": PG_URL,
            "SECRET_KEY": "s",
            "VERIFY_KEYS": ",".join(f"{k}:{v}" for k, v in VERIFY_KEYS.items()),
        }
    for command in commands:
        done = run(["bash", "-c", command], env, input="correct horse 9\ncorrect horse 9\n")
        assert done.returncode == 0, done.stderr
        assert re.match(r"Created province account \S+ for ", done.stdout), done.stdout
