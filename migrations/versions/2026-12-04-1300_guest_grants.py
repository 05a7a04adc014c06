"""Guest dosing: another pharmacy doses the patient on named days (append-only)

Revision ID: 8f2c6a1e4d95
Revises: 4b8e2d6a9c13
Create Date: 2026-12-04 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8f2c6a1e4d95"
down_revision: str | None = "4b8e2d6a9c13"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("guest_grants", "guest_grant_ends")


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_table(
        "guest_grants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("prescription_id", sa.Uuid(), nullable=False),
        sa.Column("home_pharmacy_id", sa.Uuid(), nullable=False),
        sa.Column("guest_pharmacy_id", sa.Uuid(), nullable=False),
        sa.Column("from_date", sa.Date(), nullable=False),
        sa.Column("to_date", sa.Date(), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=False),
        sa.Column("days_granted", sa.Integer(), nullable=False),
        sa.Column("granted_by_id", sa.Uuid(), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_guest_grants_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["prescription_id"],
            ["prescriptions.id"],
            name=op.f("fk_guest_grants_prescription_id_prescriptions"),
        ),
        sa.ForeignKeyConstraint(
            ["home_pharmacy_id"],
            ["pharmacies.id"],
            name=op.f("fk_guest_grants_home_pharmacy_id_pharmacies"),
        ),
        sa.ForeignKeyConstraint(
            ["guest_pharmacy_id"],
            ["pharmacies.id"],
            name=op.f("fk_guest_grants_guest_pharmacy_id_pharmacies"),
        ),
        sa.ForeignKeyConstraint(
            ["granted_by_id"], ["users.id"], name=op.f("fk_guest_grants_granted_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guest_grants")),
    )
    with op.batch_alter_table("guest_grants", schema=None) as batch_op:
        batch_op.create_index("ix_guest_grants_patient_id", ["patient_id"])
        batch_op.create_index(
            "ix_guest_grants_guest_pharmacy_id_to_date", ["guest_pharmacy_id", "to_date"]
        )
    op.create_table(
        "guest_grant_ends",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("grant_id", sa.Uuid(), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("days_returned", sa.Integer(), nullable=False),
        sa.Column("ended_by_id", sa.Uuid(), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["guest_grants.id"],
            name=op.f("fk_guest_grant_ends_grant_id_guest_grants"),
        ),
        sa.ForeignKeyConstraint(
            ["ended_by_id"], ["users.id"], name=op.f("fk_guest_grant_ends_ended_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guest_grant_ends")),
        sa.UniqueConstraint("grant_id", name=op.f("uq_guest_grant_ends_grant_id")),
    )
    for table in TABLES:
        if _postgres():
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION dk_refuse_change()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION dk_refuse_change()"
            )
        else:
            for event in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'append-only table {table}: {event} refused'); END"
                )


def downgrade() -> None:
    for table in reversed(TABLES):
        if _postgres():
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
    op.drop_table("guest_grant_ends")
    with op.batch_alter_table("guest_grants", schema=None) as batch_op:
        batch_op.drop_index("ix_guest_grants_guest_pharmacy_id_to_date")
        batch_op.drop_index("ix_guest_grants_patient_id")
    op.drop_table("guest_grants")
