"""Meetings as synced from config.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from meet_sched.store.tables import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meetings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("uid", sa.String(255), nullable=False),
        sa.Column("calendar", sa.String(64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("first_start", UTCDateTime(), nullable=False),
        sa.Column("last_end", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_modified", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("uid", name="uq_meetings_uid"),
    )
    op.create_index("ix_meetings_calendar", "meetings", ["calendar"])


def downgrade() -> None:
    op.drop_index("ix_meetings_calendar", table_name="meetings")
    op.drop_table("meetings")
