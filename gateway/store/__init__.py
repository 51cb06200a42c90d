"""Storage: the shared SQLAlchemy metadata, engines and Alembic migrations.

Domain folders own their tables (``gateway/<domain>/tables.py``); they all register on
:data:`gateway.store.metadata.metadata`, which the migrations and tests compare against.
"""

from __future__ import annotations
