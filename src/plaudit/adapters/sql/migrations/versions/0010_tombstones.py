"""Member data rights: a tombstone per erased member, with nothing that identifies them.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-10
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tombstones",
        sa.Column("tombstone_id", sa.String(32), primary_key=True),
        sa.Column("erased_us", sa.BigInteger, nullable=False),
        sa.Column("events", sa.Integer, nullable=False),
        sa.Column("rewritten", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tombstones")
