"""follow-ups: an index for the per-message lookups of a client's open callbacks

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 04:20:00
"""
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every message about a client asks for its open follow-ups (pending_callbacks, open_followups).
    op.create_index('ix_followups_client_status_due', 'followups', ['client_id', 'status', 'due_at'])


def downgrade() -> None:
    op.drop_index('ix_followups_client_status_due', table_name='followups')
