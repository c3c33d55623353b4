"""change feed kinds

The search outbox is also the public change feed (``/api/v1/changes``, issue 17): each
row says what kind of change it was (created, corrected, revoked, reinstated, removed)
and which certificate it concerns. Rows written before: null, read as "corrected".

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("search_outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
        batch_op.add_column(sa.Column("certificate_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("search_outbox", schema=None) as batch_op:
        batch_op.drop_column("certificate_id")
        batch_op.drop_column("kind")
