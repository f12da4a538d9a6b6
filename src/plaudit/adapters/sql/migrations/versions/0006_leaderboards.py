"""Leaderboards: opted-in members' entries per board and period, and friend grants.

Both tables are derived (written with ``member_states`` from the members' own events) and
can be rebuilt by re-folding; neither is ever read by a fold.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "leaderboard_entries",
        sa.Column("member_no", Key, sa.ForeignKey("members.member_no"), primary_key=True,
                  autoincrement=False),
        sa.Column("board", sa.String(64), primary_key=True),
        sa.Column("period", sa.String(16), primary_key=True),
        sa.Column("sort_key", sa.BigInteger, nullable=False),
        sa.Column("value", sa.String(80), nullable=False),
        sa.Column("reached_at_us", sa.BigInteger, nullable=False),
        sa.Column("pseudonym", sa.String(48), nullable=False),
        sa.Column("tag", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_leaderboard_rank", "leaderboard_entries",
                    ["board", "period", "sort_key", "reached_at_us", "tag", "member_no"])
    op.create_table(
        "friendships",
        sa.Column("member_no", Key, sa.ForeignKey("members.member_no"), primary_key=True,
                  autoincrement=False),
        sa.Column("friend_id", sa.String(128), primary_key=True),
    )
    op.create_index("ix_friendships_friend", "friendships", ["friend_id", "member_no"])


def downgrade() -> None:
    op.drop_index("ix_friendships_friend", "friendships")
    op.drop_table("friendships")
    op.drop_index("ix_leaderboard_rank", "leaderboard_entries")
    op.drop_table("leaderboard_entries")
