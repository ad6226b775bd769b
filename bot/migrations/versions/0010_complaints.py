"""complaints (recorded during a call, answered and resolved by a supervisor) and marketing contacts
(a conversation with an opening or a pitch for a client, counted by the contact limits)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 21:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'complaints',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('agent_id', sa.Integer(), nullable=False),
        sa.Column('conversation_id', sa.String(length=128), nullable=True),
        sa.Column('category', sa.String(length=32), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False, server_default='open'),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('first_response_at', sa.DateTime(), nullable=True),
        sa.Column('resolved_at', sa.DateTime(), nullable=True),
        sa.Column('resolved_by', sa.Integer(), nullable=True),
        sa.Column('notes', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['agent_id'], ['users.id'], name=op.f('fk_complaints_agent_id_users')),
        sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_complaints_client_id_clients'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['resolved_by'], ['users.id'], name=op.f('fk_complaints_resolved_by_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_complaints')),
    )
    op.create_index('ix_complaints_status_created', 'complaints', ['status', 'created_at'], unique=False)
    op.create_index(op.f('ix_complaints_client_id'), 'complaints', ['client_id'], unique=False)
    op.create_table(
        'marketing_contacts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('conversation_id', sa.String(length=128), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('agent_id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('opening_style', sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(['agent_id'], ['users.id'], name=op.f('fk_marketing_contacts_agent_id_users')),
        sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_marketing_contacts_client_id_clients'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_marketing_contacts')),
        sa.UniqueConstraint('conversation_id', 'client_id', name='uq_marketing_contacts_conversation'),
    )
    op.create_index('ix_marketing_contacts_client_at', 'marketing_contacts', ['client_id', 'at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_marketing_contacts_client_at', table_name='marketing_contacts')
    op.drop_table('marketing_contacts')
    op.drop_index(op.f('ix_complaints_client_id'), table_name='complaints')
    op.drop_index('ix_complaints_status_created', table_name='complaints')
    op.drop_table('complaints')
