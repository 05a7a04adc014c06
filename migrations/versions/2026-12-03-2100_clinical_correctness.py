"""clinical correctness: days without a dose, late prescriptions, reassessment, history

- instalment_days: the `not_dispensed` state (days before a late prescription reached the
  pharmacy), `remaining_collectable` (Home Office "missed remaining" wording), the link to a
  same-day reassessment of a withheld dose and to a prescriber's direction that a
  representative may collect a supervised day's dose, and whether a measuring device went
  with a multi-day container. The final-dose trigger allows exactly one transition out of a
  final state: withheld -> supervised/collected, once, with a reassessment.
- New append-only tables: reassessments, representative_authorisations, last_dose_records,
  handover_refusals, patient_changes, household_changes.
- Pregnancy's expected date of delivery, unborn children, when a household's children last
  changed and were last confirmed, the prescriber's address (contacts and register lines).

Revision ID: 146bb845bd6c
Revises: 525253dcc52c
Create Date: 2026-12-03 21:00:31.159456+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "146bb845bd6c"
down_revision: str | None = "525253dcc52c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


STATES = "state IN ('due', 'supervised', 'collected', 'missed', 'withheld', 'not_dispensed')"
OLD_STATES = "state IN ('due', 'supervised', 'collected', 'missed', 'withheld')"
APPEND_ONLY = (
    "reassessments",
    "representative_authorisations",
    "last_dose_records",
    "handover_refusals",
    "patient_changes",
    "household_changes",
)
# The one way out of a final state: a withheld dose supplied later the same day after a
# pharmacist's recorded reassessment (the service checks the day; the row keeps its date,
# product and dose, and it can happen once).
REASSESSED = (
    "OLD.state = 'withheld' AND NEW.state IN ('supervised', 'collected') "
    "AND OLD.reassessment_id IS NULL AND NEW.reassessment_id IS NOT NULL "
    "AND NEW.dose_date = OLD.dose_date AND NEW.product = OLD.product "
    "AND NEW.patient_id = OLD.patient_id AND NEW.dose_mg = OLD.dose_mg"
)


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _make_append_only(table: str) -> None:
    """Refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) on a table, whoever asks."""
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


def _drop_append_only(table: str) -> None:
    if _postgres():
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")


def _drop_final_dose_triggers() -> None:
    if _postgres():
        op.execute("DROP TRIGGER IF EXISTS instalment_days_final ON instalment_days")
    else:
        op.execute("DROP TRIGGER IF EXISTS instalment_days_final_update")
        op.execute("DROP TRIGGER IF EXISTS instalment_days_final_delete")


def _protect_final_doses(*, old: bool = False) -> None:
    """A dose in a final state never changes again, except a reassessed withheld dose."""
    allowed = "FALSE" if old else REASSESSED
    if _postgres():
        op.execute(
            "CREATE OR REPLACE FUNCTION dk_refuse_final_dose_change() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN "
            "IF OLD.state <> 'due' AND NOT (TG_OP = 'UPDATE' AND "
            f"{allowed}) THEN RAISE EXCEPTION "
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
        "handover_refusals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("pharmacy_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("codes", sa.JSON(), nullable=False),
        sa.Column("refused_by_id", sa.Uuid(), nullable=True),
        sa.Column("refused_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_handover_refusals_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["pharmacy_id"],
            ["pharmacies.id"],
            name=op.f("fk_handover_refusals_pharmacy_id_pharmacies"),
        ),
        sa.ForeignKeyConstraint(
            ["refused_by_id"], ["users.id"], name=op.f("fk_handover_refusals_refused_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handover_refusals")),
    )
    with op.batch_alter_table("handover_refusals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_handover_refusals_patient_id"), ["patient_id"], unique=False
        )

    op.create_table(
        "household_changes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("household_id", sa.Uuid(), nullable=False),
        sa.Column("child_id", sa.Uuid(), nullable=True),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("old_value", sa.String(length=500), nullable=True),
        sa.Column("new_value", sa.String(length=500), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("changed_by_id", sa.Uuid(), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["changed_by_id"], ["users.id"], name=op.f("fk_household_changes_changed_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["child_id"], ["children.id"], name=op.f("fk_household_changes_child_id_children")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_household_changes_household_id_households"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household_changes")),
    )
    with op.batch_alter_table("household_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_household_changes_household_id"), ["household_id"], unique=False
        )

    op.create_table(
        "last_dose_records",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("drug", sa.String(length=32), nullable=False),
        sa.Column("taken_on", sa.Date(), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.Column("recorded_by_id", sa.Uuid(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "source IN ('previous_pharmacy', 'prescriber', 'hospital', 'custody', 'patient', 'induction')",
            name=op.f("ck_last_dose_records_source_allowed"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_last_dose_records_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["users.id"], name=op.f("fk_last_dose_records_recorded_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_last_dose_records")),
    )
    with op.batch_alter_table("last_dose_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_last_dose_records_patient_id"), ["patient_id"], unique=False
        )

    op.create_table(
        "patient_changes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("old_value", sa.String(length=500), nullable=True),
        sa.Column("new_value", sa.String(length=500), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("changed_by_id", sa.Uuid(), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["changed_by_id"], ["users.id"], name=op.f("fk_patient_changes_changed_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_patient_changes_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_changes")),
    )
    with op.batch_alter_table("patient_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_patient_changes_patient_id"), ["patient_id"], unique=False
        )

    op.create_table(
        "reassessments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("pharmacy_id", sa.Uuid(), nullable=False),
        sa.Column("dose_date", sa.Date(), nullable=False),
        sa.Column("withheld_by_id", sa.Uuid(), nullable=True),
        sa.Column("withheld_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withhold_reason", sa.String(length=500), nullable=True),
        sa.Column("reassessed_by_id", sa.Uuid(), nullable=False),
        sa.Column("reassessed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_reassessments_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["pharmacy_id"], ["pharmacies.id"], name=op.f("fk_reassessments_pharmacy_id_pharmacies")
        ),
        sa.ForeignKeyConstraint(
            ["reassessed_by_id"], ["users.id"], name=op.f("fk_reassessments_reassessed_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["withheld_by_id"], ["users.id"], name=op.f("fk_reassessments_withheld_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reassessments")),
    )
    with op.batch_alter_table("reassessments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reassessments_patient_id"), ["patient_id"], unique=False
        )

    op.create_table(
        "representative_authorisations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("prescription_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("dose_date", sa.Date(), nullable=False),
        sa.Column("representative", sa.String(length=200), nullable=False),
        sa.Column("directed_by", sa.String(length=300), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=False),
        sa.Column("recorded_by_id", sa.Uuid(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_representative_authorisations_patient_id_patients"),
        ),
        sa.ForeignKeyConstraint(
            ["prescription_id"],
            ["prescriptions.id"],
            name=op.f("fk_representative_authorisations_prescription_id_prescriptions"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["users.id"],
            name=op.f("fk_representative_authorisations_recorded_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_representative_authorisations")),
    )
    with op.batch_alter_table("representative_authorisations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_representative_authorisations_patient_id_dose_date",
            ["patient_id", "dose_date"],
            unique=False,
        )

    with op.batch_alter_table("children", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("unborn", sa.Boolean(), nullable=False, server_default=sa.false())
        )

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address", sa.String(length=500), nullable=True))

    with op.batch_alter_table("households", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("children_changed_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("children_confirmed_at", sa.DateTime(timezone=True), nullable=True)
        )

    # SQLite rebuilds the table to add foreign keys and change the CHECK, which drops its
    # triggers: take them off first and put the new ones back after.
    _drop_final_dose_triggers()
    with op.batch_alter_table("instalment_days", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_instalment_days_state_allowed"), type_="check")
        batch_op.create_check_constraint(op.f("ck_instalment_days_state_allowed"), STATES)
        batch_op.add_column(
            sa.Column(
                "remaining_collectable", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch_op.add_column(sa.Column("reassessment_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("authorisation_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("measuring_device", sa.Boolean(), nullable=True))
        batch_op.create_index(
            "ix_instalment_days_pharmacy_id_dose_date", ["pharmacy_id", "dose_date"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_instalment_days_reassessment_id_reassessments"),
            "reassessments",
            ["reassessment_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_instalment_days_authorisation_id_representative_authorisations"),
            "representative_authorisations",
            ["authorisation_id"],
            ["id"],
        )

    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expected_delivery_on", sa.Date(), nullable=True))

    with op.batch_alter_table("register_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prescriber_address", sa.String(length=500), nullable=True))

    with op.batch_alter_table("prescriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prescriber_address", sa.String(length=500), nullable=True))

    _protect_final_doses()
    op.execute(
        "UPDATE instalment_days SET remaining_collectable = TRUE WHERE state = 'due' AND "
        "prescription_id IN (SELECT id FROM prescriptions WHERE wording_missed_remaining)"
    )
    for table in APPEND_ONLY:
        _make_append_only(table)


def downgrade() -> None:
    with op.batch_alter_table("prescriptions", schema=None) as batch_op:
        batch_op.drop_column("prescriber_address")
    for table in APPEND_ONLY:
        _drop_append_only(table)
    with op.batch_alter_table("register_entries", schema=None) as batch_op:
        batch_op.drop_column("prescriber_address")

    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_column("expected_delivery_on")

    _drop_final_dose_triggers()
    with op.batch_alter_table("instalment_days", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_instalment_days_state_allowed"), type_="check")
        batch_op.create_check_constraint(op.f("ck_instalment_days_state_allowed"), OLD_STATES)
        batch_op.drop_constraint(
            batch_op.f("fk_instalment_days_authorisation_id_representative_authorisations"),
            type_="foreignkey",
        )
        batch_op.drop_constraint(
            batch_op.f("fk_instalment_days_reassessment_id_reassessments"), type_="foreignkey"
        )
        batch_op.drop_index("ix_instalment_days_pharmacy_id_dose_date")
        batch_op.drop_column("measuring_device")
        batch_op.drop_column("authorisation_id")
        batch_op.drop_column("reassessment_id")
        batch_op.drop_column("remaining_collectable")
    _protect_final_doses(old=True)

    with op.batch_alter_table("households", schema=None) as batch_op:
        batch_op.drop_column("children_confirmed_at")
        batch_op.drop_column("children_changed_at")

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("address")

    with op.batch_alter_table("children", schema=None) as batch_op:
        batch_op.drop_column("unborn")

    with op.batch_alter_table("representative_authorisations", schema=None) as batch_op:
        batch_op.drop_index("ix_representative_authorisations_patient_id_dose_date")

    op.drop_table("representative_authorisations")
    with op.batch_alter_table("reassessments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reassessments_patient_id"))

    op.drop_table("reassessments")
    with op.batch_alter_table("patient_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patient_changes_patient_id"))

    op.drop_table("patient_changes")
    with op.batch_alter_table("last_dose_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_last_dose_records_patient_id"))

    op.drop_table("last_dose_records")
    with op.batch_alter_table("household_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_household_changes_household_id"))

    op.drop_table("household_changes")
    with op.batch_alter_table("handover_refusals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_handover_refusals_patient_id"))

    op.drop_table("handover_refusals")
