"""Every feature's tables, imported so ``SQLModel.metadata`` is complete (Alembic and the tests read it)."""

from catalogue.accounts.models import SignInAttempt, User
from catalogue.audit.models import AuditEntry, OutboxEvent
from catalogue.fairs.models import Event, Exhibit, Exhibitor
from catalogue.jobs.models import Job
from catalogue.places.models import Province
from catalogue.registry.models import (
    Certificate,
    CertificateEvent,
    ImportBatch,
    Photo,
    Producer,
    Product,
    SelectionRound,
    ValidityPolicy,
)
from catalogue.verification.models import FakeReport, VerificationCheck, VerificationTally

__all__ = [
    "AuditEntry",
    "Certificate",
    "CertificateEvent",
    "Event",
    "Exhibit",
    "Exhibitor",
    "FakeReport",
    "ImportBatch",
    "Job",
    "OutboxEvent",
    "Photo",
    "Producer",
    "Product",
    "Province",
    "SelectionRound",
    "SignInAttempt",
    "User",
    "ValidityPolicy",
    "VerificationCheck",
    "VerificationTally",
]
