"""Fold snapshots: one compact, versioned snapshot of each member's accumulator.

Derived, like ``member_states``: a cache miss restores the snapshot and folds only the
events after it (application/snapshots.py says when one is trusted and when written);
erasure deletes the member's row; an export leaves it out (it is rebuilt from events).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-20
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

Key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "fold_snapshots",
        sa.Column("member_no", Key, sa.ForeignKey("members.member_no"), primary_key=True,
                  autoincrement=False),
        sa.Column("rulebook_version", sa.Integer, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("last_at_us", sa.BigInteger, nullable=False),
        sa.Column("last_event_id", sa.String(128), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("fold_snapshots")
