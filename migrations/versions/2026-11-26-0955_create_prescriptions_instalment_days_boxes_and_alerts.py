"""create prescriptions, instalment days, boxes and alerts

Revision ID: ee9bd0663406
Revises: 648206806555
Create Date: 2026-11-26 09:55:21.644289+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ee9bd0663406"
down_revision: str | None = "648206806555"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


APPEND_ONLY = ("releases", "box_confirmations", "alert_history")


def make_append_only(table: str) -> None:
    """Refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) on a table, whoever asks."""
    if op.get_bind().dialect.name == "postgresql":
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


def protect_final_doses() -> None:
    """A dose in a final state (supervised, collected, missed, withheld) never changes again."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION dk_refuse_final_dose_change() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN "
            "IF OLD.state <> 'due' THEN RAISE EXCEPTION "
            "'instalment day % is %: recorded doses never change', OLD.id, OLD.state "
            "USING ERRCODE = 'insufficient_privilege'; END IF; "
            "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$"
        )
        op.execute(
            "CREATE TRIGGER instalment_days_final BEFORE UPDATE OR DELETE ON instalment_days "
            "FOR EACH ROW EXECUTE FUNCTION dk_refuse_final_dose_change()"
        )
        op.execute(
            "CREATE TRIGGER instalment_days_no_truncate BEFORE TRUNCATE ON instalment_days "
            "FOR EACH STATEMENT EXECUTE FUNCTION dk_refuse_change()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER instalment_days_final_{event.lower()} BEFORE {event} "
                "ON instalment_days WHEN OLD.state <> 'due' "
                "BEGIN SELECT RAISE(ABORT, 'recorded doses never change'); END"
            )


def drop_triggers() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in APPEND_ONLY:
        if postgres:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
    if postgres:
        op.execute("DROP TRIGGER IF EXISTS instalment_days_final ON instalment_days")
        op.execute("DROP TRIGGER IF EXISTS instalment_days_no_truncate ON instalment_days")
        op.execute("DROP FUNCTION IF EXISTS dk_refuse_final_dose_change()")
    else:
        op.execute("DROP TRIGGER IF EXISTS instalment_days_final_update")
        op.execute("DROP TRIGGER IF EXISTS instalment_days_final_delete")


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("pharmacy_id", sa.Uuid(), nullable=True),
        sa.Column("patient_id", sa.Uuid(), nullable=True),
        sa.Column("household_id", sa.Uuid(), nullable=True),
        sa.Column("message", sa.String(length=1000), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_by_id", sa.Uuid(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledgement_note", sa.String(length=2000), nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("next_escalation_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "severity IN ('info', 'warning', 'urgent')", name=op.f("ck_alerts_severity_allowed")
        ),
        sa.CheckConstraint(
            "state IN ('open', 'acknowledged', 'escalated', 'resolved')",
            name=op.f("ck_alerts_state_allowed"),
        ),
        sa.ForeignKeyConstraint(
            ["acknowledged_by_id"], ["users.id"], name=op.f("fk_alerts_acknowledged_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name=op.f("fk_alerts_household_id_households")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_alerts_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["pharmacy_id"], ["pharmacies.id"], name=op.f("fk_alerts_pharmacy_id_pharmacies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_alerts_dedupe_key")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alerts_household_id"), ["household_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(
            "ix_alerts_pharmacy_id_state_created_at",
            ["pharmacy_id", "state", "created_at"],
            unique=False,
        )

    op.create_table(
        "box_confirmations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("household_id", sa.Uuid(), nullable=True),
        sa.Column("seen_on", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("seen_by_id", sa.Uuid(), nullable=True),
        sa.Column("note", sa.String(length=2000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "method IN ('shown_at_pharmacy', 'seen_at_home')",
            name=op.f("ck_box_confirmations_method_allowed"),
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_box_confirmations_household_id_households"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_box_confirmations_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["seen_by_id"], ["users.id"], name=op.f("fk_box_confirmations_seen_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_box_confirmations")),
    )
    with op.batch_alter_table("box_confirmations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_box_confirmations_household_id"), ["household_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_box_confirmations_patient_id"), ["patient_id"], unique=False
        )

    op.create_table(
        "idempotent_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_idempotent_requests_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotent_requests")),
        sa.UniqueConstraint("user_id", "key", name=op.f("uq_idempotent_requests_user_id_key")),
    )
    op.create_table(
        "prescriptions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("pharmacy_id", sa.Uuid(), nullable=False),
        sa.Column("prescriber_id", sa.Uuid(), nullable=False),
        sa.Column("product", sa.String(length=64), nullable=False),
        sa.Column("daily_dose_mg", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("form_type", sa.String(length=16), nullable=False),
        sa.Column("written_on", sa.Date(), nullable=False),
        sa.Column("start_on", sa.Date(), nullable=False),
        sa.Column("end_on", sa.Date(), nullable=False),
        sa.Column("total_quantity", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("total_quantity_words", sa.String(length=300), nullable=False),
        sa.Column("supervised_days", sa.JSON(), nullable=False),
        sa.Column("collection_days", sa.JSON(), nullable=False),
        sa.Column("wording_closed_day_prior", sa.Boolean(), nullable=False),
        sa.Column("wording_missed_remaining", sa.Boolean(), nullable=False),
        sa.Column("wording_consult_after_3_missed", sa.Boolean(), nullable=False),
        sa.Column("wording_supervise_on_collection", sa.Boolean(), nullable=False),
        sa.Column("wording_separate_containers", sa.Boolean(), nullable=False),
        sa.Column("direction_text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("supersedes_id", sa.Uuid(), nullable=True),
        sa.Column("entered_by_id", sa.Uuid(), nullable=True),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verified_by_id", sa.Uuid(), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_by_id", sa.Uuid(), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_reason", sa.String(length=500), nullable=True),
        sa.CheckConstraint(
            "form_type IN ('FP10MDA', 'WP10MDA', 'paper', 'private')",
            name=op.f("ck_prescriptions_form_type_allowed"),
        ),
        sa.CheckConstraint(
            "status IN ('pending_check', 'active', 'suspended', 'cancelled', 'completed')",
            name=op.f("ck_prescriptions_status_allowed"),
        ),
        sa.ForeignKeyConstraint(
            ["cancelled_by_id"], ["users.id"], name=op.f("fk_prescriptions_cancelled_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["entered_by_id"], ["users.id"], name=op.f("fk_prescriptions_entered_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_prescriptions_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["pharmacy_id"], ["pharmacies.id"], name=op.f("fk_prescriptions_pharmacy_id_pharmacies")
        ),
        sa.ForeignKeyConstraint(
            ["prescriber_id"], ["contacts.id"], name=op.f("fk_prescriptions_prescriber_id_contacts")
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"],
            ["prescriptions.id"],
            name=op.f("fk_prescriptions_supersedes_id_prescriptions"),
        ),
        sa.ForeignKeyConstraint(
            ["verified_by_id"], ["users.id"], name=op.f("fk_prescriptions_verified_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prescriptions")),
    )
    with op.batch_alter_table("prescriptions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_prescriptions_patient_id_product_start_on",
            ["patient_id", "product", "start_on"],
            unique=False,
        )
        batch_op.create_index(
            "ix_prescriptions_pharmacy_id_status", ["pharmacy_id", "status"], unique=False
        )

    op.create_table(
        "alert_history",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name=op.f("fk_alert_history_alert_id_alerts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_history")),
    )
    with op.batch_alter_table("alert_history", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_history_alert_id"), ["alert_id"], unique=False)

    op.create_table(
        "instalment_days",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("prescription_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("pharmacy_id", sa.Uuid(), nullable=False),
        sa.Column("household_id", sa.Uuid(), nullable=True),
        sa.Column("product", sa.String(length=64), nullable=False),
        sa.Column("dose_date", sa.Date(), nullable=False),
        sa.Column("collect_on", sa.Date(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("dose_mg", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("handover_id", sa.Uuid(), nullable=True),
        sa.Column("recorded_by_id", sa.Uuid(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("collector", sa.String(length=16), nullable=True),
        sa.Column("collector_details", sa.String(length=500), nullable=True),
        sa.Column("id_asked", sa.Boolean(), nullable=True),
        sa.Column("id_shown", sa.Boolean(), nullable=True),
        sa.Column("children_present", sa.JSON(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("decision", sa.JSON(), nullable=True),
        sa.Column("label_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "mode IN ('supervised', 'take_home')", name=op.f("ck_instalment_days_mode_allowed")
        ),
        sa.CheckConstraint(
            "state IN ('due', 'supervised', 'collected', 'missed', 'withheld')",
            name=op.f("ck_instalment_days_state_allowed"),
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_instalment_days_household_id_households"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_instalment_days_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["pharmacy_id"],
            ["pharmacies.id"],
            name=op.f("fk_instalment_days_pharmacy_id_pharmacies"),
        ),
        sa.ForeignKeyConstraint(
            ["prescription_id"],
            ["prescriptions.id"],
            name=op.f("fk_instalment_days_prescription_id_prescriptions"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["users.id"], name=op.f("fk_instalment_days_recorded_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instalment_days")),
        sa.UniqueConstraint(
            "patient_id",
            "product",
            "dose_date",
            name=op.f("uq_instalment_days_patient_id_product_dose_date"),
        ),
    )
    with op.batch_alter_table("instalment_days", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_instalment_days_handover_id"), ["handover_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_instalment_days_household_id"), ["household_id"], unique=False
        )
        batch_op.create_index(
            "ix_instalment_days_patient_id_dose_date", ["patient_id", "dose_date"], unique=False
        )
        batch_op.create_index(
            "ix_instalment_days_pharmacy_id_collect_on_state",
            ["pharmacy_id", "collect_on", "state"],
            unique=False,
        )
        batch_op.create_index(
            "ix_instalment_days_prescription_id", ["prescription_id"], unique=False
        )

    op.create_table(
        "releases",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("prescription_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("released_on", sa.Date(), nullable=False),
        sa.Column("released_by_id", sa.Uuid(), nullable=True),
        sa.Column("note", sa.String(length=2000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_releases_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["prescription_id"],
            ["prescriptions.id"],
            name=op.f("fk_releases_prescription_id_prescriptions"),
        ),
        sa.ForeignKeyConstraint(
            ["released_by_id"], ["users.id"], name=op.f("fk_releases_released_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_releases")),
    )
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_releases_patient_id"), ["patient_id"], unique=False)

    for table in APPEND_ONLY:
        make_append_only(table)
    protect_final_doses()


def downgrade() -> None:
    drop_triggers()
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_releases_patient_id"))

    op.drop_table("releases")
    with op.batch_alter_table("instalment_days", schema=None) as batch_op:
        batch_op.drop_index("ix_instalment_days_prescription_id")
        batch_op.drop_index("ix_instalment_days_pharmacy_id_collect_on_state")
        batch_op.drop_index("ix_instalment_days_patient_id_dose_date")
        batch_op.drop_index(batch_op.f("ix_instalment_days_household_id"))
        batch_op.drop_index(batch_op.f("ix_instalment_days_handover_id"))

    op.drop_table("instalment_days")
    with op.batch_alter_table("alert_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_history_alert_id"))

    op.drop_table("alert_history")
    with op.batch_alter_table("prescriptions", schema=None) as batch_op:
        batch_op.drop_index("ix_prescriptions_pharmacy_id_status")
        batch_op.drop_index("ix_prescriptions_patient_id_product_start_on")

    op.drop_table("prescriptions")
    op.drop_table("idempotent_requests")
    with op.batch_alter_table("box_confirmations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_box_confirmations_patient_id"))
        batch_op.drop_index(batch_op.f("ix_box_confirmations_household_id"))

    op.drop_table("box_confirmations")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_pharmacy_id_state_created_at")
        batch_op.drop_index(batch_op.f("ix_alerts_patient_id"))
        batch_op.drop_index(batch_op.f("ix_alerts_household_id"))

    op.drop_table("alerts")
