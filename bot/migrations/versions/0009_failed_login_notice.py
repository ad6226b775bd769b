"""users: wrong passwords since the last successful login, told to the user at the next one

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 16:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), nullable=False, server_default='0'))
    # The throttle now keys on login and address together (and on known devices): the old
    # per-login and per-address counters would never be read again.
    op.execute("DELETE FROM login_throttle WHERE key LIKE 'login:%' OR key LIKE 'addr:%'")


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('failed_logins')
