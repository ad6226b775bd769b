"""rehearsals and coaching: every rehearsal with its score card, supervisors' comments on transcripts

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rehearsals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('scenario_id', sa.String(length=64), nullable=False),
    sa.Column('conversation_id', sa.String(length=128), nullable=True),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('total', sa.Integer(), nullable=True),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('flags', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_rehearsals_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rehearsals'))
    )
    with op.batch_alter_table('rehearsals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rehearsals_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rehearsals_conversation_id'), ['conversation_id'], unique=False)

    op.create_table('coaching_comments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.String(length=128), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_coaching_comments_author_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coaching_comments'))
    )
    with op.batch_alter_table('coaching_comments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_coaching_comments_conversation_id'), ['conversation_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('coaching_comments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_coaching_comments_conversation_id'))
    op.drop_table('coaching_comments')
    with op.batch_alter_table('rehearsals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rehearsals_conversation_id'))
        batch_op.drop_index(batch_op.f('ix_rehearsals_user_id'))
    op.drop_table('rehearsals')
