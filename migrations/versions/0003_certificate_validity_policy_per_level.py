"""certificate validity policy per level

The registry's assumed validity (when a decision states no expiry) becomes a
setting per level with its history (``validity_policy``), worked out when read.
Expiries that earlier versions computed from the policy and stored are removed,
so ``certificate.expires_on`` holds only what a decision printed, and the
``expires_from_policy`` flag goes.

Downgrade is lossy: the column comes back as false for every row and the
removed policy expiries are not recomputed (the old code treats a missing
expiry as "never expires"); the policy rows are dropped.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "validity_policy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("level", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("years", sa.Integer(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("set_by_id", sa.Integer(), nullable=True),
        sa.Column("set_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.ForeignKeyConstraint(["set_by_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("validity_policy") as batch:
        batch.create_index(batch.f("ix_validity_policy_level"), ["level"], unique=False)
    op.execute(
        sa.text("UPDATE certificate SET expires_on = NULL WHERE expires_from_policy = :yes").bindparams(
            sa.bindparam("yes", True, type_=sa.Boolean())
        )
    )
    with op.batch_alter_table("certificate") as batch:
        batch.drop_column("expires_from_policy")


def downgrade() -> None:
    with op.batch_alter_table("certificate") as batch:
        batch.add_column(
            sa.Column("expires_from_policy", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("certificate") as batch:
        batch.alter_column("expires_from_policy", server_default=None)
    with op.batch_alter_table("validity_policy") as batch:
        batch.drop_index(batch.f("ix_validity_policy_level"))
    op.drop_table("validity_policy")
