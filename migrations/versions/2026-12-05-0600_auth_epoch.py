"""The auth epoch: one number every credential change moves, for the token cache (issue 21)

Revision ID: a6c9d2f7b456
Revises: f5b8c1e6a345
Create Date: 2026-12-05 06:00:00

Triggers, not application code, move it: a revocation written by any path (the API, the
command line, an operator's SQL) invalidates every process's cached tokens. A session being
seen (`last_seen_at`, written on every page) is the one change that does not.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a6c9d2f7b456"
down_revision: str | None = "f5b8c1e6a345"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BUMP = "UPDATE auth_epoch SET epoch = epoch + 1 WHERE id = 1"
# What a cached credential depends on, in a session or token row: all but `last_seen_at`.
SESSION_CHANGED = (
    "OLD.revoked_at IS NOT NEW.revoked_at OR OLD.expires_at IS NOT NEW.expires_at "
    "OR OLD.user_id IS NOT NEW.user_id OR OLD.kind IS NOT NEW.kind "
    "OR OLD.token_hash IS NOT NEW.token_hash OR OLD.csrf_token IS NOT NEW.csrf_token"
)
SQLITE_TRIGGERS = {
    "auth_epoch_session_update": (
        f"AFTER UPDATE ON auth_sessions WHEN {SESSION_CHANGED} BEGIN {BUMP}; END"
    ),
    "auth_epoch_session_delete": f"AFTER DELETE ON auth_sessions BEGIN {BUMP}; END",
    "auth_epoch_user_update": f"AFTER UPDATE ON users BEGIN {BUMP}; END",
    "auth_epoch_user_delete": f"AFTER DELETE ON users BEGIN {BUMP}; END",
}


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_table(
        "auth_epoch",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_auth_epoch_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_epoch")),
    )
    op.execute("INSERT INTO auth_epoch (id, epoch) VALUES (1, 0)")
    if _postgres():
        op.execute(
            "CREATE FUNCTION dk_bump_auth_epoch() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {BUMP}; RETURN NULL; END $$"
        )
        changed = SESSION_CHANGED.replace("IS NOT", "IS DISTINCT FROM")
        op.execute(
            "CREATE TRIGGER auth_epoch_session_update AFTER UPDATE ON auth_sessions "
            f"FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION dk_bump_auth_epoch()"
        )
        for name, table in (
            ("auth_epoch_session_delete", "auth_sessions"),
            ("auth_epoch_user_delete", "users"),
        ):
            op.execute(
                f"CREATE TRIGGER {name} AFTER DELETE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION dk_bump_auth_epoch()"
            )
        op.execute(
            "CREATE TRIGGER auth_epoch_user_update AFTER UPDATE ON users "
            "FOR EACH ROW WHEN (OLD IS DISTINCT FROM NEW) EXECUTE FUNCTION dk_bump_auth_epoch()"
        )
    else:
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")


def downgrade() -> None:
    if _postgres():
        for name, table in (
            ("auth_epoch_session_update", "auth_sessions"),
            ("auth_epoch_session_delete", "auth_sessions"),
            ("auth_epoch_user_update", "users"),
            ("auth_epoch_user_delete", "users"),
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS dk_bump_auth_epoch()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("auth_epoch")
