"""What the current bulk download holds: ``manifest.json`` beside the files.

The dump writer (:mod:`catalogue.opendata.dumps`) saves it last, after every file of a
generation is complete; the ``/data/`` page, the DCAT catalogue and the change feed read it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask, current_app

#: Under ``CATALOGUE_DATA_DIR``: one folder per generation, ``CURRENT`` names the live one.
FOLDER = "opendata"
CURRENT = "CURRENT"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class DataFile:
    """One downloadable file."""

    name: str  #: file name under /data/, e.g. "certificates.csv"
    dataset: str  #: "certificates", "producers", "rounds", "fairs", "provinces", "registry" (the workbook)
    format: str  #: "CSV", "XLSX", "JSONL"
    media_type: str  #: e.g. "text/csv", "application/gzip"
    bytes: int
    sha256: str
    rows: int  #: data rows (all sheets for the workbook)


@dataclass(frozen=True)
class Manifest:
    generated_at: datetime  #: UTC, when the generation read the database
    #: The change feed's cursor at that moment: a mirror loads the files, then follows
    #: ``/api/v1/changes?since=<changes_cursor>``.
    changes_cursor: str
    files: list[DataFile] = field(default_factory=list)
    #: What the generation had applied: the highest outbox and audit ids it saw.
    outbox_high: int = 0
    audit_high: int = 0
    #: The licence's URL (``OPENDATA_LICENCE_URL`` when the files were written).
    licence: str = ""

    def to_json(self) -> str:
        data = asdict(self)
        data["generated_at"] = self.generated_at.isoformat()
        return json.dumps(data, ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, raw: str | bytes) -> Manifest:
        data: dict[str, Any] = json.loads(raw)
        return cls(
            generated_at=datetime.fromisoformat(data["generated_at"]),
            changes_cursor=str(data["changes_cursor"]),
            files=[DataFile(**f) for f in data["files"]],
            outbox_high=int(data.get("outbox_high", 0)),
            audit_high=int(data.get("audit_high", 0)),
            licence=str(data.get("licence", "")),
        )

    def file(self, name: str) -> DataFile | None:
        return next((f for f in self.files if f.name == name), None)


def root(app: Flask | None = None) -> Path:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    return Path(app.config["SETTINGS"].CATALOGUE_DATA_DIR) / FOLDER


def live_folder(app: Flask | None = None) -> Path | None:
    """The folder of the live generation, or None before the first one is complete."""
    base = root(app)
    try:
        name = (base / CURRENT).read_text(encoding="ascii").strip()
    except OSError:
        return None
    folder = base / name
    return folder if name and (folder / MANIFEST).is_file() else None


def load(app: Flask | None = None) -> Manifest | None:
    """The live generation's manifest (None before the first dump)."""
    folder = live_folder(app)
    return read(folder) if folder is not None else None


def read(folder: Path) -> Manifest | None:
    """The manifest of one generation: a download reads it from the folder it serves from, so the
    file and its SHA-256 always belong together while ``CURRENT`` switches."""
    try:
        return Manifest.from_json((folder / MANIFEST).read_bytes())
    except (OSError, ValueError, KeyError, TypeError):
        return None
