"""verification check log

Each scan of a verification code is one appended row instead of an ``UPDATE``
of the certificate, so counting never waits for a publish holding the
registry's write lock (issue 13, item 1). On PostgreSQL this table, INSERT-only,
shares no row locks with publishing. On SQLite the embedded default keeps the
log in a separate file (``checks.sqlite3``) whose schema is created by
``catalogue.verification.counting`` from the same model; the table made here in
the main database then stays empty unless ``CHECKS_DATABASE_URL`` points at it.
``verification_tally`` keeps each code's running count beside the log, updated
in the same transaction, so a scan never counts a popular code's rows.
``certificate.check_count`` keeps the checks counted before this revision.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "verification_check",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("checked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("device", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("verification_check", schema=None) as batch_op:
        batch_op.create_index("ix_verification_check_code_checked_at", ["code", "checked_at"], unique=False)
    op.create_table(
        "verification_tally",
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("checks", sa.Integer(), nullable=False),
        sa.Column("first_checked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("last_checked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )


def downgrade() -> None:
    op.drop_table("verification_tally")
    with op.batch_alter_table("verification_check", schema=None) as batch_op:
        batch_op.drop_index("ix_verification_check_code_checked_at")
    op.drop_table("verification_check")
