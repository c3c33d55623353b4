"""Every feature's tables, imported so ``SQLModel.metadata`` is complete (Alembic and the tests read it)."""

from catalogue.accounts.models import PasswordReset, SignInAttempt, User, UserSession
from catalogue.audit.models import AuditEntry, OutboxEvent
from catalogue.decisions.models import RevocationDecision
from catalogue.fairs.models import Event, Exhibit, Exhibitor
from catalogue.jobs.models import Job
from catalogue.places.models import Province
from catalogue.registry.models import (
    Certificate,
    CertificateEvent,
    ImportBatch,
    MergeRecord,
    Photo,
    Producer,
    Product,
    SelectionRound,
    SlugRedirect,
    ValidityPolicy,
)
from catalogue.verification.models import (
    FakeReport,
    LabelRun,
    LabelWithdrawal,
    VerificationCheck,
    VerificationDeviceDay,
    VerificationTally,
)

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
    "LabelRun",
    "LabelWithdrawal",
    "MergeRecord",
    "OutboxEvent",
    "PasswordReset",
    "Photo",
    "Producer",
    "Product",
    "Province",
    "RevocationDecision",
    "SelectionRound",
    "SignInAttempt",
    "SlugRedirect",
    "User",
    "UserSession",
    "ValidityPolicy",
    "VerificationCheck",
    "VerificationDeviceDay",
    "VerificationTally",
]
