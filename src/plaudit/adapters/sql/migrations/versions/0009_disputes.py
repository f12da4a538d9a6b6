"""Disputes: a member's objection to one of their events, and the fold filter it sets.

``disputes`` holds each dispute and its outcome; ``events.excluded`` marks the events a
dispute leaves out of the fold (so every read of a member's events skips them with no join);
``member_states.revision`` counts such changes, so a fold another process cached before one
is never trusted after it. Existing rows: no event excluded, revision 0.

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

Key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("excluded", sa.Boolean, nullable=False,
                                   server_default=sa.false()))
    with op.batch_alter_table("member_states") as batch:
        batch.add_column(sa.Column("revision", sa.Integer, nullable=False,
                                   server_default="0"))
    op.create_table(
        "disputes",
        sa.Column("dispute_no", Key, primary_key=True, autoincrement=True),
        sa.Column("dispute_id", sa.String(32), nullable=False, unique=True),
        sa.Column("member_no", Key, sa.ForeignKey("members.member_no"), nullable=False),
        sa.Column("event_id", sa.String(128), sa.ForeignKey("events.event_id"),
                  nullable=False, unique=True),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("opened_us", sa.BigInteger, nullable=False),
        sa.Column("decided_us", sa.BigInteger, nullable=True),
        sa.Column("decision_reason", sa.String(500), nullable=True),
        sa.Column("decided_by", sa.String(64), nullable=True),
    )
    op.create_index("ix_disputes_member", "disputes", ["member_no", "dispute_no"])
    op.create_index("ix_disputes_status", "disputes", ["status", "dispute_no"])


def downgrade() -> None:
    op.drop_index("ix_disputes_status", "disputes")
    op.drop_index("ix_disputes_member", "disputes")
    op.drop_table("disputes")
    with op.batch_alter_table("member_states") as batch:
        batch.drop_column("revision")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("excluded")
