"""merged ids never reused

On SQLite a table without AUTOINCREMENT numbers a new row max(id) + 1, so the id of a
producer or product merged away (the highest one) went to the next new record: the API's
id then named another record, its audit history mixed two records and the undo of the merge
was refused for good. Both tables are rebuilt with AUTOINCREMENT on SQLite (the rows, their
ids and indexes stay); PostgreSQL's sequences never reuse a number, so nothing changes there.

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("producer", "product")


def _rebuild(autoincrement: bool) -> None:
    # migrations/env.py turns SQLite's foreign keys off around the migration (the rebuild drops
    # tables that others reference) and checks them before the commit.
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in TABLES:
        with op.batch_alter_table(
            name, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass


def upgrade() -> None:
    _rebuild(True)


def downgrade() -> None:
    _rebuild(False)
