"""GTINs on products: reading them from a cell or a form, checking a file's, adding and replacing a product's.

A GTIN is what a GS1 Digital Link QR on the package carries (``/01/<gtin>``, see
:mod:`catalogue.gs1`), so it must lead to exactly one product: it is stored in its
14-digit form (a GTIN-13 and its GTIN-14 spelling are one key) and a GTIN already on
another product is refused, never moved. The check digit is validated by ``biip``, a
maintained GS1 library, not by a hand-written rule. An import only adds the GTINs it
names (a file listing some of them must not drop the others); the workspace form
replaces the list as the official sees it.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

from biip import ParseError
from biip.gtin import Gtin
from flask_babel import gettext as _
from sqlalchemy import delete, event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from catalogue.accounts.models import User
from catalogue.accounts.permissions import Actor, audit_actor
from catalogue.audit import services as audit
from catalogue.audit.models import OutboxEvent
from catalogue.db import pk
from catalogue.places.services import Provinces
from catalogue.refused import Refused
from catalogue.registry import ownership
from catalogue.registry.models import Product, ProductGtin
from catalogue.text import fold, nfc
from catalogue.vocab import ChangeKind

#: Several GTINs in one cell or form field: separated by commas, semicolons or new lines (or spaces,
#: when the spaced digits are not one GTIN printed in groups as under a barcode: "8 935049 500056").
_SEPARATORS = re.compile(r"[,;\n\r]+")
_SPACES = re.compile(r"\s+")
#: A number as a spreadsheet may hand it over as text ("8935049500056.0").
_EXCEL_NUMBER = re.compile(r"^(\d+)\.0+$")
#: ``session.info`` key: GTINs a staged publish has added but not yet written (gtin → product id).
_PENDING = "pending_gtins"


class GtinError(Refused):
    """A GTIN that cannot be read or that belongs to another product; the message names it."""


def parse_gtin(text: str) -> str:
    """One GTIN (8, 12, 13 or 14 digits) as a GTIN-14, or :class:`GtinError` saying what is wrong with it."""
    digits = text
    text = text if len(text) <= 20 else text[:20] + "…"  # the message quotes it, never at length
    if not (digits.isascii() and digits.isdigit()):  # "²" and "٣" are digits to str.isdigit
        raise GtinError(_("“%(value)s” is not a GTIN: a GTIN has digits only.", value=text))
    if not digits.strip("0"):
        raise GtinError(_("“%(value)s” is not a GTIN: it is all zeros.", value=text))
    if len(digits) not in (8, 12, 13, 14):
        raise GtinError(_("“%(value)s” is not a GTIN: a GTIN has 8, 12, 13 or 14 digits, this one has "
                          "%(count)d.", value=text, count=len(digits)))  # fmt: skip
    try:
        return Gtin.parse(digits).as_gtin_14()
    except ParseError:
        raise GtinError(_("“%(value)s” is not a GTIN: its check digit (the last digit) is wrong; "
                          "check it for a typo.", value=text)) from None  # fmt: skip


def printed(gtin: str) -> str:
    """A stored GTIN-14 as it is printed under the barcode (GTIN-8, -12 or -13 without the padding
    zeros): what a consumer or an official compares it with."""
    try:
        parsed = Gtin.parse(gtin)
    except ParseError:
        return gtin
    return gtin[-parsed.format.length :]


def parse_gtins(value: Any) -> list[str]:
    """Every GTIN a cell or field names, as GTIN-14, in order and once each; ``[]`` when empty.

    A spreadsheet number (``8935049500056.0`` or an int) is read as its digits. Every
    bad value is named in one :class:`GtinError`, so a row is fixed in one go.
    """
    if value is None or isinstance(value, bool):
        return []
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and 0 <= value < 10**14:
        value = f"{value:014d}"  # a number cell lost the leading zeros (UPC "036…", GTIN-8, "00…")
    found: list[str] = []
    problems: list[str] = []
    for text in _parts(nfc(str(value))):
        try:
            gtin = parse_gtin(_EXCEL_NUMBER.sub(r"\1", text))
        except GtinError as exc:
            problems.append(str(exc))
            continue
        if gtin not in found:
            found.append(gtin)
    if problems:
        raise GtinError(" ".join(problems))
    return found


def _parts(text: str) -> list[str]:
    """The cell's GTINs as written, a GTIN printed in spaced groups read as one."""
    parts = []
    for piece in _SEPARATORS.split(text):
        compact = _SPACES.sub("", piece)
        if len(compact) <= 14:
            parts += [compact] if compact else []
        else:
            parts += piece.split()
    return parts


def gtins_of(session: Session, product_id: int) -> list[str]:
    """The product's GTINs, in the order they were added."""
    query = select(ProductGtin.gtin).where(ProductGtin.product_id == product_id).order_by(col(ProductGtin.id))
    return list(session.exec(query).all())


def gtins_by_product(session: Session, product_ids: Iterable[int]) -> dict[int, list[str]]:
    """Each product's GTINs in one query (read models load a page of products at once)."""
    ids = sorted(set(product_ids))
    out: dict[int, list[str]] = {pid: [] for pid in ids}
    if not ids:
        return out
    query = select(ProductGtin).where(col(ProductGtin.product_id).in_(ids)).order_by(col(ProductGtin.id))
    for row in session.exec(query).all():
        out[row.product_id].append(row.gtin)
    return out


def product_of(session: Session, gtin: str) -> Product | None:
    """The product a GTIN-14 belongs to, if any."""
    return session.exec(
        select(Product)
        .join(ProductGtin, col(ProductGtin.product_id) == Product.id)
        .where(ProductGtin.gtin == gtin)
    ).first()


def _holders(session: Session, gtins: Sequence[str]) -> dict[str, int]:
    """gtin → the product holding it: stored rows, and rows a staged publish has not written yet."""
    if not gtins:
        return {}
    stored = session.exec(
        select(ProductGtin.gtin, ProductGtin.product_id).where(col(ProductGtin.gtin).in_(list(gtins)))
    ).all()
    held = {gtin: product_id for gtin, product_id in stored}
    pending: dict[str, int] = session.info.get(_PENDING, {})
    held.update({g: pending[g] for g in gtins if g in pending})
    return held


def _free_for(session: Session, product_id: int, gtins: Sequence[str]) -> dict[str, int]:
    """Who holds ``gtins`` now; :class:`GtinError` when one is another product's."""
    held = _holders(session, gtins)
    for gtin in gtins:
        if held.get(gtin, product_id) != product_id:
            raise _taken(session, gtin, held[gtin])
    return held


def _insert(session: Session, product_id: int, gtins: Sequence[str]) -> None:
    """Write new rows now, so that another official who took one of these GTINs a moment ago (the
    database's uniqueness is the last word) is told which product has it, never shown an error page."""
    try:
        with session.begin_nested():
            session.add_all(ProductGtin(product_id=product_id, gtin=gtin) for gtin in gtins)
            session.flush()
    except IntegrityError:
        _free_for(session, product_id, gtins)
        raise  # not a GTIN clash after all


def _taken(session: Session, gtin: str, holder_id: int) -> GtinError:
    other = session.get(Product, holder_id)
    name = other.name if other else f"#{holder_id}"
    return GtinError(_("The GTIN %(gtin)s already belongs to another product, “%(product)s”: a GTIN leads "
                       "to one product only.", gtin=printed(gtin), product=name))  # fmt: skip


def add_gtins(
    session: Session,
    product: Product,
    gtins: Sequence[str],
    *,
    actor: User | None,
    actor_label: str | None,
    province_id: int | None,
    reindex: bool = True,
    staged: bool = False,
) -> list[str]:
    """Add the GTINs the product lacks and return them; never removes one (an import's rule).

    A GTIN on another product raises :class:`GtinError` naming that product. The write
    path (:func:`catalogue.registry.records.upsert_record`) passes ``reindex=False``
    and counts the change in its own outbox row; a ``staged`` publish writes its rows at
    the end, under SQLite's write lock, after checking that nobody wrote meanwhile.
    """
    product_id = pk(product)
    held = _free_for(session, product_id, gtins)
    new = [g for g in gtins if g not in held]
    if not new:
        return []
    pending: dict[str, int] = session.info.get(_PENDING, {})
    before = gtins_of(session, product_id) + [g for g, p in pending.items() if p == product_id]
    if staged:
        session.add_all(ProductGtin(product_id=product_id, gtin=gtin) for gtin in new)
    else:
        _insert(session, product_id, new)
    session.info.setdefault(_PENDING, {}).update(dict.fromkeys(new, product_id))
    audit.record(
        session, actor=actor, actor_label=actor_label, action="update", entity_type="product",
        entity_id=product_id, changes={"gtins": [before, before + new]}, province_id=province_id,
        summary=product.name,
    )  # fmt: skip
    if reindex:
        audit.enqueue_reindex(session, product_id, kind=ChangeKind.CORRECTED)
    return new


def replace_gtins(session: Session, *, actor: Actor, product: Product, gtins: Sequence[str]) -> bool:
    """Make ``gtins`` the product's list (the workspace form); True when it changed.

    Saving the list as it was changes nothing; a GTIN of another product is refused.
    """
    product_id = pk(product)
    already = queued(session, product_id)  # asked first: the queries below write pending rows out
    ownership.require_product(session, actor, product)
    before = gtins_of(session, product_id)
    if set(gtins) == set(before):
        return False
    held = _free_for(session, product_id, gtins)
    dropped = [g for g in before if g not in gtins]
    if dropped:
        session.execute(delete(ProductGtin).where(col(ProductGtin.gtin).in_(dropped)))
    _insert(session, product_id, [g for g in gtins if g not in held])
    audit.record(
        session, **audit_actor(actor), action="update", entity_type="product", entity_id=product_id,
        changes={"gtins": [before, list(gtins)]}, summary=product.name,
        province_id=Provinces.load(session).current_id(product.province_id),
    )  # fmt: skip
    if not already:
        audit.enqueue_reindex(session, product_id, kind=ChangeKind.CORRECTED)
    return True


def queued(session: Session, product_id: int) -> bool:
    """Whether this transaction has queued the product for search and the change feed already (the
    form's other fields, saved just before): one save is one change in the feed."""
    return any(isinstance(row, OutboxEvent) and row.product_id == product_id for row in session.new)


def file_problems(
    session: Session, rows: Sequence[tuple[int, Hashable, int | None, Sequence[str]]]
) -> dict[int, list[str]]:
    """A file's GTIN clashes by line: a GTIN named for two products, or already another product's.

    ``rows`` are ``(line, product key, matched product id or None, GTINs)``; rows with the
    same key name the same product (a product certified twice in one file).
    """
    problems: dict[int, list[str]] = {}
    first: dict[str, tuple[int, Hashable]] = {}
    for line, key, _product_id, gtins in rows:
        for gtin in gtins:
            seen = first.setdefault(gtin, (line, key))
            if seen[1] != key:
                problems.setdefault(line, []).append(_(
                    "The GTIN %(gtin)s is also given for another product on row %(line)d: a GTIN leads to "
                    "one product only.", gtin=printed(gtin), line=seen[0]))  # fmt: skip
    held = _holders(session, sorted(first))
    for line, _key, product_id, gtins in rows:
        for gtin in gtins:
            if gtin in held and held[gtin] != product_id:
                problems.setdefault(line, []).append(str(_taken(session, gtin, held[gtin])))
    return problems


def row_key(product_id: int | None, name: str, producer: str | None, province_id: int | None) -> Hashable:
    """Which product a file's row names: a matched product by id, a new one by name, producer and province.

    Names are compared folded, as :mod:`catalogue.registry.matching` compares them.
    """
    if product_id is not None:
        return ("id", product_id)
    return ("new", fold(name), fold(producer or ""), province_id)


def _forget(session: OrmSession, *_: Any) -> None:
    session.info.pop(_PENDING, None)


# Unwritten GTINs last until they are written (a flush), committed or dropped.
for _moment in ("after_flush", "after_commit", "after_soft_rollback"):
    event.listen(OrmSession, _moment, _forget)
