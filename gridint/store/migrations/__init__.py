"""Alembic migrations of the gridint store (run by :func:`gridint.store.init_db`)."""
