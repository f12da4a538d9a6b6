"""Member tokens record the operator key that issued them, so revoking it revokes them.

Tokens issued before this revision get NULL: nobody can tell whether their issuer is
still live, so they are refused from now on (``Access.authenticate``), as are any that a
process still running the old version issues during an upgrade. A member token lives 24
hours at most, so this costs a member app at most one fresh token.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("issued_by", sa.String(32), nullable=True))
        batch.create_index("ix_api_keys_issued_by", ["issued_by"])


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_index("ix_api_keys_issued_by")
        batch.drop_column("issued_by")
