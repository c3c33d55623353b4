"""provenance per certificate

Each certificate keeps the decision and office of its own publication, so a
later batch can no longer rewrite an older certificate's provenance through a
shared round (issue 11, finding 2). Existing certificates take the decision
their "issued" event recorded (the row's own decision number), else the
decision of the batch that published them, else their round's; the date comes
from whichever of batch or round carries that same decision; the office from
the publishing batch. Nothing is lost: rounds keep their own decision fields.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("certificate") as batch:
        batch.add_column(sa.Column("decision_number", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("decision_date", sa.Date(), nullable=True))
        batch.add_column(sa.Column("office", sa.String(length=300), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            """
            SELECT c.id,
                   (SELECT e.reference FROM certificate_event e
                     WHERE e.certificate_id = c.id AND e.kind = 'issued' ORDER BY e.id LIMIT 1),
                   b.state, b.decision_number, b.decision_date, b.office,
                   r.decision_number, r.decision_date
              FROM certificate c
              JOIN selection_round r ON r.id = c.round_id
              LEFT JOIN import_batch b ON b.id = c.batch_id
            """
        )
    ).all()
    update = sa.text(
        "UPDATE certificate SET decision_number = :number, decision_date = :day, office = :office "
        "WHERE id = :id"
    )
    for cert_id, issued_ref, state, b_number, b_date, b_office, r_number, r_date in rows:
        published = state == "published"
        number = issued_ref or (b_number if published else None) or r_number
        day = None
        if number is not None and published and b_number == number:
            day = b_date
        elif number is not None and r_number == number:
            day = r_date
        conn.execute(
            update,
            {"number": number, "day": day, "office": b_office if published else None, "id": cert_id},
        )


def downgrade() -> None:
    with op.batch_alter_table("certificate") as batch:
        batch.drop_column("office")
        batch.drop_column("decision_date")
        batch.drop_column("decision_number")
