"""Dose exceptions (vomited, spilt, lost, stolen, damaged, returned) and authorised replacements

Revision ID: c2e5f8b3d012
Revises: b1d4e7a2c901
Create Date: 2026-12-04 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c2e5f8b3d012"
down_revision: str | None = "b1d4e7a2c901"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("dose_exceptions", "dose_replacements", "dose_return_destructions")


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade() -> None:
    op.create_table(
        "dose_exceptions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("pharmacy_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("prescription_id", sa.Uuid(), nullable=False),
        sa.Column("household_id", sa.Uuid(), nullable=True),
        sa.Column("replacement_id", sa.Uuid(), nullable=True),
        sa.Column("product", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("dose_date", sa.Date(), nullable=False),
        sa.Column("dose_dates", sa.JSON(), nullable=False),
        sa.Column("dose_mg", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("volume_ml", sa.Numeric(precision=10, scale=2), nullable=True),
        sa.Column("minutes_after", sa.Integer(), nullable=True),
        sa.Column("police_reference", sa.String(length=80), nullable=True),
        sa.Column("note", sa.String(length=2000), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("recorded_by_id", sa.Uuid(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('vomited', 'spilt', 'lost', 'stolen', 'damaged', 'returned')",
            name=op.f("ck_dose_exceptions_kind_allowed"),
        ),
        _fk("dose_exceptions", "pharmacy_id", "pharmacies"),
        _fk("dose_exceptions", "patient_id", "patients"),
        _fk("dose_exceptions", "prescription_id", "prescriptions"),
        _fk("dose_exceptions", "household_id", "households"),
        _fk("dose_exceptions", "recorded_by_id", "users"),
        # SQLite allows a key to a table still to be made; PostgreSQL gets it below.
        *([] if _postgres() else [_fk("dose_exceptions", "replacement_id", "dose_replacements")]),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dose_exceptions")),
        sa.UniqueConstraint("replacement_id", name=op.f("uq_dose_exceptions_replacement_id")),
    )
    with op.batch_alter_table("dose_exceptions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_dose_exceptions_patient_id_dose_date", ["patient_id", "dose_date"]
        )
        batch_op.create_index(
            "ix_dose_exceptions_pharmacy_id_occurred_on", ["pharmacy_id", "occurred_on"]
        )
    op.create_table(
        "dose_replacements",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("exception_id", sa.Uuid(), nullable=False),
        sa.Column("pharmacy_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("prescription_id", sa.Uuid(), nullable=False),
        sa.Column("product", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("dose_mg", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("volume_ml", sa.Numeric(precision=10, scale=2), nullable=True),
        sa.Column("dose_dates", sa.JSON(), nullable=False),
        sa.Column("authorised_by", sa.String(length=300), nullable=False),
        sa.Column("authorised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("authorised_how", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=False),
        sa.Column("supplied_on", sa.Date(), nullable=False),
        sa.Column("supplied_by_id", sa.Uuid(), nullable=False),
        sa.Column("supplied_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "authorised_how IN ('phone', 'written', 'in_person', 'email')",
            name=op.f("ck_dose_replacements_authorised_how_allowed"),
        ),
        sa.CheckConstraint(
            "mode IN ('supervised', 'take_home')",
            name=op.f("ck_dose_replacements_mode_allowed"),
        ),
        _fk("dose_replacements", "exception_id", "dose_exceptions"),
        _fk("dose_replacements", "pharmacy_id", "pharmacies"),
        _fk("dose_replacements", "patient_id", "patients"),
        _fk("dose_replacements", "prescription_id", "prescriptions"),
        _fk("dose_replacements", "supplied_by_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dose_replacements")),
        sa.UniqueConstraint("exception_id", name=op.f("uq_dose_replacements_exception_id")),
    )
    with op.batch_alter_table("dose_replacements", schema=None) as batch_op:
        batch_op.create_index("ix_dose_replacements_patient_id", ["patient_id"])
    if _postgres():  # the exception of a replacement names it: the key each way
        op.create_foreign_key(
            op.f("fk_dose_exceptions_replacement_id_dose_replacements"),
            "dose_exceptions",
            "dose_replacements",
            ["replacement_id"],
            ["id"],
        )
    op.create_table(
        "dose_return_destructions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("exception_id", sa.Uuid(), nullable=False),
        sa.Column("pharmacy_id", sa.Uuid(), nullable=False),
        sa.Column("destroyed_on", sa.Date(), nullable=False),
        sa.Column("method", sa.String(length=300), nullable=False),
        sa.Column("witness", sa.String(length=200), nullable=False),
        sa.Column("destroyed_by_id", sa.Uuid(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        _fk("dose_return_destructions", "exception_id", "dose_exceptions"),
        _fk("dose_return_destructions", "pharmacy_id", "pharmacies"),
        _fk("dose_return_destructions", "destroyed_by_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dose_return_destructions")),
        sa.UniqueConstraint("exception_id", name=op.f("uq_dose_return_destructions_exception_id")),
    )
    with op.batch_alter_table("dose_return_destructions", schema=None) as batch_op:
        batch_op.create_index("ix_dose_return_destructions_pharmacy_id", ["pharmacy_id"])
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
    with op.batch_alter_table("dose_return_destructions", schema=None) as batch_op:
        batch_op.drop_index("ix_dose_return_destructions_pharmacy_id")
    op.drop_table("dose_return_destructions")
    if _postgres():
        op.drop_constraint(
            op.f("fk_dose_exceptions_replacement_id_dose_replacements"),
            "dose_exceptions",
            type_="foreignkey",
        )
    with op.batch_alter_table("dose_replacements", schema=None) as batch_op:
        batch_op.drop_index("ix_dose_replacements_patient_id")
    op.drop_table("dose_replacements")
    with op.batch_alter_table("dose_exceptions", schema=None) as batch_op:
        batch_op.drop_index("ix_dose_exceptions_pharmacy_id_occurred_on")
        batch_op.drop_index("ix_dose_exceptions_patient_id_dose_date")
    op.drop_table("dose_exceptions")
