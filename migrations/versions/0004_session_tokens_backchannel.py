"""tokens kept in sessions, the provider's session id, and seen back-channel logout tokens

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
IDENTIFIER = sa.String(255).with_variant(
    mysql.VARCHAR(255, charset="utf8mb4", collation="utf8mb4_nopad_bin"), "mysql", "mariadb"
)

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idp_sid", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("tokens", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("tokens_version", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("refreshing_until", TIMESTAMP, nullable=True))
        batch_op.create_index("ix_sessions_idp_sid", ["idp_sid"], unique=False)
    op.create_table(
        "seen_logout_tokens",
        sa.Column("jti", IDENTIFIER, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("jti"),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )


def downgrade() -> None:
    op.drop_table("seen_logout_tokens")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_sessions_idp_sid")
        batch_op.drop_column("refreshing_until")
        batch_op.drop_column("tokens_version")
        batch_op.drop_column("tokens")
        batch_op.drop_column("idp_sid")
