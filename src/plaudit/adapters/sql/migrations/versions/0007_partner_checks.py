"""Partner checks: every check a partner made about a member, for the member to see.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "partner_checks",
        sa.Column("check_no", Key, primary_key=True, autoincrement=True),
        sa.Column("member_no", Key, sa.ForeignKey("members.member_no"), nullable=False),
        sa.Column("partner", sa.String(64), nullable=False),
        sa.Column("perk", sa.String(64), nullable=False),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("answer", sa.String(16), nullable=False),
        sa.Column("valid_until_us", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_partner_checks_member", "partner_checks", ["member_no", "at_us"])


def downgrade() -> None:
    op.drop_index("ix_partner_checks_member", "partner_checks")
    op.drop_table("partner_checks")
