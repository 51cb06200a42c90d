"""The one MetaData every domain registers its tables on."""

from __future__ import annotations

from sqlalchemy import MetaData

# Stable constraint names make Alembic autogenerate and `db check` deterministic on both
# SQLite and PostgreSQL.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
