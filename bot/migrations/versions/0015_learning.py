"""the playbook learns from the team's calls: a call's segment and exploration flag, the products and answer
lines it used, supervisors' controls

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('calls') as batch:
        batch.add_column(sa.Column('segment', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('opening_explored', sa.Boolean(), nullable=True))
    op.create_table(
        'learning_controls',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('segment', sa.String(length=32), nullable=False),
        sa.Column('pinned', sa.String(length=32), nullable=True),
        sa.Column('excluded', sa.JSON(), nullable=False),
        sa.Column('learning', sa.Boolean(), nullable=False),
        sa.Column('changed_by', sa.Integer(), nullable=True),
        sa.Column('changed_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['changed_by'], ['users.id'], name=op.f('fk_learning_controls_changed_by_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_learning_controls')),
        sa.UniqueConstraint('kind', 'segment', name='uq_learning_controls_kind_segment'),
    )


    op.create_table(
        'call_choices',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('call_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('context', sa.String(length=96), nullable=False),
        sa.Column('arm', sa.String(length=48), nullable=False),
        sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_call_choices_call_id_calls'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_call_choices')),
    )
    op.create_index(op.f('ix_call_choices_call_id'), 'call_choices', ['call_id'])
    op.create_index('ix_call_choices_kind_context', 'call_choices', ['kind', 'context'])


def downgrade() -> None:
    op.drop_index('ix_call_choices_kind_context', table_name='call_choices')
    op.drop_index(op.f('ix_call_choices_call_id'), table_name='call_choices')
    op.drop_table('call_choices')
    op.drop_table('learning_controls')
    with op.batch_alter_table('calls') as batch:
        batch.drop_column('opening_explored')
        batch.drop_column('segment')
