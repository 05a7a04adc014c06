"""Doses given on paper during an outage, entered afterwards (append-only)

A take-home collected on paper whose day a close of day had already marked missed is
corrected, once, naming its correction, as a late supervised dose already is.

Revision ID: 4b8e2d6a9c13
Revises: c5e1a8f03d27
Create Date: 2026-12-04 11:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4b8e2d6a9c13"
down_revision: str | None = "c5e1a8f03d27"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "paper_doses"

SAME_DOSE = (
    "NEW.dose_date = OLD.dose_date AND NEW.product = OLD.product "
    "AND NEW.patient_id = OLD.patient_id AND NEW.dose_mg = OLD.dose_mg"
)
REASSESSED = (
    "OLD.state = 'withheld' AND NEW.state IN ('supervised', 'collected') "
    "AND OLD.reassessment_id IS NULL AND NEW.reassessment_id IS NOT NULL AND " + SAME_DOSE
)
CORRECTED = (
    "OLD.state = 'missed' AND NEW.state = 'supervised' "
    "AND OLD.correction_id IS NULL AND NEW.correction_id IS NOT NULL AND " + SAME_DOSE
)
REATTRIBUTED = (
    "OLD.state = 'supervised' AND NEW.state = 'due' "
    "AND OLD.correction_id IS NULL AND NEW.correction_id IS NOT NULL AND " + SAME_DOSE
)
# A take-home handed over on paper on a day a close of day marked missed.
COLLECTED_ON_PAPER = (
    "OLD.state = 'missed' AND NEW.state = 'collected' "
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


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("pharmacy_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("prescription_id", sa.Uuid(), nullable=True),
        sa.Column("dose_date", sa.Date(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("dose_mg", sa.Numeric(precision=10, scale=2), nullable=True),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("given_by", sa.String(length=80), nullable=False),
        sa.Column("sheet_reference", sa.String(length=80), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("blocks", sa.JSON(), nullable=False),
        sa.Column("dose_dates", sa.JSON(), nullable=False),
        sa.Column("entered_by_id", sa.Uuid(), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('supervised', 'collected', 'withheld')",
            name=op.f("ck_paper_doses_outcome_allowed"),
        ),
        sa.ForeignKeyConstraint(
            ["pharmacy_id"], ["pharmacies.id"], name=op.f("fk_paper_doses_pharmacy_id_pharmacies")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_paper_doses_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["prescription_id"],
            ["prescriptions.id"],
            name=op.f("fk_paper_doses_prescription_id_prescriptions"),
        ),
        sa.ForeignKeyConstraint(
            ["entered_by_id"], ["users.id"], name=op.f("fk_paper_doses_entered_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paper_doses")),
        sa.UniqueConstraint(
            "patient_id",
            "dose_date",
            "outcome",
            "sheet_reference",
            name=op.f("uq_paper_doses_patient_id_dose_date_outcome_sheet_reference"),
        ),
    )
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.create_index("ix_paper_doses_patient_id", ["patient_id"])
        batch_op.create_index("ix_paper_doses_pharmacy_id_dose_date", ["pharmacy_id", "dose_date"])
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
    _drop_final_dose_triggers()
    _protect_final_doses(
        f"({REASSESSED}) OR ({CORRECTED}) OR ({REATTRIBUTED}) OR ({COLLECTED_ON_PAPER})"
    )


def downgrade() -> None:
    _drop_final_dose_triggers()
    _protect_final_doses(f"({REASSESSED}) OR ({CORRECTED}) OR ({REATTRIBUTED})")
    if _postgres():
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE}")
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_truncate ON {TABLE}")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_update")
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_delete")
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_index("ix_paper_doses_pharmacy_id_dose_date")
        batch_op.drop_index("ix_paper_doses_patient_id")
    op.drop_table(TABLE)
