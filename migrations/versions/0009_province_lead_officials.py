"""province lead officials

A provincial official may be marked as their province's lead: they look after
their own province's other officials (reset links, new accounts, deactivation),
so 34 provinces' forgotten passwords no longer all wait on the ministry.
Existing accounts are not leads.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("app_user") as batch:
        batch.add_column(sa.Column("is_lead", sa.Boolean(), nullable=False, server_default=sa.false()))
    # The model sets the value on every insert, as for the other flags.
    with op.batch_alter_table("app_user") as batch:
        batch.alter_column("is_lead", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("app_user") as batch:
        batch.drop_column("is_lead")
