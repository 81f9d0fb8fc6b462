"""The store: SQLAlchemy 2.0 models, sessions, repositories, alembic migrations, and the
connection-request workflow on top of them (atomic capacity reservation, FIFO queue).

>>> from gridint.store import init_db, make_sessionmaker
>>> engine = init_db("sqlite:///gridint.db")        # alembic upgrade head
>>> Session = make_sessionmaker(engine)

Modules: :mod:`~gridint.store.models` (tables), :mod:`~gridint.store.db` (engine,
serialised write transactions, migrations), :mod:`~gridint.store.repo` (repositories),
:mod:`~gridint.store.workflow` (pre-check, submission, lifecycle, queue, replay),
:mod:`~gridint.store.plans` (dispatch plans for the scheduler and the API).
"""
from gridint.store.db import init_db, make_engine, make_sessionmaker, write_transaction
from gridint.store.plans import latest_dispatch_plan, save_dispatch_plan

__all__ = ["init_db", "make_engine", "make_sessionmaker", "write_transaction",
           "save_dispatch_plan", "latest_dispatch_plan"]
