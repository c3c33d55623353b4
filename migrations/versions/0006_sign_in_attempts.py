"""sign-in attempts

Sign-in limits per e-mail and per client address are counted in this table
instead of each worker's memory, so ``make run``'s two workers (and several
nodes) enforce the documented figures together (issue 13, item 5).

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sign_in_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email_key", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("client_key", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sign_in_attempt", schema=None) as batch_op:
        batch_op.create_index("ix_sign_in_attempt_at", ["at"], unique=False)
        batch_op.create_index("ix_sign_in_attempt_email_key_at", ["email_key", "at"], unique=False)
        batch_op.create_index("ix_sign_in_attempt_client_key_at", ["client_key", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sign_in_attempt", schema=None) as batch_op:
        batch_op.drop_index("ix_sign_in_attempt_client_key_at")
        batch_op.drop_index("ix_sign_in_attempt_email_key_at")
        batch_op.drop_index("ix_sign_in_attempt_at")
    op.drop_table("sign_in_attempt")
