"""The last-dose look-up: the clinician role, care-service contacts, look-up links and the
look-up log (append-only)

Revision ID: c5e1a8f03d27
Revises: 7d3a9c1e5b42
Create Date: 2026-12-04 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c5e1a8f03d27"
down_revision: str | None = "7d3a9c1e5b42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = ["pharmacist", "technician", "prescriber", "key_worker", "safeguarding_lead", "admin"]
KINDS = ["key_worker", "prescriber", "social_worker", "safeguarding_lead", "mash"]
LOG = "lookup_events"


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _one_of(column: str, values: list[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _allow(table: str, column: str, old: list[str], new: list[str]) -> None:
    """Replace a `one_of` CHECK with one allowing `new`.

    SQLite cannot alter a CHECK, and rebuilding `users` or `contacts` (what batch mode does)
    drops a table other rows reference, which fails with foreign keys enforced. Widening a
    CHECK changes no stored row, so SQLite's own procedure for it is used: edit the table's
    definition in the schema and bump the schema version, in this migration's transaction
    (https://www.sqlite.org/lang_altertable.html#otheralter). Every row already satisfies the
    new CHECK, which `PRAGMA integrity_check` confirms in tests/test_migrations.py."""
    name = f"ck_{table}_{column}_allowed"
    if _postgres():
        op.drop_constraint(op.f(name), table, type_="check")
        op.create_check_constraint(op.f(name), table, _one_of(column, new))
        return
    bind = op.get_bind()
    ddl = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).scalar_one()
    before, after = _one_of(column, old), _one_of(column, new)
    if before not in ddl:
        raise RuntimeError(f"{table}: the CHECK on {column} is not the one this revision expects")
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?",
        (ddl.replace(before, after), table),
    )
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def upgrade() -> None:
    _allow("users", "role", ROLES, [*ROLES, "clinician"])
    _allow("contacts", "kind", KINDS, [*KINDS, "care_service"])
    op.create_table(
        "lookup_links",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("pharmacy_id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("issued_by_id", sa.Uuid(), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_lookup_links_contact_id_contacts")
        ),
        sa.ForeignKeyConstraint(
            ["issued_by_id"], ["users.id"], name=op.f("fk_lookup_links_issued_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["pharmacy_id"], ["pharmacies.id"], name=op.f("fk_lookup_links_pharmacy_id_pharmacies")
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by_id"], ["users.id"], name=op.f("fk_lookup_links_revoked_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lookup_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_lookup_links_token_hash")),
    )
    with op.batch_alter_table("lookup_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lookup_links_contact_id"), ["contact_id"])
        batch_op.create_index(batch_op.f("ix_lookup_links_pharmacy_id"), ["pharmacy_id"])
    op.create_table(
        LOG,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("link_id", sa.Uuid(), nullable=True),
        sa.Column("contact_id", sa.Uuid(), nullable=True),
        sa.Column("caller", sa.String(length=200), nullable=False),
        sa.Column("nhs_number_hash", sa.String(length=64), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=True),
        sa.Column("pharmacy_id", sa.Uuid(), nullable=True),
        sa.Column("outside_scope", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "(user_id IS NULL) <> (link_id IS NULL)", name=op.f("ck_lookup_events_one_caller")
        ),
        sa.CheckConstraint(
            "result IN ('found', 'not_found')", name=op.f("ck_lookup_events_result_allowed")
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_lookup_events_contact_id_contacts")
        ),
        sa.ForeignKeyConstraint(
            ["link_id"], ["lookup_links.id"], name=op.f("fk_lookup_events_link_id_lookup_links")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_lookup_events_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["pharmacy_id"],
            ["pharmacies.id"],
            name=op.f("fk_lookup_events_pharmacy_id_pharmacies"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_lookup_events_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lookup_events")),
    )
    with op.batch_alter_table(LOG, schema=None) as batch_op:
        batch_op.create_index("ix_lookup_events_link_id_at", ["link_id", "at"])
        batch_op.create_index("ix_lookup_events_pharmacy_id_at", ["pharmacy_id", "at"])
        batch_op.create_index("ix_lookup_events_user_id_at", ["user_id", "at"])
        batch_op.create_index(batch_op.f("ix_lookup_events_patient_id"), ["patient_id"])
    if _postgres():
        op.execute(
            f"CREATE TRIGGER {LOG}_append_only BEFORE UPDATE OR DELETE ON {LOG} "
            "FOR EACH ROW EXECUTE FUNCTION dk_refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {LOG}_no_truncate BEFORE TRUNCATE ON {LOG} "
            "FOR EACH STATEMENT EXECUTE FUNCTION dk_refuse_change()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {LOG}_no_{event.lower()} BEFORE {event} ON {LOG} "
                f"BEGIN SELECT RAISE(ABORT, 'append-only table {LOG}: {event} refused'); END"
            )


def downgrade() -> None:
    if _postgres():
        op.execute(f"DROP TRIGGER IF EXISTS {LOG}_append_only ON {LOG}")
        op.execute(f"DROP TRIGGER IF EXISTS {LOG}_no_truncate ON {LOG}")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {LOG}_no_update")
        op.execute(f"DROP TRIGGER IF EXISTS {LOG}_no_delete")
    with op.batch_alter_table(LOG, schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lookup_events_patient_id"))
        batch_op.drop_index("ix_lookup_events_user_id_at")
        batch_op.drop_index("ix_lookup_events_pharmacy_id_at")
        batch_op.drop_index("ix_lookup_events_link_id_at")
    op.drop_table(LOG)
    with op.batch_alter_table("lookup_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lookup_links_pharmacy_id"))
        batch_op.drop_index(batch_op.f("ix_lookup_links_contact_id"))
    op.drop_table("lookup_links")
    # Refused while a clinician account or a care-service contact exists: the old CHECKs would
    # not hold them (disable and re-role them first; nothing is deleted for you).
    _allow("contacts", "kind", [*KINDS, "care_service"], KINDS)
    _allow("users", "role", [*ROLES, "clinician"], ROLES)
