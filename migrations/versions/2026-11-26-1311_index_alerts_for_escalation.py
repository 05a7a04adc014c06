"""index alerts for escalation

The delivery worker looks for open alerts whose escalation falls due on every pass; without
this index each pass reads the whole alerts table, which only grows.

Revision ID: 525253dcc52c
Revises: 9e26c254127e
Create Date: 2026-11-26 13:11:35.421424+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "525253dcc52c"
down_revision: str | None = "9e26c254127e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_alerts_state_next_escalation_at", "alerts", ["state", "next_escalation_at"])


def downgrade() -> None:
    op.drop_index("ix_alerts_state_next_escalation_at", table_name="alerts")
