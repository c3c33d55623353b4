"""The workspace's records list: which certificates an official's filter matches, in their scope.

One query serves the page, its export and the "all matching" choice of a revocation
decision (:func:`matching_ids`), so all three see the same rows. A row is a
certificate; a product with no certificate yet is a row of its own while no
certificate-only filter (status, level, year, round) is set, or when the status
filter asks for exactly those. Status is never stored: the filter is the registry's
one rule in SQL (:func:`catalogue.registry.status.valid_sql`) on the day of the
request, and the rows shown get their :class:`~catalogue.registry.status.Standing`
in Python from the same policy.

Scope: a provincial official sees the records printed under their current province
or any of its pre-2025 units (a certificate's printed province, else its product's);
the ministry sees every province and may filter by one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, or_, true
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from catalogue.accounts import permissions
from catalogue.accounts.permissions import Actor, SystemActor
from catalogue.clock import today as clock_today
from catalogue.paging import Pager, page_number, positive_int
from catalogue.places.models import Province
from catalogue.places.services import Provinces
from catalogue.registry.models import Certificate, Producer, Product, SelectionRound
from catalogue.registry.status import (
    Policy,
    Standing,
    certificate_standing,
    current_policy,
    revoked_sql,
    valid_sql,
)
from catalogue.text import fold, nfc
from catalogue.vocab import CertificateStatus, Level

#: Status filter values and their labels: the rule's three statuses, the assumed-validity part
#: of "expired", and products not yet certified.
STATUS_LABELS = (
    ("valid", _l("Valid")),
    ("expired", _l("Expired (printed or assumed expiry)")),
    ("lapsed", _l("Past standard validity only (no printed expiry)")),
    ("revoked", _l("Revoked")),
    ("none", _l("No certificate yet")),
)
STATUSES = tuple(value for value, _label in STATUS_LABELS)
#: Sort orders and their labels; the first is the default.
SORT_LABELS = (
    ("changed", _l("Recently changed")),
    ("product", _l("Product name")),
    ("year", _l("Year (newest first)")),
    ("level", _l("Level (highest first)")),
    ("number", _l("Certificate number")),
)
SORTS = tuple(value for value, _label in SORT_LABELS)
PER_PAGE = 50
#: Rows in one export (the filter's whole result up to this many), made in the request: 10,000
#: rows of XLSX took about 6 s (2 cores), so half that. The whole registry is open data's to give.
EXPORT_LIMIT = 5_000
#: Longest text query read.
MAX_Q = 100
#: Words of a text query used (the rest are ignored).
MAX_WORDS = 8
_NON_SLUG = re.compile(r"[^a-z0-9]+")
_RANK = {lv.value: lv.rank for lv in Level}


@dataclass(frozen=True)
class RecordFilter:
    """What the official asked for (a URL's query string, read leniently)."""

    status: str | None = None
    level: str | None = None
    year: int | None = None
    round_id: int | None = None
    producer_id: int | None = None
    q: str = ""
    sort: str = SORTS[0]
    page: int = 1
    #: A current province (the ministry only; ignored for a provincial official).
    province_id: int | None = None

    @property
    def certificate_only(self) -> bool:
        """Whether a filter only certificates can match is set (products without one drop out)."""
        return bool((self.status and self.status != "none") or self.level or self.year or self.round_id)

    @property
    def narrowed(self) -> bool:
        """Whether anything but sort and page is set."""
        return any(getattr(self, f.name) for f in fields(self) if f.name not in ("sort", "page"))


def _choice(raw: object, allowed: tuple[str, ...] | list[str]) -> str | None:
    text = "" if raw is None else str(raw).strip()
    return text if text in allowed else None


def parse_filter(args: Mapping[str, str]) -> RecordFilter:
    """Read a query string; unknown or malformed values are dropped, never an error."""
    year = positive_int(args.get("year"))
    return RecordFilter(
        status=_choice(args.get("status"), STATUSES),
        level=_choice(args.get("level"), [lv.value for lv in Level]),
        year=year if year is not None and 1900 <= year <= 2100 else None,
        round_id=positive_int(args.get("round")),
        producer_id=positive_int(args.get("producer")),
        q=nfc(args.get("q") or "")[:MAX_Q],
        sort=_choice(args.get("sort"), SORTS) or SORTS[0],
        page=page_number(args.get("page")),
        province_id=positive_int(args.get("province")),
    )


def filter_args(flt: RecordFilter, *, page: bool = False) -> dict[str, str]:
    """The query-string parameters that reproduce ``flt`` (for links; the page only when asked)."""
    out = {
        "status": flt.status or "",
        "level": flt.level or "",
        "year": str(flt.year or ""),
        "round": str(flt.round_id or ""),
        "producer": str(flt.producer_id or ""),
        "province": str(flt.province_id or ""),
        "q": flt.q,
        "sort": flt.sort if flt.sort != SORTS[0] else "",
        "page": str(flt.page) if page and flt.page > 1 else "",
    }
    return {k: v for k, v in out.items() if v}


# ----------------------------------------------------------------------------- the query


def _scope_ids(session: Session, actor: Actor, flt: RecordFilter) -> set[int] | None:
    """Province ids the rows must be printed under; None for every province."""
    provinces = Provinces.load(session)
    home = permissions.province_scope(actor)
    if isinstance(actor, SystemActor) or (actor is not None and home is None):
        chosen = provinces.get(flt.province_id)
        if chosen is None or not chosen.is_current:
            return None
        return provinces.member_ids(chosen)
    current = provinces.get(home)
    return provinces.member_ids(current) if current is not None else set()


def _allowed(actor: Actor) -> bool:
    return isinstance(actor, SystemActor) or permissions.can(actor, "use_workspace")


def _word(word: str) -> Any:
    """Product name, producer name or certificate number contains ``word`` (with or without diacritics)."""
    key = _NON_SLUG.sub("-", fold(word)).strip("-")
    lowered = word.lower()
    tests = [
        func.lower(col(Product.name)).contains(lowered, autoescape=True),
        func.lower(col(Producer.name)).contains(lowered, autoescape=True),
        func.lower(col(Certificate.number)).contains(lowered, autoescape=True),
    ]
    if key:
        tests += [
            col(Product.slug).contains(key, autoescape=True),
            col(Producer.slug).contains(key, autoescape=True),
            func.lower(col(Certificate.number)).contains(fold(word), autoescape=True),
        ]
    return or_(*tests)


def _text(q: str) -> Any:
    """Every word of ``q`` is found (in any of the three), in any order."""
    return and_(*(_word(word) for word in q.split()[:MAX_WORDS]))


def _status(status: str, day: date, policy: Policy) -> Any:
    """The status rule for one filter value (SQL); the caller joins round and certificate."""
    if status == "none":
        return col(Certificate.id).is_(None)
    revoked = revoked_sql(day)
    if status == "revoked":
        return revoked
    valid = valid_sql(day, policy)
    if status == "valid":
        return valid
    # Not valid and not revoked; a NULL from the rule (unknown dates) counts as not valid.
    not_valid = case((valid, 1), else_=0) == 0
    expired = and_(col(Certificate.id).is_not(None), ~revoked, not_valid)
    if status == "lapsed":  # expired only by the registry's assumed validity
        return and_(expired, col(Certificate.expires_on).is_(None))
    return expired


def _query(session: Session, actor: Actor, flt: RecordFilter, day: date, policy: Policy) -> Any:
    """Rows (product, certificate or None, round or None, producer or None) matching ``flt``, unordered."""
    query = (
        select(Product, Certificate, SelectionRound, Producer)
        .select_from(Product)
        .outerjoin(Certificate, col(Certificate.product_id) == Product.id)
        .outerjoin(SelectionRound, col(SelectionRound.id) == Certificate.round_id)
        .outerjoin(Producer, col(Producer.id) == Product.producer_id)
    )
    scope = _scope_ids(session, actor, flt)
    if scope is not None:
        printed = func.coalesce(col(Certificate.province_id), col(Product.province_id))
        query = query.where(printed.in_(scope or {-1}))
    if flt.certificate_only:
        query = query.where(col(Certificate.id).is_not(None))
    if flt.status:
        query = query.where(_status(flt.status, day, policy))
    if flt.level:
        query = query.where(SelectionRound.level == flt.level)
    if flt.year:
        query = query.where(SelectionRound.year == flt.year)
    if flt.round_id:
        query = query.where(Certificate.round_id == flt.round_id)
    if flt.producer_id:
        query = query.where(Product.producer_id == flt.producer_id)
    if flt.q:
        query = query.where(_text(flt.q))
    return query


def _last(column: Any) -> Any:
    """Rows without this value go last, on every database."""
    return case((column.is_(None), 1), else_=0)


def _ordered(query: Any, sort: str) -> Any:
    tie = (col(Product.id).desc(), col(Certificate.id).desc())
    if sort == "product":
        return query.order_by(
            col(Product.slug), _last(SelectionRound.year), col(SelectionRound.year).desc(), *tie
        )
    if sort == "year":
        return query.order_by(
            _last(SelectionRound.year), col(SelectionRound.year).desc(), col(Product.slug), *tie
        )
    if sort == "level":
        rank = case(_RANK, value=col(SelectionRound.level), else_=0)
        return query.order_by(rank.desc(), col(SelectionRound.year).desc(), col(Product.slug), *tie)
    if sort == "number":
        return query.order_by(_last(Certificate.number), col(Certificate.number), *tie)
    changed = func.coalesce(col(Certificate.updated_at), col(Product.updated_at))
    return query.order_by(changed.desc(), col(Product.updated_at).desc(), *tie)


def count(
    session: Session, actor: Actor, flt: RecordFilter, day: date | None = None, *, certificates: bool = False
) -> int:
    """How many rows ``flt`` matches in the actor's scope (with ``certificates``, only certificate rows)."""
    if not _allowed(actor):
        return 0
    day = day or clock_today()
    query = _query(session, actor, flt, day, current_policy(session))
    if certificates:
        query = query.where(col(Certificate.id).is_not(None))
    return int(session.exec(query.with_only_columns(func.count())).one()[0])


def matching_ids(session: Session, actor: Actor, flt: RecordFilter) -> list[int]:
    """Every certificate ``flt`` matches in the actor's scope, in the list's order (no paging)."""
    if not _allowed(actor):
        return []
    day = clock_today()
    query = _ordered(_query(session, actor, replace(flt, page=1), day, current_policy(session)), flt.sort)
    query = query.where(col(Certificate.id).is_not(None))
    return [int(row[0]) for row in session.exec(query.with_only_columns(col(Certificate.id))).all()]


# ----------------------------------------------------------------------------- rows


@dataclass
class RecordRow:
    """One line of the list: a certificate with its product, or a product without one."""

    product: Product
    producer: Producer | None
    certificate: Certificate | None
    round: SelectionRound | None
    level: Level | None
    province: Province | None
    current_province: Province | None
    standing: Standing | None

    @property
    def year(self) -> int | None:
        return self.round.year if self.round else None

    @property
    def status(self) -> CertificateStatus | None:
        return self.standing.status if self.standing else None

    @property
    def cert(self) -> Certificate | None:
        """The certificate under the name the status macros read (``macros/status.html``)."""
        return self.certificate


@dataclass
class Found(Pager):
    """One page of rows out of ``total`` matches."""

    rows: list[RecordRow] = field(default_factory=list)


def _rows(session: Session, raw: Any, day: date, policy: Policy) -> list[RecordRow]:
    provinces = Provinces.load(session)
    out = []
    for product, cert, round_, producer in raw:
        province = provinces.get(cert.province_id if cert and cert.province_id else product.province_id)
        standing = (
            certificate_standing(cert, round_.level, round_.year, policy, day) if cert and round_ else None
        )
        try:
            level = Level(round_.level) if round_ else None
        except ValueError:
            level = None
        out.append(RecordRow(
            product=product, producer=producer, certificate=cert, round=round_, level=level,
            province=province, current_province=provinces.current_of(province), standing=standing,
        ))  # fmt: skip
    return out


def find(session: Session, actor: Actor, flt: RecordFilter, per_page: int = PER_PAGE) -> Found:
    """The page ``flt`` asks for (a page past the end is the last one)."""
    day = clock_today()
    total = count(session, actor, flt, day)
    pager = Pager.clamped(flt.page, total, per_page)
    if not total:
        return Found(pager.number, 0, per_page)
    policy = current_policy(session)
    query = _ordered(_query(session, actor, flt, day, policy), flt.sort)
    raw = session.exec(query.offset(pager.offset).limit(per_page)).all()
    return Found(pager.number, total, per_page, _rows(session, raw, day, policy))


def export_rows(
    session: Session, actor: Actor, flt: RecordFilter, limit: int = EXPORT_LIMIT
) -> list[RecordRow]:
    """Every row ``flt`` matches, in the list's order, at most ``limit`` (the caller checks :func:`count`)."""
    if not _allowed(actor):
        return []
    day = clock_today()
    policy = current_policy(session)
    query = _ordered(_query(session, actor, flt, day, policy), flt.sort).limit(limit)
    return _rows(session, session.exec(query).all(), day, policy)


# ----------------------------------------------------------------------------- choices


@dataclass
class Choices:
    """What the filter's lists offer: only what is in the official's scope."""

    years: list[int]
    rounds: list[SelectionRound]
    producers: list[tuple[int, str]]
    provinces: list[Province]


#: Producers or rounds offered in a list at most (the text filter finds the rest).
MAX_CHOICES = 1000


def choices(session: Session, actor: Actor) -> Choices:
    """Years, rounds and producers found among the actor's records; provinces for the ministry."""
    everything = RecordFilter()
    scope = _scope_ids(session, actor, everything)
    cert_province = func.coalesce(col(Certificate.province_id), col(Product.province_id))
    rounds_q = (
        select(SelectionRound)
        .where(
            col(SelectionRound.id).in_(
                select(Certificate.round_id)
                .join(Product, col(Product.id) == Certificate.product_id)
                .where(cert_province.in_(scope or {-1}) if scope is not None else true())
            )
        )
        .order_by(col(SelectionRound.year).desc(), col(SelectionRound.level), col(SelectionRound.id))
        .limit(MAX_CHOICES)
    )
    rounds = list(session.exec(rounds_q).all())
    product = aliased(Product)
    producers_q = (
        select(Producer.id, Producer.name)
        .where(
            col(Producer.id).in_(
                select(product.producer_id).where(
                    col(product.province_id).in_(scope or {-1}) if scope is not None else true()
                )
            )
        )
        .order_by(col(Producer.slug))
        .limit(MAX_CHOICES)
    )
    producers = [(int(pid), str(name)) for pid, name in session.exec(producers_q).all() if pid is not None]
    years = sorted({r.year for r in rounds}, reverse=True)
    ministry = scope is None and _allowed(actor)
    provinces = Provinces.load(session).current() if ministry else []
    return Choices(years=years, rounds=rounds, producers=producers, provinces=provinces)
