"""Initial schema: members, events, member states, rulebook versions.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "members",
        sa.Column("member_no", Key, primary_key=True, autoincrement=True),
        sa.Column("member_id", sa.String(128), nullable=False, unique=True),
        sa.Column("created_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "events",
        sa.Column("seq", Key, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(128), nullable=False, unique=True),
        sa.Column("member_no", Key, sa.ForeignKey("members.member_no"), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("at", sa.String(64), nullable=False),
        sa.Column("attributes", sa.Text, nullable=False),
    )
    op.create_index("ix_events_member_time", "events", ["member_no", "at_us"])
    op.create_table(
        "member_states",
        sa.Column("member_no", Key, sa.ForeignKey("members.member_no"), primary_key=True,
                  autoincrement=False),
        sa.Column("rulebook_version", sa.Integer, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("last_at_us", sa.BigInteger, nullable=False),
        sa.Column("last_event_id", sa.String(128), nullable=False),
        sa.Column("balance", sa.BigInteger, nullable=False),
        sa.Column("score", sa.Integer, nullable=True),
        sa.Column("band", sa.String(64), nullable=True),
        sa.Column("tier", sa.String(64), nullable=True),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "rulebooks",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("program_id", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("published_us", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rulebooks")
    op.drop_table("member_states")
    op.drop_index("ix_events_member_time", table_name="events")
    op.drop_table("events")
    op.drop_table("members")
