"""A household's history keeps its notes whole

The notes hold 2,000 characters; their history rows held 500, so a change of long notes was
cut short in the record (and the old and new text could not be compared). Both values now hold
what the notes hold.

Revision ID: 9e4a7c1d2b58
Revises: 3b8d5e2f0a61
Create Date: 2026-12-04 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9e4a7c1d2b58"
down_revision: str | None = "3b8d5e2f0a61"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "household_changes"


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _sqlite_triggers(create: bool) -> None:
    """SQLite rebuilds the table to change a column's type, which drops its triggers: they are
    dropped first and put back after (PostgreSQL alters in place and keeps them)."""
    for event in ("UPDATE", "DELETE"):
        name = f"{TABLE}_no_{event.lower()}"
        if create:
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {event} ON {TABLE} "
                f"BEGIN SELECT RAISE(ABORT, 'append-only table {TABLE}: {event} refused'); END"
            )
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")


def _resize(length_from: int, length_to: int) -> None:
    if not _postgres():
        _sqlite_triggers(create=False)
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        for column in ("old_value", "new_value"):
            batch_op.alter_column(
                column,
                existing_type=sa.String(length=length_from),
                type_=sa.String(length=length_to),
                existing_nullable=True,
            )
    if not _postgres():
        _sqlite_triggers(create=True)


def upgrade() -> None:
    _resize(500, 2000)


def downgrade() -> None:
    # Longer values would not fit back: the history is append-only, so refuse rather than cut.
    bind = op.get_bind()
    longest = max(
        bind.scalar(sa.text(f"SELECT MAX(LENGTH({column})) FROM {TABLE}")) or 0  # noqa: S608
        for column in ("old_value", "new_value")
    )
    if longest > 500:
        raise RuntimeError(
            f"{TABLE} holds a value of {longest} characters: it cannot go back to 500"
        )
    _resize(2000, 500)
