"""Exams in the classroom: scheduled exams, exam attempts (evidence, certificate), terminal history.

Revision ID: exams_h14
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "exams_h14"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "scheduled_exams",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("exam_id", sa.String(64), nullable=False),
        sa.Column("class_id", sa.Integer, sa.ForeignKey("classes.id", ondelete="CASCADE"), nullable=False),
        sa.Column("opens_at", sa.Float, nullable=False),
        sa.Column("closes_at", sa.Float, nullable=False),
        sa.Column("minutes", sa.Float, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("hints_allowed", sa.Boolean, nullable=False),
        sa.Column("hint_cost", sa.Float, nullable=False),
        sa.Column("pass_percent", sa.Float, nullable=False),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("cancelled_at", sa.Float, nullable=True),
    )
    op.create_table(
        "exam_attempts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "scheduled_id",
            sa.Integer,
            sa.ForeignKey("scheduled_exams.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("seed", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("deadline", sa.Float, nullable=False),
        sa.Column("current_task", sa.Integer, nullable=False),
        sa.Column("tasks", sa.JSON, nullable=False),
        sa.Column("reference_run", sa.Boolean, nullable=False),
        sa.Column("submitted_at", sa.Float, nullable=True),
        sa.Column("auto_submitted", sa.Boolean, nullable=False),
        sa.Column("percent", sa.Float, nullable=True),
        sa.Column("passed", sa.Boolean, nullable=True),
        sa.Column("result", sa.JSON, nullable=True),
        sa.Column("evidence", sa.LargeBinary, nullable=True),
        sa.Column("manifest_sha256", sa.String(64), nullable=True),
        sa.Column("certificate", sa.Text, nullable=True),
        sa.Column("credential_id", sa.String(80), nullable=True),
        sa.UniqueConstraint("scheduled_id", "user_id", "number"),
    )
    op.create_index("ix_exam_attempts_status", "exam_attempts", ["status", "deadline"])
    op.create_table(
        "terminal_lines",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("session_id", sa.Integer, sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("line", sa.Text, nullable=False),
    )
    op.create_index("ix_terminal_lines_session", "terminal_lines", ["session_id", "id"])
    op.add_column("sessions", sa.Column("exam_attempt_id", sa.Integer, nullable=True))


def downgrade() -> None:
    op.drop_column("sessions", "exam_attempt_id")
    op.drop_index("ix_terminal_lines_session", "terminal_lines")
    op.drop_table("terminal_lines")
    op.drop_index("ix_exam_attempts_status", "exam_attempts")
    op.drop_table("exam_attempts")
    op.drop_table("scheduled_exams")
