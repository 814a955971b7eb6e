"""Instructors' lab validations (``lab validate`` run by the server): progress and report.

Revision ID: 0003_lab_validations
Revises: 0002_login_failures_in_db
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_lab_validations"
down_revision = "0002_login_failures_in_db"


def upgrade() -> None:
    op.create_table(
        "lab_validations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("lab_id", sa.String(64), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("phase", sa.String(200), nullable=False),
        sa.Column("sandbox", sa.String(64), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("heartbeat_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float, nullable=True),
        sa.Column("steps", sa.JSON, nullable=False),
        sa.Column("report", sa.JSON, nullable=True),
        sa.Column("error", sa.Text, nullable=False),
    )
    op.create_index("ix_lab_validations_state", "lab_validations", ["state"])


def downgrade() -> None:
    op.drop_index("ix_lab_validations_state", table_name="lab_validations")
    op.drop_table("lab_validations")
