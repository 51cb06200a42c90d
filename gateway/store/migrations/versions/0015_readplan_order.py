"""each audience's default order of customers, stored and kept by triggers (issue 15)

Revision ID: 0015_readplan_order
Revises: 0008_sealed_text
Create Date: 2026-12-01 17:30:00

`customer_order_keys` holds an audience's permutation constants (written by the gateway when
the audience first lists customers: they derive from the master key, which the database
never sees); `customer_order` one row per (audience, customer) with position = rank * 2^31 +
id. A trigger on `customers` ranks every new customer for every stored audience, with the
same arithmetic as `gateway.privacy.ordering.permuted`; deletes cascade.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015_readplan_order'
down_revision = '0008_sealed_text'
branch_labels = None
depends_on = None

# gateway.privacy.ordering.permuted over the constants of `k`, for the customer id `{id}`.
_V = "(({id} * k.a1 + k.b1) % 2147483647)"
_RANK = "((((v | (v >> 16)) - (v & (v >> 16))) * a2 + b2) % 2147483647)"


def _ranked(source: str, id_: str) -> str:
    return (f"SELECT audience, {_RANK} * 2147483648 + id, id FROM ("
            f"SELECT k.audience AS audience, k.a2 AS a2, k.b2 AS b2, {id_} AS id, "
            f"{_V.format(id=id_)} AS v FROM {source}) AS s")


_PG_FUNCTION = f"""
CREATE FUNCTION customer_order_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO customer_order (audience, position, customer_id)
    {_ranked('new_customers AS n CROSS JOIN customer_order_keys AS k', 'n.id')}
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$
"""
_PG_TRIGGER = """
CREATE TRIGGER customer_order_add AFTER INSERT ON customers
REFERENCING NEW TABLE AS new_customers FOR EACH STATEMENT EXECUTE FUNCTION customer_order_add()
"""
_SQLITE_TRIGGER = f"""
CREATE TRIGGER customer_order_add AFTER INSERT ON customers
BEGIN
    INSERT OR IGNORE INTO customer_order (audience, position, customer_id)
    {_ranked('customer_order_keys AS k', 'NEW.id')};
END
"""


def upgrade() -> None:
    op.create_table('customer_order_keys',
    sa.Column('audience', sa.String(length=64), nullable=False),
    sa.Column('a1', sa.BigInteger(), nullable=False),
    sa.Column('b1', sa.BigInteger(), nullable=False),
    sa.Column('a2', sa.BigInteger(), nullable=False),
    sa.Column('b2', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('audience', name=op.f('pk_customer_order_keys'))
    )
    op.create_table('customer_order',
    sa.Column('audience', sa.String(length=64), nullable=False),
    sa.Column('position', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['audience'], ['customer_order_keys.audience'],
                            name=op.f('fk_customer_order_audience_customer_order_keys'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                            name=op.f('fk_customer_order_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('audience', 'position', name=op.f('pk_customer_order'))
    )
    op.create_index(op.f('ix_customer_order_customer_id'), 'customer_order', ['customer_id'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(_PG_TRIGGER)
    else:
        op.execute(_SQLITE_TRIGGER)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS customer_order_add" +
               (" ON customers" if op.get_bind().dialect.name == "postgresql" else ""))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS customer_order_add()")
    op.drop_index(op.f('ix_customer_order_customer_id'), table_name='customer_order')
    op.drop_table('customer_order')
    op.drop_table('customer_order_keys')
