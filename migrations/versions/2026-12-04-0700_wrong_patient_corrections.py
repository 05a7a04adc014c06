"""A supervised dose recorded against the wrong patient may be put right, once, the same day

The ledger row of the patient it was recorded against goes back from `supervised` to `due`
(they may still come for their own dose), once, when it names its correction; the row of the
patient who took it is recorded the usual way. Everything else about a final dose stays
refused by the database.

Revision ID: 5c1e9a7b3d20
Revises: 9e4a7c1d2b58
Create Date: 2026-12-04 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "5c1e9a7b3d20"
down_revision: str | None = "9e4a7c1d2b58"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

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
# Recorded against the wrong patient: back to due, once, naming the correction.
REATTRIBUTED = (
    "OLD.state = 'supervised' AND NEW.state = 'due' "
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
    _drop_final_dose_triggers()
    _protect_final_doses(f"({REASSESSED}) OR ({CORRECTED}) OR ({REATTRIBUTED})")


def downgrade() -> None:
    _drop_final_dose_triggers()
    _protect_final_doses(f"({REASSESSED}) OR ({CORRECTED})")
