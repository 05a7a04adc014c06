"""key the audit chain

Each audit event records the id of the key whose HMAC sealed it (app/audit/keys.py), so the
chain can no longer be rewritten, hashes and all, by someone who can write to the database but
does not hold the key. Events written before this have no key id: a plain SHA-256 link, accepted
by `dosekeeper audit verify` only before the first keyed event.

Revision ID: 7c2f4e1a9b30
Revises: 146bb845bd6c
Create Date: 2026-12-03 21:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7c2f4e1a9b30"
down_revision: str | None = "146bb845bd6c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A nullable column added in place: the append-only triggers stay as they are.
    op.add_column("audit_events", sa.Column("key_id", sa.String(length=16), nullable=True))


def downgrade() -> None:
    op.drop_column("audit_events", "key_id")
