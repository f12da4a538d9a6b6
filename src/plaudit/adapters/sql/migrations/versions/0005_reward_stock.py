"""The shared stock of catalogue rewards: redeemed (and not cancelled) per reward.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reward_stock",
        sa.Column("reward_id", sa.String(64), primary_key=True),
        sa.Column("redeemed", sa.BigInteger, nullable=False),
        sa.CheckConstraint("redeemed >= 0", name="ck_reward_stock_redeemed"),
    )


def downgrade() -> None:
    op.drop_table("reward_stock")
