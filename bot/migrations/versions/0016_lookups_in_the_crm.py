"""clients looked up in a conversation kept in the CRM (the lists no longer scan the tracker store);
indexes for reading calls newest first; the segments a call was logged in; the dashboard's counts

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 13:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'client_lookups',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('conversation_id', sa.String(length=128), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('agent_id', sa.Integer(), nullable=True),
        sa.Column('first_at', sa.DateTime(), nullable=False),
        sa.Column('call_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_client_lookups_call_id_calls'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_client_lookups_client_id_clients'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['agent_id'], ['users.id'], name=op.f('fk_client_lookups_agent_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_client_lookups')),
        sa.UniqueConstraint('conversation_id', 'client_id', name='uq_client_lookups_conversation_client'),
    )
    op.create_index(op.f('ix_client_lookups_client_id'), 'client_lookups', ['client_id'])
    op.create_index(op.f('ix_client_lookups_first_at'), 'client_lookups', ['first_at'])
    op.create_index('ix_client_lookups_agent_first', 'client_lookups', ['agent_id', 'first_at'])
    op.create_index('ix_client_lookups_open', 'client_lookups', ['call_id', 'first_at'])
    op.create_table(
        'call_counts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('dimension', sa.String(length=16), nullable=False),
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('agent_id', sa.Integer(), nullable=False),
        sa.Column('disposition', sa.String(length=16), nullable=False),
        sa.Column('calls', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['agent_id'], ['users.id'], name=op.f('fk_call_counts_agent_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_call_counts')),
        sa.UniqueConstraint('dimension', 'key', 'agent_id', 'disposition', name='uq_call_counts'),
    )
    _copy_tracker_lookups()
    with op.batch_alter_table('calls') as batch:
        batch.add_column(sa.Column('segments', sa.String(length=160), nullable=True))
    op.create_index('ix_calls_started', 'calls', ['started_at', 'id'])
    op.create_index('ix_calls_agent_started', 'calls', ['agent_id', 'started_at'])
    op.create_index('ix_calls_client_started', 'calls', ['client_id', 'started_at'])


def _copy_tracker_lookups() -> None:
    """The conversations so far, whose lookups only the tracker store's slot events hold: copied
    once, so that the review list keeps every one of them."""
    from bot.crm import record_lookups
    from bot.settings import tracker_url
    from bot.transcripts import client_lookups

    lookups = client_lookups(tracker_url())
    if lookups:
        record_lookups(op.get_bind(), lookups)


def downgrade() -> None:
    op.drop_table('call_counts')
    op.drop_index('ix_calls_client_started', table_name='calls')
    op.drop_index('ix_calls_agent_started', table_name='calls')
    op.drop_index('ix_calls_started', table_name='calls')
    with op.batch_alter_table('calls') as batch:
        batch.drop_column('segments')
    op.drop_index('ix_client_lookups_open', table_name='client_lookups')
    op.drop_index('ix_client_lookups_agent_first', table_name='client_lookups')
    op.drop_index(op.f('ix_client_lookups_first_at'), table_name='client_lookups')
    op.drop_index(op.f('ix_client_lookups_client_id'), table_name='client_lookups')
    op.drop_table('client_lookups')
