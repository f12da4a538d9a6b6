"""Member states keep the partners the member's latest word grants, for the partner check.

Rows written before this revision get NULL: not known, so the partner check folds those
members as before, and publishing the current rulebook again fills them in.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("member_states") as batch:
        batch.add_column(sa.Column("consents", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("member_states") as batch:
        batch.drop_column("consents")
