"""Every table module, imported so ``SQLModel.metadata`` is complete (Alembic reads it)."""

from catalogue.accounts.models import SignInAttempt
from catalogue.jobs.models import Job
from catalogue.models.accounts import User
from catalogue.models.audit import AuditEntry, OutboxEvent
from catalogue.models.certificates import Certificate, CertificateEvent, SelectionRound
from catalogue.models.events import Event, Exhibit, Exhibitor
from catalogue.models.imports import FakeReport, ImportBatch
from catalogue.models.places import Province
from catalogue.models.policy import ValidityPolicy
from catalogue.models.producers import Producer
from catalogue.models.products import Photo, Product
from catalogue.verification.models import VerificationCheck, VerificationTally

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
