"""Split and stepped doses: a prescription's dose parts and steps, each ledger day's parts

Revision ID: b1d4e7a2c901
Revises: 3a7d9e2b6c48
Create Date: 2026-12-04 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b1d4e7a2c901"
down_revision: str | None = "3a7d9e2b6c48"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _same_dose(with_parts: bool) -> str:
    """The recorded dose a permitted change out of a final state may not touch; from this
    revision that includes the split of the day's dose (compared as text on PostgreSQL,
    whose `json` type has no equality)."""
    same = (
        "NEW.dose_date = OLD.dose_date AND NEW.product = OLD.product "
        "AND NEW.patient_id = OLD.patient_id AND NEW.dose_mg = OLD.dose_mg"
    )
    if not with_parts:
        return same
    if _postgres():
        return same + " AND NEW.parts::text IS NOT DISTINCT FROM OLD.parts::text"
    return same + " AND NEW.parts IS OLD.parts"


def _allowed(with_parts: bool) -> str:
    """The four ways out of a final state (2026-12-04-0700 and -1100), each keeping the same
    dose."""
    same = _same_dose(with_parts)
    reassessed = (
        "OLD.state = 'withheld' AND NEW.state IN ('supervised', 'collected') "
        "AND OLD.reassessment_id IS NULL AND NEW.reassessment_id IS NOT NULL AND " + same
    )
    corrected = (
        "OLD.state = 'missed' AND NEW.state = 'supervised' "
        "AND OLD.correction_id IS NULL AND NEW.correction_id IS NOT NULL AND " + same
    )
    reattributed = (
        "OLD.state = 'supervised' AND NEW.state = 'due' "
        "AND OLD.correction_id IS NULL AND NEW.correction_id IS NOT NULL AND " + same
    )
    collected_on_paper = (  # 2026-12-04-1100
        "OLD.state = 'missed' AND NEW.state = 'collected' "
        "AND OLD.correction_id IS NULL AND NEW.correction_id IS NOT NULL AND " + same
    )
    return f"({reassessed}) OR ({corrected}) OR ({reattributed}) OR ({collected_on_paper})"


def _protect_final_doses(allowed: str) -> None:
    if _postgres():
        op.execute("DROP TRIGGER IF EXISTS instalment_days_final ON instalment_days")
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
        op.execute("DROP TRIGGER IF EXISTS instalment_days_final_update")
        op.execute(
            "CREATE TRIGGER instalment_days_final_update BEFORE UPDATE ON instalment_days "
            f"WHEN OLD.state <> 'due' AND NOT ({allowed}) "
            "BEGIN SELECT RAISE(ABORT, 'recorded doses never change'); END"
        )


def upgrade() -> None:
    # Nullable, no default: a prescription or a day written before has one dose.
    op.add_column("prescriptions", sa.Column("dose_parts", sa.JSON(), nullable=True))
    op.add_column("prescriptions", sa.Column("dose_steps", sa.JSON(), nullable=True))
    op.add_column("instalment_days", sa.Column("parts", sa.JSON(), nullable=True))
    _protect_final_doses(_allowed(with_parts=True))


def downgrade() -> None:
    _protect_final_doses(_allowed(with_parts=False))
    op.drop_column("instalment_days", "parts")
    op.drop_column("prescriptions", "dose_steps")
    op.drop_column("prescriptions", "dose_parts")
