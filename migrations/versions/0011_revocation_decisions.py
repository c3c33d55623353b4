"""revocation decisions

Issue 15, item 4 ("revocation by decision"): ``revocation_decision`` keeps one
decision (number, date, reason, action, office) under which many certificates
were revoked or reinstated at once; each certificate's event names it through
``certificate_event.decision_id``.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FK = "fk_certificate_event_decision_id_revocation_decision"


def upgrade() -> None:
    op.create_table(
        "revocation_decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("number", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("office", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("province_id", sa.Integer(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["app_user.id"]),
        sa.ForeignKeyConstraint(["province_id"], ["province.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("revocation_decision", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_revocation_decision_number"), ["number"], unique=False)
        batch_op.create_index(batch_op.f("ix_revocation_decision_province_id"), ["province_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_revocation_decision_created_at"), ["created_at"], unique=False)
    with op.batch_alter_table("certificate_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("decision_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_certificate_event_decision_id"), ["decision_id"], unique=False)
        batch_op.create_foreign_key(_FK, "revocation_decision", ["decision_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("certificate_event", schema=None) as batch_op:
        batch_op.drop_constraint(_FK, type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_certificate_event_decision_id"))
        batch_op.drop_column("decision_id")
    with op.batch_alter_table("revocation_decision", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_revocation_decision_created_at"))
        batch_op.drop_index(batch_op.f("ix_revocation_decision_province_id"))
        batch_op.drop_index(batch_op.f("ix_revocation_decision_number"))
    op.drop_table("revocation_decision")
