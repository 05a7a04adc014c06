"""Long-acting buprenorphine injections: the administration log

Revision ID: f5b8c1e6a345
Revises: e4a7b0d5f234
Create Date: 2026-12-04 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f5b8c1e6a345"
down_revision: str | None = "e4a7b0d5f234"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("injection_courses", "injection_course_stops", "injection_administrations")


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_table(
        "injection_courses",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("pharmacy_id", sa.Uuid(), nullable=False),
        sa.Column("product", sa.String(length=40), nullable=False),
        sa.Column("dose_mg", sa.Integer(), nullable=False),
        sa.Column("interval_days", sa.Integer(), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("prescriber_id", sa.Uuid(), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=False),
        sa.Column("recorded_by_id", sa.Uuid(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "product IN ('buvidal-weekly', 'buvidal-monthly')",
            name=op.f("ck_injection_courses_product_allowed"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_injection_courses_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["pharmacy_id"],
            ["pharmacies.id"],
            name=op.f("fk_injection_courses_pharmacy_id_pharmacies"),
        ),
        sa.ForeignKeyConstraint(
            ["prescriber_id"],
            ["contacts.id"],
            name=op.f("fk_injection_courses_prescriber_id_contacts"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["users.id"],
            name=op.f("fk_injection_courses_recorded_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_injection_courses")),
    )
    with op.batch_alter_table("injection_courses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_injection_courses_patient_id"), ["patient_id"], unique=False
        )
    op.create_table(
        "injection_course_stops",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("course_id", sa.Uuid(), nullable=False),
        sa.Column("stopped_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("stopped_by_id", sa.Uuid(), nullable=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["injection_courses.id"],
            name=op.f("fk_injection_course_stops_course_id_injection_courses"),
        ),
        sa.ForeignKeyConstraint(
            ["stopped_by_id"],
            ["users.id"],
            name=op.f("fk_injection_course_stops_stopped_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_injection_course_stops")),
        sa.UniqueConstraint("course_id", name=op.f("uq_injection_course_stops_course_id")),
    )
    op.create_table(
        "injection_administrations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("course_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("pharmacy_id", sa.Uuid(), nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("given_on", sa.Date(), nullable=False),
        sa.Column("dose_mg", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(length=20), nullable=False),
        sa.Column("batch", sa.String(length=40), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("given_by", sa.String(length=100), nullable=False),
        sa.Column("given_by_role", sa.String(length=100), nullable=False),
        sa.Column("place", sa.String(length=20), nullable=False),
        sa.Column("place_name", sa.String(length=200), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=False),
        sa.Column("recorded_by_id", sa.Uuid(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "site IN ('abdomen', 'thigh', 'buttock', 'upper_arm')",
            name=op.f("ck_injection_administrations_site_allowed"),
        ),
        sa.CheckConstraint(
            "place IN ('here', 'elsewhere')",
            name=op.f("ck_injection_administrations_place_allowed"),
        ),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["injection_courses.id"],
            name=op.f("fk_injection_administrations_course_id_injection_courses"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_injection_administrations_patient_id_patients"),
        ),
        sa.ForeignKeyConstraint(
            ["pharmacy_id"],
            ["pharmacies.id"],
            name=op.f("fk_injection_administrations_pharmacy_id_pharmacies"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["users.id"],
            name=op.f("fk_injection_administrations_recorded_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_injection_administrations")),
    )
    with op.batch_alter_table("injection_administrations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_injection_administrations_course_id_given_on", ["course_id", "given_on"]
        )
        batch_op.create_index(
            batch_op.f("ix_injection_administrations_patient_id"), ["patient_id"], unique=False
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
    with op.batch_alter_table("injection_administrations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_injection_administrations_patient_id"))
        batch_op.drop_index("ix_injection_administrations_course_id_given_on")
    op.drop_table("injection_administrations")
    op.drop_table("injection_course_stops")
    with op.batch_alter_table("injection_courses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_injection_courses_patient_id"))
    op.drop_table("injection_courses")
