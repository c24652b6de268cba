"""Attendance: every answer (iMIP reply, link, config reset, COUNTER) with its history.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from meet_sched.store.tables import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "answers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("meeting_uid", sa.String(255), nullable=False),
        sa.Column("occurrence", UTCDateTime(), nullable=True),
        sa.Column("attendee", sa.String(320), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("partstat", sa.String(32), nullable=False),
        sa.Column("via", sa.String(16), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("dtstamp", UTCDateTime(), nullable=False),
        sa.Column("delegated_to", sa.JSON(), nullable=True),
        sa.Column("proposal", sa.JSON(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("stale", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_answers_meeting", "answers", ["meeting_uid", "attendee"])


def downgrade() -> None:
    op.drop_index("ix_answers_meeting", table_name="answers")
    op.drop_table("answers")
