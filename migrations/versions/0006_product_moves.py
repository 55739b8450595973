"""product moves, so an old product address keeps redirecting on every node and after restarts

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "product_moves",
        sa.Column("old_key", sa.String(length=160), nullable=False),
        sa.Column("new_key", sa.String(length=160), nullable=False),
        sa.Column("moved_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("old_key"),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )


def downgrade() -> None:
    op.drop_table("product_moves")
