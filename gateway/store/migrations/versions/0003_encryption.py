"""encryption at rest: sealed identifier columns, blind indexes, wrapped data keys

Direct identifiers of `customers` become ciphertext columns (AES-GCM under a per-customer
data key, see gateway/privacy/envelope.py) with blind-index columns for exact lookups;
`source_records` keeps its attributes sealed and its source id as a blind index; the new
`data_keys` table holds each customer's data key wrapped by a master key version.

No data is converted: the demo and the tests migrate fresh databases. A database that
already holds customers or source records is refused (upgrade and downgrade), with a message,
instead of silently dropping plaintext columns; such data must be re-imported through the
write service (gateway/profile/write.py).

Revision ID: 0003_encryption
Revises: 0002_audit_chain
Create Date: 2026-11-23 11:00:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

import gateway.store.types

revision = '0003_encryption'
down_revision = '0002_audit_chain'
branch_labels = None
depends_on = None

SEALED = ('first_name', 'last_name', 'birth_date', 'loyalty_card', 'email', 'phone', 'street')
PLAIN_TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    'first_name': sa.String(length=100), 'last_name': sa.String(length=100),
    'birth_date': sa.Date(), 'loyalty_card': sa.String(length=32), 'email': sa.String(length=254),
    'phone': sa.String(length=32), 'street': sa.String(length=200),
}


def _refuse_data(direction: str) -> None:
    bind = op.get_bind()
    for table in ('customers', 'source_records'):
        if bind.execute(sa.text(f'SELECT 1 FROM {table} LIMIT 1')).first() is not None:
            raise RuntimeError(
                f"migration 0003_encryption ({direction}) only runs on a database without "
                f"customers: {table} holds rows. Export them, migrate an empty database and "
                "re-import through the write service (gateway/profile/write.py)."
            )


def upgrade() -> None:
    _refuse_data('upgrade')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index('ix_customers_email')
        batch_op.drop_index('ix_customers_phone')
        for column in SEALED:
            batch_op.drop_column(column)
    with op.batch_alter_table('customers', schema=None) as batch_op:
        for column in SEALED:
            batch_op.add_column(sa.Column(column, sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('email_bidx', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('phone_bidx', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('card_bidx', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_customers_email_bidx', ['email_bidx'], unique=True)
        batch_op.create_index('ix_customers_phone_bidx', ['phone_bidx'], unique=False)
        batch_op.create_index('ix_customers_card_bidx', ['card_bidx'], unique=False)
    with op.batch_alter_table('source_records', schema=None) as batch_op:
        batch_op.drop_constraint('uq_source_records_source_source_id', type_='unique')
        batch_op.drop_column('source_id')
        batch_op.drop_column('attributes')
    with op.batch_alter_table('source_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_key', sa.String(length=64), nullable=False))
        batch_op.add_column(sa.Column('attributes', sa.LargeBinary(), nullable=False))
        batch_op.create_unique_constraint('uq_source_records_source_source_key', ['source', 'source_key'])
    op.create_table('data_keys',
    sa.Column('customer_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('wrapped', sa.LargeBinary(length=64), nullable=False),
    sa.Column('created_at', gateway.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('rotated_at', gateway.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_data_keys_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_data_keys'))
    )
    with op.batch_alter_table('data_keys', schema=None) as batch_op:
        batch_op.create_index('ix_data_keys_version', ['version'], unique=False)


def downgrade() -> None:
    _refuse_data('downgrade')
    with op.batch_alter_table('data_keys', schema=None) as batch_op:
        batch_op.drop_index('ix_data_keys_version')
    op.drop_table('data_keys')
    with op.batch_alter_table('source_records', schema=None) as batch_op:
        batch_op.drop_constraint('uq_source_records_source_source_key', type_='unique')
        batch_op.drop_column('attributes')
        batch_op.drop_column('source_key')
    with op.batch_alter_table('source_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_id', sa.String(length=64), nullable=False))
        batch_op.add_column(sa.Column('attributes', sa.JSON(), nullable=False))
        batch_op.create_unique_constraint('uq_source_records_source_source_id', ['source', 'source_id'])
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index('ix_customers_card_bidx')
        batch_op.drop_index('ix_customers_phone_bidx')
        batch_op.drop_index('ix_customers_email_bidx')
        for column in ('card_bidx', 'phone_bidx', 'email_bidx', *SEALED):
            batch_op.drop_column(column)
    with op.batch_alter_table('customers', schema=None) as batch_op:
        for column in SEALED:
            batch_op.add_column(sa.Column(column, PLAIN_TYPES[column], nullable=True))
        batch_op.create_index('ix_customers_email', ['email'], unique=False)
        batch_op.create_index('ix_customers_phone', ['phone'], unique=False)
