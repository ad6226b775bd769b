"""a team's own book: client numbers, birthdays, marketing consent, maturities, follow-up causes as
data, the change log and imports, one-time passwords

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 03:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('clients') as batch:
        batch.add_column(sa.Column('client_no', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('birth_date', sa.Date(), nullable=True))
        batch.add_column(sa.Column('marketing_consent', sa.Boolean(), nullable=True))
        batch.add_column(sa.Column('dnc_source', sa.String(length=128), nullable=True))
        batch.add_column(sa.Column('assigned_at', sa.DateTime(), nullable=True))
        batch.create_unique_constraint(batch.f('uq_clients_client_no'), ['client_no'])
    with op.batch_alter_table('holdings') as batch:
        batch.add_column(sa.Column('matures_at', sa.Date(), nullable=True))
    with op.batch_alter_table('followups') as batch:
        batch.add_column(sa.Column('objection', sa.String(length=48), nullable=True))
        batch.add_column(sa.Column('product_code', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('promise', sa.String(length=24), nullable=True))
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('must_change_password', sa.Boolean(), nullable=False, server_default='0'))
    op.create_table(
        'imports',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('rows_total', sa.Integer(), nullable=False),
        sa.Column('rows_created', sa.Integer(), nullable=False),
        sa.Column('rows_updated', sa.Integer(), nullable=False),
        sa.Column('rows_unchanged', sa.Integer(), nullable=False),
        sa.Column('rows_refused', sa.Integer(), nullable=False),
        sa.Column('report', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_imports_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_imports')),
    )
    op.create_table(
        'changes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('entity', sa.String(length=16), nullable=False),
        sa.Column('entity_id', sa.Integer(), nullable=True),
        sa.Column('batch_id', sa.Integer(), nullable=True),
        sa.Column('detail', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_changes_user_id_users')),
        sa.ForeignKeyConstraint(['batch_id'], ['imports.id'], name=op.f('fk_changes_batch_id_imports'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_changes')),
    )
    op.create_index(op.f('ix_changes_at'), 'changes', ['at'])
    op.create_index(op.f('ix_changes_batch_id'), 'changes', ['batch_id'])
    op.create_index('ix_changes_entity', 'changes', ['entity', 'entity_id'])


def downgrade() -> None:
    op.drop_index('ix_changes_entity', table_name='changes')
    op.drop_index(op.f('ix_changes_batch_id'), table_name='changes')
    op.drop_index(op.f('ix_changes_at'), table_name='changes')
    op.drop_table('changes')
    op.drop_table('imports')
    with op.batch_alter_table('users') as batch:
        batch.drop_column('must_change_password')
    with op.batch_alter_table('followups') as batch:
        batch.drop_column('promise')
        batch.drop_column('product_code')
        batch.drop_column('objection')
    with op.batch_alter_table('holdings') as batch:
        batch.drop_column('matures_at')
    with op.batch_alter_table('clients') as batch:
        batch.drop_constraint(batch.f('uq_clients_client_no'), type_='unique')
        batch.drop_column('assigned_at')
        batch.drop_column('dnc_source')
        batch.drop_column('marketing_consent')
        batch.drop_column('birth_date')
        batch.drop_column('client_no')
