"""phone audit: a supervisor's lookup by number is recorded beside the "show number" reveals

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # 'reveal': pressed "show number"; 'lookup': found a client by typing the whole number.
    with op.batch_alter_table('phone_reveals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=8), nullable=False, server_default='reveal'))


def downgrade() -> None:
    with op.batch_alter_table('phone_reveals', schema=None) as batch_op:
        batch_op.drop_column('kind')
