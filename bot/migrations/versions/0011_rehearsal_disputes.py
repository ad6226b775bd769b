"""rehearsal disputes (a trainee disputes one item of a score card, a supervisor accepts or rejects
it) and the cap a rehearsal's total was held under by how the call ended

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-10 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rehearsals saved before this revision have no recorded cap (NULL): see records.resolve_dispute.
    with op.batch_alter_table('rehearsals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ending', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('ending_cap', sa.Integer(), nullable=True))
    op.create_table(
        'rehearsal_disputes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('rehearsal_id', sa.Integer(), nullable=False),
        sa.Column('item_key', sa.String(length=64), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False, server_default='open'),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('resolver_id', sa.Integer(), nullable=True),
        sa.Column('resolved_at', sa.DateTime(), nullable=True),
        sa.Column('comment', sa.Text(), nullable=True),
        sa.Column('points_before', sa.Integer(), nullable=True),
        sa.Column('points_after', sa.Integer(), nullable=True),
        sa.Column('total_before', sa.Integer(), nullable=True),
        sa.Column('total_after', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['rehearsal_id'], ['rehearsals.id'],
                                name=op.f('fk_rehearsal_disputes_rehearsal_id_rehearsals'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['resolver_id'], ['users.id'], name=op.f('fk_rehearsal_disputes_resolver_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_rehearsal_disputes')),
        sa.UniqueConstraint('rehearsal_id', 'item_key', name='uq_rehearsal_disputes_item'),
    )
    op.create_index(op.f('ix_rehearsal_disputes_rehearsal_id'), 'rehearsal_disputes', ['rehearsal_id'],
                    unique=False)
    op.create_index('ix_rehearsal_disputes_status_created', 'rehearsal_disputes', ['status', 'created_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_rehearsal_disputes_status_created', table_name='rehearsal_disputes')
    op.drop_index(op.f('ix_rehearsal_disputes_rehearsal_id'), table_name='rehearsal_disputes')
    op.drop_table('rehearsal_disputes')
    with op.batch_alter_table('rehearsals', schema=None) as batch_op:
        batch_op.drop_column('ending_cap')
        batch_op.drop_column('ending')
