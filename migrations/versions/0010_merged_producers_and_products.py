"""merged producers and products

Issue 15, item 3 ("merge duplicates"): ``merge_record`` keeps each merge of a
duplicate producer or product into a survivor (the duplicate's full row and the
keys of the rows that moved, so it can be undone exactly); ``slug_redirect``
answers the duplicate's old public URL with the survivor's page.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "merge_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("survivor_id", sa.Integer(), nullable=False),
        sa.Column("duplicate_id", sa.Integer(), nullable=False),
        sa.Column("duplicate_name", sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
        sa.Column("duplicate_slug", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("province_id", sa.Integer(), nullable=True),
        sa.Column("merged_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("merged_by", sa.Integer(), nullable=True),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("moved", sa.JSON(), nullable=False),
        sa.Column("filled", sa.JSON(), nullable=False),
        sa.Column("undone_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("undone_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["merged_by"], ["app_user.id"]),
        sa.ForeignKeyConstraint(["province_id"], ["province.id"]),
        sa.ForeignKeyConstraint(["undone_by"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("merge_record", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_merge_record_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_merge_record_survivor_id"), ["survivor_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_merge_record_duplicate_id"), ["duplicate_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_merge_record_province_id"), ["province_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_merge_record_merged_at"), ["merged_at"], unique=False)
    op.create_table(
        "slug_redirect",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("old_slug", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("from_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("merge_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["merge_id"], ["merge_record.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("slug_redirect", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_slug_redirect_old_slug"), ["old_slug"], unique=False)
        batch_op.create_index(batch_op.f("ix_slug_redirect_from_id"), ["from_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_slug_redirect_merge_id"), ["merge_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("slug_redirect", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slug_redirect_merge_id"))
        batch_op.drop_index(batch_op.f("ix_slug_redirect_from_id"))
        batch_op.drop_index(batch_op.f("ix_slug_redirect_old_slug"))
    op.drop_table("slug_redirect")
    with op.batch_alter_table("merge_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_merge_record_merged_at"))
        batch_op.drop_index(batch_op.f("ix_merge_record_province_id"))
        batch_op.drop_index(batch_op.f("ix_merge_record_duplicate_id"))
        batch_op.drop_index(batch_op.f("ix_merge_record_survivor_id"))
        batch_op.drop_index(batch_op.f("ix_merge_record_kind"))
    op.drop_table("merge_record")
