"""learning from the floor: candidate training lines chosen by agents, accepted by supervisors

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 06:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'nlu_candidates',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('text', sa.String(length=500), nullable=False),
        sa.Column('intent', sa.String(length=48), nullable=False),
        sa.Column('predicted', sa.String(length=48), nullable=True),
        sa.Column('confidence', sa.Float(), nullable=True),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('conversation_id', sa.String(length=128), nullable=True),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('times', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('decided_by', sa.Integer(), nullable=True),
        sa.Column('decided_at', sa.DateTime(), nullable=True),
        sa.Column('floor_version', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_nlu_candidates_user_id_users')),
        sa.ForeignKeyConstraint(['decided_by'], ['users.id'], name=op.f('fk_nlu_candidates_decided_by_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_nlu_candidates')),
    )
    op.create_index(op.f('ix_nlu_candidates_at'), 'nlu_candidates', ['at'])
    op.create_index('ix_nlu_candidates_status_intent', 'nlu_candidates', ['status', 'intent'])


def downgrade() -> None:
    op.drop_index('ix_nlu_candidates_status_intent', table_name='nlu_candidates')
    op.drop_index(op.f('ix_nlu_candidates_at'), table_name='nlu_candidates')
    op.drop_table('nlu_candidates')
