"""Failed logins counted in the database (shared by server replicas) instead of each server's memory.

Revision ID: 0002_login_failures_in_db
Revises: exams_h14
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_login_failures_in_db"
down_revision = "exams_h14"


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(160), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("ix_login_failures_key_at", "login_failures", ["key", "at"])


def downgrade() -> None:
    op.drop_index("ix_login_failures_key_at", table_name="login_failures")
    op.drop_table("login_failures")
