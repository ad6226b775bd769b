"""truthful guidance and exact records: contact source, risk tolerance, contribution, product facts,
one call row per client per conversation, follow-up status

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 21:45:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deposits', sa.Numeric(precision=16, scale=2, asdecimal=False), nullable=True))
        batch_op.add_column(sa.Column('loan_balance', sa.Numeric(precision=16, scale=2, asdecimal=False),
                                      nullable=True))
        batch_op.add_column(sa.Column('contact_source', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('contact_detail', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('risk_tolerance', sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column('risk_assessed_at', sa.DateTime(), nullable=True))

    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pricing', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('eligibility', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('signup', sa.Text(), nullable=True))

    # A conversation may be about several clients: one row each, not one overwriting the other.
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_constraint('uq_calls_conversation_id', type_='unique')
        batch_op.create_unique_constraint('uq_calls_conversation_client', ['conversation_id', 'client_id'])
        batch_op.create_index(batch_op.f('ix_calls_conversation_id'), ['conversation_id'], unique=False)
        batch_op.add_column(sa.Column('stage_before', sa.String(length=16), nullable=True))

    # Which call's deal created a holding, so that correcting the outcome can undo it.
    with op.batch_alter_table('holdings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('call_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_holdings_call_id_calls'), 'calls', ['call_id'], ['id'],
                                    ondelete='SET NULL')

    # done (bool) -> status: open / done / cancelled, with when it was closed.
    with op.batch_alter_table('followups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=16), nullable=False, server_default='open'))
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_followups_status'), ['status'], unique=False)
    op.execute("UPDATE followups SET status = 'done' WHERE done")
    # At most one open follow-up per client from now on: of the duplicates older versions booked
    # (a busy client relayed five times), the latest booking stays open.
    op.execute("UPDATE followups SET status = 'done' WHERE status = 'open' AND id NOT IN "
               "(SELECT latest FROM (SELECT MAX(id) AS latest FROM followups WHERE status = 'open' "
               "GROUP BY client_id) AS open_ones)")
    with op.batch_alter_table('followups', schema=None) as batch_op:
        batch_op.drop_column('done')


def downgrade() -> None:
    with op.batch_alter_table('followups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('done', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute("UPDATE followups SET done = (status != 'open')")
    with op.batch_alter_table('followups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_followups_status'))
        batch_op.drop_column('closed_at')
        batch_op.drop_column('status')
    with op.batch_alter_table('holdings', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_holdings_call_id_calls'), type_='foreignkey')
        batch_op.drop_column('call_id')
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_column('stage_before')
        batch_op.drop_index(batch_op.f('ix_calls_conversation_id'))
        batch_op.drop_constraint('uq_calls_conversation_client', type_='unique')
        batch_op.create_unique_constraint('uq_calls_conversation_id', ['conversation_id'])
    with op.batch_alter_table('products', schema=None) as batch_op:
        for column in ('signup', 'eligibility', 'pricing'):
            batch_op.drop_column(column)
    with op.batch_alter_table('clients', schema=None) as batch_op:
        for column in ('risk_assessed_at', 'risk_tolerance', 'contact_detail', 'contact_source',
                       'loan_balance', 'deposits'):
            batch_op.drop_column(column)
