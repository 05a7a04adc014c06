"""Permanent transfers of a patient to another pharmacy, with the handover note (append-only)

Revision ID: 3a7d9e2b6c48
Revises: 8f2c6a1e4d95
Create Date: 2026-12-04 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3a7d9e2b6c48"
down_revision: str | None = "8f2c6a1e4d95"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "patient_transfers"


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("from_pharmacy_id", sa.Uuid(), nullable=False),
        sa.Column("to_pharmacy_id", sa.Uuid(), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("handover_note", sa.String(length=2000), nullable=False),
        sa.Column("prescriptions_moved", sa.Integer(), nullable=False),
        sa.Column("days_moved", sa.Integer(), nullable=False),
        sa.Column("household_moved", sa.Boolean(), nullable=False),
        sa.Column("transferred_by_id", sa.Uuid(), nullable=False),
        sa.Column("transferred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_patient_transfers_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["from_pharmacy_id"],
            ["pharmacies.id"],
            name=op.f("fk_patient_transfers_from_pharmacy_id_pharmacies"),
        ),
        sa.ForeignKeyConstraint(
            ["to_pharmacy_id"],
            ["pharmacies.id"],
            name=op.f("fk_patient_transfers_to_pharmacy_id_pharmacies"),
        ),
        sa.ForeignKeyConstraint(
            ["transferred_by_id"],
            ["users.id"],
            name=op.f("fk_patient_transfers_transferred_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_transfers")),
    )
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.create_index("ix_patient_transfers_patient_id", ["patient_id"])
    if _postgres():
        op.execute(
            f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
            "FOR EACH ROW EXECUTE FUNCTION dk_refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
            "FOR EACH STATEMENT EXECUTE FUNCTION dk_refuse_change()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {TABLE}_no_{event.lower()} BEFORE {event} ON {TABLE} "
                f"BEGIN SELECT RAISE(ABORT, 'append-only table {TABLE}: {event} refused'); END"
            )


def downgrade() -> None:
    if _postgres():
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE}")
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_truncate ON {TABLE}")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_update")
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_delete")
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_index("ix_patient_transfers_patient_id")
    op.drop_table(TABLE)
