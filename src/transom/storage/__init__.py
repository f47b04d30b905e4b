"""Async persistence: one Database contract on SQLite (default) and PostgreSQL, numbered
migrations, and one store class per table group composed by `Store`.

Spec: not covered by the Matrix spec; see `transom.storage.database` for the contract.
"""

from transom.storage.accounts import (
    AccountStore,
    DeviceRecord,
    TokenOwner,
    UserExistsError,
    UserRecord,
)
from transom.storage.database import (
    Connection,
    Database,
    IntegrityError,
    Row,
    normalise_engine,
    open_database,
)
from transom.storage.migrations import migrate
from transom.storage.store import Store

__all__ = [
    "AccountStore",
    "Connection",
    "Database",
    "DeviceRecord",
    "IntegrityError",
    "Row",
    "Store",
    "TokenOwner",
    "UserExistsError",
    "UserRecord",
    "migrate",
    "normalise_engine",
    "open_database",
]
