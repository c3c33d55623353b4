"""How the audit trail reads in the workspace: field labels, names instead of ids,
the official's language and Vietnam time.

Names are resolved in bulk (one query per kind of record per page), never per
row. Writing entries is :mod:`catalogue.audit.services`'s job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement
from sqlmodel import Session, and_, col, or_, select

from catalogue.accounts.models import User
from catalogue.accounts.services import office_name
from catalogue.audit.models import AuditEntry
from catalogue.db import pk
from catalogue.fairs.models import Event
from catalogue.i18n import fmt_date, fmt_time, local_time
from catalogue.registry.merging import moved_label
from catalogue.registry.models import Certificate, ImportBatch, Photo, Producer, Product, SelectionRound
from catalogue.registry.round_names import round_label
from catalogue.vocab import (
    AUDIT_ACTIONS,
    AUDIT_ENTITIES,
    EventKind,
    Level,
    ProducerKind,
    ProductGroup,
    Region,
)

#: Entries per page of the audit log.
PAGE_SIZE = 50

#: Actions the default view leaves out (sign-ins would flood it); an action filter shows them.
QUIET_ACTIONS = ("sign_in",)

#: How a stored field name reads; ``(entity_type, field)`` wins over the bare field.
FIELD_LABELS: dict[str, Any] = {
    "name": _l("Name"), "kind": _l("Kind"), "kind_as_printed": _l("Kind as printed"),
    "address": _l("Address"), "commune": _l("Commune"), "province_id": _l("Province"),
    "phone": _l("Phone"), "email": _l("E-mail"), "website": _l("Website"),
    "contacts_public": _l("Contacts shown publicly"), "source": _l("Source"),
    "source_note": _l("Source remark"), "note": _l("Note"),
    "is_set": _l("Product set"), "components": _l("Components of the set"),
    "group": _l("Product group"), "group_assigned": _l("Product group assigned by the registry"),
    "description": _l("Description"), "producer_id": _l("Producer"), "product_id": _l("Product"),
    "locality": _l("Locality"), "level": _l("Level"), "region": _l("Region"), "year": _l("Year"),
    "edition": _l("Edition"), "organiser": _l("Organiser"), "issuing_authority": _l("Issuing authority"),
    "decision_number": _l("Decision number"), "decision_date": _l("Decision date"),
    "number": _l("Certificate number"), "round_id": _l("Selection round"),
    "issued_on": _l("Issue date"), "expires_on": _l("Expiry date"),
    "expires_from_policy": _l("Expiry set by the registry's policy"), "prize": _l("Prize"),
    "gtins": _l("GTIN codes"), "revoked_on": _l("Revoked on"),
    "revoked_reason": _l("Reason for the revocation"),
    "revoked_reference": _l("Revocation decision"), "batch_id": _l("Upload"),
    "state": _l("State"), "file_key": _l("Photo file"), "alt": _l("What the photo shows"),
    "role": _l("Role"), "is_active": _l("Account active"), "start_date": _l("First day"),
    "end_date": _l("Last day"), "opening_hours": _l("Opening hours"), "venue": _l("Venue"),
    "booths": _l("Number of booths"), "exhibitor": _l("Exhibitor"), "booth": _l("Booth"),
    "issuing_office": _l("Issuing office"), "office": _l("Office"),
    "validity_years": _l("Standard validity (years)"), "effective_from": _l("In force from"),
    "certificates": _l("Certificates"), "reason": _l("Reason"),
    "duplicate": _l("Duplicate"), "moved": _l("What moved"),
    "count": _l("Number of codes"), "first_serial": _l("From serial"), "last_serial": _l("To serial"),
    "certificate_id": _l("Certificate"),
}  # fmt: skip
_ENTITY_FIELD_LABELS: dict[tuple[str, str], Any] = {
    ("producer", "kind"): _l("Type of producer"),
    ("event", "kind"): _l("Trade fair or showroom"),
    ("event", "province_id"): _l("Province"),
    ("user", "province_id"): _l("Province (provincial officials)"),
    ("user", "is_lead"): _l("Lead official of the province"),
    ("user", "reset_link_expires_at"): _l("Reset link valid until"),
    ("user", "reset_link"): _l("Reset link used (number)"),
    ("user", "session"): _l("Session ended (number)"),
    ("user", "ended"): _l("Sessions ended"),
}
_BATCH_STATES: dict[str, Any] = {
    "pending": _l("waiting to be published"), "published": _l("published"), "discarded": _l("discarded"),
}  # fmt: skip
_ROLES: dict[str, Any] = {
    "province": _l("Provincial official (Sở Công Thương)"), "ministry": _l("Ministry official"),
}  # fmt: skip
#: Certificate history events as people say them.
HISTORY_KINDS: dict[str, Any] = {
    "issued": _l("Certificate issued"), "corrected": _l("Certificate corrected"),
    "revoked": _l("Certificate revoked"), "reinstated": _l("Certificate reinstated"),
}  # fmt: skip
#: Where each kind of record is opened in the workspace.
_ENDPOINTS = {
    "product": ("records.product", "product_id"), "producer": ("records.producer", "producer_id"),
    "certificate": ("records.certificate", "cert_id"), "selection_round": ("records.round_", "round_id"),
    "import_batch": ("imports.batch", "batch_id"), "event": ("fairs_admin.event", "event_id"),
    "label_run": ("label_runs.run", "run_id"),
}  # fmt: skip
_LONG = 160


def field_label(entity_type: str, key: str) -> str:
    """A stored field name as the official reads it; an unknown field is still made readable."""
    label = _ENTITY_FIELD_LABELS.get((entity_type, key)) or FIELD_LABELS.get(key)
    if label is not None:
        return str(label)
    return key.removesuffix("_id").replace("_", " ").capitalize()


def action_label(action: str) -> str:

    return str(AUDIT_ACTIONS.get(action, action.replace("_", " ")))


def entity_label(entity_type: str) -> str:

    return str(AUDIT_ENTITIES.get(entity_type, entity_type.replace("_", " ")))


@dataclass
class Change:
    label: str
    before: str
    after: str


@dataclass
class EntryView:
    """One audit entry as an official reads it."""

    entry: AuditEntry
    at: str
    action: str
    record_type: str
    #: The record's name now (product, producer, round…), or None when it is gone.
    record_name: str | None
    #: ``(endpoint, {arg: id})`` of the record's workspace page, when it still exists.
    link: tuple[str, dict[str, int]] | None
    actor: str
    office: str | None
    province: str | None
    changes: list[Change] = field(default_factory=list)
    #: The stored summary, when it tells more than the record's name.
    note: str | None = None


@dataclass
class _Names:
    """Names of every record a page of entries mentions, loaded one query per kind."""

    provinces: Any
    products: dict[int, str] = field(default_factory=dict)
    producers: dict[int, str] = field(default_factory=dict)
    rounds: dict[int, str] = field(default_factory=dict)
    batches: dict[int, str] = field(default_factory=dict)
    certificates: dict[int, str] = field(default_factory=dict)
    events: dict[int, str] = field(default_factory=dict)
    users: dict[int, tuple[str, str | None]] = field(default_factory=dict)
    photos: dict[int, str] = field(default_factory=dict)

    def province(self, value: Any) -> str | None:
        found = self.provinces.get(value) if isinstance(value, int) else None
        return found.short_name if found is not None else None


def _ints(value: Any) -> set[int]:
    if isinstance(value, bool):
        return set()
    if isinstance(value, int):
        return {value}
    if isinstance(value, list | tuple):
        return {v for v in value if isinstance(v, int) and not isinstance(v, bool)}
    return set()


def _wanted(entries: list[AuditEntry], changes: list[tuple[str, dict[str, Any]]]) -> dict[str, set[int]]:
    """Ids per kind of record that the entries and their changes name."""
    want: dict[str, set[int]] = {k: set() for k in
                                 ("product", "producer", "selection_round", "import_batch", "certificate",
                                  "event", "user", "photo")}  # fmt: skip
    by_field = {"product_id": "product", "producer_id": "producer", "round_id": "selection_round",
                "batch_id": "import_batch", "products": "product",
                "certificate_id": "certificate"}  # fmt: skip
    for e in entries:
        if e.entity_id is not None and e.entity_type in want:
            want[e.entity_type].add(e.entity_id)
        if e.actor_id is not None:
            want["user"].add(e.actor_id)
    for _entity, diff_ in changes:
        for key, pair in diff_.items():
            for value in pair if isinstance(pair, list | tuple) else [pair]:
                if isinstance(value, dict):  # an exhibitor: {"producer_id", "booth", "products"}
                    for sub, v in value.items():
                        if sub in by_field:
                            want[by_field[sub]] |= _ints(v)
                elif key in by_field:
                    want[by_field[key]] |= _ints(value)
    return want


def _id_names(session: Session, id_column: Any, name_column: Any, ids: set[int]) -> dict[int, str]:
    """``{id: name}`` for the wanted ids of one kind of record, in one query."""
    if not ids:
        return {}

    return dict(session.exec(select(id_column, name_column).where(col(id_column).in_(ids))).all())


def _load_names(session: Session, want: dict[str, set[int]], provinces: Any) -> _Names:

    names = _Names(provinces)
    certs: list[Any] = []
    if want["certificate"]:
        certs = list(session.exec(
            select(Certificate.id, Certificate.number, Certificate.product_id, Certificate.round_id)
            .where(col(Certificate.id).in_(want["certificate"]))
        ).all())  # fmt: skip
        want["product"] |= {c.product_id for c in certs}
        want["selection_round"] |= {c.round_id for c in certs}
    photos: list[Any] = []
    if want["photo"]:
        photos = list(session.exec(
            select(Photo.id, Photo.product_id).where(col(Photo.id).in_(want["photo"]))
        ).all())  # fmt: skip
        want["product"] |= {p.product_id for p in photos}
    names.products = _id_names(session, Product.id, Product.name, want["product"])
    names.producers = _id_names(session, Producer.id, Producer.name, want["producer"])
    if want["selection_round"]:
        rounds = session.exec(
            select(SelectionRound).where(col(SelectionRound.id).in_(want["selection_round"]))
        ).all()
        names.rounds = {r.id: round_label(r, provinces) for r in rounds if r.id is not None}
    names.batches = _id_names(session, ImportBatch.id, ImportBatch.filename, want["import_batch"])
    names.events = _id_names(session, Event.id, Event.name, want["event"])
    if want["user"]:
        for user in session.exec(select(User).where(col(User.id).in_(want["user"]))).all():
            office = office_name(user, provinces.get(user.province_id)) if user.role else None
            names.users[pk(user)] = (user.email, office)
    for c in certs:
        parts = [c.number or _("no number"), names.products.get(c.product_id),
                 names.rounds.get(c.round_id)]  # fmt: skip
        names.certificates[c.id] = " · ".join(p for p in parts if p)
    names.photos = {p.id: names.products.get(p.product_id, "") for p in photos}
    return names


def _is_date(value: str) -> bool:
    return len(value) == 10 and value[4] == "-" and value[7] == "-"


def _value(entity_type: str, key: str, value: Any, names: _Names) -> str:
    """One before/after value as people read it: names for ids, dates per locale, yes/no."""

    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, dict) and key == "moved":  # a merge: {table: how many rows moved}
        return "; ".join(f"{moved_label(str(table))}: {count}" for table, count in value.items())
    if isinstance(value, dict):
        return _exhibitor(value, names)
    if isinstance(value, list):
        return ", ".join(_value(entity_type, key, v, names) for v in value)
    ids: dict[str, Callable[[int], str | None]] = {
        "province_id": names.province, "producer_id": names.producers.get,
        "product_id": names.products.get, "round_id": names.rounds.get, "batch_id": names.batches.get,
        "certificate_id": names.certificates.get,
    }  # fmt: skip
    if key in ids:
        found = ids[key](value) if isinstance(value, int) else None
        return found or f"#{value}"
    vocab: dict[str, Any] = {"level": Level, "region": Region, "group": ProductGroup}
    if key == "kind":
        vocab["kind"] = EventKind if entity_type == "event" else ProducerKind
    if key in vocab:
        try:
            return str(vocab[key](value).label)
        except ValueError:
            return str(value)
    if key == "state" and value in _BATCH_STATES:
        return str(_BATCH_STATES[value])
    if key == "role" and value in _ROLES:
        return str(_ROLES[value])
    if key == "file_key":
        return f"{str(value)[:10]}…"
    if isinstance(value, str):
        try:
            if _is_date(value):
                return fmt_date(date.fromisoformat(value))
            if len(value) > 18 and value[10] == "T" and _is_date(value[:10]):
                return fmt_time(datetime.fromisoformat(value))
        except ValueError:
            pass
        return value if len(value) <= _LONG else value[: _LONG - 1] + "…"
    return str(value)


def _exhibitor(value: dict[str, Any], names: _Names) -> str:
    producer = value.get("producer_id")
    text = names.producers.get(producer, f"#{producer}") if isinstance(producer, int) else "—"
    if value.get("booth"):
        text += f", {_l('booth %(booth)s', booth=value['booth'])}"
    products = [names.products.get(p, f"#{p}") for p in _ints(value.get("products"))]
    if products:
        text += f": {', '.join(sorted(products))}"
    return text


def _changes(entity_type: str, diff_: dict[str, Any] | None, names: _Names) -> list[Change]:
    out = []
    for key, pair in (diff_ or {}).items():
        before, after = pair if isinstance(pair, list | tuple) and len(pair) == 2 else (None, pair)
        out.append(Change(field_label(entity_type, key), _value(entity_type, key, before, names),
                          _value(entity_type, key, after, names)))  # fmt: skip
    return out


def _record_name(e: AuditEntry, names: _Names) -> str | None:
    if e.entity_id is None:
        return None
    lookup: dict[str, Any] = {
        "product": names.products, "producer": names.producers, "selection_round": names.rounds,
        "import_batch": names.batches, "certificate": names.certificates, "event": names.events,
        "photo": names.photos,
    }  # fmt: skip
    if e.entity_type == "label_run":  # named by its number; the summary names its certificate
        return f"#{e.entity_id}"
    if e.entity_type == "user":
        found = names.users.get(e.entity_id)
        return found[0] if found else None
    if e.entity_type == "validity_policy" and e.summary is not None and e.summary in Level._value2member_map_:
        return str(Level(e.summary).label)
    return lookup.get(e.entity_type, {}).get(e.entity_id) or None


#: Entity types whose stored summary is only the record's name (or raw keys): shown by name instead.
_SUMMARY_IS_NAME = {"product", "producer", "certificate", "selection_round", "user", "validity_policy"}


def entry_views(session: Session, entries: list[AuditEntry], provinces: Any) -> list[EntryView]:
    """A page of entries as officials read them; a fixed number of queries whatever the page size."""
    names = _load_names(session, _wanted(entries, [(e.entity_type, e.changes or {}) for e in entries]),
                        provinces)  # fmt: skip
    views = []
    for e in entries:
        name = _record_name(e, names)
        endpoint = _ENDPOINTS.get(e.entity_type)
        link = (endpoint[0], {endpoint[1]: e.entity_id}) if endpoint and name and e.entity_id else None
        user = names.users.get(e.actor_id) if e.actor_id is not None else None
        if user is None and e.actor_id is None and e.actor_label in (None, "system"):
            actor_text = _("the registry (system)")
        else:
            actor_text = user[0] if user else (e.actor_label or "—")
        note = e.summary if (name is None or e.entity_type not in _SUMMARY_IS_NAME) else None
        if note and name and note == name:
            note = None
        views.append(EntryView(
            entry=e, at=fmt_time(e.at), action=action_label(e.action),
            record_type=entity_label(e.entity_type), record_name=name, link=link,
            actor=actor_text, office=user[1] if user else None,
            province=names.province(e.province_id), changes=_changes(e.entity_type, e.changes, names),
            note=note,
        ))  # fmt: skip
    return views


# ----------------------------------------------------------------------------- certificate history


@dataclass
class HistoryView:
    """One event of a certificate's history, dated by the day it took effect."""

    kind: str
    label: str
    #: The event's own date: the issue date for "issued", the revocation date for "revoked"…
    day: str
    recorded: str
    reason: str | None
    reference: str | None
    changes: list[Change]


def history_views(
    session: Session, events: list[Any], *, issued_on: date | None, year: int | None, provinces: Any
) -> list[HistoryView]:
    """A certificate's events in the current language, each with its own effective date.

    An "issued" event is dated by the certificate's issue date (as since corrected),
    never by the day it was published; an unknown issue date says so with the year of
    recognition. A correction takes effect when it is recorded.
    """

    names = _load_names(session, _wanted([], [("certificate", e.changes or {}) for e in events]), provinces)
    out = []
    for e in events:
        effective = (issued_on or e.effective_on) if e.kind == "issued" else e.effective_on
        if effective is not None:
            day = fmt_date(effective)
        elif e.kind == "issued":
            unknown = _l("issue date unknown — recognised in %(year)s", year=year)
            day = str(unknown) if year else fmt_date(None)
        else:
            day = fmt_date(local_time(e.recorded_at).date())
        out.append(HistoryView(
            kind=e.kind, label=str(HISTORY_KINDS.get(e.kind, e.kind)), day=day,
            recorded=fmt_time(e.recorded_at), reason=e.reason, reference=e.reference,
            changes=_changes("certificate", e.changes, names),
        ))  # fmt: skip
    return out


def record_filter(text: str) -> Any:
    """Entries about records matching ``text``: a record number, or words of its name or summary.

    Names are matched on the records themselves (a certificate by its number, a product
    by its name…), so an entry is found by what the page shows, not only by its stored summary.
    """

    text = text.strip()
    number = text.removeprefix("#")
    pattern = f"%{text}%"
    conditions: list[ColumnElement[bool]] = [col(AuditEntry.summary).ilike(pattern)]
    if number.isascii() and number.isdigit() and len(number) < 10:
        conditions.append(col(AuditEntry.entity_id) == int(number))
    named: dict[str, tuple[Any, Any]] = {
        "certificate": (Certificate.id, Certificate.number), "product": (Product.id, Product.name),
        "producer": (Producer.id, Producer.name), "import_batch": (ImportBatch.id, ImportBatch.filename),
        "event": (Event.id, Event.name), "user": (User.id, User.email),
        "selection_round": (SelectionRound.id, SelectionRound.decision_number),
    }  # fmt: skip
    for entity_type, (key, name) in named.items():
        ids = select(key).where(col(name).ilike(pattern)).limit(500)
        conditions.append(and_(AuditEntry.entity_type == entity_type, col(AuditEntry.entity_id).in_(ids)))
    return or_(*conditions)
