"""Writing one generation of the bulk downloads: the whole registry as CSV, XLSX and JSON Lines.

A generation is a folder under ``$CATALOGUE_DATA_DIR/opendata/`` (:mod:`.manifest`). Every
file is written there, then hashed, then ``manifest.json`` is written last and ``CURRENT``
switched to the folder in one rename: a reader sees the old generation or the new one,
never half of one. The previous generation is kept (a download that started from it goes
on), older ones are deleted.

Consistency without a long transaction: the outbox and audit high-water marks and the
change feed's cursor are read *before* the data, so the files are at least as new as
they say; a change committed while the files are written may or may not be in them, and
the next tick (:mod:`.tasks`) sees the higher ids and writes a new generation.

Rows are read in batches (:data:`BATCH` products at a time through the registry's own read
model, :func:`catalogue.registry.catalog.load_summaries`, so status and provinces read as on
the registry's pages) and streamed to the three formats at once.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, Any, TypeVar

from flask import Flask, current_app
from flask_babel import force_locale
from sqlmodel import Session, SQLModel, col, func, select

from catalogue.audit.models import AuditEntry, OutboxEvent
from catalogue.clock import today as clock_today
from catalogue.clock import utcnow
from catalogue.db import get_engine, read_snapshot
from catalogue.fairs.models import Event
from catalogue.opendata import manifest
from catalogue.opendata.changes import cursor_now
from catalogue.opendata.dictionary import (
    CERTIFICATES,
    DATASETS,
    DICTIONARY,
    FAIRS,
    KINDS,
    PRODUCERS,
    PROVINCES,
    ROUNDS,
    Dataset,
)
from catalogue.opendata.manifest import DataFile, Manifest
from catalogue.opendata.workbook import StreamingWorkbook
from catalogue.places.services import Provinces
from catalogue.registry.catalog import load_summaries, verify_url
from catalogue.registry.models import Producer, Product, SelectionRound
from catalogue.registry.record_export import XLSX_MIMETYPE
from catalogue.registry.status import Policy, current_policy
from catalogue.seo import sitemap
from catalogue.text import spreadsheet_cell
from catalogue.web import public_url

#: Products per read (their certificates, producers and rounds come with them).
BATCH = 500
WORKBOOK = "registry.xlsx"
CSV_TYPE = "text/csv"
JSONL_TYPE = "application/gzip"
#: A generation's folder name: when it started (UTC) and a random tail.
GENERATION = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")

Row = dict[str, Any]
_M = TypeVar("_M", bound=SQLModel)


def licence(app: Flask | None = None) -> tuple[str, str, str]:
    """The downloads' licence as ``(id, title, url)``: shown on /data/, in the manifest and the DCAT."""
    cfg = (app or current_app).config
    return (cfg["OPENDATA_LICENCE_ID"], cfg["OPENDATA_LICENCE_TITLE"], cfg["OPENDATA_LICENCE_URL"])


# ----------------------------------------------------------------------------- rows


@dataclass
class _Context:
    """What every row needs, worked out once per generation."""

    session: Session
    provinces: Provinces
    day: date
    policy: Policy
    base: str
    #: endpoint → address with ``__slug__`` in place of the slug.
    patterns: dict[str, str]

    def url(self, endpoint: str, slug: str) -> str:
        return self.patterns[endpoint].replace("__slug__", slug)

    def places(self, province_id: int | None) -> Row:
        """The three province columns of a record printed with ``province_id``."""
        printed = self.provinces.get(province_id)
        now = self.provinces.current_of(printed)
        return {
            "province_as_printed": printed.short_name if printed else None,
            "province_now": now.name if now else None,
            "province_now_slug": now.slug if now else None,
        }


def _batched(session: Session, model: type[_M]) -> Iterator[_M]:
    """Every row of ``model`` in id order, :data:`BATCH` at a time (keyset, not offset)."""
    ident = model.id  # type: ignore[attr-defined]
    last = 0
    while True:
        rows = list(session.exec(select(model).where(ident > last).order_by(ident).limit(BATCH)).all())
        if not rows:
            return
        yield from rows
        last = rows[-1].id  # type: ignore[attr-defined]
        session.expunge_all()


def _certificates(ctx: _Context) -> Iterator[Row]:
    ids = [i for i in ctx.session.exec(select(Product.id).order_by(col(Product.id))).all() if i is not None]
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        for s in load_summaries(ctx.session, chunk, ctx.provinces, ctx.day, ctx.policy):
            product, producer = s.product, s.producer
            product_url = ctx.url("public.product", product.slug)
            for view in sorted(s.certificates, key=lambda v: v.cert.id or 0):
                cert, standing = view.cert, view.standing
                assert standing is not None, "certificate_views always derives the standing"
                yield {
                    "certificate_id": cert.id, "product_id": product.id, "producer_id": product.producer_id,
                    "round_id": cert.round_id, "certificate_number": cert.number, "level": view.level.value,
                    "region": view.region.value if view.region else None, "year": view.year,
                    "round": view.round.slug, "issued_on": cert.issued_on, "expires_on": standing.expires_on,
                    "expiry_basis": standing.basis.value, "status": standing.status.value,
                    "status_as_of": ctx.day, "revoked_on": cert.revoked_on,
                    "revoked_reason": cert.revoked_reason if cert.revoked_on else None,
                    **ctx.places(cert.province_id),
                    "product_name": product.name, "product_group": product.group,
                    "product_is_set": product.is_set, "product_locality": product.locality,
                    "product_url": product_url, "gtins": " ".join(s.gtins) or None,
                    "producer_name": producer.name if producer else None,
                    "decision": cert.decision_number, "decision_date": cert.decision_date,
                    "office": cert.office, "source": cert.source, "source_note": cert.source_note,
                    "verify_url": verify_url(ctx.base, cert.verify_code),
                }  # fmt: skip
        ctx.session.expunge_all()


def _producers(ctx: _Context) -> Iterator[Row]:
    for p in _batched(ctx.session, Producer):
        public = p.contacts_public
        yield {
            "producer_id": p.id, "slug": p.slug, "name": p.name, "kind": p.kind,
            "kind_as_printed": p.kind_as_printed, "address": p.address, "commune": p.commune,
            **ctx.places(p.province_id),
            "phone": p.phone if public else None, "email": p.email if public else None,
            "website": p.website if public else None, "source": p.source,
            "url": ctx.url("public.producer", p.slug),
        }  # fmt: skip


def _rounds(ctx: _Context) -> Iterator[Row]:
    for r in _batched(ctx.session, SelectionRound):
        yield {
            "round_id": r.id, "slug": r.slug, "level": r.level, "region": r.region, "year": r.year,
            **ctx.places(r.province_id),
            "locality": r.locality, "edition": r.edition, "organiser": r.organiser,
            "issuing_authority": r.issuing_authority, "decision": r.decision_number,
            "decision_date": r.decision_date, "fair_id": r.ceremony_event_id, "source": r.source,
            "url": ctx.url("public.round_", r.slug),
        }  # fmt: skip


def _fairs(ctx: _Context) -> Iterator[Row]:
    for e in _batched(ctx.session, Event):
        yield {
            "fair_id": e.id, "slug": e.slug, "kind": e.kind, "name": e.name, "start_date": e.start_date,
            "end_date": e.end_date, "opening_hours": e.opening_hours, "venue": e.venue,
            **ctx.places(e.province_id),
            "organiser": e.organiser, "booths": e.booths, "source": e.source,
            "url": ctx.url("fairs.event", e.slug),
        }  # fmt: skip


def _provinces(ctx: _Context) -> Iterator[Row]:
    for p in sorted(ctx.provinces.rows, key=lambda p: (not p.is_current, p.code or "", p.id or 0)):
        became = None if p.is_current else ctx.provinces.current_of(p)
        yield {
            "province_id": p.id, "slug": p.slug, "name": p.name, "short_name": p.short_name, "kind": p.kind,
            "code": p.code, "region": p.region, "valid_from": p.valid_from, "valid_to": p.valid_to,
            "is_current": p.is_current, "became_part_of_id": became.id if became else None,
            "became_part_of": became.name if became else None,
            "became_part_of_slug": became.slug if became else None,
        }  # fmt: skip


def dictionary_rows() -> Iterator[Row]:
    """Every column of every dataset with its meaning in both languages."""
    for d in DATASETS:
        for c in d.columns:
            with force_locale("vi"):
                vi = str(c.meaning)
            with force_locale("en"):
                en = str(c.meaning)
            yield {"dataset": d.name, "column": c.name, "type": c.kind, "meaning_vi": vi, "meaning_en": en}


def _dictionary(ctx: _Context) -> Iterator[Row]:
    return dictionary_rows()


_ROWS: dict[str, Callable[[_Context], Iterator[Row]]] = {
    CERTIFICATES.name: _certificates,
    PRODUCERS.name: _producers,
    ROUNDS.name: _rounds,
    FAIRS.name: _fairs,
    PROVINCES.name: _provinces,
    DICTIONARY.name: _dictionary,
}
assert set(_ROWS) == {d.name for d in DATASETS}, "every dataset has its rows"
assert set(KINDS) >= {c.kind for d in DATASETS for c in d.columns}, "every column's type is explained"


# ----------------------------------------------------------------------------- cells


def _csv_cell(value: Any) -> str:
    """CSV text: ISO dates, ``true``/``false``, and text a spreadsheet would run as a formula neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    return spreadsheet_cell(value)


def _xlsx_cell(value: Any) -> Any:
    """Values as they are: the workbook writes text as text, never as a formula (``strings_to_formulas``
    off), so a phone number like ``+84…`` keeps its first character."""
    return value


def _json_default(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class _Sinks:
    """One dataset's three outputs, written row by row."""

    def __init__(self, folder: Path, book: StreamingWorkbook, dataset: Dataset) -> None:
        self.dataset, self.rows = dataset, 0
        self.csv_file: IO[str] = open(folder / f"{dataset.name}.csv", "w", encoding="utf-8-sig", newline="")
        self.csv = csv.writer(self.csv_file, lineterminator="\r\n")
        self.raw = open(folder / f"{dataset.name}.jsonl.gz", "wb")
        # mtime=0: the same rows make the same bytes, so an unchanged file keeps its SHA-256.
        self.gz = gzip.GzipFile(filename=f"{dataset.name}.jsonl", mode="wb", fileobj=self.raw, mtime=0)
        self.jsonl = io.TextIOWrapper(self.gz, encoding="utf-8", newline="\n")
        self.sheet = book.add_sheet(dataset.name, len(dataset.columns))
        self.csv.writerow(dataset.names)
        self.sheet.append(dataset.names, bold=True)

    def write(self, row: Row) -> None:
        values = [row[name] for name in self.dataset.names]
        self.csv.writerow([_csv_cell(v) for v in values])
        self.sheet.append([_xlsx_cell(v) for v in values])
        self.jsonl.write(json.dumps(dict(zip(self.dataset.names, values, strict=True)), ensure_ascii=False,
                                    default=_json_default) + "\n")  # fmt: skip
        self.rows += 1

    def close(self) -> None:
        self.csv_file.close()
        self.sheet.close()
        self.jsonl.close()  # closes the gzip stream, which closes nothing else
        self.raw.close()


# ----------------------------------------------------------------------------- files


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _describe(folder: Path, name: str, dataset: str, fmt: str, media_type: str, rows: int) -> DataFile:
    path = folder / name
    return DataFile(name=name, dataset=dataset, format=fmt, media_type=media_type,
                    bytes=path.stat().st_size, sha256=_sha256(path), rows=rows)  # fmt: skip


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


#: Audit entries about what the files hold (an account, an upload or a label run changes nothing in them).
FILED_ENTITIES = (
    "certificate", "product", "producer", "selection_round", "event", "photo", "validity_policy",
    "revocation_decision",
)  # fmt: skip


def highs(session: Session) -> tuple[int, int]:
    """The newest search outbox and audit ids: a generation that saw these has every change so far."""
    outbox = session.exec(select(func.max(OutboxEvent.id))).one()
    filed = col(AuditEntry.entity_type).in_(FILED_ENTITIES)
    audit = session.exec(select(func.max(AuditEntry.id)).where(filed)).one()
    return int(outbox or 0), int(audit or 0)


def _url_patterns() -> dict[str, str]:
    endpoints = ("public.product", "public.producer", "public.round_", "fairs.event")
    return {endpoint: public_url(endpoint, slug="__slug__") for endpoint in endpoints}


def build(app: Flask) -> Manifest:
    """Write a complete new generation and make it the live one; the caller holds the writer's lock
    (:func:`catalogue.opendata.tasks.regenerate`). Returns its manifest."""
    base = app.config["PUBLIC_BASE_URL"].rstrip("/")
    root = manifest.root(app)
    root.mkdir(parents=True, exist_ok=True)
    previous = manifest.live_folder(app)
    started = utcnow()
    name = f"{started:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    folder = root / name
    folder.mkdir()
    try:
        # A request context on the public address: links in the files name it, never a request's host.
        with app.test_request_context("/", base_url=base), Session(get_engine(), expire_on_commit=False) as s:
            read_snapshot(s)  # the files, their highs and the feed's cursor: one moment
            outbox_high, audit_high = highs(s)
            cursor = cursor_now(s)
            ctx = _Context(session=s, provinces=Provinces.load(s), day=clock_today(),
                           policy=current_policy(s), base=base, patterns=_url_patterns())  # fmt: skip
            files = _write_files(ctx, folder)
            sitemap.write(app, s, folder / sitemap.FOLDER)  # from the same snapshot, served as files
        _, _, licence_url = licence(app)
        result = Manifest(generated_at=started, changes_cursor=cursor, files=files,
                          outbox_high=outbox_high, audit_high=audit_high, licence=licence_url)  # fmt: skip
        _write_atomic(folder / manifest.MANIFEST, result.to_json())
        _write_atomic(root / manifest.CURRENT, name + "\n")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    _prune(root, keep={name, previous.name if previous else ""})
    return result


def _write_files(ctx: _Context, folder: Path) -> list[DataFile]:
    files: list[DataFile] = []
    total = 0
    with StreamingWorkbook(folder / WORKBOOK, datetime.combine(ctx.day, time())) as book:
        for dataset in DATASETS:
            sinks = _Sinks(folder, book, dataset)
            try:
                for row in _ROWS[dataset.name](ctx):
                    sinks.write(row)
            finally:
                sinks.close()
            total += sinks.rows
            files.append(_describe(folder, f"{dataset.name}.csv", dataset.name, "CSV", CSV_TYPE, sinks.rows))
            files.append(_describe(folder, f"{dataset.name}.jsonl.gz", dataset.name, "JSONL", JSONL_TYPE,
                                   sinks.rows))  # fmt: skip
    files.insert(0, _describe(folder, WORKBOOK, "registry", "XLSX", XLSX_MIMETYPE, total))
    return files


def _prune(root: Path, keep: set[str]) -> None:
    """Delete every generation but ``keep`` (the live one and the one before, still being downloaded)."""
    for entry in root.iterdir():
        if entry.is_dir() and GENERATION.fullmatch(entry.name) and entry.name not in keep:
            shutil.rmtree(entry, ignore_errors=True)
