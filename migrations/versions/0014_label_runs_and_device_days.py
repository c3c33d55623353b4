"""label runs and device-days

A code per package (issue 16): ``label_run`` (a certificate's run of N serial
codes, never the codes themselves) and ``label_withdrawal`` (serial ranges that
read "label withdrawn"). The check log learns device-days: the table
``verification_device_day`` (code, daily device pseudonym) and the tally's
``device_days``, back-filled from the rows the log still holds. Fake reports
keep where the product was bought (province) and the label run they concern.

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "label_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("certificate_id", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("key_id", sqlmodel.sql.sqltypes.AutoString(length=1), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_by_label", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.ForeignKeyConstraint(["certificate_id"], ["certificate.id"]),
        sa.ForeignKeyConstraint(["created_by_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_label_run_certificate_id", "label_run", ["certificate_id"])
    op.create_table(
        "label_withdrawal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("first_serial", sa.Integer(), nullable=False),
        sa.Column("last_serial", sa.Integer(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("withdrawn_on", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("withdrawn_by_id", sa.Integer(), nullable=True),
        sa.Column("withdrawn_by_label", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["label_run.id"]),
        sa.ForeignKeyConstraint(["withdrawn_by_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_label_withdrawal_run_id", "label_withdrawal", ["run_id"])
    op.create_table(
        "verification_device_day",
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("device", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("code", "device"),
    )
    op.create_index("ix_verification_device_day_day", "verification_device_day", ["day"])
    with op.batch_alter_table("verification_tally") as batch:
        batch.add_column(sa.Column("device_days", sa.Integer(), nullable=False, server_default="0"))
    # The log's rows so far, as device-days (rows without a device each count as one).
    op.execute(
        "INSERT INTO verification_device_day (code, device, day) "
        "SELECT code, device, MIN(DATE(checked_at)) FROM verification_check "
        "WHERE device IS NOT NULL GROUP BY code, device"
    )
    op.execute(
        "UPDATE verification_tally SET device_days = "
        "(SELECT COUNT(DISTINCT device) FROM verification_check c WHERE c.code = verification_tally.code) "
        "+ (SELECT COUNT(*) FROM verification_check c WHERE c.code = verification_tally.code "
        "AND c.device IS NULL)"
    )
    with op.batch_alter_table("fake_report") as batch:
        batch.add_column(sa.Column("bought_province_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("label_run_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_fake_report_bought_province_id", "province", ["bought_province_id"], ["id"]
        )
        batch.create_index("ix_fake_report_label_run_id", ["label_run_id"])


def downgrade() -> None:
    with op.batch_alter_table("fake_report") as batch:
        batch.drop_index("ix_fake_report_label_run_id")
        batch.drop_constraint("fk_fake_report_bought_province_id", type_="foreignkey")
        batch.drop_column("label_run_id")
        batch.drop_column("bought_province_id")
    with op.batch_alter_table("verification_tally") as batch:
        batch.drop_column("device_days")
    op.drop_index("ix_verification_device_day_day", "verification_device_day")
    op.drop_table("verification_device_day")
    op.drop_index("ix_label_withdrawal_run_id", "label_withdrawal")
    op.drop_table("label_withdrawal")
    op.drop_index("ix_label_run_certificate_id", "label_run")
    op.drop_table("label_run")
