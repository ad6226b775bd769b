"""rehearsal turns: each rehearsal keeps the transcript it was scored on

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 01:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows from before this revision have no kept transcript: an empty list, not NULL.
    with op.batch_alter_table('rehearsals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('turns', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))


def downgrade() -> None:
    with op.batch_alter_table('rehearsals', schema=None) as batch_op:
        batch_op.drop_column('turns')
