"""Back up and restore, as the README prints it: database, photos and keys come back, and
every printed code still verifies on the restored site."""

from __future__ import annotations

import base64
import io
import json
import stat
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import text

from catalogue import create_app
from catalogue.config import SECRETS_FILE
from catalogue.credentials import keys
from catalogue.db import dispose_engines, get_engine
from tests import seeddata
from tests.conftest import IS_PG, VERIFY_KEYS, fresh_data_folder
from tests.test_config import plain_env, run, write_secrets

pytestmark = pytest.mark.skipif(
    IS_PG, reason="a PostgreSQL database is backed up by pg_dump (README); the files part is the same"
)

FLASK = [".venv/bin/flask", "--app", "catalogue"]
PHOTO = b"\xff\xd8\xff\xe0 a photo's bytes"


def _site(tmp_path: Path, db_templates: dict[str, Path]) -> Path:
    """A seeded data folder as ``make run`` leaves it: database, index, keys and a photo."""
    data = fresh_data_folder(db_templates, tmp_path / "site", seeded=True)
    write_secrets(data, dict(VERIFY_KEYS))
    photo = data / "media" / "photos" / "ab" / "abcdef.jpg"
    photo.parent.mkdir(parents=True)
    photo.write_bytes(PHOTO)
    return data


def test_a_restored_backup_serves_the_same_registry(tmp_path: Path, db_templates: dict[str, Path]) -> None:
    site = _site(tmp_path, db_templates)
    signing_kid = keys.load({"CATALOGUE_DATA_DIR": site, "KEEPS_SECRETS": True}).kid
    archive = tmp_path / "catalogue-backup.tar.gz"
    made = run([*FLASK, "backup", "create", str(archive)], plain_env(site))
    assert made.returncode == 0, made.stderr
    assert "catalogue.sqlite3" in made.stdout and SECRETS_FILE in made.stdout and "media/" in made.stdout
    assert keys.FILE_NAME in made.stdout
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600  # it holds the keys

    restored = tmp_path / "restored"
    done = run([*FLASK, "backup", "restore", str(archive)], plain_env(restored))
    assert done.returncode == 0, done.stderr
    assert f"rebuilt ({seeddata.products()} products)" in done.stdout
    assert (restored / "media" / "photos" / "ab" / "abcdef.jpg").read_bytes() == PHOTO
    assert stat.S_IMODE((restored / SECRETS_FILE).stat().st_mode) == 0o600

    # The restored folder starts on its own keys (no overrides): printed codes still verify.
    app = create_app({"ENV": "test", "CATALOGUE_DATA_DIR": restored, "RATELIMIT_ENABLED": False})
    with app.app_context(), get_engine().connect() as conn:
        codes = list(conn.execute(text("SELECT verify_code FROM certificate ORDER BY id")).scalars())
    assert len(codes) == seeddata.certificates() > 0
    client = app.test_client()
    assert client.get(f"/v/{codes[0]}").status_code == 200
    # ... and credentials are signed with the same key, so those handed out keep verifying.
    credential = client.get(f"/api/v1/verify/{codes[0]}/credential").get_data(as_text=True)
    assert signing_kid in {k["kid"] for k in client.get("/.well-known/jwks.json").get_json()["keys"]}
    header = credential.split(".")[0]
    assert json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"] == signing_kid
    found = client.get("/api/v1/products", query_string={"status": "all"}).get_json()
    assert found["total"] == seeddata.products()  # the index was rebuilt, not copied
    dispose_engines()


def test_restore_refuses_a_folder_that_has_a_database_and_a_foreign_archive(
    tmp_path: Path, db_templates: dict[str, Path]
) -> None:
    site = _site(tmp_path, db_templates)
    archive = tmp_path / "backup.tar.gz"
    assert run([*FLASK, "backup", "create", str(archive)], plain_env(site)).returncode == 0
    before = (site / "catalogue.sqlite3").read_bytes()
    onto_live = run([*FLASK, "backup", "restore", str(archive)], plain_env(site))
    assert onto_live.returncode == 1 and "already holds a database" in onto_live.stderr
    assert "Traceback" not in onto_live.stderr
    assert (site / "catalogue.sqlite3").read_bytes() == before

    hostile = tmp_path / "hostile.tar.gz"
    with tarfile.open(hostile, "w:gz") as tar:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    empty = tmp_path / "empty"
    refused = run([*FLASK, "backup", "restore", str(hostile)], plain_env(empty))
    assert refused.returncode == 1 and "not part of a catalogue backup" in refused.stderr
    assert not (tmp_path / "escape.txt").exists() and not (empty / "catalogue.sqlite3").exists()
