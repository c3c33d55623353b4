"""product GTINs

Products may carry GTINs (issue 18): ``product_gtin`` keeps each one in its
14-digit form, unique across products, for the GS1 Digital Link resolver
(``/01/<gtin>``).

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "product_gtin",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("gtin", sqlmodel.sql.sqltypes.AutoString(length=14), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["product_id"], ["product.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("gtin"),
    )
    op.create_index("ix_product_gtin_product_id", "product_gtin", ["product_id"])


def downgrade() -> None:
    op.drop_index("ix_product_gtin_product_id", "product_gtin")
    op.drop_table("product_gtin")
