"""seed notes and producer kinds as printed

A producer keeps its kind as the decision printed it ("Công ty TNHH", "xí nghiệp")
beside the stable kind key; a certificate's publication keeps the source's remark
(e.g. "names as printed on the source's English page") apart from the names.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("producer") as batch:
        batch.add_column(sa.Column("kind_as_printed", sa.String(length=100), nullable=True))
    with op.batch_alter_table("certificate") as batch:
        batch.add_column(sa.Column("source_note", sa.String(), nullable=True))
    # Kinds now follow DESIGN §2's six; the two keys that named no legal form become
    # "other", keeping what they meant as the printed kind.
    for key, printed in (("doanh_nghiep", "doanh nghiệp"), ("co_so", "cơ sở")):
        op.execute(
            sa.text(
                "UPDATE producer SET kind_as_printed = :printed WHERE kind = :key AND kind_as_printed IS NULL"
            ).bindparams(key=key, printed=printed)
        )
        op.execute(sa.text("UPDATE producer SET kind = 'khac' WHERE kind = :key").bindparams(key=key))


def downgrade() -> None:
    with op.batch_alter_table("certificate") as batch:
        batch.drop_column("source_note")
    with op.batch_alter_table("producer") as batch:
        batch.drop_column("kind_as_printed")
