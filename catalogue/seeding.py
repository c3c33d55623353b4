"""Load the real demo data in ``seed/`` (drawn from public sources; see seed/README.md).

Products go through the same row parser and write path as officials' imports,
so seeding follows the production path. Running it again changes nothing.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlmodel import Session, select

from catalogue.config import PROJECT_ROOT
from catalogue.fairs.models import Event
from catalogue.places.models import Province
from catalogue.places.services import Provinces
from catalogue.registry.models import SelectionRound
from catalogue.registry.records import WriteContext, upsert_record
from catalogue.registry.rows import header_field, parse_date, parse_row
from catalogue.text import nfc, place_key, slugify
from catalogue.vocab import EventKind, Level, parse_level, parse_region

SEED_DIR = PROJECT_ROOT / "seed"
REFORM_START = date(2025, 7, 1)
REFORM_END = date(2025, 6, 30)
_CITY_NAMES = {"ha noi", "hai phong", "da nang", "ho chi minh", "can tho"}
_REGIONS = {"phia bac": "phia_bac", "mien trung tay nguyen": "mien_trung_tay_nguyen", "phia nam": "phia_nam"}


@dataclass
class SeedReport:
    provinces: int = 0
    events: int = 0
    rows: int = 0
    created: int = 0
    changed: int = 0


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [{k: nfc(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def seed_provinces(session: Session, path: Path | None = None) -> int:
    """The 34 current units (QĐ 19/2025 codes) and the 63 pre-2025 units mapped to them."""
    rows = _read_csv(path or SEED_DIR / "provinces_2025.csv")
    existing = {p.slug: p for p in session.exec(select(Province)).all()}
    count = 0
    for row in rows:
        full = row["new_name"]
        short = full.removeprefix("Thành phố ").removeprefix("Tỉnh ")
        kind = "thanh_pho" if full.startswith("Thành phố") else "tinh"
        region = _REGIONS.get(place_key(row.get("region", "")).replace("  ", " "))
        slug = slugify(short)
        current = existing.get(slug)
        if current is None:
            current = Province(slug=slug, name=full, short_name=short, kind=kind,
                               code=row["new_code"], valid_from=REFORM_START, region=region)  # fmt: skip
            session.add(current)
            session.flush()
            existing[slug] = current
            count += 1
        for old in row["old_names"].split(";"):
            old = old.strip()
            old_slug = slugify(old) + "-truoc-2025"
            if old_slug in existing:
                continue
            old_kind = "thanh_pho" if place_key(old) in _CITY_NAMES else "tinh"
            prefix = "Thành phố " if old_kind == "thanh_pho" else "Tỉnh "
            session.add(Province(slug=old_slug, name=prefix + old, short_name=old, kind=old_kind,
                                 valid_to=REFORM_END, successor_id=current.id))  # fmt: skip
            existing[old_slug] = current
            count += 1
    session.flush()
    return count


def seed_events(session: Session, provinces: Provinces, path: Path | None = None) -> int:
    """Fairs and showrooms as published; unknown dates stay unknown."""
    count = 0
    for row in _read_csv(path or SEED_DIR / "events.csv"):
        slug = slugify(row["name"], 100)
        if session.exec(select(Event.id).where(Event.slug == slug)).first() is not None:
            continue
        start = parse_date(row["start_date"] or None)
        province = provinces.match(row["province"], start or REFORM_END)
        session.add(Event(
            slug=slug, kind=EventKind(row["kind"]).value, name=row["name"],
            start_date=start, end_date=parse_date(row["end_date"] or None),
            venue=row["venue"] or None, province_id=province.id if province else None,
            organiser=row["organiser"] or None, booths=row["booths"] or None,
            source=row["source"] or None,
        ))  # fmt: skip
        count += 1
    session.flush()
    return count


def seed_products(
    session: Session,
    ctx: WriteContext,
    path: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[int, int, int]:
    rows = _read_csv(path or SEED_DIR / "certified_products.csv")
    created = changed = 0
    for n, raw in enumerate(rows, start=1):
        fields = {key: v for k, v in raw.items() if (key := header_field(k))}
        rec, errors, _ = parse_row(fields, ctx.provinces, require_number=False, require_producer=False)
        if rec is None:
            raise ValueError(f"seed row {n + 1}: " + "; ".join(map(str, errors)))
        result = upsert_record(session, rec, ctx)
        created += result.created
        changed += result.changed
        if progress:
            progress(n, len(rows))
    return len(rows), created, changed


def seed_rounds(session: Session, provinces: Provinces, path: Path | None = None) -> None:
    """Round facts the product rows do not carry: edition, decision, ceremony."""
    for row in _read_csv(path or SEED_DIR / "rounds.csv"):
        level, _ = parse_level(row["level"])
        assert level is not None
        query = select(SelectionRound).where(
            SelectionRound.level == level.value, SelectionRound.year == int(row["year"])
        )
        if level is Level.KHU_VUC:
            region = parse_region(row["region"])
            query = query.where(SelectionRound.region == (region.value if region else None))
        if row["province"]:
            province = provinces.match(row["province"], date(int(row["year"]), 6, 30))
            query = query.where(SelectionRound.province_id == (province.id if province else None))
        for round_ in session.exec(query).all():
            event_id = None
            if row["ceremony_event"]:
                event_id = session.exec(
                    select(Event.id).where(Event.slug == slugify(row["ceremony_event"], 100))
                ).first()
            round_.edition = row["edition"] or round_.edition
            round_.organiser = row["organiser"] or round_.organiser
            round_.issuing_authority = row["issuing_authority"] or round_.issuing_authority
            round_.decision_number = row["decision"] or round_.decision_number
            round_.decision_date = parse_date(row["decision_date"] or None) or round_.decision_date
            round_.ceremony_event_id = event_id or round_.ceremony_event_id
            round_.source = row["source"] or round_.source
    session.flush()


def seed_all(
    session: Session,
    *,
    validity_years: int,
    verify_keys: dict[str, str],
    verify_key_id: str,
    progress: Callable[[int, int], None] | None = None,
) -> SeedReport:
    """Load everything in one transaction (the caller commits)."""
    report = SeedReport()
    report.provinces = seed_provinces(session)
    provinces = Provinces.load(session)
    report.events = seed_events(session, provinces)
    ctx = WriteContext(provinces=provinces, validity_years=validity_years,
                       verify_keys=verify_keys, verify_key_id=verify_key_id,
                       actor_label="seed")  # fmt: skip
    report.rows, report.created, report.changed = seed_products(session, ctx, progress=progress)
    seed_rounds(session, provinces)
    return report
