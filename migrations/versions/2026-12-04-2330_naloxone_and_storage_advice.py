"""Take-home naloxone supplied and safe-storage advice given

Revision ID: e4a7b0d5f234
Revises: d3f6a9c4e123
Create Date: 2026-12-04 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e4a7b0d5f234"
down_revision: str | None = "d3f6a9c4e123"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("naloxone_supplies", "storage_advice")


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_table(
        "naloxone_supplies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("household_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=True),
        sa.Column("product", sa.String(length=32), nullable=False),
        sa.Column("product_name", sa.String(length=200), nullable=False),
        sa.Column("batch", sa.String(length=40), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("trained", sa.Boolean(), nullable=False),
        sa.Column("recipient", sa.String(length=16), nullable=False),
        sa.Column("recipient_name", sa.String(length=120), nullable=False),
        sa.Column("supplied_on", sa.Date(), nullable=False),
        sa.Column("supplied_by_id", sa.Uuid(), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "recipient IN ('patient', 'household_adult')",
            name=op.f("ck_naloxone_supplies_recipient_allowed"),
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_naloxone_supplies_household_id_households"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_naloxone_supplies_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["supplied_by_id"],
            ["users.id"],
            name=op.f("fk_naloxone_supplies_supplied_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_naloxone_supplies")),
    )
    with op.batch_alter_table("naloxone_supplies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_naloxone_supplies_household_id"), ["household_id"], unique=False
        )
    op.create_table(
        "storage_advice",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("household_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=True),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("given_to", sa.String(length=120), nullable=False),
        sa.Column("given_on", sa.Date(), nullable=False),
        sa.Column("given_by_id", sa.Uuid(), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_storage_advice_household_id_households"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_storage_advice_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["given_by_id"], ["users.id"], name=op.f("fk_storage_advice_given_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_storage_advice")),
    )
    with op.batch_alter_table("storage_advice", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_storage_advice_household_id"), ["household_id"], unique=False
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
    with op.batch_alter_table("storage_advice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_storage_advice_household_id"))
    op.drop_table("storage_advice")
    with op.batch_alter_table("naloxone_supplies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_naloxone_supplies_household_id"))
    op.drop_table("naloxone_supplies")
