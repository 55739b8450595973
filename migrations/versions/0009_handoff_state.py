"""a handoff code is bound to the browser that asked for it (a hash of its state cookie)

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("host_handoffs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("state_hash", sa.String(length=64), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("host_handoffs", schema=None) as batch_op:
        batch_op.drop_column("state_hash")
