"""access control: token versions, phone-reveal audit, login throttle, conversation owners backfilled

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 18:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Bumped on logout, deactivation and password reset: every older session or token stops working.
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_version', sa.Integer(), nullable=False, server_default='0'))

    op.create_table('phone_reveals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('revealed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_phone_reveals_user_id_users')),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_phone_reveals_client_id_clients'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_phone_reveals'))
    )
    with op.batch_alter_table('phone_reveals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_phone_reveals_revealed_at'), ['revealed_at'], unique=False)

    op.create_table('login_throttle',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failure_at', sa.DateTime(), nullable=False),
    sa.Column('locked_until', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_login_throttle'))
    )

    # Conversations logged before 0002 had no owner row: whoever posted first could claim them.
    # Their call row names the agent, who becomes the owner.
    op.execute(
        "INSERT INTO conversations (conversation_id, user_id, created_at) "
        "SELECT calls.conversation_id, calls.agent_id, calls.started_at FROM calls "
        "WHERE calls.agent_id IS NOT NULL AND calls.conversation_id NOT IN "
        "(SELECT conversation_id FROM conversations)"
    )


def downgrade() -> None:
    op.drop_table('login_throttle')
    with op.batch_alter_table('phone_reveals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_phone_reveals_revealed_at'))
    op.drop_table('phone_reveals')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('token_version')
