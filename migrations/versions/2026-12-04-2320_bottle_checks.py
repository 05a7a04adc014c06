"""The stock bottle checked before a dose is measured: GTIN table with overrides, batch on the supply

Revision ID: d3f6a9c4e123
Revises: c2e5f8b3d012
Create Date: 2026-12-04 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d3f6a9c4e123"
down_revision: str | None = "c2e5f8b3d012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TABLES = ("pack_mappings", "handover_bottles")


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_table(
        "pack_mappings",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("pharmacy_id", sa.Uuid(), nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("product", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("mapped_by_id", sa.Uuid(), nullable=False),
        sa.Column("mapped_by_name", sa.String(length=200), nullable=False),
        sa.Column("mapped_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["pharmacy_id"], ["pharmacies.id"], name=op.f("fk_pack_mappings_pharmacy_id_pharmacies")
        ),
        sa.ForeignKeyConstraint(
            ["mapped_by_id"], ["users.id"], name=op.f("fk_pack_mappings_mapped_by_id_users")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_pack_mappings")),
        sa.UniqueConstraint("id", name=op.f("uq_pack_mappings_id")),
    )
    with op.batch_alter_table("pack_mappings", schema=None) as batch_op:
        batch_op.create_index("ix_pack_mappings_pharmacy_id_gtin", ["pharmacy_id", "gtin"])
    op.create_table(
        "handover_bottles",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("handover_id", sa.Uuid(), nullable=False),
        sa.Column("pharmacy_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("product", sa.String(length=64), nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=True),
        sa.Column("batch", sa.String(length=40), nullable=True),
        sa.Column("serial", sa.String(length=40), nullable=True),
        sa.Column("expiry", sa.Date(), nullable=True),
        sa.Column("mapped_product", sa.String(length=64), nullable=True),
        sa.Column("measured_ml", sa.Numeric(precision=10, scale=2), nullable=True),
        sa.Column("pump_dispensed_ml", sa.Numeric(precision=10, scale=2), nullable=True),
        sa.Column("recorded_by_id", sa.Uuid(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["pharmacy_id"],
            ["pharmacies.id"],
            name=op.f("fk_handover_bottles_pharmacy_id_pharmacies"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_handover_bottles_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["users.id"], name=op.f("fk_handover_bottles_recorded_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handover_bottles")),
        sa.UniqueConstraint("handover_id", name=op.f("uq_handover_bottles_handover_id")),
    )
    with op.batch_alter_table("handover_bottles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_handover_bottles_patient_id"), ["patient_id"])
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
    with op.batch_alter_table("handover_bottles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_handover_bottles_patient_id"))
    op.drop_table("handover_bottles")
    with op.batch_alter_table("pack_mappings", schema=None) as batch_op:
        batch_op.drop_index("ix_pack_mappings_pharmacy_id_gtin")
    op.drop_table("pack_mappings")
