"""Which existing records a typed row names: the one matching rule of the import and the write path.

:func:`match_record` is shared by the dry run (:mod:`catalogue.imports.checking`,
which reports what it finds) and :func:`catalogue.registry.records.upsert_record`
(which writes it), so a row is always matched the same way. Answers are
remembered per session until it writes (the memo), so a file of thousands of
rows does not ask the database the same questions again and again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from catalogue.accounts import permissions
from catalogue.accounts.permissions import Actor
from catalogue.db import get_row, pk
from catalogue.places.services import Provinces
from catalogue.registry import ownership
from catalogue.registry.models import (
    Certificate,
    MergeRecord,
    Producer,
    Product,
    SelectionRound,
    SlugRedirect,
)
from catalogue.registry.rows import RecordInput
from catalogue.text import fold, nfc, slugify
from catalogue.vocab import Level

#: Levels whose rounds and certificates a province's office issues (the others are the ministry's).
LOCAL_LEVELS = {Level.XA, Level.HUYEN, Level.TINH}


def _same_name(model: type[Producer | Product], name: str) -> Any:
    """Rows whose slug shares the name's base slug (then compared folded in Python).

    SQLite's lower() folds only ASCII, so names are compared in Python.
    """
    return select(model).where(model.slug.startswith(slugify(name, 80)))


def _remembered(session: Session, key: tuple[Any, ...], load: Callable[[], list[Any]]) -> list[Any]:
    """``load()``'s rows, remembered for the session until its next flush, commit or rollback.

    A dry run of thousands of rows asks the same questions again and again (same
    round, same name twice per row); the memo is dropped whenever the session
    writes, so a write is always seen.
    """
    memo: dict[tuple[Any, ...], list[Any]] = session.info.setdefault("match_memo", {})
    if key not in memo:
        memo[key] = load()
    return memo[key]


def _forget(session: OrmSession, *_: Any) -> None:
    # The memo, and a staged publish's unwritten rows (catalogue.registry.records.Staging), which are
    # only ever found through it: both last exactly as long.
    for key in ("match_memo", "staged_rows", "staged_slugs", "memo_follows_writes"):
        session.info.pop(key, None)


def _forget_unless_followed(session: OrmSession, *_: Any) -> None:
    if not follows_writes(session):
        _forget(session)


def follows_writes(session: OrmSession) -> bool:
    """Whether the memo outlives flushes (:func:`follow_writes`): the write path then adds its rows to it."""
    return bool(session.info.get("memo_follows_writes"))


def follow_writes(session: Session) -> None:
    """Keep the memo across this session's flushes until it commits or rolls back.

    For a publish, whose only writes are :func:`catalogue.registry.records.upsert_record`'s and which adds
    each new row to the answers that must now include it: thousands of rows no
    longer ask the database the same questions again after every row.
    """
    session.info["memo_follows_writes"] = True


event.listen(OrmSession, "after_flush", _forget_unless_followed)
for _moment in ("after_commit", "after_soft_rollback"):
    event.listen(OrmSession, _moment, _forget)


def named(session: Session, model: type[Producer | Product], name: str) -> list[Any]:
    """Rows of ``model`` with this name (folded); remembered (the write path appends its new rows).

    A name a merged-away record had names the survivor too (an alias), listed after the live
    rows: the callers pick within the row's province, so a same-name record of another
    province does not hide the alias and a later import of the old spelling does not
    recreate the duplicate.
    """
    key = fold(name)

    def load() -> list[Any]:
        rows = [row for row in session.exec(_same_name(model, name)).all() if fold(row.name) == key]
        live = {row.id for row in rows}
        return rows + [row for row in _merged_into(session, model, name) if row.id not in live]

    return _remembered(session, ("named", model, key), load)


def _merged_into(session: Session, model: type[Producer | Product], name: str) -> list[Any]:
    """The records that records once named ``name`` were merged into (merges not undone)."""
    found = session.exec(
        select(MergeRecord.duplicate_name, SlugRedirect.target_id)
        .join(MergeRecord, col(MergeRecord.id) == SlugRedirect.merge_id)
        .where(
            SlugRedirect.kind == model.__tablename__, col(SlugRedirect.old_slug).startswith(slugify(name, 80))
        )
        .order_by(col(SlugRedirect.id).desc())
    ).all()
    targets = dict.fromkeys(target for old, target in found if fold(old) == fold(name))
    return [row for row in (session.get(model, target) for target in targets) if row is not None]


@dataclass
class Match:
    """The existing records a row names, found only within the row's own scope.

    Producers and products match only within the row's current province;
    certificates on number + level + issuing office + year (DESIGN §4). A
    same-name record elsewhere is a different record: it is listed in
    ``elsewhere`` (said in the dry run), never matched.
    """

    producer: Producer | None = None
    product: Product | None = None
    round: SelectionRound | None = None
    certificate: Certificate | None = None
    #: Offices owning a record this row would change although the actor may not.
    conflicts: list[str] = field(default_factory=list)
    #: Same-name producers/products in other provinces, as "name (province)".
    elsewhere: list[tuple[str, str, str]] = field(default_factory=list)


def _find_producer(
    session: Session, provinces: Provinces, name: str, current_id: int | None
) -> Producer | None:
    for candidate in named(session, Producer, name):
        if current_id is not None and provinces.current_id(candidate.province_id) == current_id:
            return candidate
    return None


def _find_product(
    session: Session,
    provinces: Provinces,
    name: str,
    producer: Producer | None,
    producer_named: bool,
    current_id: int | None,
) -> Product | None:
    """The row's product: same name under the same producer, or (no producer named) in the province."""
    for product in named(session, Product, name):
        if producer is not None and product.producer_id == producer.id:
            return product
        if (
            not producer_named
            and product.producer_id is None
            and provinces.current_id(product.province_id) == current_id
        ):
            return product
    return None


def _round_query(rec: RecordInput) -> Any:
    query = select(SelectionRound).where(
        SelectionRound.level == rec.level.value, SelectionRound.year == rec.year
    )
    if rec.level is Level.KHU_VUC:
        query = query.where(SelectionRound.region == (rec.region.value if rec.region else None))
    if rec.level in LOCAL_LEVELS:
        query = query.where(SelectionRound.province_id == rec.province.id)
    if rec.level in {Level.HUYEN, Level.XA}:
        query = query.where(SelectionRound.locality == rec.locality)
    return query.order_by(col(SelectionRound.id))


def round_candidates(session: Session, rec: RecordInput) -> list[SelectionRound]:
    """The rounds :func:`_round_query` finds, remembered under exactly the fields it filters on."""
    key = (
        "round", rec.level, rec.year,
        rec.region if rec.level is Level.KHU_VUC else None,
        rec.province.id if rec.level in LOCAL_LEVELS else None,
        rec.locality if rec.level in {Level.HUYEN, Level.XA} else None,
    )  # fmt: skip
    return _remembered(session, key, lambda: list(session.exec(_round_query(rec)).all()))


def _find_round(session: Session, rec: RecordInput) -> SelectionRound | None:
    """The round a row belongs to; one published under the row's decision first.

    A round is never changed by a row: provenance (decision, source, office)
    belongs to each certificate's own publication.
    """
    candidates = round_candidates(session, rec)
    for r in candidates:
        if rec.decision_number and r.decision_number == rec.decision_number:
            return r
    return candidates[0] if candidates else None


def _find_certificate(
    session: Session,
    provinces: Provinces,
    rec: RecordInput,
    product: Product | None,
    round_: SelectionRound | None,
) -> Certificate | None:
    if rec.certificate_number:
        return certificate_clash(
            session, provinces, number=rec.certificate_number, level=rec.level, year=rec.year,
            province_id=rec.province.id,
        )  # fmt: skip
    # No number (public sources rarely print one): same product in the same round.
    if product is None or round_ is None:
        return None
    certificates = held(session, pk(product), pk(round_))
    return certificates[0] if certificates else None


def held(session: Session, product_id: int, round_id: int) -> list[Certificate]:
    """The product's certificates of the round (remembered; the write path appends its new one)."""
    query = (
        select(Certificate)
        .where(Certificate.product_id == product_id, Certificate.round_id == round_id)
        .order_by(col(Certificate.id))
    )
    return _remembered(session, ("held", product_id, round_id), lambda: list(session.exec(query).all()))


def _numbered_query(numbers: list[str], level: Level | None = None, year: int | None = None) -> Any:
    query = (
        select(Certificate, SelectionRound.province_id, SelectionRound.level, SelectionRound.year)
        .join(SelectionRound, col(SelectionRound.id) == Certificate.round_id)
        .where(col(Certificate.number).in_(numbers))
        .order_by(col(Certificate.id))
    )
    if level is not None:
        query = query.where(SelectionRound.level == level.value, SelectionRound.year == year)
    return query


def numbered(session: Session, number: str, level: Level, year: int) -> list[tuple[Certificate, int | None]]:
    """Certificates with this printed number, level and year, with their round's province (remembered)."""

    def load() -> list[Any]:
        rows = session.exec(_numbered_query([number], level, year)).all()
        return [(cert, province_id) for cert, province_id, _, _ in rows]

    return _remembered(session, ("number", number, level.value, year), load)


def remember_numbers(session: Session, keys: set[tuple[str, Level, int]]) -> None:
    """Load every certificate a file's rows name in a few queries (the dry run's prefetch)."""
    memo: dict[tuple[Any, ...], list[Any]] = session.info.setdefault("match_memo", {})
    found: dict[tuple[Any, ...], list[Any]] = {("number", n, lv.value, y): [] for n, lv, y in keys}
    numbers = sorted({n for n, _, _ in keys})
    for start in range(0, len(numbers), 500):
        for cert, province_id, level, year in session.exec(_numbered_query(numbers[start : start + 500])):
            found.get(("number", cert.number, level, year), []).append((cert, province_id))
    memo.update(found)


def certificate_clash(
    session: Session,
    provinces: Provinces,
    *,
    number: str,
    level: Level,
    year: int,
    province_id: int | None,
    exclude_id: int | None = None,
) -> Certificate | None:
    """The certificate that already holds this key (number + level + issuing office + year)."""
    office = ownership.level_owner(provinces, level, province_id)
    for cert, round_province in numbered(session, nfc(number), level, year):
        same_office = ownership.level_owner(provinces, level, round_province or cert.province_id) == office
        if same_office and cert.id != exclude_id:
            return cert
    return None


def match_record(session: Session, rec: RecordInput, provinces: Provinces, actor: Actor) -> Match:
    """Find what a row names, and which of those records ``actor`` may not change.

    Shared by the dry run (which reports conflicts as row errors and
    ``elsewhere`` as warnings) and :func:`catalogue.registry.records.upsert_record` (which refuses
    them).
    """
    current_id = provinces.current_id(rec.province.id)
    match = Match()
    match.round = _find_round(session, rec)
    if rec.product_id is not None:
        match.product = get_row(session, Product, rec.product_id)
        if match.product is not None and match.product.producer_id is not None:
            match.producer = get_row(session, Producer, match.product.producer_id)
    else:
        if rec.producer:
            match.producer = _find_producer(session, provinces, rec.producer, current_id)
        match.product = _find_product(
            session, provinces, rec.product, match.producer, bool(rec.producer), current_id
        )
    match.certificate = _find_certificate(session, provinces, rec, match.product, match.round)
    if match.certificate is not None:
        holder = get_row(session, Product, match.certificate.product_id)
        if holder is not None and (match.product is None or holder.id != match.product.id):
            # The number is this office's certificate of another product: the row corrects it,
            # so that product is what it changes.
            match.product = holder
    # What the row would change: the certificate always; a provincial row also the
    # product and producer (a ministry row never changes them, see upsert_record).
    local = rec.level in LOCAL_LEVELS
    owners: list[permissions.Owner] = []
    if match.certificate is not None:
        owners.append(ownership.certificate_owner(session, provinces, match.certificate))
    if local and match.product is not None:
        owners.append(ownership.product_owner(session, provinces, match.product))
    if local and match.producer is not None:
        owners.append(ownership.producer_owner(provinces, match.producer))
    for owner in owners:
        if not permissions.may_touch(actor, owner) and owner.label not in match.conflicts:
            match.conflicts.append(owner.label)
    if not local and match.product is not None:
        # A ministry certificate held by another province's product: not this row's product.
        owner = ownership.product_owner(session, provinces, match.product)
        if owner.province_id != current_id:
            match.conflicts.append(owner.label)
    for model, name, found in (
        (Producer, rec.producer, match.producer),
        (Product, rec.product, match.product),
    ):
        if not name:
            continue
        for other in named(session, model, name):
            other_current = provinces.current_id(other.province_id)
            if (found is None or other.id != found.id) and other_current != current_id:
                province = provinces.get(other_current)
                kind = "producer" if model is Producer else "product"
                match.elsewhere.append((kind, other.name, province.short_name if province else "?"))
    return match
