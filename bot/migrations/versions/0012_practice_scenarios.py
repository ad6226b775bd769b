"""practice scenarios: rehearsal scenarios a supervisor made from reviewed live calls

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-11 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'practice_scenarios',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('scenario_id', sa.String(length=64), nullable=False),
        sa.Column('conversation_id', sa.String(length=128), nullable=False),
        sa.Column('created_by', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_practice_scenarios_created_by_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_practice_scenarios')),
        sa.UniqueConstraint('scenario_id', name=op.f('uq_practice_scenarios_scenario_id')),
        sa.UniqueConstraint('conversation_id', name=op.f('uq_practice_scenarios_conversation_id')),
    )


def downgrade() -> None:
    op.drop_table('practice_scenarios')
