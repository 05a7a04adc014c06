"""Late-dose corrections: a day marked missed at close of day whose dose was taken that evening

The ledger row may leave `missed` once, for `supervised`, when it names its correction; the
correction itself is append-only.

Revision ID: 3b8d5e2f0a61
Revises: 7c2f4e1a9b30
Create Date: 2026-12-04 02:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3b8d5e2f0a61"
down_revision: str | None = "7c2f4e1a9b30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SAME_DOSE = (
    "NEW.dose_date = OLD.dose_date AND NEW.product = OLD.product "
    "AND NEW.patient_id = OLD.patient_id AND NEW.dose_mg = OLD.dose_mg"
)
# The two ways out of a final state, each once: a withheld dose supplied later the same day
# after a recorded reassessment; a day marked missed whose dose was in fact taken under
# supervision that evening (a recorded correction).
REASSESSED = (
    "OLD.state = 'withheld' AND NEW.state IN ('supervised', 'collected') "
    "AND OLD.reassessment_id IS NULL AND NEW.reassessment_id IS NOT NULL AND " + SAME_DOSE
)
CORRECTED = (
    "OLD.state = 'missed' AND NEW.state = 'supervised' "
    "AND OLD.correction_id IS NULL AND NEW.correction_id IS NOT NULL AND " + SAME_DOSE
)


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _drop_final_dose_triggers() -> None:
    if _postgres():
        op.execute("DROP TRIGGER IF EXISTS instalment_days_final ON instalment_days")
    else:
        op.execute("DROP TRIGGER IF EXISTS instalment_days_final_update")
        op.execute("DROP TRIGGER IF EXISTS instalment_days_final_delete")


def _protect_final_doses(allowed: str) -> None:
    if _postgres():
        op.execute(
            "CREATE OR REPLACE FUNCTION dk_refuse_final_dose_change() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN "
            "IF OLD.state <> 'due' AND NOT (TG_OP = 'UPDATE' AND "
            f"({allowed})) THEN RAISE EXCEPTION "
            "'instalment day % is %: recorded doses never change', OLD.id, OLD.state "
            "USING ERRCODE = 'insufficient_privilege'; END IF; "
            "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$"
        )
        op.execute(
            "CREATE TRIGGER instalment_days_final BEFORE UPDATE OR DELETE ON instalment_days "
            "FOR EACH ROW EXECUTE FUNCTION dk_refuse_final_dose_change()"
        )
    else:
        op.execute(
            "CREATE TRIGGER instalment_days_final_update BEFORE UPDATE ON instalment_days "
            f"WHEN OLD.state <> 'due' AND NOT ({allowed}) "
            "BEGIN SELECT RAISE(ABORT, 'recorded doses never change'); END"
        )
        op.execute(
            "CREATE TRIGGER instalment_days_final_delete BEFORE DELETE ON instalment_days "
            "WHEN OLD.state <> 'due' "
            "BEGIN SELECT RAISE(ABORT, 'recorded doses never change'); END"
        )


def _append_only(table: str) -> None:
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


def upgrade() -> None:
    op.create_table(
        "dose_corrections",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("instalment_day_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("pharmacy_id", sa.Uuid(), nullable=False),
        sa.Column("dose_date", sa.Date(), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=False),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("corrected_by_id", sa.Uuid(), nullable=False),
        sa.Column("corrected_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["corrected_by_id"],
            ["users.id"],
            name=op.f("fk_dose_corrections_corrected_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["instalment_day_id"],
            ["instalment_days.id"],
            name=op.f("fk_dose_corrections_instalment_day_id_instalment_days"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_dose_corrections_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["pharmacy_id"],
            ["pharmacies.id"],
            name=op.f("fk_dose_corrections_pharmacy_id_pharmacies"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dose_corrections")),
    )
    with op.batch_alter_table("dose_corrections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dose_corrections_patient_id"), ["patient_id"], unique=False
        )
    _append_only("dose_corrections")

    # SQLite rebuilds the table to add the foreign key, which drops its triggers.
    _drop_final_dose_triggers()
    with op.batch_alter_table("instalment_days", schema=None) as batch_op:
        batch_op.add_column(sa.Column("correction_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_instalment_days_correction_id_dose_corrections"),
            "dose_corrections",
            ["correction_id"],
            ["id"],
        )
    _protect_final_doses(f"({REASSESSED}) OR ({CORRECTED})")


def downgrade() -> None:
    _drop_final_dose_triggers()
    with op.batch_alter_table("instalment_days", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_instalment_days_correction_id_dose_corrections"), type_="foreignkey"
        )
        batch_op.drop_column("correction_id")
    _protect_final_doses(REASSESSED)
    if _postgres():
        op.execute("DROP TRIGGER IF EXISTS dose_corrections_append_only ON dose_corrections")
        op.execute("DROP TRIGGER IF EXISTS dose_corrections_no_truncate ON dose_corrections")
    else:
        op.execute("DROP TRIGGER IF EXISTS dose_corrections_no_update")
        op.execute("DROP TRIGGER IF EXISTS dose_corrections_no_delete")
    with op.batch_alter_table("dose_corrections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dose_corrections_patient_id"))
    op.drop_table("dose_corrections")
