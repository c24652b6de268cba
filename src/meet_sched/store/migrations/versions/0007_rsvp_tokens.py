"""One-click answer links: their tokens, stored hashed.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from meet_sched.store.tables import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rsvp_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("meeting_uid", sa.String(255), nullable=False),
        sa.Column("attendee", sa.String(320), nullable=False),
        sa.Column("occurrence", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("token_hash", name="uq_rsvp_tokens_token_hash"),
    )
    op.create_index("ix_rsvp_tokens_meeting_uid", "rsvp_tokens", ["meeting_uid"])


def downgrade() -> None:
    op.drop_index("ix_rsvp_tokens_meeting_uid", table_name="rsvp_tokens")
    op.drop_table("rsvp_tokens")
