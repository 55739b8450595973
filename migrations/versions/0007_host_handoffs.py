"""one-time codes handing a session's cookie to a product's own host (host mode)

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "host_handoffs",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("sealed_session", sa.Text(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("next_path", sa.Text(), nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("used_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("code_hash"),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )
    with op.batch_alter_table("host_handoffs", schema=None) as batch_op:
        batch_op.create_index("ix_host_handoffs_expires_at", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_table("host_handoffs")
