"""Certificate status and expiry policy: derived from dates, never stored.

DESIGN §2: the expiry from the decision wins; otherwise the configurable policy
(``CERTIFICATE_VALIDITY_YEARS``) counts from the issue date or, when only the
year is known, from the end of that year.
"""

from __future__ import annotations

from datetime import date

from catalogue.clock import today as clock_today
from catalogue.vocab import CertificateStatus


def policy_expiry(issued_on: date | None, year: int, years: int) -> date:
    """Expiry given by policy when the decision states none."""
    start = issued_on or date(year, 12, 31)
    try:
        return start.replace(year=start.year + years)
    except ValueError:  # 29 February
        return start.replace(year=start.year + years, day=28)


def effective_expiry(
    expires_on: date | None, issued_on: date | None, year: int, years: int
) -> tuple[date, bool]:
    """Return ``(expiry, from_policy)``."""
    if expires_on is not None:
        return expires_on, False
    return policy_expiry(issued_on, year, years), True


def status_on(
    day: date,
    *,
    expires_on: date | None,
    revoked_on: date | None,
    issued_on: date | None = None,
) -> CertificateStatus | None:
    """Status on ``day``; None when the certificate had not been issued yet.

    Revoked wins from the revocation date; expired the day after the expiry date.
    """
    if issued_on is not None and day < issued_on:
        return None
    if revoked_on is not None and day >= revoked_on:
        return CertificateStatus.REVOKED
    if expires_on is not None and day > expires_on:
        return CertificateStatus.EXPIRED
    return CertificateStatus.VALID


def certificate_status(cert: object, today: date | None = None) -> CertificateStatus:
    """Today's status of a certificate row (anything with the date attributes)."""
    result = status_on(
        today or clock_today(),
        expires_on=getattr(cert, "expires_on", None),
        revoked_on=getattr(cert, "revoked_on", None),
    )
    return result or CertificateStatus.VALID
