"""Blueprint "opendata": the bulk downloads' page, their data dictionary, and the files themselves.

The files are served as they lie on disk (:mod:`catalogue.opendata.dumps` wrote them in the
background): only names the live manifest lists, so nothing else under the data folder can
be reached, with the file's SHA-256 as its ETag so a mirror asks again cheaply.
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template, send_from_directory
from flask_babel import format_decimal
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from catalogue.opendata import dumps, manifest
from catalogue.opendata.dictionary import DATASETS, KINDS
from catalogue.web import public_cache

bp = Blueprint("opendata", __name__)
bp.after_request(public_cache(60))

#: How long a client may keep a file before asking again (seconds); it then revalidates by ETag.
FILE_MAX_AGE = 300
_UNITS = ("KB", "MB", "GB")


def human_size(size: int) -> str:
    """``1234567`` → "1.2 MB" (English), "1,2 MB" (Vietnamese)."""
    if size < 1024:
        return _("%(num)s bytes", num=format_decimal(size))
    value = float(size)
    for unit in _UNITS:
        value /= 1024
        if value < 1024 or unit == _UNITS[-1]:
            break
    return f"{format_decimal(round(value, 1), format='#,##0.#')} {unit}"


@bp.get("/data/")
def index() -> str:
    live = manifest.load()
    _id, title, url = dumps.licence()
    titles = {"registry": _("The whole registry"), **{d.name: str(d.title) for d in DATASETS}}
    return render_template("opendata/index.html", manifest=live, licence_title=title, licence_url=url,
                           titles=titles, size=human_size)  # fmt: skip


@bp.get("/data/dictionary")
def dictionary() -> str:
    return render_template("opendata/dictionary.html", datasets=DATASETS, kinds=KINDS)


@bp.get("/data/<name>")
def download(name: str) -> Response:
    """A file of the live generation (or its ``manifest.json``); 404 for any other name."""
    folder = manifest.live_folder()
    live = manifest.read(folder) if folder is not None else None
    if folder is None or live is None:
        abort(404)
    if name == manifest.MANIFEST:
        response = send_from_directory(folder, name, mimetype="application/json", max_age=FILE_MAX_AGE)
    else:
        entry = live.file(name)
        if entry is None:
            abort(404)
        response = send_from_directory(
            folder, name, mimetype=entry.media_type, as_attachment=True, download_name=name,
            etag=entry.sha256, max_age=FILE_MAX_AGE,
        )  # fmt: skip
    response.headers["Cache-Control"] = f"public, max-age={FILE_MAX_AGE}"
    response.headers.setdefault("Access-Control-Allow-Origin", "*")
    return response
