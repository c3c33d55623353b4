"""An upload over the request limit (MAX_CONTENT_LENGTH, 32 MB) is told its real size and the limit,
in the official's language, still with 413 (the body is never read: its declared length is known)."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.fixtures.workspace import csrf_token, signed_in

MB = 1024 * 1024


@pytest.fixture
def official(seeded_app: Flask) -> FlaskClient:
    return signed_in(seeded_app, "laocai@so.gov.vn", "province", "Lào Cai")


def _send(client: FlaskClient, size: int) -> tuple[int, str]:
    token = csrf_token(client, "/admin/imports")
    response = client.post(
        "/admin/imports",
        data={"csrf_token": token, "file": (io.BytesIO(b"a" * size), "danh-sach.csv")},
        content_type="multipart/form-data",
    )
    return response.status_code, response.get_data(as_text=True)


def test_an_upload_over_the_limit_says_its_size_and_the_limit_in_english(official: FlaskClient) -> None:
    official.get("/lang/en?next=/admin/")
    status, page = _send(official, 40 * MB + MB // 5)  # 40.2 MB
    assert status == 413
    assert "File too large" in page
    assert "The file is 40.2 MB; the limit is 32 MB." in page


def test_an_upload_over_the_limit_says_its_size_and_the_limit_in_vietnamese(official: FlaskClient) -> None:
    official.get("/lang/vi?next=/admin/")
    status, page = _send(official, 40 * MB + MB // 5)
    assert status == 413
    # Vietnamese numbers: a decimal comma.
    assert "40,2 MB" in page and "32 MB" in page and "40.2" not in page


def test_just_over_the_limit_never_reads_as_the_limit_itself(official: FlaskClient) -> None:
    official.get("/lang/en?next=/admin/")
    status, page = _send(official, 32 * MB)  # the form's other bytes take it over
    assert status == 413
    assert "The file is 32.1 MB; the limit is 32 MB." in page
