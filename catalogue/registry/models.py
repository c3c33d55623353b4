"""Selection rounds, certificates and their event history.

A certificate's status is never stored: see :mod:`catalogue.registry.status`.
Revocation is recorded as an event and mirrored in ``revoked_on`` so status
can be filtered in SQL; both are written by the same service call.

Producers (cơ sở CNNT). Sources often give only a brand, so all but the name is optional.

Products and product sets (bộ sản phẩm) with their photos.

The registry's assumed validity per level, as ministry officials set it.

A decision that states no expiry leaves the registry to assume one: each row
says "from ``effective_from``, certificates of ``level`` are taken to be valid
for ``years``". Rows are never edited or deleted, so the history stays (and a
status on a past day uses the setting in effect then); a level without rows
uses ``CERTIFICATE_VALIDITY_YEARS``. See :mod:`catalogue.registry.status`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from catalogue.clock import utcnow


class SelectionRound(SQLModel, table=True):
    __tablename__ = "selection_round"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=120, index=True, unique=True)
    #: A :class:`catalogue.vocab.Level` value.
    level: str = Field(max_length=16, index=True)
    #: Regional rounds only: stored as the certifying body recorded it, never derived.
    region: str | None = Field(default=None, max_length=32, index=True)
    year: int = Field(index=True)
    #: Province (as it was then) for provincial, district and commune rounds.
    province_id: int | None = Field(default=None, foreign_key="province.id", index=True)
    #: District or commune, as printed, for local rounds.
    locality: str | None = Field(default=None, max_length=200)
    edition: str | None = Field(default=None, max_length=50)
    organiser: str | None = Field(default=None, max_length=300)
    issuing_authority: str | None = Field(default=None, max_length=300)
    decision_number: str | None = Field(default=None, max_length=100)
    decision_date: date | None = None
    #: Fair or ceremony where the certificates were presented, when a source says so.
    ceremony_event_id: int | None = Field(default=None, foreign_key="event.id")
    source: str | None = None


class Certificate(SQLModel, table=True):
    __tablename__ = "certificate"
    __table_args__ = (UniqueConstraint("verify_code"),)

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    round_id: int = Field(foreign_key="selection_round.id", index=True)
    #: Certificate number as printed (free text); unknown in many public sources.
    number: str | None = Field(default=None, max_length=100, index=True)
    #: Province as printed when certified (pre-2025 unit for older records).
    province_id: int | None = Field(default=None, foreign_key="province.id", index=True)
    #: May be unknown when only the year of selection is known.
    issued_on: date | None = None
    #: Expiry printed in the decision; None when it states none (the registry's
    #: assumed validity is worked out when read: services.status, never stored).
    expires_on: date | None = None
    prize: str | None = Field(default=None, max_length=100)
    revoked_on: date | None = None
    revoked_reason: str | None = None
    revoked_reference: str | None = Field(default=None, max_length=200)
    #: Provenance: the decision or public source this record comes from.
    source: str | None = None
    #: Provenance of this certificate's own publication (never a shared round's, which a
    #: later batch could rewrite): the decision that recognised it and the office that published it.
    decision_number: str | None = Field(default=None, max_length=100)
    decision_date: date | None = None
    office: str | None = Field(default=None, max_length=300)
    #: The source's remark on this publication ("names as printed on an English page"),
    #: shown as a source remark, never mixed into names.
    source_note: str | None = None
    batch_id: int | None = Field(default=None, foreign_key="import_batch.id", index=True)
    #: Verification code printed as QR (random bits + keyed check); see services.verification.
    verify_code: str | None = Field(default=None, max_length=40)
    #: Checks counted before the check log (migration 0005), kept as they were; new checks are
    #: counted in catalogue.verification.counting and added to this for display.
    check_count: int = 0
    first_checked_at: datetime | None = None
    last_checked_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class CertificateEvent(SQLModel, table=True):
    """History of a certificate: issued, corrected, revoked, reinstated."""

    __tablename__ = "certificate_event"

    id: int | None = Field(default=None, primary_key=True)
    certificate_id: int = Field(foreign_key="certificate.id", index=True)
    kind: str = Field(max_length=16)
    #: The day the event takes effect (issue date, revocation date…), if known.
    effective_on: date | None = None
    recorded_at: datetime = Field(default_factory=utcnow)
    actor_id: int | None = Field(default=None, foreign_key="app_user.id")
    reason: str | None = None
    reference: str | None = Field(default=None, max_length=200)
    changes: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    #: The revocation decision this event applied with others (catalogue.decisions), if any.
    decision_id: int | None = Field(default=None, foreign_key="revocation_decision.id", index=True)


class Producer(SQLModel, table=True):
    __tablename__ = "producer"
    #: SQLite never hands a merged record's id to a new row (PostgreSQL's sequences never do).
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=100, index=True, unique=True)
    name: str = Field(max_length=300)
    #: A :class:`catalogue.vocab.ProducerKind` value, or None when the source does not say.
    kind: str | None = Field(default=None, max_length=32)
    #: The kind as the decision printed it ("Công ty TNHH", "xí nghiệp"), kept when
    #: it says more than ``kind``'s label; None when not printed.
    kind_as_printed: str | None = Field(default=None, max_length=100)
    address: str | None = Field(default=None, max_length=500)
    commune: str | None = Field(default=None, max_length=200)
    province_id: int | None = Field(default=None, foreign_key="province.id", index=True)
    phone: str | None = Field(default=None, max_length=50)
    email: str | None = Field(default=None, max_length=200)
    website: str | None = Field(default=None, max_length=300)
    #: Contact details are shown publicly only when the record says so.
    contacts_public: bool = False
    source: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Product(SQLModel, table=True):
    __tablename__ = "product"
    #: SQLite never hands a merged record's id to a new row (PostgreSQL's sequences never do).
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=100, index=True, unique=True)
    name: str = Field(max_length=400)
    #: True for a product set; its components are listed one per line.
    is_set: bool = False
    components: str | None = None
    #: A :class:`catalogue.vocab.ProductGroup` value; None = not yet classified.
    group: str | None = Field(default=None, max_length=64, index=True)
    #: True when the group was assigned by the registry's editors, not the source.
    group_assigned: bool = False
    description: str | None = None
    producer_id: int | None = Field(default=None, foreign_key="producer.id", index=True)
    #: Locality (commune/district) as printed; districts are not foreign keys.
    locality: str | None = Field(default=None, max_length=300)
    #: Province as printed on the latest certificate (may be a pre-2025 unit).
    province_id: int | None = Field(default=None, foreign_key="province.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Photo(SQLModel, table=True):
    __tablename__ = "photo"

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    #: Stored file key under MEDIA_DIR (variants derive from it).
    file_key: str = Field(max_length=200)
    width: int | None = None
    height: int | None = None
    alt: str | None = Field(default=None, max_length=300)
    position: int = 0
    created_at: datetime = Field(default_factory=utcnow)


class ValidityPolicy(SQLModel, table=True):
    __tablename__ = "validity_policy"

    id: int | None = Field(default=None, primary_key=True)
    #: A :class:`catalogue.vocab.Level` value.
    level: str = Field(max_length=16, index=True)
    years: int
    #: The day this setting takes effect (statuses on earlier days use the previous one).
    effective_from: date
    set_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    set_at: datetime = Field(default_factory=utcnow)
    note: str | None = Field(default=None, max_length=500)


# A publication: the decision's spreadsheet an office published (or is about to), which each
# certificate it wrote names as its provenance (``Certificate.batch_id``). The import workflow
# (files, dry run, publishing) is catalogue.imports; the record of it belongs to the registry.
class ImportBatch(SQLModel, table=True):
    __tablename__ = "import_batch"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    #: The office that published it, as shown publicly.
    office: str | None = Field(default=None, max_length=300)
    province_id: int | None = Field(default=None, foreign_key="province.id", index=True)
    filename: str = Field(max_length=300)
    file_sha256: str = Field(max_length=64)
    #: "pending", "published" or "discarded".
    state: str = Field(default="pending", max_length=16)
    published_at: datetime | None = None
    decision_number: str | None = Field(default=None, max_length=100)
    decision_date: date | None = None
    row_count: int = 0
    #: Parsed rows kept between the dry run and publishing.
    rows: list[Any] | None = Field(default=None, sa_column=Column(JSON))


# A duplicate producer or product merged into a survivor (catalogue.registry.merging): the
# duplicate's full row and exactly which rows moved, so the merge can be undone as it was.
class MergeRecord(SQLModel, table=True):
    __tablename__ = "merge_record"

    id: int | None = Field(default=None, primary_key=True)
    #: "producer" or "product".
    kind: str = Field(max_length=16, index=True)
    survivor_id: int = Field(index=True)
    #: The merged row's id (deleted by the merge, restored by an undo; so no foreign key).
    duplicate_id: int = Field(index=True)
    duplicate_name: str = Field(max_length=400)
    duplicate_slug: str = Field(max_length=100)
    #: Current province the pair belongs to (scopes the list of merges); None = no province.
    province_id: int | None = Field(default=None, foreign_key="province.id", index=True)
    merged_at: datetime = Field(default_factory=utcnow, index=True)
    merged_by: int | None = Field(default=None, foreign_key="app_user.id")
    #: The duplicate's row, column by column (JSON values), as it was just before the merge.
    snapshot: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    #: ``{"table.column": [primary keys]}``: the rows that pointed at the duplicate and moved.
    moved: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    #: ``{field: [before, after]}``: the survivor's blank fields filled from the duplicate.
    filled: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    undone_at: datetime | None = None
    undone_by: int | None = Field(default=None, foreign_key="app_user.id")


class SlugRedirect(SQLModel, table=True):
    """A merged record's old slug, answered with a permanent redirect to the survivor's page."""

    __tablename__ = "slug_redirect"

    id: int | None = Field(default=None, primary_key=True)
    #: "producer" or "product".
    kind: str = Field(max_length=16)
    old_slug: str = Field(max_length=100, index=True)
    #: The merged row's id: a later merge of the survivor is followed through the redirect from it.
    from_id: int = Field(index=True)
    target_id: int
    merge_id: int = Field(foreign_key="merge_record.id", index=True)


class ProductGtin(SQLModel, table=True):
    """A GTIN printed on a product's packaging (issue 18), the key a GS1 Digital Link QR carries.

    Stored in the 14-digit form so a GTIN-13 and its GTIN-14 spelling are one row; unique across
    products, since a scan must lead to one product. Rules: :mod:`catalogue.registry.gtins`.
    """

    __tablename__ = "product_gtin"

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    gtin: str = Field(max_length=14, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
